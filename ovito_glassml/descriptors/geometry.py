"""Periodic cells, neighbour vectors and loading frames shared by every descriptor.

Conventions (the same as OVITO's):

* ``cell`` is a 3x3 matrix whose **columns** are the cell vectors a, b, c (Angstrom, or sigma for
  Lennard-Jones systems), ``origin`` the corner of the cell.  Fractional coordinates are
  ``s = cell^-1 (r - origin)``.
* ``pbc`` says which of a, b, c are periodic.  Any combination is allowed, orthogonal or
  triclinic.  In a 2D configuration (``is_2d``) the z components are ignored and c is never
  periodic.
* Neighbour vectors point from the centre i to the neighbour j: ``r_ij = r_j - r_i`` for the
  nearest periodic image, and for *every* periodic image within the cutoff when the cell is
  thinner than twice the cutoff (so small cells are handled correctly, never wrongly wrapped).
* A loading frame is the rotation whose rows are the shear direction s, the shear-plane normal n
  and (3D) s x n: ``r_frame = R @ r``.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Iterator, Sequence

import numpy as np
from scipy.spatial import cKDTree

__all__ = [
    "Configuration",
    "NeighborList",
    "periodic_images",
    "neighbor_list",
    "iter_neighbor_batches",
    "loading_frame",
    "cube_orientations",
    "orientation_frame",
    "PROTOCOLS_2D",
    "ConfigurationError",
    "center_indices",
    "frame_matrix",
    "frame_from_parameters",
    "COINCIDENT_DISTANCE",
    "CoincidentAtomsWarning",
    "coincident_pairs",
    "coincident_message",
    "check_coincident",
    "warn_coincident",
]

#: Atoms closer than this (the cell's length unit: Angstrom, or sigma for Lennard-Jones systems)
#: are taken as coincident or nearly so.  voro++ ends the whole process on two atoms closer than
#: the float32 resolution of the coordinates (1e-6 A here) and gives meaningless cells just above
#: it; physical structures hold no two atoms within several tenths of this unit (shortest Cu-Cu
#: distance about 2.2 A, LJ about 0.85 sigma), so 0.01 marks a duplicated atom, never a real one.
COINCIDENT_DISTANCE = 0.01


class ConfigurationError(ValueError):
    """Raised for input that a descriptor cannot be computed on (the message says how to fix it)."""


class CoincidentAtomsWarning(UserWarning):
    """Two or more atoms (nearly) coincide; descriptors that need no tessellation still run."""


@dataclass(frozen=True)
class Configuration:
    """An immutable snapshot of particles in a (possibly periodic) cell.

    Parameters
    ----------
    positions : (N, 3) float array, Angstrom.
    cell : (3, 3) float array, columns are the cell vectors a, b, c.
    types : (N,) int array, index of each particle's type in ``type_names``.
    type_names : names of the types, e.g. ``("Cu", "Zr")``; species are matched by these names.
    pbc : periodicity along a, b, c.
    origin : (3,) cell origin.
    is_2d : a two-dimensional system in the xy plane (z ignored, c not periodic).
    """

    positions: np.ndarray
    cell: np.ndarray
    types: np.ndarray
    type_names: tuple[str, ...]
    pbc: tuple[bool, bool, bool] = (True, True, True)
    origin: np.ndarray = field(default_factory=lambda: np.zeros(3))
    is_2d: bool = False

    def __post_init__(self) -> None:
        pos = np.array(self.positions, dtype=np.float64, copy=True)
        if pos.ndim != 2 or pos.shape[1] not in (2, 3):
            raise ConfigurationError(f"positions must have shape (N, 3); got {pos.shape}")
        if pos.shape[1] == 2:
            pos = np.column_stack([pos, np.zeros(len(pos))])
        if not np.all(np.isfinite(pos)):
            bad = np.flatnonzero(~np.all(np.isfinite(pos), axis=1))
            raise ConfigurationError(
                f"{len(bad)} particle(s) have non-finite (NaN or inf) positions, the first is "
                f"particle index {bad[0]}; remove or fix them before computing descriptors"
            )
        cell = np.array(self.cell, dtype=np.float64, copy=True)
        if cell.shape != (3, 3):
            raise ConfigurationError(f"cell must be a 3x3 matrix (columns = cell vectors); got {cell.shape}")
        pbc = tuple(bool(p) for p in self.pbc)
        if len(pbc) != 3:
            raise ConfigurationError(f"pbc must have three entries; got {self.pbc!r}")
        is_2d = bool(self.is_2d)
        if is_2d:
            pbc = (pbc[0], pbc[1], False)
            pos[:, 2] = 0.0
            if abs(cell[2, 2]) == 0.0:
                cell[:, 2] = (0.0, 0.0, 1.0)
        if not np.all(np.isfinite(cell)) or abs(np.linalg.det(cell)) < 1e-12:
            raise ConfigurationError("the cell matrix is singular or not finite; check the simulation cell")
        types = np.array(self.types, dtype=np.int64, copy=True).reshape(-1)
        if len(types) != len(pos):
            raise ConfigurationError(f"{len(types)} types for {len(pos)} positions")
        names = tuple(str(n) for n in self.type_names)
        if len(types) and (types.min() < 0 or types.max() >= len(names)):
            raise ConfigurationError(
                f"type indices must lie in 0..{len(names) - 1} (one name per type); got "
                f"{types.min()}..{types.max()}"
            )
        origin = np.array(self.origin, dtype=np.float64, copy=True).reshape(3)
        for arr in (pos, cell, types, origin):
            arr.setflags(write=False)
        object.__setattr__(self, "positions", pos)
        object.__setattr__(self, "cell", cell)
        object.__setattr__(self, "types", types)
        object.__setattr__(self, "type_names", names)
        object.__setattr__(self, "pbc", pbc)
        object.__setattr__(self, "origin", origin)
        object.__setattr__(self, "is_2d", is_2d)

    # -- basic geometry -------------------------------------------------------------------
    @property
    def count(self) -> int:
        return len(self.positions)

    @property
    def dimensions(self) -> int:
        return 2 if self.is_2d else 3

    @property
    def volume(self) -> float:
        """Cell volume (3D) or area (2D)."""
        if self.is_2d:
            return float(abs(np.linalg.det(self.cell[:2, :2])))
        return float(abs(np.linalg.det(self.cell)))

    @property
    def widths(self) -> np.ndarray:
        """Distances between opposite cell faces, (3,); in 2D the third entry is inf."""
        a, b, c = self.cell.T
        if self.is_2d:
            area = abs(a[0] * b[1] - a[1] * b[0])
            return np.array([area / np.hypot(*b[:2]), area / np.hypot(*a[:2]), np.inf])
        vol = abs(np.linalg.det(self.cell))
        return np.array([vol / np.linalg.norm(np.cross(b, c)), vol / np.linalg.norm(np.cross(c, a)),
                         vol / np.linalg.norm(np.cross(a, b))])

    def fractional(self, positions: np.ndarray | None = None) -> np.ndarray:
        pos = self.positions if positions is None else positions
        return np.linalg.solve(self.cell, (pos - self.origin).T).T

    def species_names(self) -> list[str]:
        """Type name of every particle, (N,)."""
        return [self.type_names[t] for t in self.types]

    def replace(self, **changes) -> "Configuration":
        kw = dict(positions=self.positions, cell=self.cell, types=self.types, type_names=self.type_names,
                  pbc=self.pbc, origin=self.origin, is_2d=self.is_2d)
        kw.update(changes)
        return Configuration(**kw)

    def rotated(self, rotation: np.ndarray) -> "Configuration":
        """The same configuration rotated rigidly: r -> R r, cell vectors and origin too."""
        rot = np.asarray(rotation, dtype=np.float64)
        return self.replace(positions=self.positions @ rot.T, cell=rot @ self.cell, origin=rot @ self.origin)

    def translated(self, shift: Sequence[float]) -> "Configuration":
        """All positions shifted by ``shift`` (the cell stays, so atoms may leave it: allowed)."""
        return self.replace(positions=self.positions + np.asarray(shift, dtype=np.float64))

    def subset(self, index: np.ndarray) -> "Configuration":
        """A configuration of the particles ``index`` (same cell), e.g. a reordering."""
        index = np.asarray(index)
        return self.replace(positions=self.positions[index], types=self.types[index])

    def wrapped_positions(self) -> np.ndarray:
        """Positions mapped into the primary cell along the periodic directions."""
        s = self.fractional()
        for k in range(3):
            if self.pbc[k]:
                s[:, k] -= np.floor(s[:, k])
        return s @ self.cell.T + self.origin

    def check_cutoff(self, cutoff: float, what: str = "cutoff") -> None:
        """Refuse a non-positive cutoff; thin periodic cells are fine (images are used)."""
        if not (cutoff > 0 and np.isfinite(cutoff)):
            raise ConfigurationError(f"{what} must be a positive number; got {cutoff}")

    def minimum_image(self, vectors: np.ndarray) -> np.ndarray:
        """Wrap difference vectors so that each fractional component lies in [-1/2, 1/2).

        This is the minimum image for vectors shorter than half of every cell width; for longer
        ones use :func:`neighbor_list`, which enumerates all images.
        """
        v = np.asarray(vectors, dtype=np.float64)
        s = np.linalg.solve(self.cell, v.T).T
        for k in range(3):
            if self.pbc[k]:
                s[:, k] -= np.floor(s[:, k] + 0.5)
        return s @ self.cell.T


def periodic_images(config: Configuration, skin: float) -> tuple[np.ndarray, np.ndarray]:
    """Wrapped positions plus every periodic image within ``skin`` of the primary cell.

    Returns ``(positions (K, 3), original_index (K,))``; the first N rows are the wrapped
    particles themselves in their original order.  Several images of one particle appear when
    ``skin`` exceeds a cell width, so neighbour searches on the result are exact for any cell.
    """
    config.check_cutoff(skin, "skin")
    s = config.fractional()
    ranges = []
    frac_skin = np.zeros(3)
    widths = config.widths
    for k in range(3):
        if config.pbc[k]:
            s[:, k] -= np.floor(s[:, k])
            frac_skin[k] = skin / widths[k]
            m = int(math.ceil(frac_skin[k]))
            ranges.append(range(-m, m + 1))
        else:
            ranges.append(range(0, 1))
    shifts = [np.array(n, dtype=np.float64) for n in itertools.product(*ranges) if any(n)]
    pos_list = [s]
    idx_list = [np.arange(config.count)]
    for n in shifts:
        t = s + n
        keep = np.ones(len(s), dtype=bool)
        for k in range(3):
            if config.pbc[k]:
                keep &= (t[:, k] >= -frac_skin[k]) & (t[:, k] < 1.0 + frac_skin[k])
        if keep.any():
            pos_list.append(t[keep])
            idx_list.append(np.flatnonzero(keep))
    frac = np.concatenate(pos_list)
    return frac @ config.cell.T + config.origin, np.concatenate(idx_list)


@dataclass(frozen=True)
class NeighborList:
    """Pairs (centre, neighbour) within a cutoff, sorted by centre, then by distance.

    ``center[k]`` and ``neighbor[k]`` are particle indices, ``vectors[k] = r_neighbor - r_center``
    for one periodic image, ``distances[k] = |vectors[k]|``.  ``centers`` are the particles the
    list was built for, and ``offsets`` (len(centers) + 1) delimit each centre's rows.
    """

    centers: np.ndarray
    center: np.ndarray
    neighbor: np.ndarray
    vectors: np.ndarray
    distances: np.ndarray
    offsets: np.ndarray

    def __len__(self) -> int:
        return len(self.center)

    def counts(self) -> np.ndarray:
        return np.diff(self.offsets)


class _ImageSearch:
    """A k-d tree over the periodic images of a configuration, reused across batches."""

    def __init__(self, config: Configuration, cutoff: float):
        config.check_cutoff(cutoff)
        self.config = config
        self.cutoff = float(cutoff)
        self.wrapped = config.wrapped_positions()
        self.images, self.image_index = periodic_images(config, self.cutoff)
        self.tree = cKDTree(self.images)

    def query(self, centers: np.ndarray, include_self: bool = False) -> NeighborList:
        centers = np.asarray(centers, dtype=np.int64)
        origin_pos = self.wrapped[centers]
        hits = self.tree.query_ball_point(origin_pos, self.cutoff, return_sorted=False)
        counts = np.fromiter((len(h) for h in hits), dtype=np.int64, count=len(hits))
        flat = np.fromiter(itertools.chain.from_iterable(hits), dtype=np.int64, count=int(counts.sum()))
        ci = np.repeat(np.arange(len(centers)), counts)
        vec = self.images[flat] - origin_pos[ci]
        dist = np.sqrt(np.einsum("ij,ij->i", vec, vec))
        if not include_self:
            # the centre itself is the image with the same index at distance 0
            is_self = (flat == centers[ci]) & (dist == 0.0)
            keep = ~is_self
            ci, flat, vec, dist = ci[keep], flat[keep], vec[keep], dist[keep]
        order = np.lexsort((dist, ci))
        ci, flat, vec, dist = ci[order], flat[order], vec[order], dist[order]
        offsets = np.zeros(len(centers) + 1, dtype=np.int64)
        np.cumsum(np.bincount(ci, minlength=len(centers)), out=offsets[1:])
        return NeighborList(centers=centers, center=centers[ci], neighbor=self.image_index[flat],
                            vectors=vec, distances=dist, offsets=offsets)


def neighbor_list(config: Configuration, cutoff: float, centers: np.ndarray | None = None,
                  include_self: bool = False) -> NeighborList:
    """All neighbours within ``cutoff`` of ``centers`` (default all particles), every periodic image.

    With ``include_self`` the centre itself (vector 0) is included, as the SDM sum requires.
    Memory is O(pairs): for large systems use :func:`iter_neighbor_batches`.
    """
    search = _ImageSearch(config, cutoff)
    if centers is None:
        centers = np.arange(config.count)
    return search.query(np.asarray(centers), include_self=include_self)


def iter_neighbor_batches(config: Configuration, cutoff: float, centers: np.ndarray | None = None,
                          batch_size: int = 4096, include_self: bool = False) -> Iterator[NeighborList]:
    """Yield :class:`NeighborList` objects for consecutive batches of ``centers``."""
    search = _ImageSearch(config, cutoff)
    if centers is None:
        centers = np.arange(config.count)
    centers = np.asarray(centers, dtype=np.int64)
    for start in range(0, len(centers), batch_size):
        yield search.query(centers[start:start + batch_size], include_self=include_self)


def center_indices(config: Configuration, centers=None) -> np.ndarray:
    """Validated centre indices (int64): ``None`` = all particles, an index list or a boolean mask.

    Refuses an empty selection, non-integer indices and indices out of range, naming the problem.
    """
    if centers is None:
        idx = np.arange(config.count, dtype=np.int64)
    else:
        arr = np.asarray(centers)
        if arr.dtype == bool:
            if arr.shape != (config.count,):
                raise ConfigurationError(
                    f"a boolean centre selection needs one entry per particle ({config.count}); got shape {arr.shape}")
            idx = np.flatnonzero(arr).astype(np.int64)
        else:
            if arr.size and not np.issubdtype(arr.dtype, np.integer):
                raise ConfigurationError(f"centre indices must be integers; got dtype {arr.dtype}")
            idx = arr.astype(np.int64).reshape(-1)
    if idx.size == 0:
        raise ConfigurationError("no centre atoms were given (empty selection?): select at least one particle")
    bad = (idx < 0) | (idx >= config.count)
    if bad.any():
        raise ConfigurationError(
            f"centre index {int(idx[bad][0])} is out of range: the configuration has {config.count} particles "
            f"(valid indices 0..{config.count - 1})")
    return idx


# -- loading frames ------------------------------------------------------------------------
_AXES = {"x": np.array([1.0, 0.0, 0.0]), "y": np.array([0.0, 1.0, 0.0]), "z": np.array([0.0, 0.0, 1.0])}


def loading_frame(shear_direction: Sequence[float], plane_normal: Sequence[float],
                  dimensions: int = 3, tol: float = 1e-6) -> np.ndarray:
    """Rotation matrix R whose rows are s, n (and s x n in 3D); ``r_frame = R @ r``.

    Both vectors are normalised; they must be perpendicular (|s.n| < tol after normalising).
    In 2D the z components must be zero and R is 2x2 (it may be improper, e.g. negative simple
    shear, s = -x, n = y: a mirror, which the SDM's mirror symmetry makes harmless).
    """
    s = np.asarray(shear_direction, dtype=np.float64).reshape(-1)
    n = np.asarray(plane_normal, dtype=np.float64).reshape(-1)
    if dimensions == 2:
        if s.size == 3:
            if abs(s[2]) > tol or abs(n[2]) > tol:
                raise ConfigurationError("a 2D loading frame needs shear direction and plane normal in the xy plane")
            s, n = s[:2], n[:2]
    elif s.size != 3 or n.size != 3:
        raise ConfigurationError("a 3D loading frame needs 3-component shear direction and plane normal")
    ns, nn = np.linalg.norm(s), np.linalg.norm(n)
    if ns == 0 or nn == 0 or not np.isfinite(ns * nn):
        raise ConfigurationError("shear direction and plane normal must be finite, non-zero vectors")
    s, n = s / ns, n / nn
    if abs(float(s @ n)) > tol:
        raise ConfigurationError(
            f"shear direction {tuple(np.round(s, 4))} and plane normal {tuple(np.round(n, 4))} are not "
            "perpendicular: the shear direction must lie in the shear plane"
        )
    n = n - (s @ n) * s
    n /= np.linalg.norm(n)
    if dimensions == 2:
        return np.array([s, n])
    return np.array([s, n, np.cross(s, n)])


def _parse_axis(token: str) -> np.ndarray:
    sign = -1.0 if token.startswith("-") else 1.0
    return sign * _AXES[token.lstrip("+-")]


def _axis_name(v: np.ndarray) -> str:
    k = int(np.argmax(np.abs(v)))
    return ("-" if v[k] < 0 else "") + "xyz"[k]


def cube_orientations() -> list[tuple[str, np.ndarray, np.ndarray]]:
    """The 24 loading orientations of a cubic box: ``(name, s, n)``.

    s runs over +x, -x, +y, -y, +z, -z and n over the four box axes perpendicular to s, so the
    frames are the 24 proper rotations of the cube.  Names join the two axes, a minus sign where
    negative: ``"xy"`` (s = +x, n = +y, the default), ``"x-z"``, ``"-zy"`` ...
    """
    out = []
    for s_tok in ("x", "-x", "y", "-y", "z", "-z"):
        s = _parse_axis(s_tok)
        for n_tok in ("x", "-x", "y", "-y", "z", "-z"):
            n = _parse_axis(n_tok)
            if abs(s @ n) < 0.5:
                out.append((s_tok + n_tok, s, n))
    return out


_SQ2 = 1.0 / math.sqrt(2.0)
#: The four 2D loading protocols of Fan & Ma (2021): name -> (shear direction, plane normal).
PROTOCOLS_2D: dict[str, tuple[np.ndarray, np.ndarray]] = {
    "positive_simple_shear": (np.array([1.0, 0.0]), np.array([0.0, 1.0])),
    "negative_simple_shear": (np.array([-1.0, 0.0]), np.array([0.0, 1.0])),
    # extension along (s + n)/sqrt2, compression along (s - n)/sqrt2
    "positive_pure_shear": (np.array([_SQ2, _SQ2]), np.array([-_SQ2, _SQ2])),  # x compressed, y extended
    "negative_pure_shear": (np.array([_SQ2, -_SQ2]), np.array([_SQ2, _SQ2])),  # y compressed, x extended
}


def orientation_frame(orientation: str, dimensions: int = 3) -> np.ndarray:
    """Loading-frame rotation for a named orientation (a cube orientation or a 2D protocol)."""
    key = orientation.strip()
    if dimensions == 2:
        if key in PROTOCOLS_2D:
            s, n = PROTOCOLS_2D[key]
            return loading_frame(s, n, dimensions=2)
        if key in ("xy",):
            return loading_frame((1, 0), (0, 1), dimensions=2)
        raise ConfigurationError(
            f"unknown 2D loading protocol {orientation!r}; use one of {sorted(PROTOCOLS_2D)} "
            "or give shear direction and plane normal"
        )
    names = {name: (s, n) for name, s, n in cube_orientations()}
    canonical = key.replace("+", "").lower()
    if canonical not in names:
        if key in PROTOCOLS_2D:
            raise ConfigurationError(f"{orientation!r} is a 2D protocol but the system is 3D")
        raise ConfigurationError(
            f"unknown loading orientation {orientation!r}; use one of the 24 cube orientations "
            f"({', '.join(names)}) or give shear direction and plane normal"
        )
    s, n = names[canonical]
    return loading_frame(s, n)


def orientation_name(rotation: np.ndarray) -> str:
    """Name of a cube-orientation frame (inverse of :func:`orientation_frame`)."""
    rot = np.asarray(rotation)
    return _axis_name(rot[0]) + _axis_name(rot[1])


def frame_matrix(frame, dimensions: int) -> np.ndarray:
    """A validated loading frame: an orientation name (``"xy"``, a 2D protocol) or a rotation matrix.

    The matrix must be ``dimensions`` x ``dimensions`` and orthonormal (rows s, n[, s x n]).
    """
    if isinstance(frame, str):
        return orientation_frame(frame, dimensions)
    rot = np.asarray(frame, dtype=np.float64)
    if rot.shape != (dimensions, dimensions):
        raise ConfigurationError(
            f"a {dimensions}D configuration needs a {dimensions}x{dimensions} loading frame "
            f"(rows s, n{', s x n' if dimensions == 3 else ''}); got shape {rot.shape}; build it with "
            f"loading_frame(s, n, dimensions={dimensions}) or give an orientation name such as 'xy'")
    if not np.all(np.isfinite(rot)) or np.abs(rot @ rot.T - np.eye(dimensions)).max() > 1e-6:
        raise ConfigurationError("the loading frame must be an orthonormal matrix (rows s, n, s x n)")
    return rot


def frame_from_parameters(orientation: str, shear_direction: Sequence[float], plane_normal: Sequence[float],
                          dimensions: int) -> np.ndarray:
    """The loading frame of a modifier's parameters: the named ``orientation`` or, if it is empty,
    the vectors (their z components are ignored in 2D)."""
    if orientation and orientation.strip():
        return orientation_frame(orientation, dimensions=dimensions)
    s = np.asarray(shear_direction, dtype=np.float64).reshape(-1)
    n = np.asarray(plane_normal, dtype=np.float64).reshape(-1)
    if dimensions == 2:
        s, n = s[:2], n[:2]
    return loading_frame(s, n, dimensions=dimensions)


# -- coincident atoms ------------------------------------------------------------------------
def coincident_pairs(config: Configuration, min_distance: float = COINCIDENT_DISTANCE) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of atoms closer than ``min_distance`` (any periodic image): ``(pairs (K, 2) with i <= j, distances (K,))``.

    Sorted by distance.  ``i == j`` means an atom meets its own periodic image (a cell thinner
    than ``min_distance``).
    """
    if config.count == 0:
        return np.zeros((0, 2), dtype=np.int64), np.zeros(0)
    search = _ImageSearch(config, float(min_distance))
    nl = search.query(np.arange(config.count))
    keep = (nl.center < nl.neighbor) | ((nl.center == nl.neighbor) & (nl.distances > 0))
    pairs = np.column_stack([nl.center[keep], nl.neighbor[keep]]).astype(np.int64)
    dist = nl.distances[keep]
    if len(pairs):
        pairs, first = np.unique(pairs, axis=0, return_index=True)
        dist = dist[first]
        order = np.argsort(dist, kind="stable")
        pairs, dist = pairs[order], dist[order]
    return pairs, dist


def coincident_message(config: Configuration, pairs: np.ndarray, distances: np.ndarray,
                       ids: Sequence[int] | np.ndarray | None = None, limit: int = 5) -> str:
    """Names the (nearly) coincident atoms: index (and identifier), position and distance of the first pairs."""
    def name(i: int) -> str:
        label = f"atom {i}" if ids is None else f"atom id {int(ids[i])} (index {i})"
        x, y, z = config.positions[i]
        return f"{label} at ({x:.4g}, {y:.4g}, {z:.4g})"

    parts = []
    for (i, j), d in zip(pairs[:limit], distances[:limit]):
        if i == j:
            parts.append(f"{name(int(i))} meets its own periodic image {d:.3g} apart")
        else:
            parts.append(f"{name(int(i))} and {name(int(j))} are {d:.3g} apart")
    more = f" and {len(pairs) - limit} more pair(s)" if len(pairs) > limit else ""
    return "; ".join(parts) + more


def check_coincident(config: Configuration, what: str = "the Voronoi tessellation",
                     min_distance: float = COINCIDENT_DISTANCE, ids=None) -> None:
    """Refuse atoms closer than ``min_distance`` before ``what`` (which cannot handle them)."""
    pairs, dist = coincident_pairs(config, min_distance)
    if len(pairs):
        raise ConfigurationError(
            f"{len(pairs)} pair(s) of atoms are closer than {min_distance:g} (coincident or nearly so), which "
            f"{what} cannot handle: {coincident_message(config, pairs, dist, ids)}. Atom indices count from 0 in "
            "file order. Remove the duplicated atoms (e.g. a file written twice into one, or overlapping periodic "
            "copies; OVITO's 'Expression selection' + 'Delete selected' removes them) and run again")


def warn_coincident(config: Configuration, what: str, min_distance: float = COINCIDENT_DISTANCE,
                    ids=None, stacklevel: int = 3) -> int:
    """Warn (:class:`CoincidentAtomsWarning`) about atoms closer than ``min_distance``; returns the number of pairs."""
    pairs, dist = coincident_pairs(config, min_distance)
    if len(pairs):
        import warnings

        warnings.warn(
            f"{len(pairs)} pair(s) of atoms are closer than {min_distance:g} (coincident or nearly so): "
            f"{coincident_message(config, pairs, dist, ids)}; {what} of these atoms are not those of a physical "
            "structure. Remove the duplicated atoms", CoincidentAtomsWarning, stacklevel=stacklevel)
    return len(pairs)
