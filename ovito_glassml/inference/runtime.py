"""Model runtime: find a model by name or path, check its card against its files, predict.

Three kinds of model (docs/design.md), each fed **only** with the descriptor its card describes:

* ``onnx-cnn`` (:class:`OnnxCNNModel`): plastic susceptibility from spatial density maps.  SDM
  images are generated in batches into one reused buffer and each batch is run through ONNX
  Runtime before the next is generated, so memory is one batch whatever the system size.  ONNX
  Runtime uses the CUDA provider when ``onnxruntime-gpu`` is installed (the ``gpu`` extra) and
  falls back to the CPU provider otherwise; ``providers=`` overrides.
* ``lightgbm`` (:class:`LightGBMModel`): quench-in softness = mean of the fold boosters'
  probabilities on the 80 interstice features; boosters are read from LightGBM's text format.
* ``linear`` (:class:`LinearModel`): structural flexibility = w_species . x with x the radial
  features (bias entry included) and one weight vector per **centre** species.  Centres whose
  species is in the card's species list but has no weight vector get NaN (documented in
  ``models/README.md``); particle types outside the species list are refused.

* ``ensemble`` (:class:`EnsembleModel`): member models in sub-folders, each with its own card and
  descriptor, combined as ``sigmoid(a * sum_k w_k (g(p_k) - mu_k) / sd_k + b)`` (``g`` = logit
  for probabilities): e.g. a plastic susceptibility from an orientation-aware CNN and the
  orientation-blind quench-in softness.

Models are found (:func:`find_model`) by an explicit path (a model folder, its ``card.json`` or a
file beside it), or by name in the folders of the ``GLASSML_MODELS`` environment variable
(``os.pathsep``-separated) and then among the models installed with the package (the top-level
``models/`` folder, shipped in the wheel as ``ovito_glassml._shipped_models``).  Nothing is ever
unpickled: cards and linear weights are JSON, LightGBM models text, CNNs ONNX protobuf.
"""
from __future__ import annotations

import json
import logging
import os
from dataclasses import replace as _dc_replace
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np

from ..descriptors.geometry import Configuration, ConfigurationError, center_indices, frame_matrix
from .cards import CARD_FILE, CardError, ModelCard, load_card
from .engine import EngineOptions, engine_options, overlapped
from .sharing import RESULTS, config_digest, file_sha256, files_digest, frame_key, shared_object

__all__ = [
    "MODELS_ENV",
    "Model",
    "OnnxCNNModel",
    "LightGBMModel",
    "LinearModel",
    "EnsembleModel",
    "ModelNotFoundError",
    "available_models",
    "scan_models",
    "model_search_path",
    "find_model",
    "load_model",
    "cached_model",
    "default_providers",
]

log = logging.getLogger(__name__)
MODELS_ENV = "GLASSML_MODELS"
_README = "models/README.md"


class ModelNotFoundError(ConfigurationError):
    """No model of that name is installed (the message lists what is)."""


# ----------------------------------------------------------------------------------------------
# finding models
def _shipped_dir() -> Path | None:
    """The folder of models installed with the package (wheel) or, in a checkout, ``<repo>/models``."""
    try:
        import importlib.resources as resources

        root = Path(str(resources.files("ovito_glassml._shipped_models")))
        if root.is_dir():
            return root
    except (ModuleNotFoundError, TypeError, FileNotFoundError):
        pass
    checkout = Path(__file__).resolve().parents[2] / "models"
    return checkout if checkout.is_dir() else None


def model_search_path() -> list[Path]:
    """Folders searched for named models, in order: ``$GLASSML_MODELS`` entries, then the installed ones."""
    out: list[Path] = []
    for entry in os.environ.get(MODELS_ENV, "").split(os.pathsep):
        if entry.strip():
            out.append(Path(entry.strip()).expanduser())
    shipped = _shipped_dir()
    if shipped is not None:
        out.append(shipped)
    return out


def scan_models() -> tuple[list[ModelCard], list[tuple[Path, str]]]:
    """All model folders on the search path: ``(valid cards, [(folder, problem), ...])``.

    A name found in several folders is taken from the first (``GLASSML_MODELS`` wins over the
    installed models).
    """
    cards: dict[str, ModelCard] = {}
    problems: list[tuple[Path, str]] = []
    for root in model_search_path():
        if not root.is_dir():
            continue
        for sub in sorted(p for p in root.iterdir() if (p / CARD_FILE).is_file()):
            try:
                card = load_card(sub)
            except ConfigurationError as exc:
                problems.append((sub, str(exc)))
                continue
            cards.setdefault(sub.name, card)
    return [cards[k] for k in sorted(cards)], problems


def available_models() -> list[ModelCard]:
    """Cards of the installed models (empty until trained models ship; see ``models/README.md``)."""
    return scan_models()[0]


def _not_found(name: str) -> ModelNotFoundError:
    cards, problems = scan_models()
    installed = ", ".join(sorted({c.directory.name for c in cards if c.directory})) or "none"
    note = "" if cards else " (no trained model ships yet)"
    extra = "".join(f"; {p}: {msg}" for p, msg in problems[:3])
    searched = ", ".join(str(p) for p in model_search_path()) or "nothing"
    return ModelNotFoundError(
        f"no model named {name!r} is installed; see {_README}. Installed models: {installed}{note}. Give the path "
        f"of a model folder (with a {CARD_FILE}) or add its parent folder to the {MODELS_ENV} environment "
        f"variable (searched: {searched}){extra}"
    )


def _looks_like_path(text: str) -> bool:
    return os.sep in text or "/" in text or text.endswith((".json", ".onnx", ".txt")) or text.startswith((".", "~"))


def find_model(name_or_path: str | os.PathLike | ModelCard) -> ModelCard:
    """The validated card of a model given by name, folder, ``card.json`` or a file beside it."""
    if isinstance(name_or_path, ModelCard):
        return name_or_path
    text = os.fspath(name_or_path).strip() if name_or_path is not None else ""
    if not text:
        raise ModelNotFoundError(f"no model was given; name an installed model or a model folder (see {_README})")
    path = Path(text).expanduser()
    bare = not _looks_like_path(text) and not isinstance(name_or_path, os.PathLike)
    if bare:  # a bare name: an installed model, never shadowed by an unrelated folder of that name (e.g. -o dfs)
        installed = next((root / text for root in model_search_path() if (root / text / CARD_FILE).is_file()), None)
        local = path if (path / CARD_FILE).is_file() else None
        if installed is not None and local is not None and installed.resolve() != local.resolve():
            raise ModelNotFoundError(
                f"{text!r} names both the installed model {installed} and the model folder {local.resolve()}; write "
                f"./{text} for the folder, or the full path of the installed one")
        if installed is not None or local is not None:
            return load_card(installed if installed is not None else local)
    elif path.exists():
        if path.is_dir():
            return load_card(path)
        if path.name == CARD_FILE:
            return load_card(path)
        if (path.parent / CARD_FILE).is_file():
            return load_card(path.parent)
        raise CardError(f"{path} has no {CARD_FILE} beside it: a model is a folder holding its files and a card "
                        f"(see {_README})")
    if not bare:
        raise ModelNotFoundError(f"no model folder or card at {path}; check the path, or give the name of an "
                                 f"installed model (see {_README})")
    for card in available_models():  # a card's own name may differ from its folder's
        if card.name == text:
            return card
    raise _not_found(text)


def load_model(name_or_path: str | os.PathLike | ModelCard, providers: Sequence[str] | None = None,
               precision: str | None = None) -> "Model":
    """Load a model (name, path or card); checks the card against the model files.

    ``providers`` (ONNX models only) overrides the ONNX Runtime execution providers, e.g.
    ``["CPUExecutionProvider"]``; default :func:`default_providers`.  ``precision`` (CNNs and
    ensembles holding one): ``"fp32"`` or ``"int8"`` (``model.int8.onnx``); default the process
    setting (:func:`~ovito_glassml.inference.engine.engine_options`).
    """
    card = find_model(name_or_path)
    for path in card.file_paths():
        if not path.is_file():
            raise CardError(f"model {card.name!r}: the card names {path.name!r} but {path} does not exist")
    if card.kind == "onnx-cnn":
        return OnnxCNNModel(card, providers=providers, precision=precision)
    if card.kind == "lightgbm":
        return LightGBMModel(card)
    if card.kind == "ensemble":
        return EnsembleModel(card, providers=providers, precision=precision)
    return LinearModel(card)


_CACHE: dict[tuple, "Model"] = {}


def cached_model(name_or_path: str | os.PathLike, providers: Sequence[str] | None = None) -> "Model":
    """:func:`load_model`, reusing a loaded model while its card and files are unchanged (for modifiers)."""
    card = find_model(name_or_path)
    stamp = tuple((str(p), p.stat().st_mtime_ns if p.exists() else -1)
                  for p in [card.directory / CARD_FILE, *card.file_paths()])
    key = (stamp, tuple(providers) if providers else None, engine_options())
    model = _CACHE.get(key)
    if model is None:
        model = load_model(card, providers=providers)
        if len(_CACHE) >= 8:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = model
    return model


def default_providers() -> list[str]:
    """``["CUDAExecutionProvider", "CPUExecutionProvider"]`` when onnxruntime-gpu is installed, else CPU.

    ONNX Runtime itself falls back to the CPU when the CUDA provider is present but no GPU can be
    used; :attr:`OnnxCNNModel.providers` reports what the session really uses.
    """
    import onnxruntime as ort

    if "CUDAExecutionProvider" in ort.get_available_providers():
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


# ----------------------------------------------------------------------------------------------
# models
_center_indices = center_indices


class Model:
    """A loaded model; subclasses implement :meth:`iter_predict`.

    Attributes: ``card`` (:class:`ModelCard`), ``name``, ``property_name``, ``dimensions``,
    ``species``, ``default_batch_size``.
    """

    default_batch_size = 65536
    orientational = False

    def __init__(self, card: ModelCard):
        self.card = card
        self._share: str | None = None

    def share_key(self) -> str:
        """SHA-256 over what fixes this model's numbers: its files' hashes, kind, descriptor settings
        and numeric variant (:meth:`_variant`); models with equal keys give equal predictions, so
        they share one pass (:mod:`~ovito_glassml.inference.sharing`)."""
        if getattr(self, "_share", None) is None:
            files = [p for p in self.card.file_paths()]
            self._share = files_digest(files, self.card.kind, self.card.settings.to_dict(), self._variant())
        return self._share

    def _variant(self) -> Any:
        return None

    def _pick(self, values: np.ndarray) -> np.ndarray:
        """This model's values from what :meth:`_iter` yields (a network with several outputs
        yields every output column, so models that read other columns share its pass)."""
        return values

    def _shared_iter(self, config, idx, frame, batch_size, reorder):
        """:meth:`_iter` through the shared result cache: a finished pass is stored, a repeated one
        (this model or another with the same :meth:`share_key`) is read back in batches."""
        bs = int(batch_size or self.default_batch_size)
        if bs < 1:
            raise ConfigurationError(f"batch_size must be >= 1; got {bs}")
        key = None
        if RESULTS.max_bytes > 0 and isinstance(config, Configuration):
            self.check_configuration(config)
            rot = _frame_matrix(frame, config.dimensions) if self.orientational else None
            key = (self.share_key(), config_digest(config, idx), frame_key(rot))
            hit = RESULTS.get(key)
            if hit is not None:
                for start in range(0, len(idx), bs):
                    yield idx[start:start + bs], self._pick(hit[start:start + bs])
                return
        out = None
        pos = None
        if key is not None and reorder:
            pos = np.full(config.count, -1, dtype=np.int64)
            pos[idx] = np.arange(len(idx))
        done = 0
        for chunk, values in self._iter(config, idx, frame, batch_size, reorder):
            if key is not None:
                if out is None:
                    out = np.empty((len(idx), *np.shape(values)[1:]))
                if reorder:
                    out[pos[chunk]] = values
                else:
                    out[done:done + len(chunk)] = values
            done += len(chunk)
            yield chunk, self._pick(values)
        if out is not None and done == len(idx):
            RESULTS.put(key, out)

    @property
    def name(self) -> str:
        return self.card.name

    @property
    def property_name(self) -> str:
        return self.card.property

    @property
    def dimensions(self) -> int:
        return self.card.dimensions

    @property
    def species(self) -> tuple[str, ...]:
        return self.card.species

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.card.summary()}>"

    def check_configuration(self, config: Configuration) -> None:
        """Refuse a configuration of the wrong dimensionality or with species the model does not know."""
        if not isinstance(config, Configuration):
            raise ConfigurationError(f"expected a Configuration; got {type(config).__name__}")
        if config.dimensions != self.dimensions:
            raise ConfigurationError(
                f"the configuration is {config.dimensions}D but model {self.name!r} ({self.property_name}) is for "
                f"{self.dimensions}D glasses; use a {config.dimensions}D model"
                + (" (check the cell: a 3D system must not be flagged 2D)" if config.dimensions == 2 else "")
            )
        present = [config.type_names[t] for t in np.unique(config.types)]
        missing = [name for name in present if name not in self.species]
        if missing:
            raise ConfigurationError(
                f"model {self.name!r} ({self.property_name}) knows the species {list(self.species)}, but the "
                f"configuration has particle type(s) {missing} that are not among them; name the particle types after "
                "their elements (e.g. --type-names 1=Cu,2=Zr, or in OVITO's file reader panel) or use a model "
                "trained for these species"
            )

    def iter_predict(self, config: Configuration, centers: Any = None, frame: Any = None,
                     batch_size: int | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(center_indices, values float64)`` batch by batch (centres possibly reordered)."""
        raise NotImplementedError

    def predict(self, config: Configuration, centers: Any = None, frame: Any = None,
                batch_size: int | None = None, progress: Callable[[float], Any] | None = None) -> np.ndarray:
        """Predicted property of ``centers`` (default all particles), float64, in the order of ``centers``.

        ``frame`` is the loading orientation (a name such as ``"xy"`` or a rotation matrix; default
        ``"xy"``) for orientational models and ignored by the others.  ``progress(fraction)`` is
        called after every batch.
        """
        idx = _center_indices(config, centers)
        out = np.full(len(idx), np.nan)
        unique = len(np.unique(idx)) == len(idx)
        if unique:
            where = np.full(config.count, -1, dtype=np.int64)
            where[idx] = np.arange(len(idx))
        done = 0
        for chunk, values in self._shared_iter(config, idx, frame, batch_size, reorder=unique):
            if unique:
                out[where[chunk]] = values
            else:
                out[done:done + len(chunk)] = values
            done += len(chunk)
            if progress is not None:
                progress(done / len(idx))
        return out

    def _iter(self, config, idx, frame, batch_size, reorder):  # pragma: no cover - abstract
        raise NotImplementedError

    def predict_orientations(self, config: Configuration, frames: Iterable[Any], centers: Any = None,
                             batch_size: int | None = None,
                             progress: Callable[[float], Any] | None = None) -> np.ndarray:
        """Predictions for several loading orientations: ``(n_frames, n_centers)`` float64.

        ``frames`` are orientation names or rotation matrices, e.g. ``[s for s, _, _ in
        cube_orientations()]`` for the 24 cube orientations.
        """
        frames = list(frames)
        if not frames:
            raise ConfigurationError("no loading orientations were given")
        idx = _center_indices(config, centers)
        out = np.empty((len(frames), len(idx)))
        for k, frame in enumerate(frames):
            sub = None if progress is None else (lambda f, k=k: progress((k + f) / len(frames)))
            out[k] = self.predict(config, idx, frame=frame, batch_size=batch_size, progress=sub)
        return out


class OnnxCNNModel(Model):
    """A CNN on spatial density maps, run with ONNX Runtime (see the module docstring)."""

    default_batch_size = 128
    orientational = True

    def __init__(self, card: ModelCard, providers: Sequence[str] | None = None, session_options: Any = None,
                 precision: str | None = None, options: EngineOptions | None = None):
        super().__init__(card)
        self.options = options or engine_options()
        if precision is not None and precision != self.options.precision:
            self.options = _dc_replace(self.options, precision=precision)
        self._providers = list(providers) if providers else default_providers()
        self._session_options = session_options
        self._open_session()
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        if len(inputs) != 1:
            raise CardError(f"model {card.name!r}: the ONNX graph has {len(inputs)} inputs; a susceptibility CNN "
                            "takes exactly one (the SDM images)")
        inp = inputs[0]
        shape = list(inp.shape)
        expected = list(card.input_shape)
        if len(shape) != len(expected) + 1:
            raise CardError(f"model {card.name!r}: the ONNX input {inp.name!r} has shape {shape} (rank {len(shape)}) but "
                            f"the card's SDM images need rank {len(expected) + 1}: (batch, {', '.join(map(str, expected))})")
        differ = [(k, s, e) for k, (s, e) in enumerate(zip(shape[1:], expected), start=1)
                  if isinstance(s, int) and s != e]
        if differ:
            raise CardError(f"model {card.name!r}: the ONNX input shape {shape} does not match the card's SDM shape "
                            f"(batch, {', '.join(map(str, expected))}): axis {differ[0][0]} is {differ[0][1]} in the "
                            f"file but {differ[0][2]} from the SDM settings ({card.settings.to_dict()})")
        if inp.type != "tensor(float)":
            raise CardError(f"model {card.name!r}: the ONNX input must be float32 (tensor(float)); got {inp.type}")
        self.input_name = inp.name
        self.fixed_batch = shape[0] if isinstance(shape[0], int) and shape[0] > 0 else None
        out = outputs[0]
        self.output_name, self.column = out.name, select_output_column(card, list(out.shape))

    @property
    def providers(self) -> list[str]:
        """Execution providers the ONNX Runtime session really uses."""
        return list(self.session.get_providers())

    @property
    def precision(self) -> str:
        return self.options.precision

    def model_file(self) -> Path:
        """The ONNX file this model runs: ``model.onnx``, or ``model.int8.onnx`` for int8 (checked
        against the hash of ``model.onnx`` recorded when it was quantised)."""
        from .quantize import INT8_RECORD, int8_path

        path = self.card.file_paths()[0]
        if self.options.precision == "fp32":
            return path
        q = int8_path(path)
        record = q.with_name(INT8_RECORD)
        if not q.is_file() or not record.is_file():
            raise CardError(f"model {self.card.name!r} has no int8 version ({q.name} and {record.name} beside "
                            f"{path.name}); make one with ovito_glassml.inference.quantize or use precision fp32")
        try:
            source = json.loads(record.read_text(encoding="utf-8")).get("source_sha256")
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CardError(f"model {self.card.name!r}: {record} is not valid JSON: {exc}") from exc
        if source != file_sha256(path):
            raise CardError(f"model {self.card.name!r}: {q.name} was quantised from another {path.name} (hash "
                            f"mismatch); quantise the current network again")
        return q

    def _open_session(self) -> None:
        import onnxruntime as ort

        from .engine import session_options as make_options

        path = self.model_file()

        def build():
            try:
                return ort.InferenceSession(str(path), sess_options=self._session_options or make_options(self.options),
                                            providers=self._providers)
            except Exception as exc:  # onnxruntime raises its own exception types for broken files
                raise CardError(f"model {self.card.name!r}: ONNX Runtime cannot load {path}: {exc}") from exc

        if self._session_options is not None:
            self.session = build()
        else:  # identical networks (same bytes, same options) share one session
            o = self.options
            self.session = shared_object(("onnx", file_sha256(path), tuple(self._providers), o.threads,
                                          o.opt_level, o.spin), build)
        self._share = None

    def use_precision(self, precision: str) -> None:
        """Switch to ``"fp32"`` or ``"int8"`` (reopens the session)."""
        self.options = _dc_replace(self.options, precision=precision)
        self._open_session()

    def _variant(self) -> Any:
        # not the output column: cards that select other outputs of one network share its pass
        return {"precision": self.options.precision, "providers": self.providers}

    def run_batch_outputs(self, images: np.ndarray) -> np.ndarray:
        """Run one batch of SDM images (float32, ``(b, *input_shape)``) -> every output column,
        float64 ``(b, K)``."""
        raw = self.session.run([self.output_name], {self.input_name: images})[0]
        return np.asarray(raw).reshape(len(images), -1).astype(np.float64)

    def run_batch(self, images: np.ndarray) -> np.ndarray:
        """Run one batch of SDM images (float32, ``(b, *input_shape)``) -> float64 ``(b,)``, the
        card's output column."""
        return self.run_batch_outputs(images)[:, self.column]

    def _pick(self, values: np.ndarray) -> np.ndarray:
        return values[:, self.column]

    def _iter(self, config, idx, frame, batch_size, reorder):
        from ..descriptors.sdm import iter_spatial_density_maps

        self.check_configuration(config)
        rot = _frame_matrix(frame, config.dimensions)
        bs = int(batch_size or self.default_batch_size)
        if bs < 1:
            raise ConfigurationError(f"batch_size must be >= 1; got {bs}")
        pad = None
        if self.fixed_batch is not None:
            bs = self.fixed_batch
            pad = np.zeros((bs, *self.card.input_shape), dtype=np.float32)
        overlap = self.options.overlap and len(idx) > bs
        batches = iter_spatial_density_maps(config, self.card.settings, rot, centers=idx, batch_size=bs,
                                             reuse_buffer=True, order="spatial" if reorder else "input")
        if overlap:  # the next batches are generated while the network runs (engine module)
            batches = overlapped(batches, self.options.queue_depth)
        for chunk, images in batches:
            if pad is not None and len(chunk) < bs:
                pad[:len(chunk)] = images
                values = self.run_batch_outputs(pad)[:len(chunk)]
            else:
                values = self.run_batch_outputs(images)
            yield chunk, values

    def iter_predict(self, config, centers=None, frame=None, batch_size=None):
        idx = _center_indices(config, centers)
        return self._shared_iter(config, idx, frame, batch_size, reorder=len(np.unique(idx)) == len(idx))

def select_output_column(card: ModelCard, shape: Sequence[Any]) -> int:
    """The column of the ONNX output (shape ``(batch,)`` or ``(batch, K)``) that ``card`` predicts.

    A network with several outputs (one per label, e.g. the susceptibility at 2, 5 and 10 % strain)
    lists them in ``output.outputs`` (``{"name", "column", "label"}``) and names the one this card
    predicts in ``output.select``; otherwise ``output.column`` (default 0 for a single column).  The
    two must agree when both are given."""
    shape = list(shape)
    if len(shape) not in (1, 2):
        raise CardError(f"model {card.name!r}: the ONNX output has shape {shape}; expected (batch,) or "
                        "(batch, classes)")
    width = shape[-1] if len(shape) == 2 else 1
    column = card.output.get("column")
    select = card.output.get("select")
    if select is not None:
        listed = {o.get("name"): o.get("column") for o in card.output.get("outputs") or [] if isinstance(o, dict)}
        if select not in listed or isinstance(listed[select], bool) or not isinstance(listed[select], int):
            raise CardError(f"model {card.name!r}: card field 'output.select' names {select!r}, which is not among "
                            f"the outputs listed in 'output.outputs' ({sorted(k for k in listed if k)})")
        if column is not None and column != listed[select]:
            raise CardError(f"model {card.name!r}: 'output.select' {select!r} is column {listed[select]} but "
                            f"'output.column' says {column}")
        column = listed[select]
    if column is None:
        if isinstance(width, int) and width > 1:
            raise CardError(f"model {card.name!r}: the ONNX output has {width} columns; say which one is the "
                            "probability of 'plastic' with 'output.column' in the card")
        column = 0
    elif isinstance(width, int) and column >= width:
        raise CardError(f"model {card.name!r}: card field 'output.column' is {column} but the ONNX output has "
                        f"{width} column(s)")
    return int(column)


def _frame_matrix(frame: Any, dimensions: int) -> np.ndarray:
    return frame_matrix("xy" if frame is None else frame, dimensions)


class LightGBMModel(Model):
    """Quench-in softness: the mean probability of the fold boosters on the interstice features.

    The interstice features see species only through their atomic radii, so a QS model applies to
    any 3D glass whose elements have a radius (the card's ``descriptor.settings.radii`` or the
    Miracle table), not only to the species it was trained on: this is Wang & Jain's transfer test
    (a Cu-Zr model on Fe-P glasses).  Species outside the training set are logged, not refused;
    an element without a radius is refused by the descriptor.
    """

    def check_configuration(self, config: Configuration) -> None:
        if not isinstance(config, Configuration):
            raise ConfigurationError(f"expected a Configuration; got {type(config).__name__}")
        if config.dimensions != self.dimensions:
            super().check_configuration(config)  # the dimensionality message
        present = [config.type_names[t] for t in np.unique(config.types)]
        other = [name for name in present if name not in self.species]
        if other:
            log.info("model %s was trained on %s; applying it to %s (interstice features depend on species only "
                     "through the atomic radii)", self.name, list(self.species), other)

    def __init__(self, card: ModelCard):
        super().__init__(card)
        import lightgbm

        self.boosters = []
        for path in card.file_paths():
            objective = _lightgbm_objective(path)
            if objective is None or not objective.startswith(("binary", "cross_entropy", "xentropy")):
                raise CardError(f"model {card.name!r}: {path.name} is not a binary LightGBM classifier (objective "
                                f"{objective!r}); quench-in softness needs class probabilities")
            try:  # identical fold files (the QS member of several ensembles) are read once
                booster = shared_object(("lightgbm", file_sha256(path)),
                                        lambda path=path: lightgbm.Booster(model_file=str(path)))
            except Exception as exc:  # lightgbm.basic.LightGBMError
                raise CardError(f"model {card.name!r}: LightGBM cannot read {path}: {exc}") from exc
            n = booster.num_feature()
            names = list(card.feature_names)
            if n != len(names):
                raise CardError(f"model {card.name!r}: {path.name} takes {n} features but the card's descriptor "
                                f"({card.descriptor}) gives {len(names)}")
            got = booster.feature_name()
            if got != names:
                k = next(i for i, (a, b) in enumerate(zip(got, names)) if a != b)
                raise CardError(f"model {card.name!r}: feature {k} of {path.name} is {got[k]!r} but the card's "
                                f"descriptor calls it {names[k]!r}: the booster was trained on other features")
            self.boosters.append(booster)

    def _iter(self, config, idx, frame, batch_size, reorder):
        from ..descriptors.interstice import interstice_features

        self.check_configuration(config)
        bs = int(batch_size or self.default_batch_size)
        if bs < 1:
            raise ConfigurationError(f"batch_size must be >= 1; got {bs}")
        features = interstice_features(config, self.card.settings, idx)
        for start in range(0, len(idx), bs):
            x = features[start:start + bs]
            p = np.mean([b.predict(x) for b in self.boosters], axis=0)
            yield idx[start:start + bs], np.asarray(p, dtype=np.float64).reshape(-1)

    def iter_predict(self, config, centers=None, frame=None, batch_size=None):
        return self._shared_iter(config, _center_indices(config, centers), frame, batch_size, True)


def _lightgbm_objective(path: Path) -> str | None:
    with open(path, "r", encoding="utf-8", errors="replace") as fh:
        for k, line in enumerate(fh):
            if line.startswith("objective="):
                return line.split("=", 1)[1].strip()
            if k > 200 or line.startswith("Tree="):
                break
    return None


class LinearModel(Model):
    """Structural flexibility: ``w_species . x`` on the radial features (bias entry included).

    The weights file (JSON) is ``{"feature_names": [...], "weights": {"Cu": [...], "Zr": [...]}}``.
    Centres of a card species without a weight vector get NaN.
    """

    def __init__(self, card: ModelCard):
        super().__init__(card)
        path = card.file_paths()[0]
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CardError(f"model {card.name!r}: {path} is not valid JSON: {exc}") from exc
        if not isinstance(data, dict) or not isinstance(data.get("weights"), dict) or not data["weights"]:
            raise CardError(f"model {card.name!r}: {path.name} must be a JSON object with 'weights' mapping each centre "
                            "species to its weight vector")
        names = list(card.feature_names)
        if "feature_names" in data and list(data["feature_names"]) != names:
            got = list(data["feature_names"])
            if len(got) != len(names):
                raise CardError(f"model {card.name!r}: {path.name} lists {len(got)} features but the card's radial "
                                f"descriptor gives {len(names)}")
            k = next(i for i, (a, b) in enumerate(zip(got, names)) if a != b)
            raise CardError(f"model {card.name!r}: feature {k} of {path.name} is {got[k]!r} but the card's radial "
                            f"descriptor calls it {names[k]!r}")
        unknown = [s for s in data["weights"] if s not in card.species]
        if unknown:
            raise CardError(f"model {card.name!r}: {path.name} has weights for species {unknown} that are not in the "
                            f"card's species {list(card.species)}")
        self.weights: dict[str, np.ndarray] = {}
        for sp, w in data["weights"].items():
            arr = np.asarray(w, dtype=np.float64) if isinstance(w, list) else None
            if arr is None or arr.ndim != 1:
                raise CardError(f"model {card.name!r}: the weights of {sp!r} in {path.name} must be a list of numbers")
            if len(arr) != len(names):
                raise CardError(f"model {card.name!r}: the weight vector of {sp!r} has {len(arr)} entries but the radial "
                                f"descriptor gives {len(names)} features (including the bias)")
            if not np.all(np.isfinite(arr)):
                raise CardError(f"model {card.name!r}: the weights of {sp!r} contain NaN or inf")
            self.weights[sp] = arr

    def _iter(self, config, idx, frame, batch_size, reorder):
        from ..descriptors.radial import iter_radial_features

        self.check_configuration(config)
        bs = int(batch_size or self.default_batch_size)
        if bs < 1:
            raise ConfigurationError(f"batch_size must be >= 1; got {bs}")
        n = len(self.card.feature_names)
        table = np.full((len(config.type_names), n), np.nan)
        for t, name in enumerate(config.type_names):
            if name in self.weights:
                table[t] = self.weights[name]
        for chunk, x in iter_radial_features(config, self.card.settings, idx, batch_size=bs, dtype=np.float64):
            yield chunk, np.einsum("ij,ij->i", x, table[config.types[chunk]])

    def iter_predict(self, config, centers=None, frame=None, batch_size=None):
        return self._shared_iter(config, _center_indices(config, centers), frame, batch_size, True)


class EnsembleModel(Model):
    """Member models (sub-folders with their own cards) combined into one prediction.

    ``ensemble.json``::

        {"members": [{"folder": "cnn", "weight": 0.5, "transform": "logit", "mean": -0.4, "sd": 1.3},
                     {"folder": "qs", "weight": 0.5, "transform": "logit", "mean": -2.1, "sd": 1.1}],
         "calibration": {"scale": 1.2, "offset": 0.3}}

    prediction = sigmoid(scale * sum_k weight_k * (g_k(p_k) - mean_k) / sd_k + offset), with g the
    logit of the member's probability (clipped to [1e-6, 1 - 1e-6]) or the identity.  ``mean_k``
    and ``sd_k`` standardise each member on its training glasses, so the weights compare like
    with like; scale and offset only calibrate the output (they do not change the ranking).
    Orientation-blind members are computed once per configuration and reused for every loading
    orientation; an orientational member streams in batches as on its own.
    """

    _TRANSFORMS = ("logit", "identity")

    def __init__(self, card: ModelCard, providers: Sequence[str] | None = None, precision: str | None = None):
        super().__init__(card)
        path = card.file_paths()[0]
        try:
            spec = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CardError(f"model {card.name!r}: {path} is not valid JSON: {exc}") from exc
        entries = spec.get("members") if isinstance(spec, dict) else None
        if not isinstance(entries, list) or not entries:
            raise CardError(f"model {card.name!r}: {path.name} must be a JSON object with a 'members' list")
        folders = [e.get("folder") if isinstance(e, dict) else None for e in entries]
        if folders != list(card.settings.members):
            raise CardError(f"model {card.name!r}: {path.name} combines the members {folders} but the card lists "
                            f"{list(card.settings.members)} (descriptor.settings.members); they must agree, in order")
        self.members: list[Model] = []
        self.weights, self.means, self.sds, self.transforms = [], [], [], []
        for e in entries:
            name = e["folder"]
            vals = [e.get(k) for k in ("weight", "mean", "sd")]
            if any(isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v) for v in vals):
                raise CardError(f"model {card.name!r}: member {name!r} in {path.name} needs finite numbers "
                                f"'weight', 'mean' and 'sd'; got {vals}")
            if vals[2] <= 0:
                raise CardError(f"model {card.name!r}: member {name!r} has sd {vals[2]} in {path.name}; it must be > 0")
            transform = e.get("transform", "logit")
            if transform not in self._TRANSFORMS:
                raise CardError(f"model {card.name!r}: member {name!r} has transform {transform!r}; use one of "
                                f"{list(self._TRANSFORMS)}")
            sub = card.directory / name
            if not (sub / CARD_FILE).is_file():
                raise CardError(f"model {card.name!r}: member folder {sub} has no {CARD_FILE}; an ensemble keeps each "
                                "member model in a sub-folder of its own folder")
            member = load_model(sub, providers=providers, precision=precision)
            if member.card.kind == "ensemble":
                raise CardError(f"model {card.name!r}: member {name!r} is itself an ensemble; nest no ensembles")
            if member.dimensions != card.dimensions:
                raise CardError(f"model {card.name!r}: member {name!r} is for {member.dimensions}D glasses but the "
                                f"ensemble card says {card.dimensions}D")
            self.members.append(member)
            self.weights.append(float(vals[0]))
            self.means.append(float(vals[1]))
            self.sds.append(float(vals[2]))
            self.transforms.append(transform)
        cal = spec.get("calibration", {"scale": 1.0, "offset": 0.0})
        scale, offset = (cal.get("scale"), cal.get("offset")) if isinstance(cal, dict) else (None, None)
        if any(isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v) for v in (scale, offset)):
            raise CardError(f"model {card.name!r}: 'calibration' in {path.name} needs finite 'scale' and 'offset'")
        self.scale, self.offset = float(scale), float(offset)
        self.orientational = any(m.orientational for m in self.members)
        self.default_batch_size = min(m.default_batch_size for m in self.members)
        self._static_cache: dict[tuple, np.ndarray] = {}

    def check_configuration(self, config: Configuration) -> None:
        for m in self.members:
            m.check_configuration(config)

    def share_key(self) -> str:
        """Hash of the combination file and the members' own share keys."""
        if getattr(self, "_share", None) is None:
            keys = [m.share_key() if isinstance(m, Model) else repr(m) for m in self.members]
            self._share = files_digest([self.card.file_paths()[0]], "ensemble", keys)
        return self._share

    def member_scores(self, k: int, p: np.ndarray) -> np.ndarray:
        """Standardised score of member ``k`` for its raw predictions ``p``: (g(p) - mean) / sd."""
        p = np.asarray(p, dtype=np.float64)
        if self.transforms[k] == "logit":
            q = np.clip(p, 1e-6, 1.0 - 1e-6)
            p = np.log(q) - np.log1p(-q)
        return (p - self.means[k]) / self.sds[k]

    def combine(self, raw: Sequence[np.ndarray]) -> np.ndarray:
        """The ensemble prediction from the members' raw predictions (same atoms, member order)."""
        s = sum(w * self.member_scores(k, r) for k, (w, r) in enumerate(zip(self.weights, raw)))
        return 1.0 / (1.0 + np.exp(-(self.scale * s + self.offset)))

    def _static(self, k: int, config: Configuration, idx: np.ndarray) -> np.ndarray:
        import hashlib

        h = hashlib.blake2b(digest_size=16)
        for a in (config.positions, config.types, config.cell, idx):
            h.update(np.ascontiguousarray(a).tobytes())
        h.update(repr((config.type_names, config.pbc)).encode())
        key = (k, h.hexdigest())
        if key not in self._static_cache:
            if len(self._static_cache) >= 2 * len(self.members):
                self._static_cache.pop(next(iter(self._static_cache)))
            self._static_cache[key] = self.members[k].predict(config, idx)
        return self._static_cache[key]

    def _iter(self, config, idx, frame, batch_size, reorder):
        self.check_configuration(config)
        bs = int(batch_size or self.default_batch_size)
        if bs < 1:
            raise ConfigurationError(f"batch_size must be >= 1; got {bs}")
        streamed = next((k for k, m in enumerate(self.members) if m.orientational), None)
        full = {k: (self._static(k, config, idx) if not m.orientational else m.predict(config, idx, frame=frame))
                for k, m in enumerate(self.members) if k != streamed}
        if streamed is None:
            for start in range(0, len(idx), bs):
                yield idx[start:start + bs], self.combine([full[k][start:start + bs] for k in range(len(self.members))])
            return
        pos = None
        if reorder:
            pos = np.full(config.count, -1, dtype=np.int64)
            pos[idx] = np.arange(len(idx))
        done = 0
        member = self.members[streamed]  # a runtime model shares its pass; a wrapper streams its own way
        stream = member._shared_iter if isinstance(member, Model) else member._iter
        for chunk, values in stream(config, idx, frame, bs, reorder):
            at = pos[chunk] if reorder else np.arange(done, done + len(chunk))
            done += len(chunk)
            yield chunk, self.combine([values if k == streamed else full[k][at] for k in range(len(self.members))])

    def iter_predict(self, config, centers=None, frame=None, batch_size=None):
        idx = _center_indices(config, centers)
        return self._shared_iter(config, idx, frame, batch_size, reorder=len(np.unique(idx)) == len(idx))
