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
      "notes": "...",
      "integrity": {"sha256": {"model.onnx": "<hex>", ...},      # every file the model reads
                    "fingerprint": {"descriptor": "<hex>", ...}}  # what the numbers depend on
    }

**Integrity.**  :meth:`ModelCard.save` and :func:`seal_card` record the SHA-256 of every file
the card names (for an ensemble also its members' cards and files, as paths relative to the
card's folder) and a fingerprint of the fields the numbers depend on (kind, property,
dimensions, species, descriptor settings, input, output selection, files), one short hash per
field.  :func:`load_card` checks both before any library reads a model file: a changed,
truncated or replaced file, or an edited descriptor setting or species order, is refused with a
message naming the file or field.  A card without ``integrity`` (written by an older version)
still loads; its LightGBM files are then checked for truncation, which would otherwise crash
the LightGBM library and with it the process.

:func:`ModelCard.from_dict` refuses a malformed card with a :class:`CardError` that names the
field; it never executes or unpickles anything.

An ``ensemble`` model combines member models that live in sub-folders of its own folder, each
with its own card (so each member still computes exactly its own descriptor): its descriptor is
``{"name": "members", "settings": {"members": ["cnn", "qs"]}}`` (the sub-folder names) and
``ensemble.json`` holds the combination (see :class:`~ovito_glassml.inference.runtime.EnsembleModel`).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import re
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
    "seal_card",
    "card_fingerprint",
    "verify_model_files",
    "check_lightgbm_text",
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
_OPTIONAL = ("output", "notes", "description", "integrity")
#: the card fields a model's numbers depend on (the fingerprint hashes each of them)
FINGERPRINT_FIELDS = ("kind", "property", "dimensions", "species", "descriptor", "input", "output", "files")
_OUTPUT_TEXT = ("meaning", "note", "notes", "description")  # words about the output, not what selects it
_SEAL_HINT = ("restore the model folder as it was made (reinstall ovito-glassml, or copy the model again); if you "
              "changed it on purpose, retrain the model, or record the new state with 'glassml models --seal FOLDER'")


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
    sha256: Mapping[str, str] = field(default_factory=dict)
    fingerprint: Mapping[str, str] = field(default_factory=dict)

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
        sha, fingerprint = _parse_integrity(data.get("integrity"), source)
        return cls(name=name, kind=kind, property=prop, dimensions=int(dims), species=species, descriptor=dname,
                   settings=settings, input_shape=input_shape, feature_names=feature_names, files=dict(files),
                   training=dict(training), label=dict(label), metrics=dict(metrics), software=dict(software),
                   demo=demo, output=dict(output), notes=notes, description=description,
                   schema_version=SCHEMA_VERSION, directory=Path(directory) if directory else None,
                   sha256=sha, fingerprint=fingerprint)

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
        } | ({"integrity": {"sha256": dict(self.sha256), "fingerprint": dict(self.fingerprint)}}
             if self.sha256 or self.fingerprint else {})

    def save(self, directory: str | Path) -> Path:
        """Write ``card.json`` into ``directory`` (created if needed); returns its path.

        When every file the card names is present in ``directory``, the card is sealed: their
        SHA-256 and the fingerprint of the card's fields are recorded (``integrity``), so that
        :func:`load_card` refuses a later change.  Write the model files first, then the card.
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / CARD_FILE
        data = self.to_dict()
        data.pop("integrity", None)
        integrity = _seal(data, dataclasses.replace(self, directory=directory, sha256={}, fingerprint={}))
        if integrity:
            data["integrity"] = integrity
        path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
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
                    paths.extend(load_card(sub, verify=False).file_paths())
        return paths

    def training_preparations(self) -> list[dict[str, Any]]:
        """How the training glasses were made: ``training.data.preparations`` (one entry per
        preparation with its number of glasses), else one entry from the campaign configuration
        the glasses share; ``[]`` when the card says neither."""
        data = _as_mapping((self.training or {}).get("data"))
        if isinstance(data.get("preparations"), list):
            return [dict(p) for p in data["preparations"] if isinstance(p, Mapping)]
        config = _as_mapping(_as_mapping(data.get("common")).get("campaign_config"))
        glass = _as_mapping(config.get("glass"))
        if not glass:
            return []
        entry = {"protocol": glass.get("preparation", "quench"), "quench_rate": glass.get("quench_rate"),
                 "glasses": data.get("n_glasses")}
        if glass.get("window"):
            entry["window"] = glass["window"]
        return [entry]

    def preparation_text(self) -> str:
        """The preparation of the training glasses in words, e.g. ``8 glasses quenched at 1e13 K/s``
        (LJ glasses: temperatures in epsilon/k_B and rates per tau, ``... at 1e-03/tau``)."""
        data = _as_mapping((self.training or {}).get("data"))
        common = _as_mapping(data.get("common"))
        system = str(_as_mapping(common.get("campaign_config")).get("system", ""))
        lj = system.upper().startswith("LJ") or str(_as_mapping(common.get("system")).get("units", "")) == "lj"
        unit, kelvin = ("/tau", "") if lj else (" K/s", " K")   # LJ: temperatures in epsilon/k_B, time in tau
        parts = []
        for p in self.training_preparations():
            n = p.get("glasses")
            head = f"{n} glass{'es' if n != 1 else ''} " if isinstance(n, int) else "glasses "
            try:
                if p.get("protocol") == "window":
                    windows = ", ".join(f"{w[0]:g}-{w[1]:g}{kelvin} at {w[2]:.0e}{unit}" for w in p.get("window") or [])
                    text = (f"{head}cooled slowly through the glass transition ({windows}; "
                            f"{float(p['quench_rate']):.0e}{unit} elsewhere)")
                else:
                    text = f"{head}quenched at {float(p['quench_rate']):.0e}{unit}"
                if p.get("effective_cooling_rate"):
                    text += f", effective cooling rate {float(p['effective_cooling_rate']):.1e} K/s"
            except (KeyError, TypeError, ValueError, IndexError):  # a hand-written card: say so, never fail
                text = f"{head}(preparation entry not readable: {p})"
            parts.append(text.replace("e+", "e"))
        return "; ".join(parts) or "not stated on the card"

    def shear_band_text(self) -> str:
        """What the DFS verdict of this model was tested on (``metrics.shear_band``, written by
        ``scripts/shear_band_check.py --record``), in one line per set of glasses."""
        entries = [e for e in (self.metrics or {}).get("shear_band") or [] if isinstance(e, Mapping)]
        if not entries:
            return "not tested against simulated shear bands"
        lines = []
        for e in entries:
            try:
                sem = f" ± {e['gamma_sem']:.2f}" if e.get("gamma_sem") is not None else ""
                oracle = f", oracle {e['oracle_gamma_mean']:.2f}" if e.get("oracle_gamma_mean") is not None else ""
                lines.append(f"mean γ {e['gamma_mean']:.2f}{sem} (0.5 = chance{oracle}) on {e['n']} glass-loadings "
                             f"of {'/'.join(f'{a:,}' for a in e.get('atoms', []))} atoms, preparation "
                             f"{', '.join(e.get('preparations', [])) or 'unknown'} ({e.get('measured', 'undated')})")
            except (KeyError, TypeError, ValueError):  # a hand-written card: say so, never fail
                lines.append(f"shear-band entry not readable: {dict(e)}")
        return "; ".join(lines)

    def summary(self) -> str:
        """One line for listings: name, property, kind, species, demo flag."""
        flag = " [DEMO: untrained, predictions meaningless]" if self.demo else ""
        return (f"{self.name}: {self.property} ({self.kind} on {self.descriptor}, {self.dimensions}D, "
                f"species {','.join(self.species)}){flag}")


def _as_mapping(value: Any) -> Mapping[str, Any]:
    """``value`` if it is a mapping, else an empty one (free-form card fields may hold text)."""
    return value if isinstance(value, Mapping) else {}


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


def _read_card_json(card_path: Path) -> dict:
    if not card_path.is_file():
        raise CardError(f"no model card {card_path}: a model folder must hold a {CARD_FILE} (see models/README.md)")
    try:
        return json.loads(card_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CardError(f"model card {card_path} is not valid JSON: {exc}") from exc


def load_card(path: str | Path, verify: bool = True) -> ModelCard:
    """Read and validate a card: ``path`` is a ``card.json`` or the model folder holding one.

    A sealed card (``integrity``) must match its fingerprint: an edited descriptor setting,
    species order, input, output selection or file list is refused.  With ``verify`` (the default)
    the files the card names are checked too (:func:`verify_model_files`): present, with the
    recorded SHA-256, LightGBM files complete.
    """
    path = Path(path)
    card_path = path / CARD_FILE if path.is_dir() else path
    data = _read_card_json(card_path)
    card = ModelCard.from_dict(data, directory=card_path.parent, source=card_path)
    if card.fingerprint:
        _check_fingerprint(data, card.fingerprint, card.name, card_path)
    if verify:
        verify_model_files(card)
    return card


# ----------------------------------------------------------------------------------------------
# integrity: SHA-256 of the files, fingerprint of the fields
def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=True).encode()


def card_fingerprint(data: Mapping[str, Any]) -> dict[str, str]:
    """One short hash (16 hex digits of SHA-256) per field of :data:`FINGERPRINT_FIELDS` of a card dictionary."""
    output = data.get("output") or {}
    output = {k: v for k, v in output.items() if k not in _OUTPUT_TEXT} if isinstance(output, Mapping) else output
    values = {key: output if key == "output" else data.get(key) for key in FINGERPRINT_FIELDS}
    return {key: hashlib.sha256(_canonical(value)).hexdigest()[:16] for key, value in values.items()}


def _parse_integrity(value: Any, source: Any) -> tuple[dict[str, str], dict[str, str]]:
    if value is None:
        return {}, {}
    if not isinstance(value, Mapping) or set(value) - {"sha256", "fingerprint"}:
        raise CardError(f"card field 'integrity' must be an object with 'sha256' and 'fingerprint'{_where(source)}")
    sha = value.get("sha256") or {}
    fp = value.get("fingerprint") or {}
    if not isinstance(sha, Mapping) or not all(isinstance(k, str) and isinstance(v, str)
                                               and re.fullmatch(r"[0-9a-f]{64}", v) for k, v in sha.items()):
        raise CardError(f"card field 'integrity.sha256' must map each file to its SHA-256 (64 hex digits)"
                        f"{_where(source)}")
    if not isinstance(fp, Mapping) or set(fp) != set(FINGERPRINT_FIELDS) or not all(
            isinstance(v, str) and re.fullmatch(r"[0-9a-f]{16}", v) for v in fp.values()):
        raise CardError(f"card field 'integrity.fingerprint' must hold one 16-digit hash for each of "
                        f"{list(FINGERPRINT_FIELDS)}{_where(source)}")
    for name in sha:
        p = PurePosixPath(name)
        if p.is_absolute() or "\\" in name or any(part in ("..", "", ".") for part in p.parts):
            raise CardError(f"card field 'integrity.sha256' names {name!r}; files are named relative to the card's "
                            f"folder{_where(source)}")
    return dict(sha), dict(fp)


def _check_fingerprint(data: Mapping[str, Any], fingerprint: Mapping[str, str], name: str, source: Any) -> None:
    now = card_fingerprint(data)
    changed = [k for k in FINGERPRINT_FIELDS if now[k] != fingerprint[k]]
    if changed:
        what = ", ".join(changed)
        raise CardError(
            f"model {name!r}: the card{_where(source)} was edited after the model was made: its {what} differ(s) "
            f"from what the model was trained and sealed with (integrity.fingerprint). A model gives meaningful "
            f"numbers only with the descriptor settings, species order and files it was trained with; "
            + _SEAL_HINT)


_HASHES: dict[tuple, str] = {}


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file (hex), remembered while its size and modification time stay the same."""
    path = Path(path)
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns, st.st_ino)
    digest = _HASHES.get(key)
    if digest is None:
        h = hashlib.sha256()
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        digest = h.hexdigest()
        if len(_HASHES) > 256:
            _HASHES.clear()
        _HASHES[key] = digest
    return digest


def _relative(card: ModelCard, path: Path) -> str:
    return PurePosixPath(*Path(os.path.relpath(path, card.directory)).parts).as_posix()


def verify_model_files(card: ModelCard) -> None:
    """Refuse a model whose files are missing, differ from their recorded SHA-256, or (LightGBM) are cut short.

    Runs before any library reads a model file (a damaged LightGBM file crashes the process
    inside the library, beyond Python's reach).  Cards kept in memory (no ``directory``) are
    not checked.
    """
    if card.directory is None:
        return
    paths = card.file_paths()
    for path in paths:
        if not path.is_file():
            raise CardError(f"model {card.name!r}: the card names {_relative(card, path)!r} but {path} does not "
                            f"exist; {_SEAL_HINT}")
    if card.sha256:
        names = [_relative(card, p) for p in paths]
        unrecorded = [n for n in names if n not in card.sha256]
        if unrecorded or set(card.sha256) - set(names):
            raise CardError(
                f"model {card.name!r}: the files of the model ({names}) are not those whose SHA-256 the card records "
                f"({sorted(card.sha256)}); {_SEAL_HINT}")
        for name, path in zip(names, paths):
            digest = file_sha256(path)
            if digest != card.sha256[name]:
                raise CardError(
                    f"model {card.name!r}: {path} ({path.stat().st_size} bytes) does not match the SHA-256 its card "
                    f"records (found {digest[:12]}..., recorded {card.sha256[name][:12]}...): the file was changed, "
                    f"cut short or replaced after the model was made; {_SEAL_HINT}")
    if card.kind == "lightgbm":
        for path in paths:
            check_lightgbm_text(path, card.name)
    elif card.kind == "ensemble":  # each member as on its own (its fingerprint, its LightGBM files)
        for member in card.settings.members:
            load_card(card.directory / member)


def check_lightgbm_text(path: str | Path, model: str = "") -> None:
    """Refuse a LightGBM text model that is not complete (the library would crash the process reading it).

    Checks: the ``tree`` header, one ``Tree=`` block per entry of ``tree_sizes`` with those byte
    sizes, the ``end of trees`` line, and a complete ``parameters:`` section when present.
    """
    path = Path(path)
    who = f"model {model!r}: " if model else ""
    data = path.read_bytes()
    problem = None
    if not data.startswith(b"tree\n"):
        problem = "it does not start with LightGBM's 'tree' header"
    else:
        end = data.find(b"\nend of trees")
        first = data.find(b"\nTree=")
        header = data[:first if first >= 0 else len(data)]
        missing = [k for k in (b"version=", b"num_class=", b"max_feature_idx=", b"feature_names=", b"objective=")
                   if b"\n" + k not in header]
        sizes = re.search(rb"^tree_sizes=(.*)$", header, re.M)
        if missing:
            problem = f"its header lacks {', '.join(k.decode().rstrip('=') for k in missing)}"
        elif end < 0 or first < 0 or first > end:
            problem = "it ends before the 'end of trees' line (cut short)"
        elif sizes is not None:
            try:
                expected = [int(x) for x in sizes.group(1).split()]
            except ValueError:
                expected = None
            blocks = data.count(b"\nTree=", 0, end + 1)
            if expected is None or len(expected) != blocks or sum(expected) != end + 1 - (first + 1):
                problem = "its trees do not have the sizes its 'tree_sizes' line records (damaged or cut short)"
        if problem is None:
            params = data.find(b"\nparameters:", end)
            if params >= 0 and data.find(b"\nend of parameters", params) < 0:
                problem = "it ends inside its 'parameters:' section (cut short)"
    if problem:
        raise CardError(f"{who}{path} is not a complete LightGBM text model: {problem}; {_SEAL_HINT}")


def _seal(data: Mapping[str, Any], card: ModelCard) -> dict[str, Any] | None:
    """The ``integrity`` entry of ``data`` (a card dictionary) for the files in ``card.directory``, or
    None when a file is missing."""
    try:
        paths = card.file_paths()
    except CardError:
        return None
    if not all(p.is_file() for p in paths):
        return None
    if card.kind == "lightgbm":
        for p in paths:
            check_lightgbm_text(p, card.name)
    return {"sha256": {_relative(card, p): file_sha256(p) for p in paths}, "fingerprint": card_fingerprint(data)}


def seal_card(path: str | Path) -> ModelCard:
    """Record the SHA-256 of a model's files and the fingerprint of its card in its ``card.json``.

    ``path`` is a model folder or its card.  The card is validated first; an ensemble's member
    cards are sealed before the ensemble's own (its record covers theirs).  Only the
    ``integrity`` entry of the file changes.  Returns the sealed card.
    """
    path = Path(path)
    card_path = path / CARD_FILE if path.is_dir() else path
    data = _read_card_json(card_path)
    data.pop("integrity", None)
    card = ModelCard.from_dict(data, directory=card_path.parent, source=card_path)
    if card.kind == "ensemble":
        for member in card.settings.members:
            if (card.directory / member / CARD_FILE).is_file():
                seal_card(card.directory / member)
    integrity = _seal(data, card)
    if integrity is None:
        missing = [str(p) for p in card.file_paths() if not p.is_file()]
        raise CardError(f"model {card.name!r} cannot be sealed: {', '.join(missing)} do(es) not exist")
    data["integrity"] = integrity
    card_path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return load_card(card_path)


def software_versions(*packages: str) -> dict[str, str]:
    """Installed versions of ovito-glassml, numpy and ``packages`` (``"unknown"`` if not installed), for cards."""
    out = {}
    for name in ("ovito-glassml", "numpy", *packages):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "unknown"
    return out
