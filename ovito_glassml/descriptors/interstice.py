"""Interstice-distribution features of Wang & Jain (2019), as in their package amlearn.

Every atom O gets 16 short-range-order (SRO) and 64 medium-range-order (MRO) features, 80 in all
(:data:`INTERSTICE_FEATURE_NAMES`).  Lengths are in Angstrom, radii are Miracle radii
(:func:`~ovito_glassml.descriptors.species.atomic_radii`), all features are dimensionless ratios.

Interstices of the cluster of atom O (radius R_O) and its neighbours A (radius R_A):

* **distance** interstice of each bond O-A: ``d_OA / (R_O + R_A) - 1``.  This is what amlearn's code
  computes; the paper's Methods divide by ``d_OA`` instead, ``(d_OA - R_O - R_A) / d_OA``.  We follow
  the code (the published models were trained with it).  Negative when the spheres overlap.
* **area** interstice of each triangular facet ABC of the convex hull of the neighbour positions
  (qhull, triangulated output "Qt"; the centre O is not a hull point):
  ``max(0, 1 - sum_{i in A,B,C} R_i^2 theta_i / 2 / area(ABC))``, theta_i the facet's interior angle
  at vertex i.
* **volume** interstice of each tetrahedron O-ABC over the same facets:
  ``max(0, 1 - sum_{i in O,A,B,C} R_i^3 Omega_i / 3 / volume(OABC))``, with the solid angle at a
  vertex ``Omega = 2 atan2(|a.(b x c)|, abc + (a.b)c + (a.c)b + (b.c)a)``, a, b, c the vectors from
  the vertex to the other three and a, b, c (plain) their lengths.

Statistics over a cluster: mean, std (ddof 0), min, max.  As in amlearn, the area and volume
statistics are 0 when the atom has fewer than 4 neighbours (no hull; also when all neighbours are
coplanar), and the distance statistics are 0 only when it has no neighbour at all.

Neighbours:

* ``_voro``: the faces of the atom's cell in the exact periodic Voronoi tessellation (voro++ through
  freud), dropping faces whose area is below ``face_area_fraction`` (5 %) of the mean face area of
  that polyhedron.  The mean is taken once over all its faces.  amlearn lowers the face count while
  it drops faces, which makes its result depend on the order of the faces; we do not copy that.
* ``_dist``: all atoms within ``distance_cutoff`` (4.0 A), for the distance interstices only.

Each periodic image counts as a neighbour of its own, so cells smaller than the neighbour shell
are handled exactly.

MRO: mean, std, min, max of an SRO feature over the atom's neighbours, centre excluded (Voronoi
neighbours for the ``_voro`` features, cutoff neighbours for the ``_dist`` ones), 0 without
neighbours.

Feature order, as amlearn's ``DistanceInterstice`` (voro then dist), ``VolumeAreaInterstice`` and
``MRO`` (``medium_range_order.py``: for each neighbour kind, voro first, for each SRO feature of
that kind in SRO order, the statistics mean, std, min, max)::

    0-3    Dist_interstice_{mean,std,min,max}_voro
    4-7    Dist_interstice_{mean,std,min,max}_dist
    8-11   Volume_interstice_{mean,std,min,max}_voro
    12-15  Area_interstice_{mean,std,min,max}_voro
    16-63  MRO_{mean,std,min,max}_<f> for f in the 12 _voro SRO features, in the order above
    64-79  MRO_{mean,std,min,max}_<f> for f in the 4 _dist SRO features

Geometry: freud needs an upper-triangular box, so the configuration is rotated by the Q of a QR
decomposition of the cell (the features are rotation invariant).  Non-periodic directions are
padded with a vacuum gap (:attr:`IntersticeSettings.surface_gap`); faces with atoms across that gap
are dropped, so the Voronoi cells of surface atoms are open towards the vacuum: their neighbours
are those inside the material only, and their interstice features describe a free surface
(expect large area/volume interstices there).  Neighbour vectors are recomputed in float64 from
the original positions (freud works in float32); only the tessellation itself (which faces exist
and their areas) has float32 precision.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
from numba import njit, prange
from scipy.spatial import ConvexHull, QhullError

from .geometry import Configuration, ConfigurationError, NeighborList, check_coincident, neighbor_list
from .species import atomic_radii

__all__ = [
    "IntersticeSettings",
    "INTERSTICE_SRO_NAMES",
    "INTERSTICE_MRO_NAMES",
    "INTERSTICE_FEATURE_NAMES",
    "ClusterInterstices",
    "VoronoiNeighbors",
    "cluster_interstices",
    "voronoi_neighbors",
    "interstice_features",
    "interstice_features_reference",
]

_STATS = ("mean", "std", "min", "max")
#: The 16 SRO feature names, amlearn's order.
INTERSTICE_SRO_NAMES: tuple[str, ...] = tuple(
    [f"Dist_interstice_{s}_voro" for s in _STATS]
    + [f"Dist_interstice_{s}_dist" for s in _STATS]
    + [f"Volume_interstice_{s}_voro" for s in _STATS]
    + [f"Area_interstice_{s}_voro" for s in _STATS]
)
_SRO_VORO = [k for k, n in enumerate(INTERSTICE_SRO_NAMES) if n.endswith("_voro")]
_SRO_DIST = [k for k, n in enumerate(INTERSTICE_SRO_NAMES) if n.endswith("_dist")]
#: The 64 MRO feature names: all _voro SRO features first, statistics innermost.
INTERSTICE_MRO_NAMES: tuple[str, ...] = tuple(
    f"MRO_{s}_{INTERSTICE_SRO_NAMES[k]}" for k in _SRO_VORO + _SRO_DIST for s in _STATS
)
#: All 80 names, in the column order of :func:`interstice_features`.
INTERSTICE_FEATURE_NAMES: tuple[str, ...] = INTERSTICE_SRO_NAMES + INTERSTICE_MRO_NAMES


@dataclass(frozen=True)
class IntersticeSettings:
    """Parameters of the interstice features (stored in model cards with :meth:`to_dict`).

    distance_cutoff : radius of the ``_dist`` neighbour shell, Angstrom (amlearn: 4.0).
    face_area_fraction : Voronoi faces smaller than this fraction of the polyhedron's mean face
        area are not neighbours (amlearn: 0.05); 0 keeps every face.
    radii : per-type radius overrides in Angstrom, e.g. ``{"Cu": 1.28}``; other types use the
        Miracle table.  Stored as a sorted tuple of pairs (the dataclass is frozen and hashable).
    surface_gap : width in Angstrom of the vacuum added along non-periodic cell directions before
        the (always periodic) tessellation; faces across it are dropped.
    """

    distance_cutoff: float = 4.0
    face_area_fraction: float = 0.05
    radii: tuple[tuple[str, float], ...] = field(default=())
    surface_gap: float = 10.0

    def __post_init__(self) -> None:
        radii = self.radii
        if isinstance(radii, Mapping):
            radii = radii.items()
        pairs = tuple(sorted((str(k), float(v)) for k, v in (radii or ())))
        for name, value in pairs:
            if not (value > 0 and math.isfinite(value)):
                raise ConfigurationError(f"radius override for {name!r} must be a positive number; got {value}")
        object.__setattr__(self, "radii", pairs)
        cutoff = float(self.distance_cutoff)
        if not (cutoff > 0 and math.isfinite(cutoff)):
            raise ConfigurationError(f"distance_cutoff must be a positive number of Angstrom; got {self.distance_cutoff}")
        frac = float(self.face_area_fraction)
        if not (0.0 <= frac < 1.0):
            raise ConfigurationError(f"face_area_fraction must lie in [0, 1); got {self.face_area_fraction}")
        gap = float(self.surface_gap)
        if not (gap > 0 and math.isfinite(gap)):
            raise ConfigurationError(f"surface_gap must be a positive number of Angstrom; got {self.surface_gap}")
        object.__setattr__(self, "distance_cutoff", cutoff)
        object.__setattr__(self, "face_area_fraction", frac)
        object.__setattr__(self, "surface_gap", gap)

    @property
    def radius_overrides(self) -> dict[str, float]:
        return dict(self.radii)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (inverse of :meth:`from_dict`)."""
        return {"distance_cutoff": self.distance_cutoff, "face_area_fraction": self.face_area_fraction,
                "radii": dict(self.radii), "surface_gap": self.surface_gap}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "IntersticeSettings":
        known = {"distance_cutoff", "face_area_fraction", "radii", "surface_gap"}
        unknown = set(data) - known
        if unknown:
            raise ConfigurationError(f"unknown interstice setting(s) {sorted(unknown)}; known: {sorted(known)}")
        return cls(**dict(data))


# ------------------------------------------------------------------------------------------------
# one cluster: the public reference (scipy / qhull, numpy)
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ClusterInterstices:
    """Interstices of one cluster: ``distance`` (n,), and per hull facet ``area`` and ``volume``
    (f,), with ``facets`` (f, 3) the neighbour indices of each facet (qhull's simplices)."""

    distance: np.ndarray
    area: np.ndarray
    volume: np.ndarray
    facets: np.ndarray

    def stats(self) -> np.ndarray:
        """(12,) mean, std, min, max of distance, volume and area interstices (zeros when empty)."""
        return np.concatenate([_stats(self.distance), _stats(self.volume), _stats(self.area)])


def _stats(values: np.ndarray) -> np.ndarray:
    if len(values) == 0:
        return np.zeros(4)
    return np.array([values.mean(), values.std(), values.min(), values.max()])


def _solid_angles(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Solid angle at a vertex spanned by edge vectors a, b, c (..., 3), steradian."""
    la, lb, lc = (np.linalg.norm(v, axis=-1) for v in (a, b, c))
    triple = np.abs(np.einsum("...i,...i", a, np.cross(b, c)))
    div = (la * lb * lc + np.einsum("...i,...i", a, b) * lc + np.einsum("...i,...i", a, c) * lb
           + np.einsum("...i,...i", b, c) * la)
    return 2.0 * np.arctan2(triple, div)


def _angle(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    cos = np.einsum("...i,...i", u, v) / (np.linalg.norm(u, axis=-1) * np.linalg.norm(v, axis=-1))
    return np.arccos(np.clip(cos, -1.0, 1.0))


def cluster_interstices(center: np.ndarray, neighbor_positions: np.ndarray, center_radius: float,
                        neighbor_radii: np.ndarray) -> ClusterInterstices:
    """Distance, area and volume interstices of one cluster (positions unwrapped, Angstrom).

    The hull is scipy's ``ConvexHull`` (qhull, triangulated) of the neighbour positions, exactly as
    in amlearn.  With fewer than 4 neighbours, or all of them coplanar, there is no hull and the
    area and volume arrays are empty.
    """
    o = np.asarray(center, dtype=np.float64).reshape(3)
    p = np.asarray(neighbor_positions, dtype=np.float64).reshape(-1, 3)
    rn = np.asarray(neighbor_radii, dtype=np.float64).reshape(-1)
    ro = float(center_radius)
    if len(rn) != len(p):
        raise ValueError(f"{len(rn)} radii for {len(p)} neighbours")
    dist = np.linalg.norm(p - o, axis=1) / (ro + rn) - 1.0
    empty = ClusterInterstices(dist, np.zeros(0), np.zeros(0), np.zeros((0, 3), dtype=np.int64))
    if len(p) < 4:
        return empty
    try:
        facets = ConvexHull(p).simplices.astype(np.int64)
    except QhullError:
        return empty  # coplanar or collinear neighbours: no hull
    A, B, C = p[facets[:, 0]], p[facets[:, 1]], p[facets[:, 2]]
    rA, rB, rC = rn[facets[:, 0]], rn[facets[:, 1]], rn[facets[:, 2]]
    # area interstice
    theta_a, theta_b, theta_c = _angle(B - A, C - A), _angle(A - B, C - B), _angle(A - C, B - C)
    tri_area = 0.5 * np.linalg.norm(np.cross(A - C, B - C), axis=1)
    packed_area = (rA ** 2 * theta_a + rB ** 2 * theta_b + rC ** 2 * theta_c) / 2.0
    area = np.maximum(1.0 - packed_area / tri_area, 0.0)
    # volume interstice of O-ABC
    O = np.broadcast_to(o, A.shape)
    om_o = _solid_angles(A - O, B - O, C - O)
    om_a = _solid_angles(O - A, B - A, C - A)
    om_b = _solid_angles(O - B, A - B, C - B)
    om_c = _solid_angles(O - C, A - C, B - C)
    tet_vol = np.abs(np.einsum("ij,ij->i", O - C, np.cross(A - C, B - C))) / 6.0
    packed_vol = (ro ** 3 * om_o + rA ** 3 * om_a + rB ** 3 * om_b + rC ** 3 * om_c) / 3.0
    volume = np.maximum(1.0 - packed_vol / tet_vol, 0.0)
    return ClusterInterstices(dist, area, volume, facets)


# ------------------------------------------------------------------------------------------------
# Voronoi neighbours
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class VoronoiNeighbors:
    """Filtered Voronoi neighbours of every particle.

    ``neighbors`` is a :class:`~ovito_glassml.descriptors.geometry.NeighborList` (sorted by centre,
    then distance; float64 vectors ``r_neighbor - r_center`` of the periodic image sharing the
    face), ``face_areas`` the area of each kept face (A^2, float32 precision), ``volumes`` (N,) the
    Voronoi cell volumes (A^3; for atoms at a free surface the cell reaches into the vacuum gap),
    ``face_counts`` (N,) the number of faces before filtering.
    """

    neighbors: NeighborList
    face_areas: np.ndarray
    volumes: np.ndarray
    face_counts: np.ndarray


def _check_3d(config: Configuration) -> None:
    if config.is_2d:
        raise ConfigurationError("interstice features are defined for three-dimensional systems only; "
                                 "this configuration is two-dimensional")


def voronoi_neighbors(config: Configuration, face_fraction: float = 0.05,
                      surface_gap: float = 10.0) -> VoronoiNeighbors:
    """Voronoi neighbours from the exact periodic tessellation (voro++ via freud).

    Faces with area < ``face_fraction`` x (mean face area of that atom's polyhedron, over all its
    faces) are dropped.  Non-periodic directions are padded with ``surface_gap`` Angstrom of
    vacuum and faces across the gap are dropped before the mean is taken.
    """
    import freud  # imported lazily: freud is only needed for the tessellation

    _check_3d(config)
    if not (0.0 <= face_fraction < 1.0):
        raise ConfigurationError(f"face_fraction must lie in [0, 1); got {face_fraction}")
    n = config.count
    cell, origin, pbc = config.cell, config.origin, config.pbc
    if n == 0:
        empty = NeighborList(centers=np.zeros(0, np.int64), center=np.zeros(0, np.int64),
                             neighbor=np.zeros(0, np.int64), vectors=np.zeros((0, 3)),
                             distances=np.zeros(0), offsets=np.zeros(1, np.int64))
        return VoronoiNeighbors(empty, np.zeros(0), np.zeros(0), np.zeros(0, np.int64))
    per = [k for k in range(3) if pbc[k]]
    non = [k for k in range(3) if not pbc[k]]
    # wrapped float64 positions in the original frame
    frac = config.fractional()
    frac[:, per] -= np.floor(frac[:, per])
    wrapped = frac @ cell.T + origin
    # rotate so that the periodic vectors, taken first, form an upper-triangular matrix
    q, r = np.linalg.qr(cell[:, per + non])
    signs = np.where(np.diag(r) < 0, -1.0, 1.0)
    q, r = q * signs, r * signs[:, None]
    x = (wrapped - origin) @ q
    p = len(per)
    box_m = np.zeros((3, 3))
    box_m[:p, :p] = r[:p, :p]
    shift = np.zeros(3)
    for k in range(p, 3):
        lo, hi = float(x[:, k].min()), float(x[:, k].max())
        box_m[k, k] = hi - lo + surface_gap
        shift[k] = lo - 0.5 * surface_gap
    s = np.linalg.solve(box_m, (x - shift).T).T
    s[:, :p] -= np.floor(s[:, :p])
    widths = np.array([abs(np.linalg.det(box_m)) / np.linalg.norm(np.cross(box_m[:, (k + 1) % 3],
                                                                               box_m[:, (k + 2) % 3]))
                       for k in range(3)])
    if widths.min() < 1e-3:
        raise ConfigurationError(
            f"the cell is too thin for a Voronoi tessellation (width {widths.min():.3g} A along a periodic "
            "direction); check the cell vectors")
    # voro++ ends the whole process (exit) on two atoms at one position: refuse them first
    check_coincident(config, "the Voronoi tessellation of the interstice features")
    try:
        box = freud.box.Box.from_matrix(box_m)
        points = ((s - 0.5) @ box_m.T).astype(np.float32)
        voro = freud.locality.Voronoi()
        voro.compute((box, points))
        nl = voro.nlist
        qi = np.asarray(nl.query_point_indices, dtype=np.int64)
        pj = np.asarray(nl.point_indices, dtype=np.int64)
        vec_rot = np.asarray(nl.vectors, dtype=np.float64)
        areas = np.asarray(nl.weights, dtype=np.float64)
        volumes = np.asarray(voro.volumes, dtype=np.float64).copy()
    except (RuntimeError, ValueError) as exc:  # voro++ / freud failures
        raise ConfigurationError(f"the Voronoi tessellation failed ({exc}); the cell may be too small or "
                                 "degenerate for voro++") from exc
    # exact float64 vectors: wrapped difference plus an integer combination of periodic cell vectors
    approx = vec_rot @ q.T  # back to the original frame
    diff = wrapped[pj] - wrapped[qi]
    exact = diff.copy()
    if p:
        images = np.rint(np.linalg.solve(cell, (approx - diff).T).T[:, per])
        exact += images @ cell[:, per].T
    scale = float(np.abs(x).max()) + float(np.abs(box_m).max()) + 1.0
    err = np.linalg.norm(exact - approx, axis=1)
    ok = err < 1e-4 * scale
    if p == 3 and not ok.all():
        raise ConfigurationError(
            "internal check failed: a Voronoi neighbour vector is not a periodic image vector "
            f"(error {err.max():.3g} A); the cell may be too small or degenerate for voro++")
    # faces across the vacuum gap (non-periodic directions) are not neighbours
    qi, pj, exact, areas = qi[ok], pj[ok], exact[ok], areas[ok]
    face_counts = np.bincount(qi, minlength=n)
    area_sum = np.bincount(qi, weights=areas, minlength=n)
    mean_area = np.divide(area_sum, face_counts, out=np.zeros(n), where=face_counts > 0)
    keep = areas >= face_fraction * mean_area[qi]
    qi, pj, exact, areas = qi[keep], pj[keep], exact[keep], areas[keep]
    dist = np.sqrt(np.einsum("ij,ij->i", exact, exact))
    order = np.lexsort((pj, dist, qi))
    qi, pj, exact, dist, areas = qi[order], pj[order], exact[order], dist[order], areas[order]
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(qi, minlength=n), out=offsets[1:])
    nlist = NeighborList(centers=np.arange(n), center=qi, neighbor=pj, vectors=exact, distances=dist,
                         offsets=offsets)
    return VoronoiNeighbors(nlist, areas, volumes, face_counts)


# ------------------------------------------------------------------------------------------------
# compiled kernels
# ------------------------------------------------------------------------------------------------
@njit(cache=True, inline="always")
def _solid_angle_nb(ax, ay, az, bx, by, bz, cx, cy, cz):
    la = math.sqrt(ax * ax + ay * ay + az * az)
    lb = math.sqrt(bx * bx + by * by + bz * bz)
    lc = math.sqrt(cx * cx + cy * cy + cz * cz)
    triple = abs(ax * (by * cz - bz * cy) + ay * (bz * cx - bx * cz) + az * (bx * cy - by * cx))
    div = (la * lb * lc + (ax * bx + ay * by + az * bz) * lc + (ax * cx + ay * cy + az * cz) * lb
           + (bx * cx + by * cy + bz * cz) * la)
    return 2.0 * math.atan2(triple, div)


@njit(cache=True, inline="always")
def _angle_nb(ux, uy, uz, vx, vy, vz):
    c = (ux * vx + uy * vy + uz * vz) / (math.sqrt(ux * ux + uy * uy + uz * uz)
                                         * math.sqrt(vx * vx + vy * vy + vz * vz))
    if c > 1.0:
        c = 1.0
    elif c < -1.0:
        c = -1.0
    return math.acos(c)


@njit(cache=True)
def _stats_into(values, count, out, col):
    """mean, std (two-pass, ddof 0), min, max of values[:count] into out[col:col+4]."""
    if count == 0:
        for k in range(4):
            out[col + k] = 0.0
        return
    s = 0.0
    lo = values[0]
    hi = values[0]
    for k in range(count):
        v = values[k]
        s += v
        if v < lo:
            lo = v
        if v > hi:
            hi = v
    mean = s / count
    ss = 0.0
    for k in range(count):
        d = values[k] - mean
        ss += d * d
    out[col] = mean
    out[col + 1] = math.sqrt(ss / count)
    out[col + 2] = lo
    out[col + 3] = hi


@njit(cache=True)
def _hull_facets(pts, n, facets):
    """Facets of the convex hull of pts[:n] (centred near 0) by testing every triple.

    Returns the number of facets, or -1 when the input is degenerate (a point within tolerance of
    a facet plane, or a facet count that is not 2h - 4 for h hull vertices), in which case the
    caller uses qhull.
    """
    scale = 0.0
    for i in range(n):
        for d in range(3):
            if abs(pts[i, d]) > scale:
                scale = abs(pts[i, d])
    tol = 1e-9 * scale
    nf = 0
    on_hull = np.zeros(n, dtype=np.bool_)
    for i in range(n - 2):
        for j in range(i + 1, n - 1):
            e1x = pts[j, 0] - pts[i, 0]
            e1y = pts[j, 1] - pts[i, 1]
            e1z = pts[j, 2] - pts[i, 2]
            for k in range(j + 1, n):
                e2x = pts[k, 0] - pts[i, 0]
                e2y = pts[k, 1] - pts[i, 1]
                e2z = pts[k, 2] - pts[i, 2]
                nx = e1y * e2z - e1z * e2y
                ny = e1z * e2x - e1x * e2z
                nz = e1x * e2y - e1y * e2x
                nn = math.sqrt(nx * nx + ny * ny + nz * nz)
                if nn <= 1e-12 * scale * scale:
                    return -1  # collinear triple
                pos = 0
                neg = 0
                close = False
                for m in range(n):
                    if m == i or m == j or m == k:
                        continue
                    sd = nx * (pts[m, 0] - pts[i, 0]) + ny * (pts[m, 1] - pts[i, 1]) + nz * (pts[m, 2] - pts[i, 2])
                    if sd > tol * nn:
                        pos += 1
                    elif sd < -tol * nn:
                        neg += 1
                    else:
                        close = True
                    if pos > 0 and neg > 0:
                        break
                if pos > 0 and neg > 0:
                    continue
                if close:
                    return -1
                if nf >= facets.shape[0]:
                    return -1
                facets[nf, 0] = i
                facets[nf, 1] = j
                facets[nf, 2] = k
                on_hull[i] = True
                on_hull[j] = True
                on_hull[k] = True
                nf += 1
    h = 0
    for i in range(n):
        if on_hull[i]:
            h += 1
    if nf != 2 * h - 4:
        return -1
    return nf


@njit(cache=True)
def _facet_interstices(pts, rad, ro, facets, nf, area_out, vol_out):
    """Area and volume interstice of each facet; centre O at the origin."""
    for f in range(nf):
        a = facets[f, 0]
        b = facets[f, 1]
        c = facets[f, 2]
        ax, ay, az = pts[a, 0], pts[a, 1], pts[a, 2]
        bx, by, bz = pts[b, 0], pts[b, 1], pts[b, 2]
        cx, cy, cz = pts[c, 0], pts[c, 1], pts[c, 2]
        ra, rb, rc = rad[a], rad[b], rad[c]
        # area interstice
        ta = _angle_nb(bx - ax, by - ay, bz - az, cx - ax, cy - ay, cz - az)
        tb = _angle_nb(ax - bx, ay - by, az - bz, cx - bx, cy - by, cz - bz)
        tc = _angle_nb(ax - cx, ay - cy, az - cz, bx - cx, by - cy, bz - cz)
        ux, uy, uz = ax - cx, ay - cy, az - cz
        vx, vy, vz = bx - cx, by - cy, bz - cz
        wx = uy * vz - uz * vy
        wy = uz * vx - ux * vz
        wz = ux * vy - uy * vx
        tri = 0.5 * math.sqrt(wx * wx + wy * wy + wz * wz)
        ai = 1.0 - (ra * ra * ta + rb * rb * tb + rc * rc * tc) / 2.0 / tri
        area_out[f] = ai if ai > 0.0 else 0.0
        # volume interstice of O-ABC, O = 0
        om_o = _solid_angle_nb(ax, ay, az, bx, by, bz, cx, cy, cz)
        om_a = _solid_angle_nb(-ax, -ay, -az, bx - ax, by - ay, bz - az, cx - ax, cy - ay, cz - az)
        om_b = _solid_angle_nb(-bx, -by, -bz, ax - bx, ay - by, az - bz, cx - bx, cy - by, cz - bz)
        om_c = _solid_angle_nb(-cx, -cy, -cz, ax - cx, ay - cy, az - cz, bx - cx, by - cy, bz - cz)
        tet = abs(-cx * wx - cy * wy - cz * wz) / 6.0
        packed = (ro * ro * ro * om_o + ra * ra * ra * om_a + rb * rb * rb * om_b + rc * rc * rc * om_c) / 3.0
        vi = 1.0 - packed / tet
        vol_out[f] = vi if vi > 0.0 else 0.0


@njit(cache=True, parallel=True)
def _hull_kernel(atoms, offsets, vectors, nb_radii, center_radii, out, status):
    """Volume and area interstice statistics (out[:, 0:4] volume, out[:, 4:8] area) of ``atoms``.

    status: 0 done, 1 fewer than 4 neighbours (zeros), 2 degenerate (use qhull).
    """
    for t in prange(len(atoms)):
        i = atoms[t]
        start = offsets[i]
        n = offsets[i + 1] - start
        if n < 4:
            for k in range(8):
                out[t, k] = 0.0
            status[t] = 1
            continue
        pts = vectors[start:start + n]
        rad = nb_radii[start:start + n]
        facets = np.empty((2 * n, 3), dtype=np.int64)
        nf = _hull_facets(pts, n, facets)
        if nf < 0:
            status[t] = 2
            continue
        area = np.empty(nf)
        vol = np.empty(nf)
        _facet_interstices(pts, rad, center_radii[i], facets, nf, area, vol)
        row = out[t]
        _stats_into(vol, nf, row, 0)
        _stats_into(area, nf, row, 4)
        status[t] = 0


@njit(cache=True, parallel=True)
def _segment_stats(atoms, offsets, values, out, col):
    """Statistics of values[offsets[i]:offsets[i+1]] into out[t, col:col+4] for i = atoms[t]."""
    for t in prange(len(atoms)):
        i = atoms[t]
        a = offsets[i]
        b = offsets[i + 1]
        _stats_into(values[a:b], b - a, out[t], col)


@njit(cache=True, parallel=True)
def _mro_kernel(atoms, offsets, neighbor, sro, cols, out, col0):
    """For each SRO column c in ``cols`` (in order) the neighbour statistics of sro[:, c]."""
    nc = len(cols)
    for t in prange(len(atoms)):
        i = atoms[t]
        a = offsets[i]
        b = offsets[i + 1]
        buf = np.empty(b - a)
        for q in range(nc):
            c = cols[q]
            for m in range(a, b):
                buf[m - a] = sro[neighbor[m], c]
            _stats_into(buf, b - a, out[t], col0 + 4 * q)


# ------------------------------------------------------------------------------------------------
# the 80 features
# ------------------------------------------------------------------------------------------------
def _prepare(config: Configuration, settings: IntersticeSettings):
    _check_3d(config)
    radii = atomic_radii(config, settings.radius_overrides)
    voro = voronoi_neighbors(config, settings.face_area_fraction, settings.surface_gap)
    dist_nl = neighbor_list(config, settings.distance_cutoff)
    return radii, voro, dist_nl


def _needed_atoms(n: int, centers: np.ndarray | None, voro_nl: NeighborList, dist_nl: NeighborList):
    """Atoms whose SRO features are needed: the centres and their neighbours of both kinds."""
    if centers is None:
        return np.arange(n, dtype=np.int64), np.arange(n, dtype=np.int64)
    centers = np.asarray(centers, dtype=np.int64).reshape(-1)
    if len(centers) and (centers.min() < 0 or centers.max() >= n):
        raise ConfigurationError(f"centers must be particle indices in 0..{n - 1}")
    is_center = np.zeros(n, dtype=bool)
    is_center[centers] = True
    need = is_center.copy()
    for nl in (voro_nl, dist_nl):
        rows = np.repeat(is_center, np.diff(nl.offsets))
        need[nl.neighbor[rows]] = True
    return centers, np.flatnonzero(need)


def interstice_features(config: Configuration, settings: IntersticeSettings | None = None,
                        centers: np.ndarray | None = None) -> np.ndarray:
    """The 80 interstice features (:data:`INTERSTICE_FEATURE_NAMES`) of ``centers`` (default all).

    Returns a float64 array (len(centers), 80).  SRO features are computed for the centres and
    their neighbours (MRO needs them); the tessellation always covers the whole configuration.
    Hulls are found in compiled code by testing every neighbour triple, and passed to qhull
    (scipy) for the rare degenerate clusters, so the facets are the same as qhull's.
    """
    settings = settings or IntersticeSettings()
    n = config.count
    radii, voro, dist_nl = _prepare(config, settings)
    vnl = voro.neighbors
    centers, need = _needed_atoms(n, centers, vnl, dist_nl)
    sro = np.zeros((n, 16))
    if len(need):
        # distance interstices
        for nl, col in ((vnl, 0), (dist_nl, 4)):
            vals = nl.distances / (radii[nl.center] + radii[nl.neighbor]) - 1.0
            part = np.zeros((len(need), 16))
            _segment_stats(need, nl.offsets, vals, part, col)
            sro[need, col:col + 4] = part[:, col:col + 4]
        # volume and area interstices over the hull facets of the Voronoi neighbours
        hull = np.zeros((len(need), 8))
        status = np.zeros(len(need), dtype=np.int64)
        _hull_kernel(need, vnl.offsets, vnl.vectors, radii[vnl.neighbor], radii, hull, status)
        for t in np.flatnonzero(status == 2):
            i = need[t]
            a, b = vnl.offsets[i], vnl.offsets[i + 1]
            ci = cluster_interstices(np.zeros(3), vnl.vectors[a:b], radii[i], radii[vnl.neighbor[a:b]])
            hull[t] = np.concatenate([_stats(ci.volume), _stats(ci.area)])
        sro[need, 8:16] = hull
    out = np.zeros((len(centers), 80))
    out[:, :16] = sro[centers]
    if len(centers):
        _mro_kernel(centers, vnl.offsets, vnl.neighbor, sro, np.array(_SRO_VORO, dtype=np.int64), out, 16)
        _mro_kernel(centers, dist_nl.offsets, dist_nl.neighbor, sro, np.array(_SRO_DIST, dtype=np.int64),
                    out, 16 + 4 * len(_SRO_VORO))
    return out


def interstice_features_reference(config: Configuration, settings: IntersticeSettings | None = None,
                                  centers: np.ndarray | None = None) -> np.ndarray:
    """The same 80 features by plain per-atom loops: qhull (:func:`cluster_interstices`) for every
    cluster, numpy statistics.  Slow (tens of atoms per second); a reference for tests and
    benchmarks."""
    settings = settings or IntersticeSettings()
    n = config.count
    radii, voro, dist_nl = _prepare(config, settings)
    vnl = voro.neighbors
    centers, need = _needed_atoms(n, centers, vnl, dist_nl)
    sro = np.zeros((n, 16))
    for i in need:
        a, b = vnl.offsets[i], vnl.offsets[i + 1]
        ci = cluster_interstices(np.zeros(3), vnl.vectors[a:b], radii[i], radii[vnl.neighbor[a:b]])
        da, db = dist_nl.offsets[i], dist_nl.offsets[i + 1]
        dvals = dist_nl.distances[da:db] / (radii[i] + radii[dist_nl.neighbor[da:db]]) - 1.0
        sro[i] = np.concatenate([_stats(ci.distance), _stats(dvals), _stats(ci.volume), _stats(ci.area)])
    out = np.zeros((len(centers), 80))
    for row, i in enumerate(centers):
        feats = [sro[i]]
        for nl, cols in ((vnl, _SRO_VORO), (dist_nl, _SRO_DIST)):
            nb = nl.neighbor[nl.offsets[i]:nl.offsets[i + 1]]
            for c in cols:
                feats.append(_stats(sro[nb, c]))
        out[row] = np.concatenate(feats)
    return out
