"""Gaussian radial structure functions (Fan, Ding & Ma 2020, Eq. 5).

    G_i^beta(r) = sum_{j in beta, rbar_ij <= rbar_c} exp(-(r - rbar_ij)^2 / (2 sigma^2))

evaluated on the grid r = r_min, r_min + sigma, ..., r_max (the bin width equals sigma, as in the
paper).  In the default *reduced* mode distances are divided by r_p, the first-peak position of
the partial g(r) of the pair (centre species, neighbour species), so rbar = r / r_p; defaults
r_min = 0.6, r_max = rbar_c = 3.0, sigma = 0.05, which gives 49 values per species.  In the
*absolute* mode (the paper's alternative) distances are in Angstrom with cutoff 6.6 A.  The
feature vector is [G^beta_1(r_1..r_K), G^beta_2(...), ..., 1]: species blocks in the settings'
order and a constant bias entry 1 last, so a linear model w . x carries its intercept in w.

Each Gaussian is evaluated only within +-``truncation`` sigma of its centre (default 6, so a
dropped term is below exp(-18) = 1.5e-8 per neighbour); the centre atom itself is excluded.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterator, Mapping, Sequence

import numba
import numpy as np

from ._celllist import bin_images
from .geometry import Configuration, ConfigurationError, center_indices, warn_coincident
from .species import species_channels

__all__ = ["RadialSettings", "radial_features", "iter_radial_features", "radial_feature_names", "pair_key"]


def pair_key(a: str, b: str) -> str:
    """Canonical key of an unordered species pair, e.g. ``pair_key("Zr", "Cu") == "Cu-Zr"``."""
    return "-".join(sorted((a, b)))


@dataclass(frozen=True)
class RadialSettings:
    """Parameters of the radial structure functions.

    species : neighbour species blocks, in order (type names).
    mode : ``"reduced"`` (distances / r_p, dimensionless) or ``"absolute"`` (Angstrom).
    r_min, r_max, sigma : grid start, cutoff (= last grid point) and Gaussian width = grid step.
    peak_positions : r_p in Angstrom per unordered species pair ("Cu-Zr"); reduced mode only.
    truncation : Gaussians are evaluated within +-truncation*sigma.
    bias : append the constant entry 1.
    """

    species: tuple[str, ...]
    mode: str = "reduced"
    r_min: float = 0.6
    r_max: float = 3.0
    sigma: float = 0.05
    peak_positions: Mapping[str, float] = field(default_factory=dict)
    truncation: float = 6.0
    bias: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "species", tuple(str(s) for s in self.species))
        object.__setattr__(self, "peak_positions",
                           {pair_key(*k.split("-")): float(v) for k, v in dict(self.peak_positions).items()})
        if not self.species:
            raise ConfigurationError("radial features need at least one species")
        if self.mode not in ("reduced", "absolute"):
            raise ConfigurationError(f"mode must be 'reduced' or 'absolute'; got {self.mode!r}")
        if not (self.sigma > 0 and self.r_max > self.r_min >= 0):
            raise ConfigurationError("radial grid needs sigma > 0 and r_max > r_min >= 0")
        if self.mode == "reduced":
            missing = [pair_key(a, b) for i, a in enumerate(self.species) for b in self.species[i:]
                       if pair_key(a, b) not in self.peak_positions]
            if missing:
                raise ConfigurationError(
                    f"reduced radial features need the first-peak position r_p of every species pair; "
                    f"missing {missing}. Give peak_positions={{'Cu-Zr': 2.7, ...}} (Angstrom), e.g. from "
                    "first_peak_positions(), or use mode='absolute'"
                )
            bad = {k: v for k, v in self.peak_positions.items() if not v > 0}
            if bad:
                raise ConfigurationError(f"peak positions must be positive; got {bad}")

    @classmethod
    def absolute(cls, species: Sequence[str], r_min: float = 1.6, r_max: float = 6.6, sigma: float = 0.125,
                 **kw) -> "RadialSettings":
        """Absolute-distance settings (Angstrom): cutoff 6.6 A as in Fan, Ding & Ma's alternative."""
        return cls(species=tuple(species), mode="absolute", r_min=r_min, r_max=r_max, sigma=sigma, **kw)

    @property
    def grid(self) -> np.ndarray:
        n = int(math.floor((self.r_max - self.r_min) / self.sigma + 1e-6)) + 1
        return self.r_min + self.sigma * np.arange(n)

    @property
    def n_features(self) -> int:
        return len(self.species) * len(self.grid) + int(self.bias)

    def scale_matrix(self, center_species: Sequence[str]) -> np.ndarray:
        """(len(center_species), len(species)) matrix of 1/r_p (reduced) or 1 (absolute)."""
        out = np.ones((len(center_species), len(self.species)))
        if self.mode == "reduced":
            for a, ca in enumerate(center_species):
                for b, cb in enumerate(self.species):
                    key = pair_key(ca, cb)
                    if key not in self.peak_positions:
                        raise ConfigurationError(
                            f"no first-peak position r_p for the pair {key}; add it to peak_positions")
                    out[a, b] = 1.0 / self.peak_positions[key]
        return out

    def search_cutoff(self, center_species: Sequence[str]) -> float:
        """Largest real-space distance (Angstrom) at which a neighbour can count."""
        return float(self.r_max / self.scale_matrix(center_species).min())

    def to_dict(self) -> dict:
        return {"species": list(self.species), "mode": self.mode, "r_min": self.r_min, "r_max": self.r_max,
                "sigma": self.sigma, "peak_positions": dict(self.peak_positions), "truncation": self.truncation,
                "bias": self.bias}

    @classmethod
    def from_dict(cls, d: Mapping) -> "RadialSettings":
        return cls(species=tuple(d["species"]), mode=d.get("mode", "reduced"), r_min=d["r_min"], r_max=d["r_max"],
                   sigma=d["sigma"], peak_positions=d.get("peak_positions", {}),
                   truncation=d.get("truncation", 6.0), bias=d.get("bias", True))


def radial_feature_names(settings: RadialSettings) -> list[str]:
    """Names like ``G_Cu_0.60`` (reduced) or ``G_Cu_1.600A`` (absolute), then ``bias``."""
    names = []
    for sp in settings.species:
        for r in settings.grid:
            names.append(f"G_{sp}_{r:.2f}" if settings.mode == "reduced" else f"G_{sp}_{r:.3f}A")
    if settings.bias:
        names.append("bias")
    return names


@numba.njit(parallel=True, cache=True)
def _radial_kernel(centers, center_ids, center_ch, img_pos, img_index, img_ch, bin_start, lower, bin_width, dims,
                   reach, scale, r_max, r_min, sigma, trunc, n_grid, out):  # pragma: no cover - compiled
    n_species = scale.shape[1]
    decay = math.exp(-1.0)
    for m in numba.prange(centers.shape[0]):
        px, py, pz = centers[m, 0], centers[m, 1], centers[m, 2]
        ci = center_ids[m]
        a = center_ch[m]
        bx = min(max(int((px - lower[0]) / bin_width[0]), 0), dims[0] - 1)
        by = min(max(int((py - lower[1]) / bin_width[1]), 0), dims[1] - 1)
        bz = min(max(int((pz - lower[2]) / bin_width[2]), 0), dims[2] - 1)
        for ix in range(max(bx - reach, 0), min(bx + reach + 1, dims[0])):
            for iy in range(max(by - reach, 0), min(by + reach + 1, dims[1])):
                z0 = (ix * dims[1] + iy) * dims[2]
                # bins along z are contiguous in memory: one run over [bz - reach, bz + reach]
                k0 = bin_start[z0 + max(bz - reach, 0)]
                k1 = bin_start[z0 + min(bz + reach + 1, dims[2])]
                for k in range(k0, k1):
                    dx = img_pos[k, 0] - px
                    dy = img_pos[k, 1] - py
                    dz = img_pos[k, 2] - pz
                    d = math.sqrt(dx * dx + dy * dy + dz * dz)
                    if d == 0.0 and img_index[k] == ci:
                        continue
                    b = img_ch[k]
                    rb = d * scale[a, b]
                    if rb > r_max:
                        continue
                    lo = int(math.ceil((rb - trunc * sigma - r_min) / sigma))
                    hi = int(math.floor((rb + trunc * sigma - r_min) / sigma))
                    if lo < 0:
                        lo = 0
                    if hi > n_grid - 1:
                        hi = n_grid - 1
                    if lo > hi:
                        continue
                    # Gaussians on the grid by recurrence: with t_g = (r_g - rb) / sigma and grid
                    # step sigma, e_{g+1} = e_g q_g, q_g = exp(-t_g - 1/2), q_{g+1} = q_g / e
                    t = (r_min + lo * sigma - rb) / sigma
                    e = math.exp(-0.5 * t * t)
                    q = math.exp(-t - 0.5)
                    base = b * n_grid
                    for g in range(lo, hi + 1):
                        out[m, base + g] += e
                        e *= q
                        q *= decay
        if out.shape[1] > n_species * n_grid:
            out[m, n_species * n_grid] = 1.0


def iter_radial_features(config: Configuration, settings: RadialSettings, centers: np.ndarray | None = None,
                         batch_size: int = 65536, dtype=np.float32) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(center_indices, features (B, n_features))`` in batches; the image bins are built once."""
    if config.count == 0:
        raise ConfigurationError("the configuration has no particles")
    centers = center_indices(config, centers)
    neighbour_ch = species_channels(config, settings.species)
    # the centre species may include types that are not neighbour blocks only if r_p is known
    center_names = list(config.type_names)
    used = sorted(set(config.types[centers].tolist()))
    scale_all = np.ones((len(center_names), len(settings.species)))
    scale_used = settings.scale_matrix([center_names[t] for t in used])
    scale_all[used] = scale_used
    cutoff = settings.search_cutoff([center_names[t] for t in used])
    warn_coincident(config, "the radial structure functions")
    bins = bin_images(config, cutoff, subdivisions=2)
    img_ch = neighbour_ch[bins.index]
    grid = settings.grid
    for start in range(0, len(centers), batch_size):
        idx = centers[start:start + batch_size]
        out = np.zeros((len(idx), settings.n_features), dtype=np.float64)
        _radial_kernel(bins.centers[idx], idx, config.types[idx], bins.positions, bins.index, img_ch, bins.bin_start,
                       bins.lower, bins.bin_width, bins.dims, 2, scale_all, float(settings.r_max), float(grid[0]),
                       float(settings.sigma), float(settings.truncation), len(grid), out)
        yield idx, out.astype(dtype, copy=False)


def radial_features(config: Configuration, settings: RadialSettings, centers: np.ndarray | None = None,
                    dtype=np.float32) -> np.ndarray:
    """Radial structure functions of ``centers`` (default all), shape (len(centers), n_features)."""
    parts = [feat for _, feat in iter_radial_features(config, settings, centers, dtype=dtype)]
    return np.concatenate(parts, axis=0)


def first_peak_positions(configs: Sequence[Configuration], species: Sequence[str], r_max: float = 4.0,
                         bin_width: float = 0.02, smoothing: float = 0.05) -> dict[str, float]:
    """First-peak position (Angstrom) of every partial g(r), from Gaussian-smoothed pair histograms.

    Used to fix r_p for the reduced radial features from training glasses (stored in the card).
    """
    from .geometry import neighbor_list  # noqa: PLC0415

    species = [str(s) for s in species]
    edges = np.arange(0.0, r_max + bin_width, bin_width)
    centers_r = 0.5 * (edges[1:] + edges[:-1])
    hist: dict[str, np.ndarray] = {}
    for cfg in configs:
        ch = species_channels(cfg, species)
        nl = neighbor_list(cfg, r_max)
        for a in range(len(species)):
            for b in range(a, len(species)):
                sel = ((ch[nl.center] == a) & (ch[nl.neighbor] == b))
                h, _ = np.histogram(nl.distances[sel], bins=edges)
                key = pair_key(species[a], species[b])
                hist[key] = hist.get(key, 0) + h
    kernel_x = np.arange(-4 * smoothing, 4 * smoothing + bin_width, bin_width)
    kernel = np.exp(-kernel_x ** 2 / (2 * smoothing ** 2))
    out = {}
    for key, h in hist.items():
        g = np.convolve(h / np.maximum(centers_r ** 2, 1e-12), kernel, mode="same")
        if not np.any(h):
            raise ConfigurationError(f"no {key} pairs within {r_max} A: cannot locate the first peak")
        out[key] = float(centers_r[int(np.argmax(g))])
    return out
