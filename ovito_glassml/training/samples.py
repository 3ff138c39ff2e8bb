"""Labelled glasses: the in-memory unit that every trainer and the evaluator work on.

A :class:`LabelledGlass` is one simulated glass: its inherent structure (a
:class:`~ovito_glassml.descriptors.geometry.Configuration` in the lab frame, atoms in the order of
the labels) and its per-atom labels:

* ``d2min[orientation][strain]`` (N,): D2min (Falk-Langer, OVITO's AtomicStrainModifier) after
  AQS shear to ``strain`` along the loading ``orientation`` (a cube-orientation name such as
  ``"xy"`` or a 2D protocol name, :func:`~ovito_glassml.descriptors.geometry.orientation_frame`),
  against the undeformed inherent structure; NaN where OVITO could not fit (too few neighbours);
* ``msd`` (N,): vibrational mean squared displacement at 50 K; ``voronoi_volume`` (N,);
  ``v_flex`` (N,) = MSD * Omega^(1/d) (docs/design.md); ``msd_runs`` (S, N): the single-seed
  MSD runs whose mean is ``msd`` (optional; gives the label's reliability);
* ``provenance``: what was simulated (system, potential, quench rate, protocol, versions), cited
  by the model cards.

Helpers: :func:`split_by_glass` (atoms of one glass never on both sides of a split), the label
functions :func:`top_fraction_labels` (CNN: top f_thres of D2min) and :func:`threshold_labels`
(QS: D2min > threshold), and :func:`balanced_indices` (equal undersampling).  Labels are int8 with
``-1`` for atoms without a finite D2min (never used for training or metrics).

Files: :func:`load_glasses` / :meth:`LabelledGlass.from_file` read (a) the generator's per-glass
data-set files (``ovito_glassml.simulation.dataset.load_dataset``, format ``glassml-dataset-1``:
inherent structure in the lab frame, ``orient/<o>/snapshot_strains`` and ``orient/<o>/d2min``
(K, N) per orientation, ``voronoi_volume``, ``msd``, ``v_flex`` once the MSD stage is done,
provenance JSON), converted by :func:`glass_from_mapping`, and (b) the compact test format
written by :meth:`LabelledGlass.save_npz` (marker key ``glassml_labelled_glass``).  Partially
labelled glasses are fine: a trainer uses the orientations and strains present.
"""
from __future__ import annotations

import dataclasses
import importlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from ..descriptors.geometry import Configuration, ConfigurationError

__all__ = [
    "LabelledGlass",
    "GlassSplit",
    "split_by_glass",
    "same_strain",
    "top_fraction_labels",
    "threshold_labels",
    "choose_threshold",
    "preparation_of",
    "preparation_record",
    "balanced_indices",
    "load_glasses",
    "glass_from_mapping",
    "provenance_summary",
    "species_of",
    "NPZ_MARKER",
]

NPZ_MARKER = "glassml_labelled_glass"
_STRAIN_TOL = 1e-6  # strains are stored as float32 (0.1 -> 0.10000000149)


def same_strain(a: float, b: float) -> bool:
    """Whether two strains are the same snapshot: stored as float32 (0.1 -> 0.10000000149), so
    they are matched within 1e-6 (relative above 1)."""
    a, b = float(a), float(b)
    return abs(a - b) <= _STRAIN_TOL * max(1.0, abs(a))


def _per_atom(values: Any, n: int, what: str) -> np.ndarray:
    arr = np.array(values, dtype=np.float64, copy=True).reshape(-1)
    if len(arr) != n:
        raise ConfigurationError(f"{what} has {len(arr)} values but the glass has {n} atoms")
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True)
class LabelledGlass:
    """One glass with its per-atom labels (see the module docstring)."""

    name: str
    config: Configuration
    d2min: Mapping[str, Mapping[float, np.ndarray]] = field(default_factory=dict)
    v_flex: np.ndarray | None = None
    msd: np.ndarray | None = None
    msd_runs: np.ndarray | None = None
    voronoi_volume: np.ndarray | None = None
    provenance: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.config, Configuration):
            raise ConfigurationError(f"glass {self.name!r}: config must be a Configuration")
        n = self.config.count
        d2 = {}
        for orientation, by_strain in dict(self.d2min).items():
            d2[str(orientation)] = {float(s): _per_atom(v, n, f"glass {self.name!r}: D2min[{orientation}][{s}]")
                                    for s, v in sorted(dict(by_strain).items(), key=lambda kv: float(kv[0]))}
        object.__setattr__(self, "name", str(self.name))
        object.__setattr__(self, "d2min", d2)
        for key in ("v_flex", "msd", "voronoi_volume"):
            value = getattr(self, key)
            if value is not None:
                object.__setattr__(self, key, _per_atom(value, n, f"glass {self.name!r}: {key}"))
        if self.msd_runs is not None:
            runs = np.array(self.msd_runs, dtype=np.float64, copy=True)
            if runs.ndim != 2 or runs.shape[1] != n:
                raise ConfigurationError(f"glass {self.name!r}: msd_runs has shape {runs.shape}; expected (seeds, {n})")
            runs.setflags(write=False)
            object.__setattr__(self, "msd_runs", runs)
        object.__setattr__(self, "provenance", dict(self.provenance or {}))

    # -- access ------------------------------------------------------------------------------
    @property
    def count(self) -> int:
        return self.config.count

    @property
    def orientations(self) -> list[str]:
        """Loading orientations with D2min, in file order."""
        return list(self.d2min)

    def strains(self, orientation: str | None = None) -> list[float]:
        """Strains with D2min in ``orientation`` (default: those common to all orientations)."""
        if orientation is not None:
            return list(self.d2min.get(orientation, {}))
        sets = [set(v) for v in self.d2min.values()]
        return sorted(set.intersection(*sets)) if sets else []

    def has_d2min(self, orientation: str, strain: float) -> bool:
        """Whether D2min after ``strain`` along ``orientation`` is stored (see :func:`same_strain`)."""
        return any(same_strain(s, strain) for s in self.d2min.get(orientation, {}))

    def d2min_at(self, orientation: str, strain: float) -> np.ndarray:
        """D2min (N,) after ``strain`` along ``orientation`` (strain matched by :func:`same_strain`)."""
        if orientation not in self.d2min:
            raise ConfigurationError(f"glass {self.name!r} has no D2min for orientation {orientation!r}; it has "
                                     f"{self.orientations}")
        for s, values in self.d2min[orientation].items():
            if same_strain(s, strain):
                return values
        raise ConfigurationError(f"glass {self.name!r} has no D2min at strain {strain} in orientation "
                                 f"{orientation!r}; available strains: {self.strains(orientation)}")

    def species_counts(self) -> dict[str, int]:
        names = self.config.type_names
        return {names[t]: int(c) for t, c in zip(*np.unique(self.config.types, return_counts=True))}

    # -- files -------------------------------------------------------------------------------
    def save_npz(self, path: str | Path) -> Path:
        """Write the glass as one ``.npz`` (the format :func:`load_glasses` reads; used by tests)."""
        path = Path(path)
        c = self.config
        arrays: dict[str, Any] = {
            NPZ_MARKER: np.array(1), "name": np.array(self.name), "positions": c.positions, "cell": c.cell,
            "origin": c.origin, "types": c.types, "type_names": np.array(list(c.type_names)),
            "pbc": np.array(c.pbc), "is_2d": np.array(c.is_2d),
            "provenance": np.array(json.dumps(self.provenance)),
        }
        table = []
        for o, by_strain in self.d2min.items():
            for s, v in by_strain.items():
                key = f"d2min_{len(table)}"
                table.append([o, repr(float(s)), key])
                arrays[key] = v
        arrays["d2min_table"] = np.array(json.dumps(table))
        for key in ("v_flex", "msd", "msd_runs", "voronoi_volume"):
            if getattr(self, key) is not None:
                arrays[key] = getattr(self, key)
        np.savez_compressed(path, **arrays)
        return path

    @classmethod
    def from_file(cls, path: str | Path) -> "LabelledGlass":
        """One glass from a file (see :func:`load_glasses`); a file holding several glasses is refused."""
        glasses = _read_path(Path(path))
        if len(glasses) != 1:
            raise ConfigurationError(f"{path} holds {len(glasses)} glasses; use load_glasses() to read them all")
        return glasses[0]


def _from_npz(path: Path) -> LabelledGlass:
    with np.load(path, allow_pickle=False) as z:
        config = Configuration(z["positions"], z["cell"], z["types"], tuple(str(s) for s in z["type_names"]),
                               pbc=tuple(bool(b) for b in z["pbc"]), origin=z["origin"], is_2d=bool(z["is_2d"]))
        d2: dict[str, dict[float, np.ndarray]] = {}
        for o, s, key in json.loads(str(z["d2min_table"])):
            d2.setdefault(o, {})[float(s)] = z[key]
        extra = {k: z[k] for k in ("v_flex", "msd", "msd_runs", "voronoi_volume") if k in z.files}
        return LabelledGlass(str(z["name"]), config, d2, provenance=json.loads(str(z["provenance"])), **extra)


def _get(data: Any, *keys: str, default: Any = None) -> Any:
    for k in keys:
        try:
            if k in data:
                return data[k]
        except TypeError:
            pass
        if hasattr(data, k):
            return getattr(data, k)
    return default


def glass_from_mapping(data: Any, name: str | None = None) -> LabelledGlass:
    """Convert one glass as returned by the generator's loader (dict-like or attributes).

    Expected keys (aliases in brackets):

    * ``positions`` (N, 3) lab frame, inherent structure; ``cell`` (3, 3) columns = cell vectors;
      ``types`` (N,) indices into ``type_names`` [``species``]; optional ``origin``, ``pbc``,
      ``is_2d`` (default: 3D, periodic); ``name`` (else the ``name`` argument);
    * D2min, either ``d2min`` as a nested mapping ``{orientation: {strain: (N,)}}`` or the arrays
      ``orientations`` (O,), ``strains`` [``snapshot_strains``] (K,) and ``d2min`` (O, K, N);
      or ``shear`` = ``{orientation: {"snapshot_strains": (K,), "d2min": (K, N)}}`` (the shear
      results of ``protocol.shear_aqs``);
    * optional ``msd`` (N,) [``msd_mean``], ``msd_runs`` (S, N), ``voronoi_volume`` (N,) [``omega``],
      ``v_flex`` (N,);
    * optional ``provenance`` [``info``] (dict or JSON string).
    """
    if isinstance(getattr(data, "orientations", None), Mapping) and hasattr(data, "configuration"):
        return _from_glass_dataset(data, name)
    pos = _get(data, "positions")
    if pos is None:
        raise ConfigurationError("the dataset entry has no 'positions'; see glass_from_mapping() for the keys expected")
    names = _get(data, "type_names", "species")
    if names is None:
        raise ConfigurationError("the dataset entry has no 'type_names': species must be matched by name")
    names = tuple(str(s) for s in (json.loads(names) if isinstance(names, str) else np.asarray(names).tolist()))
    is_2d = bool(np.asarray(_get(data, "is_2d", default=False)))
    config = Configuration(np.asarray(pos), np.asarray(_get(data, "cell")), np.asarray(_get(data, "types")), names,
                           pbc=tuple(bool(b) for b in np.asarray(_get(data, "pbc", default=(True, True, True)))),
                           origin=np.asarray(_get(data, "origin", default=np.zeros(3))), is_2d=is_2d)
    d2: dict[str, dict[float, np.ndarray]] = {}
    raw = _get(data, "d2min")
    shear = _get(data, "shear")
    if isinstance(raw, Mapping):
        d2 = {str(o): {float(s): np.asarray(v) for s, v in dict(by).items()} for o, by in raw.items()}
    elif raw is not None:
        arr = np.asarray(raw, dtype=np.float64)
        orients = [str(o) for o in np.asarray(_get(data, "orientations")).tolist()]
        strains = np.asarray(_get(data, "strains", "snapshot_strains"), dtype=np.float64).reshape(-1)
        if arr.shape != (len(orients), len(strains), config.count):
            raise ConfigurationError(f"d2min has shape {arr.shape}; expected (orientations {len(orients)}, strains "
                                     f"{len(strains)}, atoms {config.count})")
        d2 = {o: {float(s): arr[a, k] for k, s in enumerate(strains)} for a, o in enumerate(orients)}
    elif isinstance(shear, Mapping):
        for o, res in shear.items():
            strains = np.asarray(_get(res, "snapshot_strains", "strains"), dtype=np.float64).reshape(-1)
            arr = np.asarray(_get(res, "d2min"), dtype=np.float64)
            d2[str(o)] = {float(s): arr[k] for k, s in enumerate(strains)}
    prov = _get(data, "provenance", "info", default={})
    if isinstance(prov, (str, np.ndarray)):
        prov = json.loads(str(prov))
    return LabelledGlass(str(_get(data, "name", default=None) or name or "glass"), config, d2,
                         v_flex=_get(data, "v_flex"), msd=_get(data, "msd", "msd_mean"), msd_runs=_get(data, "msd_runs"),
                         voronoi_volume=_get(data, "voronoi_volume", "omega"), provenance=dict(prov or {}))


def _from_glass_dataset(ds: Any, name: str | None) -> LabelledGlass:
    """A :class:`ovito_glassml.simulation.dataset.GlassDataset` (the generator's per-glass file)."""
    config = ds.configuration()
    d2 = {str(o): {float(s): np.asarray(fields["d2min"][k], dtype=np.float64)
                   for k, s in enumerate(np.asarray(fields["snapshot_strains"], dtype=np.float64).reshape(-1))}
          for o, fields in ds.orientations.items()}
    return LabelledGlass(name or (Path(ds.path).stem if getattr(ds, "path", None) else "glass"), config, d2,
                         v_flex=ds.v_flex, msd=ds.msd, msd_runs=ds.msd_runs, voronoi_volume=ds.voronoi_volume,
                         provenance=dict(ds.provenance or {}))


def _read_path(path: Path) -> list[LabelledGlass]:
    if not path.exists():
        raise ConfigurationError(f"no dataset at {path}")
    if path.is_file() and path.suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as z:
                ours = NPZ_MARKER in z.files
        except (OSError, ValueError) as exc:
            raise ConfigurationError(f"{path} cannot be read as npz ({exc})") from exc
        if ours:
            return [_from_npz(path)]
    try:
        module = importlib.import_module("ovito_glassml.simulation.dataset")
        loader = getattr(module, "load_dataset")
    except (ImportError, AttributeError):
        raise ConfigurationError(
            f"{path}: the training-data format of the generator is not available in this version "
            f"(ovito_glassml.simulation.dataset.load_dataset is missing); only .npz files written by "
            f"LabelledGlass.save_npz can be read") from None
    try:
        loaded = loader(path)
    except ValueError as exc:  # dataset.DatasetError: corrupt, truncated or not a data set
        raise ConfigurationError(str(exc)) from exc
    entries = loaded if isinstance(loaded, (list, tuple)) else [loaded]
    return [e if isinstance(e, LabelledGlass) else glass_from_mapping(e, name=f"{path.stem}_{k}" if len(entries) > 1
                                                                      else path.stem)
            for k, e in enumerate(entries)]


def load_glasses(paths: Iterable[str | Path]) -> list[LabelledGlass]:
    """All glasses of ``paths``: files, or folders (searched recursively for ``*.npz``; temporary
    ``*.tmp.npz`` files and the generator's packed checkpoints in ``partial/`` folders skipped).  A glass is named after its file; when two files share a name the
    parent folder is prefixed (``folder/stem``).  Names must be unique (splits are by name)."""
    found: list[tuple[LabelledGlass, Path]] = []
    for p in paths:
        p = Path(p)
        files = [p]
        if p.is_dir():
            files = sorted(f for f in p.rglob("*.npz") if not f.name.endswith(".tmp.npz")
                           and "partial" not in f.relative_to(p).parts[:-1])
            if not files:
                raise ConfigurationError(f"no .npz data-set files under {p}")
        for f in files:
            found.extend((g, f) for g in _read_path(f))
    names = [g.name for g, _ in found]
    out = [dataclasses.replace(g, name=f"{f.parent.name}/{g.name}") if names.count(g.name) > 1 else g
           for g, f in found]
    names = [g.name for g in out]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ConfigurationError(f"glass names must be unique (splits are by glass); repeated: {dup}")
    if not out:
        raise ConfigurationError("no glasses were given")
    return out


# ----------------------------------------------------------------------------------------------
# splits
@dataclass(frozen=True)
class GlassSplit:
    """Glasses for training, validation (early stopping / model choice) and test (card metrics)."""

    train: tuple[LabelledGlass, ...]
    validation: tuple[LabelledGlass, ...]
    test: tuple[LabelledGlass, ...]

    def names(self) -> dict[str, list[str]]:
        return {k: [g.name for g in getattr(self, k)] for k in ("train", "validation", "test")}


def split_by_glass(glasses: Sequence[LabelledGlass], test: float | int | str | Sequence[str] = "auto",
                   validation: float | int | Sequence[str] = 0.2, seed: int = 0) -> GlassSplit:
    """Split whole glasses (never atoms) into train / validation / test.

    ``test`` and ``validation`` are fractions of the glasses (rounded, at least 1 when > 0), counts,
    or explicit lists of glass names.  ``test="auto"`` takes the glasses that the generator marked
    as test glasses (provenance ``split == "test"``) when there are any, else 20 %.  At least one
    glass must remain for training.
    """
    glasses = list(glasses)
    names = [g.name for g in glasses]
    if isinstance(test, str):
        if test not in ("auto", "marked"):
            raise ConfigurationError(f"test split {test!r}: give 'auto', 'marked', a fraction, a count or names")
        marked = [g.name for g in glasses if g.provenance.get("split") == "test"]
        if test == "marked" and not marked:
            raise ConfigurationError("no glass is marked as a test glass (provenance split == 'test'); give the "
                                     "test glasses by name, count or fraction")
        test = marked if marked else 0.2
    if len(set(names)) != len(names):
        raise ConfigurationError("glass names must be unique to split by glass")
    rng = np.random.default_rng(seed)
    order = [glasses[k] for k in rng.permutation(len(glasses))]

    def take(spec, pool: list[LabelledGlass], what: str) -> tuple[list, list]:
        if isinstance(spec, (list, tuple)) and all(isinstance(s, str) for s in spec):
            unknown = [s for s in spec if s not in names]
            if unknown:
                raise ConfigurationError(f"{what} glasses {unknown} are not among {names}")
            chosen = [g for g in pool if g.name in set(spec)]
            return chosen, [g for g in pool if g.name not in set(spec)]
        if isinstance(spec, float):  # a fraction of all glasses
            if not 0 <= spec < 1:
                raise ConfigurationError(f"{what} fraction must lie in [0, 1); got {spec} (give an int for a count)")
            k = max(1, int(round(spec * len(glasses)))) if spec > 0 else 0
        else:
            k = int(spec)
        if k < 0:
            raise ConfigurationError(f"{what} count must be >= 0; got {spec}")
        return pool[:k], pool[k:]

    test_set, rest = take(test, order, "test")
    val_set, train_set = take(validation, rest, "validation")
    if not train_set:
        raise ConfigurationError(
            f"{len(glasses)} glass(es) cannot be split into training, validation ({len(val_set)}) and test "
            f"({len(test_set)}) glasses with at least one for training: give more glasses (splits are by glass, "
            "never by atom) or lower --test / --validation")
    return GlassSplit(tuple(train_set), tuple(val_set), tuple(test_set))


# ----------------------------------------------------------------------------------------------
# labels
def top_fraction_labels(d2min: np.ndarray, fraction: float) -> np.ndarray:
    """1 for the ``max(1, round(f * M))`` largest finite D2min (M finite values), 0 for the other
    finite ones, -1 for NaN (ties broken by index, as :func:`~ovito_glassml.analysis.metrics.top_fraction_mask`)."""
    d = np.asarray(d2min, dtype=np.float64).reshape(-1)
    if not 0 < fraction < 1:
        raise ConfigurationError(f"the top fraction f_thres must lie in (0, 1); got {fraction}")
    ok = np.isfinite(d)
    out = np.full(len(d), -1, dtype=np.int8)
    idx = np.flatnonzero(ok)
    if len(idx) == 0:
        return out
    k = max(1, int(round(fraction * len(idx))))
    order = idx[np.argsort(-d[idx], kind="stable")]
    out[idx] = 0
    out[order[:k]] = 1
    return out


def threshold_labels(d2min: np.ndarray, threshold: float) -> np.ndarray:
    """1 where D2min > ``threshold``, 0 where finite and <= it, -1 where NaN."""
    d = np.asarray(d2min, dtype=np.float64).reshape(-1)
    out = np.full(len(d), -1, dtype=np.int8)
    ok = np.isfinite(d)
    out[ok] = (d[ok] > float(threshold)).astype(np.int8)
    return out


def balanced_indices(labels: np.ndarray, rng: np.random.Generator | int | None = None,
                     max_per_class: int | None = None) -> np.ndarray:
    """Equal undersampling: all of the minority class (at most ``max_per_class``) and as many
    random members of the majority class; ``-1`` labels are skipped.  Returns shuffled indices."""
    rng = np.random.default_rng(rng)
    y = np.asarray(labels).reshape(-1)
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    k = min(len(pos), len(neg))
    if max_per_class is not None:
        k = min(k, int(max_per_class))
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    chosen = np.concatenate([rng.choice(pos, k, replace=False), rng.choice(neg, k, replace=False)])
    return chosen[rng.permutation(len(chosen))].astype(np.int64)


# ----------------------------------------------------------------------------------------------
def provenance_summary(glasses: Sequence[LabelledGlass]) -> dict[str, Any]:
    """What a card cites about its data: glass names, atoms, species, the preparations (each
    :func:`preparation_record` with its number of glasses: protocol, quench rate, cooling windows,
    effective cooling rate where calibrated) and the provenance entries common to all glasses
    (differing ones are listed per glass under ``per_glass``)."""
    glasses = list(glasses)
    common: dict[str, Any] = {}
    if glasses:
        keys = set.intersection(*(set(g.provenance) for g in glasses))
        for k in sorted(keys):
            vals = [json.dumps(g.provenance[k], sort_keys=True, default=str) for g in glasses]
            if len(set(vals)) == 1:
                common[k] = json.loads(vals[0])
    differing = {g.name: {k: v for k, v in g.provenance.items() if k not in common} for g in glasses}
    species: dict[str, int] = {}
    for g in glasses:
        for s, c in g.species_counts().items():
            species[s] = species.get(s, 0) + c
    preparations: dict[str, dict[str, Any]] = {}
    for g in glasses:
        rec = preparation_record(g)
        entry = preparations.setdefault(json.dumps(rec, sort_keys=True, default=str), {**rec, "glasses": 0})
        entry["glasses"] += 1
    out = {"glasses": [g.name for g in glasses], "n_glasses": len(glasses),
           "atoms_per_glass": sorted({g.count for g in glasses}), "n_atoms": int(sum(g.count for g in glasses)),
           "species_counts": species, "preparations": list(preparations.values()), "common": common}
    if any(differing.values()):
        out["per_glass"] = differing
    return out


def species_of(glasses: Sequence[LabelledGlass]) -> list[str]:
    """Type names of the glasses in order of first appearance (the default species order of a model)."""
    names: list[str] = []
    for g in glasses:
        for s in g.config.type_names:
            if s not in names:
                names.append(s)
    return names


def choose_threshold(d2min_all: np.ndarray, target_fraction: float = 0.05) -> float:
    """D2min threshold above which ``target_fraction`` of the (finite) values lie: the
    ``1 - target_fraction`` quantile (linear interpolation)."""
    d = np.asarray(d2min_all, dtype=np.float64).reshape(-1)
    d = d[np.isfinite(d)]
    if len(d) == 0:
        raise ConfigurationError("no finite D2min values to choose a threshold from")
    if not 0 < target_fraction < 1:
        raise ConfigurationError(f"target_fraction must lie in (0, 1); got {target_fraction}")
    return float(np.quantile(d, 1.0 - target_fraction))


def preparation_of(glass: LabelledGlass) -> str:
    """The preparation of a glass, from its provenance: ``"relaxed"`` for the ``window``
    preparation (slower cooling through the glass transition), the quench rate for a plain
    quench (e.g. ``"1e13"`` for 1e13 K/s), ``"unknown"`` when the provenance says neither."""
    glass_p = glass.provenance.get("glass") or (glass.provenance.get("campaign_config") or {}).get("glass") or {}
    prep = glass_p.get("preparation", "quench")
    if prep == "window":
        return "relaxed"
    if prep != "quench":
        return str(prep)
    rate = glass_p.get("quench_rate")
    if not isinstance(rate, (int, float)) or not rate > 0:
        return "unknown"
    exponent = math.floor(math.log10(rate) + 1e-9)
    mantissa = rate / 10 ** exponent
    return f"{mantissa:g}e{exponent}" if abs(mantissa - 1) > 1e-9 else f"1e{exponent}"


def preparation_record(glass: LabelledGlass) -> dict[str, Any]:
    """What the provenance says about a glass's preparation: the name of :func:`preparation_of`,
    the base quench rate, the cooling windows and any recorded effective cooling rate."""
    glass_p = glass.provenance.get("glass") or (glass.provenance.get("campaign_config") or {}).get("glass") or {}
    out = {"preparation": preparation_of(glass), "protocol": glass_p.get("preparation", "quench"),
           "quench_rate": glass_p.get("quench_rate")}
    if glass_p.get("window"):
        out["window"] = glass_p["window"]
    for key in ("effective_cooling_rate", "effective_quench_rate"):
        for source in (glass.provenance, glass_p):
            if source.get(key) is not None:
                out["effective_cooling_rate"] = source[key]
    return out
