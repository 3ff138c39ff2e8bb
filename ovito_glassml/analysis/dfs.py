"""Density of fertile sites (DFS), brittle/ductile verdict and figure of merit gamma (Fan, Ma & Falk 2022).

Fan, Ma and Falk call an atom a *fertile site* when its predicted plastic susceptibility (class
probability) exceeds 0.5, and map "the distribution of the DFS ..., i.e., fraction of atoms with
class probability > 0.5 in each of the parallelepiped regions" of width ω = 19 Å along X (or Y),
"the length along all other dimensions [being] equal to that of the simulation box".

Definitions implemented here (pure numpy, no OVITO):

* **Slab** centred at c along axis i (i = x, y, z means cell vector a, b, c): the atoms whose
  perpendicular coordinate u = s_i · d_i satisfies ``-ω/2 <= u - c < ω/2`` (half-open, so that a
  slab as wide as the box counts every atom exactly once).  s_i is the fractional coordinate along
  cell vector i and d_i the distance between the two opposite cell faces spanned by the other two
  cell vectors.  In an orthogonal cell u = x - x_origin; in a triclinic cell the slab is bounded
  by two planes parallel to those faces and ω is measured perpendicular to them (the slab spans
  the box along the other two cell vectors, as in the paper).
* **Periodic wrap-around** along a periodic axis: u is taken modulo d_i, so a slab centred near
  a face includes the atoms near the opposite face.  Along a non-periodic axis nothing wraps: the
  slabs near the faces are clipped (they hold only the atoms inside their interval, including
  atoms that lie outside the cell).
* **DFS(c)** = n_fertile(c) / n(c) with n(c) the atoms of the slab that have a value and
  n_fertile(c) those whose value is strictly greater than the threshold (0.5).  A slab with no
  atom has DFS = NaN.
* **NaN values** (atoms without a prediction, e.g. not selected) are excluded from numerator and
  denominator alike: the DFS is the fraction of fertile atoms among the evaluated ones.  If no
  atom has a value an error is raised.
* **Slab centres**: n equally spaced centres c_k = (k + 1/2) d_i / n, k = 0..n-1, covering the
  cell; n = round(d_i / spacing) (the spacing is adjusted so that the grid closes on the periodic
  ring), or n given directly, or automatically n = ceil(20 d_i / ω) (about 1 Å at ω = 19 Å).
  Reported positions are in Å: ``position = c + origin · n̂_i`` with n̂_i the unit normal of the
  faces, i.e. the plain x (y, z) coordinate of the slab centre in an orthogonal cell.
* **Δ** (Fan, Ma & Falk 2022, "Brittle versus ductile"): "the difference between the largest and smallest
  value of DFS distribution", where the DFS distribution is the one mapped "along both the X and
  Y dimensions" (Fig. 2 draws both on one axis).  So Δ = max - min over the **pooled** profiles of
  all analysed axes (per-axis values are reported too).  Brittle (a shear band expected) when
  Δ > 0.06 ("a shear band was formed in almost all glasses with Δ > 6%").
* **Noise reference of Δ** (ours, not the paper's): Δ is partly counting noise, the more so the
  fewer atoms a slab holds, so the 6 % threshold means different things in different cells.
  With ``permutations = K > 0`` the fertile sites are placed K times at random among the evaluated
  atoms (the same number of them; placement k is ``rng.choice(n_evaluated, n_fertile,
  replace=False)`` of ``numpy.random.default_rng(seed)``), giving Δ_1..Δ_K.  ``delta_noise`` is their median and
  ``delta_p_value`` = (1 + #{Δ_k >= Δ}) / (1 + K), the chance that randomly placed fertile sites
  fluctuate as much as these do.
* **γ** (Fan, Ma & Falk 2022, "Figure of merit"): "the fraction of locations at which the DFS is lower than
  or equal to, that at the location of the shear band"; see :func:`figure_of_merit`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable, Mapping

import numpy as np

from ..descriptors.geometry import Configuration, ConfigurationError

__all__ = [
    "DFSProfile",
    "DFSAnalysis",
    "fertile_site_density",
    "dfs_analysis",
    "figure_of_merit",
    "ShearBand",
    "locate_shear_band",
    "permuted_deltas",
    "parse_axes",
    "check_dfs_settings",
    "replication",
    "DEFAULT_THRESHOLD",
    "DEFAULT_SLAB_WIDTH",
    "DEFAULT_BRITTLE_DELTA",
]

DEFAULT_THRESHOLD = 0.5  #: fertile when the value (class probability) is > 0.5 (Fan, Ma & Falk 2022)
DEFAULT_SLAB_WIDTH = 19.0  #: ω_DFS in Å (Fan, Ma & Falk 2022, optimised in their Fig. S3)
DEFAULT_BRITTLE_DELTA = 0.06  #: Δ above which a shear band is expected (Fan, Ma & Falk 2022, Fig. 5)
DEFAULT_BAND_WIDTH = 10.0  #: slab width (Å) used to locate a band: about a nascent band's thickness
DEFAULT_BAND_FRACTION = 0.05  #: the most strained fraction of atoms that marks the band
_AUTO_POSITIONS_PER_WIDTH = 20  # automatic spacing ω / 20
_AXES = "xyz"
_SNAP = 1e-9  # relative distance to a slab centre below which the centre's value is used exactly
_TIE = 1e-12  # tolerance of the "lower than or equal to" comparison in gamma


@dataclass(frozen=True)
class DFSProfile:
    """DFS along one axis.

    Attributes
    ----------
    axis : "x", "y" or "z" (cell vector a, b or c).
    positions : (n,) slab centres, Å (see the module docstring; the x/y/z coordinate for
        orthogonal cells).
    dfs : (n,) fraction of the slab's evaluated atoms with value > threshold (NaN: empty slab).
    counts : (n,) number of evaluated atoms in each slab.
    fertile : (n,) number of those with value > threshold.
    fractional : (n,) slab centres as fractional coordinates along the cell vector.
    slab_width, threshold : ω (Å) and the fertility threshold used.
    length : distance between the opposite cell faces along this axis, Å (the period).
    offset : ``origin · n̂``, Å: the position of the cell face where u = 0.
    periodic : whether the axis is periodic (wrap-around) or not (clipped slabs).
    excluded : number of atoms left out because their value is NaN.
    """

    axis: str
    positions: np.ndarray
    dfs: np.ndarray
    counts: np.ndarray
    fertile: np.ndarray
    fractional: np.ndarray
    slab_width: float
    threshold: float
    length: float
    offset: float
    periodic: bool
    excluded: int = 0

    @property
    def spacing(self) -> float:
        """Distance between neighbouring slab centres, Å."""
        return self.length / len(self.positions)

    @property
    def delta(self) -> float:
        """max - min of this profile (empty slabs ignored)."""
        return float(np.nanmax(self.dfs) - np.nanmin(self.dfs))

    @property
    def peak_position(self) -> float:
        """Position (Å) of the maximum DFS; the first one along the axis if several are equal."""
        return float(self.positions[int(np.nanargmax(self.dfs))])

    def value_at(self, position: float) -> float:
        """DFS at ``position`` (Å), linearly interpolated between slab centres.

        Along a periodic axis the position is wrapped into the cell and the interpolation runs
        across the boundary (between the last and the first centre); along a non-periodic axis a
        position beyond the first / last centre gets that centre's value.
        """
        x = float(position)
        if not math.isfinite(x):
            raise ConfigurationError(f"band position must be a finite number (Å); got {position!r}")
        n = len(self.positions)
        h = self.spacing
        t = (x - self.offset) / h - 0.5  # index coordinate: centre k at t = k
        if self.periodic:
            t = t % n
        else:
            t = min(max(t, 0.0), n - 1.0)
        k = int(math.floor(t))
        f = t - k
        if f < _SNAP or n == 1:
            return float(self.dfs[k % n])
        if f > 1.0 - _SNAP:
            return float(self.dfs[(k + 1) % n])
        return float((1.0 - f) * self.dfs[k % n] + f * self.dfs[(k + 1) % n])


@dataclass(frozen=True)
class DFSAnalysis:
    """DFS profiles along several axes and the paper-003 brittle/ductile verdict.

    ``delta`` is max - min over all profiles pooled (Fan, Ma & Falk 2022: the DFS distribution mapped along
    both X and Y), ``delta_per_axis`` the same per profile; ``brittle`` is ``delta >
    brittle_delta``; ``peaks`` the position (Å) of the maximum of each profile, and
    ``peak_axis`` the axis holding the overall maximum (ties: the first axis in ``axes``).
    ``delta_noise`` (median Δ of randomly placed fertile sites) and ``delta_p_value`` are NaN
    unless ``permutations`` > 0 (see the module docstring).  ``replicas`` says how many periodic
    copies of a smaller cell the cell holds along a, b, c (:func:`replication`; (1, 1, 1): none);
    in a replicated cell the random placements are replicated the same way.
    """

    profiles: Mapping[str, DFSProfile]
    delta: float
    brittle: bool
    brittle_delta: float
    delta_per_axis: Mapping[str, float] = field(default_factory=dict)
    peaks: Mapping[str, float] = field(default_factory=dict)
    peak_axis: str = ""
    delta_noise: float = float("nan")
    delta_p_value: float = float("nan")
    permutations: int = 0
    replicas: tuple[int, int, int] = (1, 1, 1)

    @property
    def axes(self) -> tuple[str, ...]:
        return tuple(self.profiles)

    def pooled_dfs(self) -> np.ndarray:
        """The DFS values of all profiles, concatenated in axis order."""
        return np.concatenate([p.dfs for p in self.profiles.values()])


def parse_axes(axes: str | Iterable[str], is_2d: bool = False) -> tuple[str, ...]:
    """``"XY"`` / ``"xyz"`` / ``["x", "z"]`` -> ("x", "y") etc.; refuses repeats, unknown letters, z in 2D."""
    if isinstance(axes, str):
        letters = [c for c in axes.replace(",", "").replace(" ", "").lower()]
    else:
        letters = [str(a).strip().lower() for a in axes]
    if not letters:
        raise ConfigurationError("no axis given for the DFS; use e.g. axes='XY' (or 'XYZ', 'X', ...)")
    bad = [a for a in letters if a not in _AXES]
    if bad:
        raise ConfigurationError(f"unknown DFS axis {bad[0]!r} in {axes!r}; use letters from X, Y, Z (e.g. 'XY')")
    if len(set(letters)) != len(letters):
        raise ConfigurationError(f"axis repeated in {axes!r}; give each of X, Y, Z at most once")
    if is_2d and "z" in letters:
        raise ConfigurationError("the configuration is two-dimensional, so there is no DFS along Z; use axes='XY'")
    return tuple(letters)


def _check_values(values, count: int) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    if v.ndim == 2 and v.shape[1] == 1:
        v = v[:, 0]
    if v.ndim != 1:
        raise ConfigurationError(
            f"the DFS needs one value per atom; got an array of shape {v.shape}. For a vector property pick one "
            "component (e.g. the maximum over orientations)"
        )
    if len(v) != count:
        raise ConfigurationError(f"{len(v)} values for {count} atoms; give one value per atom")
    return v


def _check_number(name: str, value, positive: bool = False) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"{name} must be a number; got {value!r}") from exc
    if not math.isfinite(x) or (positive and x <= 0):
        raise ConfigurationError(f"{name} must be a {'positive' if positive else 'finite'} number; got {value!r}")
    return x


def _grid_size(length: float, slab_width: float, spacing, n_positions, axis: str) -> int:
    if spacing is not None and n_positions is not None:
        raise ConfigurationError("give either spacing (Å between slab centres) or n_positions, not both")
    if n_positions is not None:
        if int(n_positions) != n_positions or int(n_positions) < 1:
            raise ConfigurationError(f"n_positions must be a positive integer; got {n_positions!r}")
        return int(n_positions)
    if spacing is None or spacing == 0:
        return max(1, int(math.ceil(_AUTO_POSITIONS_PER_WIDTH * length / slab_width - 1e-9)))
    h = _check_number("spacing", spacing, positive=True)
    if h > length:
        raise ConfigurationError(
            f"the spacing {h:g} Å between slab centres exceeds the cell width {length:g} Å along {axis.upper()}; "
            "choose a smaller spacing (0 = automatic)"
        )
    return max(1, int(round(length / h)))


def check_dfs_settings(config: Configuration, axes: str | Iterable[str] = "XY", threshold: float = DEFAULT_THRESHOLD,
                       slab_width: float = DEFAULT_SLAB_WIDTH, spacing: float | None = None,
                       permutations: int = 0) -> tuple[str, ...]:
    """Refuse settings that :func:`dfs_analysis` cannot use on this cell, before any value is computed.

    Checks the axes (no Z in 2D), the threshold, the slab width (positive, at most the cell width
    along every analysed axis), the spacing and the number of noise permutations; needs only the
    cell (``config`` may hold any positions).  Returns the parsed axes.
    """
    names = parse_axes(axes, config.is_2d)
    _check_number("threshold", threshold)
    w = _check_number("slab width", slab_width, positive=True)
    if isinstance(permutations, bool) or int(permutations) != permutations or permutations < 0:
        raise ConfigurationError(f"permutations must be a whole number >= 0 (0: no noise reference); got {permutations!r}")
    too_wide = [(a, float(config.widths[_AXES.index(a)])) for a in names
                if w > float(config.widths[_AXES.index(a)]) * (1.0 + 1e-12)]
    if too_wide:
        where = " and ".join(f"{length:g} Å along {a.upper()}" for a, length in too_wide)
        fits = [a.upper() for a in names if a not in dict(too_wide)]
        raise ConfigurationError(
            f"the slab width ω = {w:g} Å is larger than the cell width {where}; choose a slab width <= "
            f"{min(length for _, length in too_wide):g} Å"
            + (f", or analyse only {''.join(fits)}" if fits else "")
            + " (Fan, Ma & Falk used 19 Å in an 82 Å box)")
    for a in names:
        _grid_size(float(config.widths[_AXES.index(a)]), w, spacing, None, a)
    return names


def _counts_below(sorted_u: np.ndarray, x: np.ndarray, length: float, periodic: bool) -> np.ndarray:
    """Number of points u (+ any multiple of the period when periodic) below x."""
    if not periodic:
        return np.searchsorted(sorted_u, x, side="left")
    turns = np.floor(x / length)
    rest = x - turns * length
    return turns.astype(np.int64) * len(sorted_u) + np.searchsorted(sorted_u, rest, side="left")


def fertile_site_density(config: Configuration, values, threshold: float = DEFAULT_THRESHOLD,
                         slab_width: float = DEFAULT_SLAB_WIDTH, axis: str = "x", spacing: float | None = None,
                         n_positions: int | None = None) -> DFSProfile:
    """DFS profile along one axis (Fan, Ma & Falk 2022): DFS(c) = #{value > threshold} / #{value} in the slab at c.

    Parameters
    ----------
    config : the atoms and cell (only positions, cell, origin, pbc and is_2d are used).
    values : (N,) per-atom values, e.g. predicted plastic susceptibility (class probability);
        NaN = not evaluated, excluded.
    threshold : an atom is fertile when its value is strictly greater than this (0.5).
    slab_width : ω, Å, measured perpendicular to the cell faces; at most the cell width.
    axis : "x", "y" or "z" (cell vector a, b or c).
    spacing : Å between slab centres (None or 0: automatic, ω/20 rounded to fit the cell).
    n_positions : number of slab centres instead of a spacing.

    Slab rules (half-open slabs, wrap-around along periodic axes, clipping along non-periodic
    ones, triclinic cells) are in the module docstring.
    """
    if not isinstance(axis, str) or axis.strip().lower() not in ("x", "y", "z"):
        raise ConfigurationError(f"axis must be one of 'x', 'y', 'z'; got {axis!r}")
    (axis_name,) = parse_axes(axis.strip(), config.is_2d)
    i = _AXES.index(axis_name)
    v = _check_values(values, config.count)
    threshold = _check_number("threshold", threshold)
    w = _check_number("slab width", slab_width, positive=True)
    length = float(config.widths[i])
    if w > length * (1.0 + 1e-12):
        raise ConfigurationError(
            f"the slab width ω = {w:g} Å is larger than the cell width {length:g} Å along {axis_name.upper()}; "
            f"choose slab_width <= {length:g} Å (Fan, Ma & Falk (2022) used 19 Å in an 82 Å box)"
        )
    w = min(w, length)
    n = _grid_size(length, w, spacing, n_positions, axis_name)
    periodic = bool(config.pbc[i])

    valid = ~np.isnan(v)
    excluded = int(np.count_nonzero(~valid))
    if not valid.any():
        raise ConfigurationError(
            "every value is NaN (no atom was evaluated), so no fertile-site density can be computed; run the "
            "prediction on the atoms first"
        )
    s = config.fractional()[:, i]
    u = s * length  # perpendicular distance from the origin face, Å
    if periodic:
        u = u - np.floor(u / length) * length
    u_all = np.sort(u[valid])
    u_fert = np.sort(u[valid & (v > threshold)])

    frac = (np.arange(n) + 0.5) / n
    centres = frac * length
    lo, hi = centres - 0.5 * w, centres + 0.5 * w
    counts = _counts_below(u_all, hi, length, periodic) - _counts_below(u_all, lo, length, periodic)
    fertile = _counts_below(u_fert, hi, length, periodic) - _counts_below(u_fert, lo, length, periodic)
    with np.errstate(invalid="ignore", divide="ignore"):
        dfs = np.where(counts > 0, fertile / np.maximum(counts, 1), np.nan)

    inv = np.linalg.inv(config.cell)
    normal = inv[i] / np.linalg.norm(inv[i])
    offset = float(config.origin @ normal)
    for arr in (centres, dfs, counts, fertile, frac):
        arr.setflags(write=False)
    return DFSProfile(axis=axis_name, positions=centres + offset, dfs=dfs, counts=counts.astype(np.int64),
                      fertile=fertile.astype(np.int64), fractional=frac, slab_width=w, threshold=threshold,
                      length=length, offset=offset, periodic=periodic, excluded=excluded)


def dfs_analysis(config: Configuration, values, axes: str | Iterable[str] = "XY",
                 threshold: float = DEFAULT_THRESHOLD, slab_width: float = DEFAULT_SLAB_WIDTH,
                 spacing: float | None = None, n_positions: int | None = None,
                 brittle_delta: float = DEFAULT_BRITTLE_DELTA, permutations: int = 0,
                 seed: int = 0, detect_replicas: bool = True) -> DFSAnalysis:
    """DFS profiles along ``axes`` plus Δ, the brittle verdict and the peak positions (Fan, Ma & Falk 2022).

    Δ = max_c DFS - min_c DFS over the pooled profiles of all axes (empty slabs ignored);
    brittle = Δ > ``brittle_delta`` (0.06).  ``permutations`` > 0 adds the noise reference of Δ
    (``delta_noise``, ``delta_p_value``: randomly placed fertile sites, reproducible by ``seed``).
    With ``detect_replicas`` a cell made of periodic copies of a smaller one is detected
    (:func:`replication`): its copies are not independent glasses, so random fertile sites are
    then placed in one copy and repeated in the others, as the model's own sites are; otherwise
    copying alone would make any Δ look significant.
    Other parameters as in :func:`fertile_site_density`.
    """
    names = check_dfs_settings(config, axes, threshold, slab_width, spacing if n_positions is None else None,
                               permutations)
    brittle_delta = _check_number("brittle threshold on Δ", brittle_delta)
    profiles = {a: fertile_site_density(config, values, threshold=threshold, slab_width=slab_width, axis=a,
                                        spacing=spacing, n_positions=n_positions) for a in names}
    pooled = np.concatenate([p.dfs for p in profiles.values()])
    if np.all(np.isnan(pooled)):  # cannot happen with at least one valid atom, kept for safety
        raise ConfigurationError("every slab is empty; check the cell and the positions")
    delta = float(np.nanmax(pooled) - np.nanmin(pooled))
    best = max(names, key=lambda a: (np.nanmax(profiles[a].dfs), -names.index(a)))
    noise, p_value = float("nan"), float("nan")
    replicas, copies = (1, 1, 1), None
    if detect_replicas:
        replicas, copies = _replicas_and_copies(config)
    if permutations:
        null = permuted_deltas(config, values, profiles, int(permutations), seed, copies=copies)
        noise = float(np.median(null))
        p_value = float((1 + np.count_nonzero(null >= delta - _TIE)) / (1 + len(null)))
    return DFSAnalysis(
        profiles=profiles,
        delta=delta,
        brittle=bool(delta > brittle_delta),
        brittle_delta=brittle_delta,
        delta_per_axis={a: p.delta for a, p in profiles.items()},
        peaks={a: p.peak_position for a, p in profiles.items()},
        peak_axis=best,
        delta_noise=noise,
        delta_p_value=p_value,
        permutations=int(permutations),
        replicas=replicas,
    )


_REPLICA_TOLERANCE = 1e-3  # Angstrom: copies made by a replicate tool coincide to round-off
_MAX_COPIES = 12  # per cell vector


def replication(config: Configuration, tolerance: float = _REPLICA_TOLERANCE,
                max_copies: int = _MAX_COPIES) -> tuple[int, int, int]:
    """How many periodic copies of a smaller cell the cell holds along a, b and c (1: none).

    Along a periodic cell vector, the cell holds k copies when shifting every atom by 1/k of the
    vector puts each one on an atom of the same type (within ``tolerance``, Å), as after OVITO's
    *Replicate* modifier or LAMMPS' ``replicate``.  The largest such k up to ``max_copies`` that
    divides the number of atoms is returned.  A glass never matches itself that way.
    """
    return _replicas_and_copies(config, tolerance, max_copies)[0]


def _replicas_and_copies(config: Configuration, tolerance: float = _REPLICA_TOLERANCE,
                         max_copies: int = _MAX_COPIES) -> tuple[tuple[int, int, int], np.ndarray | None]:
    """:func:`replication` and, for a replicated cell, the index of the first-copy atom of every atom."""
    from scipy.spatial import cKDTree

    n = config.count
    if n < 2:
        return (1, 1, 1), None
    s = config.fractional()
    widths = np.array([config.widths[k] if np.isfinite(config.widths[k]) else 1.0 for k in range(3)])
    periodic = [k for k in range(3) if config.pbc[k]]
    for k in periodic:
        s[:, k] -= np.floor(s[:, k])
        s[s[:, k] >= 1.0, k] = 0.0
    # scaled fractional coordinates: a copy maps exactly, so the metric need not be Euclidean
    u = s * widths
    box = np.array([widths[k] if k in periodic else 0.0 for k in range(3)])
    span = np.ptp(u, axis=0)
    box_tree = np.where(box > 0, box, span + 10.0 * tolerance + 1.0)
    u_tree = np.where(box > 0, u, u - u.min(axis=0))
    tree = cKDTree(u_tree, boxsize=box_tree)
    probe = np.random.default_rng(0).choice(n, min(n, 64), replace=False)

    def maps(axis: int, k: int, idx: np.ndarray) -> bool:
        shifted = u_tree[idx].copy()
        shifted[:, axis] = (shifted[:, axis] + widths[axis] / k) % widths[axis]
        dist, hit = tree.query(shifted, distance_upper_bound=tolerance)
        return bool(np.all(np.isfinite(dist)) and np.all(config.types[hit] == config.types[idx]))

    counts = [1, 1, 1]
    for axis in periodic:
        for k in range(min(max_copies, n), 1, -1):
            if n % (k * counts[0] * counts[1] * counts[2]) == 0 and maps(axis, k, probe) and maps(axis, k, np.arange(n)):
                counts[axis] = k
                break
    replicas = (counts[0], counts[1], counts[2])
    if replicas == (1, 1, 1):
        return replicas, None
    # the first-copy atom of every atom: reduce the coordinates into the first copy and match
    red = u_tree.copy()
    for axis in periodic:
        red[:, axis] = red[:, axis] % (widths[axis] / counts[axis])
    first = np.flatnonzero(np.all(u_tree[:, periodic] < (widths[periodic] / np.array(counts)[periodic])
                                  - 0.5 * tolerance, axis=1))
    small_box = np.where(box > 0, box / np.array(counts), box_tree)
    sub = cKDTree(red[first] % small_box, boxsize=small_box)
    dist, hit = sub.query(red % small_box, distance_upper_bound=tolerance)
    if not np.all(np.isfinite(dist)) or len(first) * int(np.prod(counts)) != n:
        return replicas, None
    return replicas, first[hit]


def permuted_deltas(config: Configuration, values, profiles: Mapping[str, DFSProfile], permutations: int,
                    seed: int = 0, copies: np.ndarray | None = None) -> np.ndarray:
    """Δ of ``permutations`` random placements of the fertile sites on the same slabs.

    Placement k makes the evaluated atoms (non-NaN, in their order) number
    ``rng.choice(n_evaluated, n_fertile, replace=False)`` fertile, ``rng =
    numpy.random.default_rng(seed)``, and recomputes Δ over the pooled ``profiles`` (their slabs and
    atom counts are reused, so only the fertile counts are redone): the same Δ as
    :func:`dfs_analysis` of values that are fertile exactly there, at the cost of one sort of the
    fertile atoms per axis and placement (independent of the number of atoms).

    ``copies`` (from a replicated cell, :func:`replication`): for every atom the index of the
    atom it copies in the first copy.  The fertile sites are then drawn among the atoms of the
    first copy (``round(n_fertile / copies per atom)`` of them, ``rng.choice`` as above) and every
    copy of a drawn atom is fertile.
    """
    v = _check_values(values, config.count)
    valid = ~np.isnan(v)
    first = next(iter(profiles.values()))
    n_fertile = int(np.count_nonzero(v[valid] > first.threshold))
    frac = config.fractional()[valid]
    groups = None
    if copies is not None:
        copies = np.asarray(copies)[valid]
        reps, groups = np.unique(copies, return_inverse=True)
        per = len(copies) // len(reps)
        if per * len(reps) != len(copies) or np.any(np.bincount(groups) != per):
            groups = None  # the evaluated atoms do not form whole copies: independent placements
        else:
            n_fertile = int(round(n_fertile / per))
    slabs = []
    for axis, prof in profiles.items():
        u = frac[:, _AXES.index(axis)] * prof.length
        if prof.periodic:
            u = u - np.floor(u / prof.length) * prof.length
        centres = np.asarray(prof.fractional) * prof.length
        slabs.append((u, centres - 0.5 * prof.slab_width, centres + 0.5 * prof.slab_width, prof))
    rng = np.random.default_rng(seed)
    out = np.empty(int(permutations))
    for k in range(len(out)):
        if groups is None:
            f = rng.choice(len(frac), n_fertile, replace=False)
        else:
            chosen = np.zeros(groups.max() + 1, dtype=bool)
            chosen[rng.choice(len(chosen), n_fertile, replace=False)] = True
            f = np.flatnonzero(chosen[groups])
        pooled = []
        for u, lo, hi, prof in slabs:
            uf = np.sort(u[f])
            nf = _counts_below(uf, hi, prof.length, prof.periodic) - _counts_below(uf, lo, prof.length, prof.periodic)
            pooled.append(np.where(prof.counts > 0, nf / np.maximum(prof.counts, 1), np.nan))
        pooled = np.concatenate(pooled)
        out[k] = np.nanmax(pooled) - np.nanmin(pooled)
    return out


def figure_of_merit(profile: DFSProfile | DFSAnalysis, band_position: float, axis: str | None = None,
                    higher_is_fertile: bool = True) -> float:
    """γ: the fraction of locations whose DFS is lower than or equal to the DFS at the shear band.

    Fan, Ma & Falk (2022): "γ [is] the fraction of locations at which the DFS is lower than or equal to, that
    at the location of the shear band"; γ = 1 when the band sits at the highest DFS, and its mean
    is 0.5 without correlation.

    * ``profile`` a :class:`DFSProfile`: the locations are its slab centres.
    * ``profile`` a :class:`DFSAnalysis`: the locations are the slab centres of **all** its
      profiles pooled (the paper maps the DFS "along both the X and Y dimensions" and a band may be
      horizontal or vertical); ``axis`` says along which axis ``band_position`` is measured (a
      band parallel to X lies at a y position: ``axis="y"``).
    * ``band_position`` (Å, same coordinates as ``DFSProfile.positions``): the DFS there is
      linearly interpolated between slab centres (periodic across the boundary), so a band at a
      slab centre uses that slab's value exactly.
    * ``higher_is_fertile=False`` counts the locations with a value *higher* than or equal to the
      band's, as the paper does for indicators where low values favour shear banding (FFB, ρ_a).

    γ = #{k : DFS_k <= DFS(band)} / #{k : DFS_k defined}; empty slabs (NaN) are not locations.
    """
    if isinstance(profile, DFSAnalysis):
        if axis is None:
            if len(profile.profiles) != 1:
                raise ConfigurationError(
                    f"say along which axis the band position is measured: axis='x' or 'y' (analysed axes: "
                    f"{', '.join(a.upper() for a in profile.axes)}); a band parallel to X lies at a y position"
                )
            axis = profile.axes[0]
        key = str(axis).strip().lower()
        if key not in profile.profiles:
            raise ConfigurationError(
                f"no DFS profile along {str(axis).upper()!r}; analysed axes: {', '.join(a.upper() for a in profile.axes)}"
            )
        band = profile.profiles[key].value_at(band_position)
        pool = profile.pooled_dfs()
    elif isinstance(profile, DFSProfile):
        if axis is not None and str(axis).strip().lower() != profile.axis:
            raise ConfigurationError(f"the profile is along {profile.axis.upper()}, not {str(axis).upper()}")
        band = profile.value_at(band_position)
        pool = np.asarray(profile.dfs)
    else:
        raise ConfigurationError(f"figure_of_merit needs a DFSProfile or DFSAnalysis; got {type(profile).__name__}")
    if math.isnan(band):
        raise ConfigurationError(
            f"the DFS at the band position {band_position:g} Å is undefined (an empty slab); check the position"
        )
    pool = pool[~np.isnan(pool)]
    if higher_is_fertile:
        hits = np.count_nonzero(pool <= band + _TIE)
    else:
        hits = np.count_nonzero(pool >= band - _TIE)
    return float(hits / len(pool))


@dataclass(frozen=True)
class ShearBand:
    """A shear band located by :func:`locate_shear_band`.

    ``axis`` is the axis along which ``position`` (Å) is measured, i.e. the band's normal (a band
    parallel to the XZ plane lies at a y position: axis "y"); ``active_fraction`` is the fraction
    of active (most strained) atoms in the slab at ``position``, ``background`` the fraction over
    the whole configuration, and ``contrast`` = active_fraction / background (about 1 when the
    deformation is homogeneous, i.e. no band).  ``profiles`` holds the activity profiles.
    """

    axis: str
    position: float
    active_fraction: float
    background: float
    contrast: float
    threshold: float
    profiles: DFSAnalysis


def locate_shear_band(config: Configuration, strain_values, fraction: float = DEFAULT_BAND_FRACTION,
                      axes: str | Iterable[str] = "XY", slab_width: float = DEFAULT_BAND_WIDTH,
                      spacing: float | None = None) -> ShearBand:
    """The shear band as the slab richest in the most strained atoms.

    Atoms whose ``strain_values`` (e.g. D2min, or the von Mises shear strain, after loading past
    yield) are in the top ``fraction`` are *active*; the activity profile along each axis is the
    fraction of active atoms in slabs of width ``slab_width`` (the slab rules of
    :func:`fertile_site_density`), and the band is the slab centre with the highest activity over
    all ``axes``.  ``config`` should hold the **undeformed** positions (the strain measured
    against them), so that the band position is comparable with a DFS computed on the same
    configuration (:func:`figure_of_merit`).
    """
    f = _check_number("fraction of active atoms", fraction, positive=True)
    if f >= 1.0:
        raise ConfigurationError(f"the fraction of active atoms must be between 0 and 1; got {fraction!r}")
    v = _check_values(strain_values, config.count)
    valid = v[~np.isnan(v)]
    if valid.size == 0:
        raise ConfigurationError("every strain value is NaN; compute the atomic strain (e.g. D2min) first")
    threshold = float(np.quantile(valid, 1.0 - f))
    active = np.count_nonzero(valid > threshold)
    if active == 0:
        raise ConfigurationError(
            f"no atom has a strain value above the {100 * (1 - f):g}th percentile ({threshold:g}): the values are "
            "(nearly) all equal, so there is no band to locate"
        )
    profiles = dfs_analysis(config, v, axes=axes, threshold=threshold, slab_width=slab_width, spacing=spacing,
                            brittle_delta=0.0)
    axis = profiles.peak_axis
    prof = profiles.profiles[axis]
    k = int(np.nanargmax(prof.dfs))
    background = active / valid.size
    return ShearBand(axis=axis, position=float(prof.positions[k]), active_fraction=float(prof.dfs[k]),
                     background=float(background), contrast=float(prof.dfs[k] / background),
                     threshold=threshold, profiles=profiles)
