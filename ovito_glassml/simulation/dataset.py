"""The per-glass data-set file (npz): writer, loader and validator.

One file per glass.  Arrays (float32 unless said):

==============================  =========================================================
``format``                      ``"glassml-dataset-1"``
``provenance``                  JSON string: system, every protocol parameter, seeds, LAMMPS
                                version, potential file name + SHA-256 + citation, OVITO
                                version, timings, ``stages`` done, ``orientations`` done,
                                ``complete`` (all planned stages done), ``split``
``type_names`` (T,) str         particle type names; ``types`` (N,) int8 indexes them
``positions`` (N, 3)            inherent structure (lab frame)
``cell`` (3, 3) float64         columns a, b, c; ``origin`` (3,) float64; ``pbc`` (3,) bool
``voronoi_volume`` (N,)         Voronoi volume (area in 2D) of the inherent structure
``msd`` (N,), ``msd_runs``      vibrational MSD (mean over seeds) and per seed (S, N);
(S, N), ``msd_temperature``     mean temperature of each run; ``v_flex`` (N,) = MSD Omega^(1/d)
(S,), ``v_flex`` (N,)           -- present only when the ``msd`` stage is done
``orientations`` (O,) str       loading orientations (or 2D protocols) done so far
``orient/<o>/rotation``         loading-frame rotation R (rows s, n[, s x n]), float64
``orient/<o>/strain`` (M,)      AQS strain of every step; ``stress`` (M,) resolved shear
                                stress; ``energy`` (M,) potential energy per atom
``orient/<o>/snapshot_strains``  (K,) strains of the D2min snapshots
``orient/<o>/d2min`` (K, N)     D2min against the undeformed configuration in that frame
``orient/<o>/snapshot_cells``   (K, 3, 3) float64 sheared cells in the loading frame
==============================  =========================================================

A partially labelled glass (e.g. only some orientations done) is a valid file: the provenance
lists the stages and orientations done and ``complete`` is false; the generator rewrites the
file (atomically) when more labels are finished.
"""
from __future__ import annotations

import json
import os
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["FORMAT", "DatasetError", "GlassDataset", "save_dataset", "load_dataset", "validate_dataset",
           "ORIENT_FIELDS"]

FORMAT = "glassml-dataset-1"
ORIENT_FIELDS = ("rotation", "strain", "stress", "energy", "snapshot_strains", "d2min", "snapshot_cells")
_MSD_FIELDS = ("msd", "msd_runs", "msd_temperature", "v_flex")
_REQUIRED = ("format", "provenance", "type_names", "types", "positions", "cell", "origin", "pbc",
             "orientations", "voronoi_volume")


class DatasetError(ValueError):
    """A data-set file is corrupt, truncated or incomplete (the message says which and why)."""


@dataclass
class GlassDataset:
    """One glass: inherent structure, labels and provenance (see the module doc for the fields)."""

    positions: np.ndarray
    types: np.ndarray
    type_names: tuple[str, ...]
    cell: np.ndarray
    origin: np.ndarray
    pbc: tuple[bool, bool, bool]
    provenance: dict
    voronoi_volume: np.ndarray
    orientations: dict = field(default_factory=dict)  # name -> dict of ORIENT_FIELDS arrays
    msd: np.ndarray | None = None
    msd_runs: np.ndarray | None = None
    msd_temperature: np.ndarray | None = None
    v_flex: np.ndarray | None = None
    path: str | None = None

    @property
    def count(self) -> int:
        return len(self.positions)

    @property
    def is_2d(self) -> bool:
        return int(self.provenance.get("system", {}).get("dimensions", 3)) == 2

    @property
    def complete(self) -> bool:
        return bool(self.provenance.get("complete", False))

    def configuration(self, orientation: str | None = None):
        """The inherent structure as a :class:`ovito_glassml.descriptors.geometry.Configuration`.

        With ``orientation`` (3D): the same atoms in the same order, mapped into that loading's frame
        by its recorded rotation R (r' = R (r - origin), wrapped into the permuted box; X = shear
        direction, Y = plane normal), the frame in which it was sheared and its D2min measured.
        """
        from ..descriptors.geometry import Configuration  # noqa: PLC0415

        if orientation is None:
            return Configuration(positions=self.positions, cell=self.cell, types=self.types,
                                 type_names=self.type_names, pbc=self.pbc, origin=self.origin, is_2d=self.is_2d)
        if orientation not in self.orientations:
            raise KeyError(f"orientation {orientation!r} not in this data set (has {sorted(self.orientations)})")
        if self.is_2d:
            raise ValueError("the 2D protocols shear the sample frame itself; "
                             "use configuration() without an orientation")
        from .protocol import rotate_to_loading_frame  # noqa: PLC0415

        pos, cell = rotate_to_loading_frame(self.positions, self.cell, self.origin,
                                            self.orientations[orientation]["rotation"])
        return Configuration(positions=pos, cell=cell, types=self.types, type_names=self.type_names, pbc=self.pbc)

    def d2min(self, orientation: str, strain: float) -> np.ndarray:
        """D2min (N,) in ``orientation`` at the snapshot strain closest to ``strain`` (within 1e-6)."""
        if orientation not in self.orientations:
            raise KeyError(f"orientation {orientation!r} not in this data set (has {sorted(self.orientations)})")
        o = self.orientations[orientation]
        k = np.flatnonzero(np.abs(o["snapshot_strains"] - strain) < 1e-6)
        if not len(k):
            raise KeyError(f"no D2min snapshot at strain {strain} (has {o['snapshot_strains'].tolist()})")
        return o["d2min"][k[0]]


def save_dataset(path: str | Path, ds: GlassDataset) -> Path:
    """Write ``ds`` (compressed npz, float32 labels) atomically; validates the result."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {
        "format": np.array(FORMAT),
        "provenance": np.array(json.dumps(ds.provenance, sort_keys=True)),
        "type_names": np.array(list(ds.type_names), dtype=str),
        "types": np.asarray(ds.types, dtype=np.int8),
        "positions": np.asarray(ds.positions, dtype=np.float32),
        "cell": np.asarray(ds.cell, dtype=np.float64),
        "origin": np.asarray(ds.origin, dtype=np.float64),
        "pbc": np.asarray(ds.pbc, dtype=bool),
        "voronoi_volume": np.asarray(ds.voronoi_volume, dtype=np.float32),
        "orientations": np.array(list(ds.orientations), dtype=str),
    }
    if ds.msd is not None:
        arrays.update(msd=np.asarray(ds.msd, np.float32), msd_runs=np.asarray(ds.msd_runs, np.float32),
                      msd_temperature=np.asarray(ds.msd_temperature, np.float32),
                      v_flex=np.asarray(ds.v_flex, np.float32))
    for name, o in ds.orientations.items():
        for f in ORIENT_FIELDS:
            a = np.asarray(o[f])
            dtype = np.float64 if f in ("rotation", "snapshot_cells") else np.float32
            arrays[f"orient/{name}/{f}"] = a.astype(dtype)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    try:
        validate_dataset(tmp)
    except DatasetError:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)
    return path


def _open(path: Path) -> dict:
    if not path.exists():
        raise DatasetError(f"{path}: no such data-set file")
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, KeyError) as exc:
        raise DatasetError(f"{path}: the file is truncated or corrupt and cannot be read as npz "
                           f"({type(exc).__name__}: {exc}); regenerate it with `glassml generate`, which "
                           "resumes from its work directory") from exc


def validate_dataset(path: str | Path, arrays: dict | None = None) -> dict:
    """Check a data-set file; return its arrays.  Raises :class:`DatasetError` with a clear
    message for a truncated/corrupt file, a wrong format, missing keys or wrong shapes."""
    path = Path(path)
    z = _open(path) if arrays is None else arrays
    missing = [k for k in _REQUIRED if k not in z]
    if missing:
        raise DatasetError(f"{path}: incomplete data set, missing {missing}")
    if str(z["format"]) != FORMAT:
        raise DatasetError(f"{path}: unknown format {str(z['format'])!r} (expected {FORMAT!r})")
    try:
        prov = json.loads(str(z["provenance"]))
    except json.JSONDecodeError as exc:
        raise DatasetError(f"{path}: the provenance is not valid JSON ({exc})") from exc
    for key in ("system", "glass", "lammps_version", "stages", "orientations_done"):
        if key not in prov:
            raise DatasetError(f"{path}: provenance lacks {key!r}")
    pos = z["positions"]
    if pos.ndim != 2 or pos.shape[1] != 3 or len(pos) == 0:
        raise DatasetError(f"{path}: positions must have shape (N, 3); got {pos.shape}")
    n = len(pos)

    def shape(key, expected):
        a = z[key]
        if a.shape != expected:
            raise DatasetError(f"{path}: {key} has shape {a.shape}, expected {expected}")
        if a.dtype.kind == "f" and key not in ("msd_runs",) and not key.endswith("d2min") \
                and not np.all(np.isfinite(a)):
            raise DatasetError(f"{path}: {key} contains NaN or inf")
        return a

    shape("types", (n,))
    shape("cell", (3, 3))
    shape("origin", (3,))
    shape("pbc", (3,))
    shape("voronoi_volume", (n,))
    names = z["type_names"]
    if names.ndim != 1 or len(names) == 0 or z["types"].min() < 0 or z["types"].max() >= len(names):
        raise DatasetError(f"{path}: types must index type_names {names.tolist()}")
    if not np.all(np.isfinite(pos)):
        raise DatasetError(f"{path}: positions contain NaN or inf")
    if prov["stages"].get("msd"):
        for k in _MSD_FIELDS:
            if k not in z:
                raise DatasetError(f"{path}: the msd stage is listed as done but {k!r} is missing")
        shape("msd", (n,))
        shape("v_flex", (n,))
        s = z["msd_runs"].shape
        if len(s) != 2 or s[1] != n:
            raise DatasetError(f"{path}: msd_runs has shape {s}, expected (seeds, {n})")
        shape("msd_temperature", (s[0],))
    orients = [str(o) for o in z["orientations"]]
    if sorted(orients) != sorted(prov["orientations_done"]):
        raise DatasetError(f"{path}: orientations {orients} disagree with the provenance {prov['orientations_done']}")
    dim = int(prov["system"].get("dimensions", 3))
    for o in orients:
        for f in ORIENT_FIELDS:
            if f"orient/{o}/{f}" not in z:
                raise DatasetError(f"{path}: orientation {o!r} is listed as done but {f!r} is missing")
        g = f"orient/{o}/"
        shape(g + "rotation", (dim, dim))
        m = z[g + "strain"].shape
        if len(m) != 1 or m[0] < 2:
            raise DatasetError(f"{path}: {g}strain must be a curve of at least two points; got {m}")
        shape(g + "stress", m)
        shape(g + "energy", m)
        k = z[g + "snapshot_strains"].shape
        if len(k) != 1:
            raise DatasetError(f"{path}: {g}snapshot_strains must be 1D; got {k}")
        shape(g + "d2min", (k[0], n))
        shape(g + "snapshot_cells", (k[0], 3, 3))
        R = z[g + "rotation"]
        if not np.allclose(R @ R.T, np.eye(dim), atol=1e-6):
            raise DatasetError(f"{path}: {g}rotation is not orthonormal")
    return z


def read_provenance(path: str | Path) -> dict:
    """Only the provenance of a data-set file (what it holds, how and when it was made), without
    reading its arrays; raises :class:`DatasetError` when the file cannot be read."""
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"{path}: no such data-set file")
    try:
        with np.load(path, allow_pickle=False) as z:
            return json.loads(str(z["provenance"]))
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, KeyError) as exc:
        raise DatasetError(f"{path}: no readable provenance ({type(exc).__name__}: {exc}); regenerate it with "
                           "`glassml generate`, which resumes from its work directory") from exc


def load_dataset(path: str | Path) -> GlassDataset:
    """Load and validate a data-set file (raises :class:`DatasetError` when it is not usable)."""
    path = Path(path)
    z = validate_dataset(path)
    prov = json.loads(str(z["provenance"]))
    orients = {}
    for o in (str(x) for x in z["orientations"]):
        orients[o] = {f: z[f"orient/{o}/{f}"] for f in ORIENT_FIELDS}
    has_msd = bool(prov["stages"].get("msd"))
    return GlassDataset(
        positions=z["positions"], types=z["types"].astype(np.int64), type_names=tuple(str(t) for t in z["type_names"]),
        cell=z["cell"], origin=z["origin"], pbc=tuple(bool(b) for b in z["pbc"]), provenance=prov,
        voronoi_volume=z["voronoi_volume"], orientations=orients,
        msd=z["msd"] if has_msd else None, msd_runs=z["msd_runs"] if has_msd else None,
        msd_temperature=z["msd_temperature"] if has_msd else None, v_flex=z["v_flex"] if has_msd else None,
        path=str(path),
    )
