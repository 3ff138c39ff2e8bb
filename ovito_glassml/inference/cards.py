"""Model cards: the JSON file (``card.json``) beside every model file (docs/design.md).

A card says what a model predicts and exactly how its input is computed, so that a model never
meets the wrong features: the runtime builds the descriptor **only** from the card's settings.
The schema (version 1) is documented field by field in ``models/README.md``; in short::

    {
      "schema_version": 1,
      "name": "susceptibility",                 # the model's name (its folder name when installed)
      "kind": "onnx-cnn" | "lightgbm" | "linear" | "ensemble",
      "property": "Plastic Susceptibility" | "Quench-in Softness" | "Structural Flexibility",
      "dimensions": 3,                          # 2 or 3: the glasses the model applies to
      "species": ["Cu", "Zr"],                  # particle type names, in the model's order
      "descriptor": {"name": "sdm" | "interstice" | "radial" | "members", "settings": {...}},
      "input": {"shape": [2, 32, 32, 32]} (CNN) | {"feature_names": [...]} (lightgbm, linear),
      "output": {"meaning": "...", "column": null},
      "files": {"model": "model.onnx"} | {"folds": ["fold0.txt", ...]} | {"weights": "weights.json"}
               | {"ensemble": "ensemble.json"},
      "training": {"data": ..., "protocol": ...},
      "label": {"definition": ...},
      "metrics": {"evaluated_on": "...", "values": {"auc_roc": 0.81, ...}},
      "software": {"ovito-glassml": "0.1.0", ...},
      "demo": false,
      "notes": "..."
    }

:func:`ModelCard.from_dict` refuses a malformed card with a :class:`CardError` that names the
field; it never executes or unpickles anything.

An ``ensemble`` model combines member models that live in sub-folders of its own folder, each
with its own card (so each member still computes exactly its own descriptor): its descriptor is
``{"name": "members", "settings": {"members": ["cnn", "qs"]}}`` (the sub-folder names) and
``ensemble.json`` holds the combination (see :class:`~ovito_glassml.inference.runtime.EnsembleModel`).
"""
from __future__ import annotations

import json
import math
from importlib import metadata
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Mapping

from ..descriptors.geometry import ConfigurationError
from ..descriptors.interstice import INTERSTICE_FEATURE_NAMES, IntersticeSettings
from ..descriptors.radial import RadialSettings, radial_feature_names
from ..descriptors.sdm import SDMSettings

__all__ = [
    "CARD_FILE",
    "CardError",
    "EnsembleMembers",
    "ModelCard",
    "KINDS",
    "PROPERTIES",
    "SCHEMA_VERSION",
    "load_card",
]

CARD_FILE = "card.json"
SCHEMA_VERSION = 1

#: model kind -> descriptor it takes
KINDS: dict[str, str] = {"onnx-cnn": "sdm", "lightgbm": "interstice", "linear": "radial", "ensemble": "members"}
#: the particle properties a model may predict
PROPERTIES: tuple[str, ...] = ("Plastic Susceptibility", "Quench-in Softness", "Structural Flexibility")
#: file keys required per kind
_FILE_KEYS = {"onnx-cnn": "model", "lightgbm": "folds", "linear": "weights", "ensemble": "ensemble"}
_REQUIRED = ("schema_version", "name", "kind", "property", "dimensions", "species", "descriptor", "input",
             "files", "training", "label", "metrics", "software", "demo")
_OPTIONAL = ("output", "notes", "description")


class CardError(ConfigurationError):
    """A model card is malformed or does not match its model file (the message names the field)."""


def _where(source: Any) -> str:
    return f" in {source}" if source else ""


def _need_mapping(data: Mapping, key: str, source: Any) -> Mapping:
    value = data[key]
    if not isinstance(value, Mapping):
        raise CardError(f"card field '{key}' must be a JSON object{_where(source)}; got {type(value).__name__}")
    return value


def _need_text(value: Any, name: str, source: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise CardError(f"card field '{name}' must be a non-empty string{_where(source)}; got {value!r}")
    return value


def _file_name(value: Any, name: str, source: Any) -> str:
    text = _need_text(value, name, source)
    p = PurePosixPath(text)
    if p.is_absolute() or "\\" in text or any(part in ("..", "") for part in p.parts) or len(p.parts) != 1:
        raise CardError(f"card field '{name}' must be a plain file name beside the card (no folders); got {text!r}"
                        f"{_where(source)}")
    return text


@dataclass(frozen=True)
class ModelCard:
    """A validated model card.  Build it with :meth:`from_dict` or :func:`load_card`.

    ``settings`` is the descriptor's settings object (:class:`SDMSettings`,
    :class:`IntersticeSettings` or :class:`RadialSettings`); ``input_shape`` is the shape of one
    input (an SDM image ``(C, G, G[, G])`` or ``(n_features,)``); ``feature_names`` is set for the
    feature-vector models.  ``directory`` is the folder the card was read from (None if in memory).
    """

    name: str
    kind: str
    property: str
    dimensions: int
    species: tuple[str, ...]
    descriptor: str
    settings: Any
    input_shape: tuple[int, ...]
    feature_names: tuple[str, ...] | None
    files: Mapping[str, Any]
    training: Mapping[str, Any]
    label: Mapping[str, Any]
    metrics: Mapping[str, Any]
    software: Mapping[str, str]
    demo: bool
    output: Mapping[str, Any] = field(default_factory=dict)
    notes: str = ""
    description: str = ""
    schema_version: int = SCHEMA_VERSION
    directory: Path | None = None

    # ------------------------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: Mapping[str, Any], directory: str | Path | None = None,
                  source: Any = None) -> "ModelCard":
        """Validate a card dictionary; raise :class:`CardError` naming the first bad field."""
        source = source or (Path(directory) / CARD_FILE if directory else None)
        if not isinstance(data, Mapping):
            raise CardError(f"a model card must be a JSON object{_where(source)}; got {type(data).__name__}")
        missing = [k for k in _REQUIRED if k not in data]
        if missing:
            raise CardError(f"model card{_where(source)} lacks the required field(s) {missing}; see models/README.md "
                            "for the card schema")
        unknown = sorted(set(data) - set(_REQUIRED) - set(_OPTIONAL))
        if unknown:
            raise CardError(f"model card{_where(source)} has unknown field(s) {unknown}; known: "
                            f"{sorted(_REQUIRED + _OPTIONAL)}")
        version = data["schema_version"]
        if version != SCHEMA_VERSION:
            raise CardError(f"card field 'schema_version' is {version!r}{_where(source)}; this version of "
                            f"ovito-glassml reads schema version {SCHEMA_VERSION}")
        name = _need_text(data["name"], "name", source)
        kind = data["kind"]
        if kind not in KINDS:
            raise CardError(f"card field 'kind' is {kind!r}{_where(source)}; it must be one of {list(KINDS)}")
        prop = data["property"]
        if prop not in PROPERTIES:
            raise CardError(f"card field 'property' is {prop!r}{_where(source)}; it must be one of {list(PROPERTIES)}")
        dims = data["dimensions"]
        if isinstance(dims, bool) or dims not in (2, 3):
            raise CardError(f"card field 'dimensions' must be 2 or 3{_where(source)}; got {dims!r}")
        species = data["species"]
        if (not isinstance(species, (list, tuple)) or not species
                or not all(isinstance(s, str) and s.strip() for s in species)):
            raise CardError(f"card field 'species' must be a non-empty list of type names{_where(source)}; "
                            f"got {species!r}")
        species = tuple(species)
        if len(set(species)) != len(species):
            raise CardError(f"card field 'species' names a species twice{_where(source)}: {list(species)}")
        if not isinstance(data["demo"], bool):
            raise CardError(f"card field 'demo' must be true or false{_where(source)}; got {data['demo']!r}")
        demo = data["demo"]

        # descriptor and its settings
        desc = _need_mapping(data, "descriptor", source)
        if set(desc) - {"name", "settings"} or "name" not in desc or "settings" not in desc:
            raise CardError(f"card field 'descriptor' must have exactly the keys 'name' and 'settings'"
                            f"{_where(source)}; got {sorted(desc)}")
        dname = desc["name"]
        if dname != KINDS[kind]:
            raise CardError(f"card field 'descriptor.name' is {dname!r}{_where(source)} but a {kind!r} model takes "
                            f"the {KINDS[kind]!r} descriptor")
        if not isinstance(desc["settings"], Mapping):
            raise CardError(f"card field 'descriptor.settings' must be a JSON object{_where(source)}")
        settings = _parse_settings(dname, desc["settings"], source)
        _check_settings_vs_card(dname, settings, species, dims, source)

        # input
        inp = _need_mapping(data, "input", source)
        if kind == "onnx-cnn":
            shape = inp.get("shape")
            if not isinstance(shape, (list, tuple)) or not all(isinstance(s, int) and not isinstance(s, bool)
                                                               for s in shape):
                raise CardError(f"card field 'input.shape' must be a list of integers (one image, no batch axis)"
                                f"{_where(source)}; got {shape!r}")
            if tuple(shape) != settings.shape:
                raise CardError(f"card field 'input.shape' is {list(shape)}{_where(source)} but the SDM settings "
                                f"give images of shape {list(settings.shape)} (channels, then {dims} grid axes)")
            input_shape, feature_names = tuple(shape), None
        elif kind == "ensemble":  # each member's card describes its own input
            if set(inp) - {"shape"} or list(inp.get("shape", [])) != []:
                raise CardError(f"card field 'input' of an ensemble must be {{}} or {{\"shape\": []}}{_where(source)}: "
                                "its members' cards describe their inputs")
            input_shape, feature_names = (), None
        else:
            names = inp.get("feature_names")
            if not isinstance(names, (list, tuple)) or not all(isinstance(s, str) for s in names):
                raise CardError(f"card field 'input.feature_names' must be a list of strings{_where(source)}")
            expected = (list(INTERSTICE_FEATURE_NAMES) if dname == "interstice"
                        else radial_feature_names(settings))
            _compare_names(list(names), expected, "input.feature_names", f"the {dname} descriptor", source)
            if "shape" in inp and list(inp["shape"]) != [len(expected)]:
                raise CardError(f"card field 'input.shape' is {inp['shape']!r}{_where(source)} but there are "
                                f"{len(expected)} features")
            input_shape, feature_names = (len(expected),), tuple(names)

        # files
        files = _need_mapping(data, "files", source)
        key = _FILE_KEYS[kind]
        if set(files) != {key}:
            raise CardError(f"card field 'files' of a {kind!r} model must have exactly the key {key!r}"
                            f"{_where(source)}; got {sorted(files)}")
        if kind == "lightgbm":
            folds = files["folds"]
            if not isinstance(folds, (list, tuple)) or not folds:
                raise CardError(f"card field 'files.folds' must be a non-empty list of LightGBM text files"
                                f"{_where(source)}")
            files = {"folds": [_file_name(f, "files.folds", source) for f in folds]}
        else:
            files = {key: _file_name(files[key], f"files.{key}", source)}
        if kind == "onnx-cnn" and not files["model"].endswith(".onnx"):
            raise CardError(f"card field 'files.model' must name an .onnx file{_where(source)}; got {files['model']!r}")

        # provenance
        training = _need_mapping(data, "training", source)
        for k in ("data", "protocol"):
            if not training.get(k):
                raise CardError(f"card field 'training.{k}' is missing or empty{_where(source)}: say what the model "
                                "was trained on and how")
        label = _need_mapping(data, "label", source)
        if not label.get("definition"):
            raise CardError(f"card field 'label.definition' is missing or empty{_where(source)}")
        metrics = _need_mapping(data, "metrics", source)
        if not demo:
            values = metrics.get("values")
            if not isinstance(values, Mapping) or not values:
                raise CardError(f"card field 'metrics.values' must list the metrics measured on held-out glasses"
                                f"{_where(source)} (only demo models may have none)")
            bad = [k for k, v in values.items()
                   if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)]
            if bad:
                raise CardError(f"card field 'metrics.values' has non-numeric value(s) for {bad}{_where(source)}")
            _need_text(metrics.get("evaluated_on"), "metrics.evaluated_on", source)
        software = _need_mapping(data, "software", source)
        if not software or not all(isinstance(v, str) and v for v in software.values()):
            raise CardError(f"card field 'software' must map each package to its version string{_where(source)}; "
                            f"got {dict(software)!r}")
        output = data.get("output", {}) or {}
        if not isinstance(output, Mapping):
            raise CardError(f"card field 'output' must be a JSON object{_where(source)}")
        column = output.get("column")
        if column is not None and (isinstance(column, bool) or not isinstance(column, int) or column < 0):
            raise CardError(f"card field 'output.column' must be a non-negative integer or null{_where(source)}")
        notes = data.get("notes", "") or ""
        description = data.get("description", "") or ""
        if not isinstance(notes, str) or not isinstance(description, str):
            raise CardError(f"card fields 'notes' and 'description' must be strings{_where(source)}")
        return cls(name=name, kind=kind, property=prop, dimensions=int(dims), species=species, descriptor=dname,
                   settings=settings, input_shape=input_shape, feature_names=feature_names, files=dict(files),
                   training=dict(training), label=dict(label), metrics=dict(metrics), software=dict(software),
                   demo=demo, output=dict(output), notes=notes, description=description,
                   schema_version=SCHEMA_VERSION, directory=Path(directory) if directory else None)

    # ------------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (inverse of :meth:`from_dict`)."""
        inp: dict[str, Any] = {"shape": list(self.input_shape)}
        if self.feature_names is not None:
            inp["feature_names"] = list(self.feature_names)
        return {
            "schema_version": self.schema_version, "name": self.name, "kind": self.kind,
            "property": self.property, "description": self.description, "dimensions": self.dimensions,
            "species": list(self.species), "descriptor": {"name": self.descriptor, "settings": self.settings.to_dict()},
            "input": inp, "output": dict(self.output), "files": dict(self.files), "training": dict(self.training),
            "label": dict(self.label), "metrics": dict(self.metrics), "software": dict(self.software),
            "demo": self.demo, "notes": self.notes,
        }

    def save(self, directory: str | Path) -> Path:
        """Write ``card.json`` into ``directory`` (created if needed); returns its path."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / CARD_FILE
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        return path

    def file_paths(self) -> list[Path]:
        """Absolute paths of the model files the card names (needs ``directory``)."""
        if self.directory is None:
            raise CardError(f"model card {self.name!r} was not read from a folder, so its files cannot be found")
        names = self.files["folds"] if self.kind == "lightgbm" else [next(iter(self.files.values()))]
        paths = [self.directory / n for n in names]
        if self.kind == "ensemble":  # the members' cards and files too (a changed member changes the model)
            for member in self.settings.members:
                sub = self.directory / member
                paths.append(sub / CARD_FILE)
                if (sub / CARD_FILE).is_file():
                    paths.extend(load_card(sub).file_paths())
        return paths

    def summary(self) -> str:
        """One line for listings: name, property, kind, species, demo flag."""
        flag = " [DEMO: untrained, predictions meaningless]" if self.demo else ""
        return (f"{self.name}: {self.property} ({self.kind} on {self.descriptor}, {self.dimensions}D, "
                f"species {','.join(self.species)}){flag}")


@dataclass(frozen=True)
class EnsembleMembers:
    """Descriptor settings of an ensemble: the sub-folders holding its member models, in order."""

    members: tuple[str, ...]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "EnsembleMembers":
        if set(data) != {"members"}:
            raise ValueError(f"ensemble settings must have exactly the key 'members'; got {sorted(data)}")
        members = data["members"]
        if not isinstance(members, (list, tuple)) or len(members) < 2:
            raise ValueError(f"'members' must list at least two member folders; got {members!r}")
        names = tuple(_file_name(m, "descriptor.settings.members", None) for m in members)
        if len(set(names)) != len(names):
            raise ValueError(f"'members' names a folder twice: {list(names)}")
        return cls(names)

    def to_dict(self) -> dict[str, Any]:
        return {"members": list(self.members)}


def _parse_settings(name: str, data: Mapping[str, Any], source: Any):
    cls = {"sdm": SDMSettings, "interstice": IntersticeSettings, "radial": RadialSettings,
           "members": EnsembleMembers}[name]
    try:
        return cls.from_dict(data)
    except CardError:
        raise
    except (ConfigurationError, KeyError, TypeError, ValueError) as exc:
        what = f"missing key {exc}" if isinstance(exc, KeyError) else str(exc)
        raise CardError(f"card field 'descriptor.settings' is not valid {name} settings{_where(source)}: {what}") from exc


def _check_settings_vs_card(name: str, settings: Any, species: tuple[str, ...], dims: int, source: Any) -> None:
    if name == "sdm":
        if settings.dimensions != dims:
            raise CardError(f"card field 'dimensions' is {dims}{_where(source)} but the SDM settings are "
                            f"{settings.dimensions}D")
        if settings.species != species:
            raise CardError(f"card field 'species' {list(species)} differs from the SDM channel order "
                            f"{list(settings.species)}{_where(source)}")
    elif name == "interstice":
        if dims != 3:
            raise CardError(f"card field 'dimensions' is {dims}{_where(source)} but interstice features are 3D only")
    elif name == "radial":
        if settings.species != species:
            raise CardError(f"card field 'species' {list(species)} differs from the radial species blocks "
                            f"{list(settings.species)}{_where(source)}")


def _compare_names(got: list[str], expected: list[str], what: str, against: str, source: Any) -> None:
    if got == expected:
        return
    if len(got) != len(expected):
        raise CardError(f"{what} has {len(got)} features{_where(source)} but {against} gives {len(expected)}")
    k = next(i for i, (a, b) in enumerate(zip(got, expected)) if a != b)
    raise CardError(f"{what} differs from {against}{_where(source)}: feature {k} is {got[k]!r}, expected "
                    f"{expected[k]!r}")


def load_card(path: str | Path) -> ModelCard:
    """Read and validate a card: ``path`` is a ``card.json`` or the model folder holding one."""
    path = Path(path)
    card_path = path / CARD_FILE if path.is_dir() else path
    if not card_path.is_file():
        raise CardError(f"no model card {card_path}: a model folder must hold a {CARD_FILE} (see models/README.md)")
    try:
        data = json.loads(card_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CardError(f"model card {card_path} is not valid JSON: {exc}") from exc
    return ModelCard.from_dict(data, directory=card_path.parent, source=card_path)


def software_versions(*packages: str) -> dict[str, str]:
    """Installed versions of ovito-glassml, numpy and ``packages`` (``"unknown"`` if not installed), for cards."""
    out = {}
    for name in ("ovito-glassml", "numpy", *packages):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "unknown"
    return out
