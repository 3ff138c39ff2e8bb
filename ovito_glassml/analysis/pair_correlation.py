"""Orientational pair correlation g_zeta(r, theta) and g_zeta(r, phi) (Fan & Ma 2021, Eqs. 3-4).

In the loading frame (X = shear direction s, Y = plane normal n, Z = s x n; ``r' = R @ r_ij``) the
elongation direction is zeta = (s + n)/sqrt 2 = (1, 1, 0)/sqrt 2 and the contraction direction
(s - n)/sqrt 2.  For a neighbour j of centre i at distance r = |r_ij|:

* theta = arccos |r_hat . zeta_hat| in [0, pi/2] (2D and 3D);
* phi (3D only) = angle between chi_j, the component of r_ij perpendicular to zeta, and the s-n
  plane: phi = arctan(|r'_z| / |(r'_x - r'_y)/sqrt 2|) in [0, pi/2] (0: in the s-n plane).

For species beta, averaged over the centres::

    g(r, a)_beta = <sum_j delta(r - r_ij) delta(a - a_j)>_i / (kappa rho f_beta)

with rho f_beta = N_beta / V the number density of beta and kappa the measure of the bin: for
theta in 2D kappa = 4 r dr dtheta, in 3D 4 pi r^2 dr [cos(theta - dtheta/2) - cos(theta + dtheta/2)];
for phi kappa = 8 r^2 dr dphi (the paper's expressions).  We use the exact bin measures
(2 (r_hi^2 - r_lo^2) dtheta, (4 pi / 3)(r_hi^3 - r_lo^3)[...], (8/3)(r_hi^3 - r_lo^3) dphi), which equal
the paper's to O(dr^2 / r^2) (exactly in 2D) and make g = 1 for an ideal gas down to r = 0.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..descriptors.geometry import (Configuration, ConfigurationError, center_indices, frame_matrix,
                                    iter_neighbor_batches)
from ..descriptors.species import species_channels

__all__ = ["OrientationalPairCorrelation", "orientational_pair_correlation"]


@dataclass(frozen=True)
class OrientationalPairCorrelation:
    """Result of :func:`orientational_pair_correlation`.

    ``g[b, a, k]`` is g for species ``species[b]`` in angle bin a (centre ``angles[a]``, radians)
    and radial bin k (centre ``r[k]``); ``counts`` the raw pair counts summed over the centres.
    ``g`` is NaN for a species absent from the configuration.
    """

    kind: str
    species: tuple[str, ...]
    r: np.ndarray
    r_edges: np.ndarray
    angles: np.ndarray
    angle_edges: np.ndarray
    g: np.ndarray
    counts: np.ndarray
    n_centers: int


def _frame(config: Configuration, frame: np.ndarray | str) -> np.ndarray:
    return frame_matrix(frame, config.dimensions)


_centers = center_indices


def orientational_pair_correlation(config: Configuration, frame: np.ndarray | str,
                                   centers: Sequence[int] | np.ndarray | None, species: Sequence[str],
                                   r_max: float, dr: float, n_theta: int | None = None,
                                   n_phi: int | None = None, kind: str = "theta",
                                   batch_size: int = 4096) -> OrientationalPairCorrelation:
    """g_zeta(r, theta) (``kind="theta"``) or g_zeta(r, phi) (``kind="phi"``, 3D) per species.

    ``centers``: particle indices (or a boolean mask; None = all) over which g is averaged;
    ``species``: the neighbour species, by type name; ``r_max``, ``dr`` in Angstrom (sigma), the
    radial bins are [k dr, (k + 1) dr) up to r_max; ``n_theta`` / ``n_phi`` angle bins on
    [0, pi/2] (default 9, i.e. 10 degrees).  Neighbours are found with all periodic images.
    """
    if kind not in ("theta", "phi"):
        raise ConfigurationError(f"kind must be 'theta' or 'phi'; got {kind!r}")
    dims = config.dimensions
    if kind == "phi" and dims != 3:
        raise ConfigurationError("g_zeta(r, phi) needs a 3D configuration (phi is measured from the s-n plane)")
    if kind == "theta" and n_phi is not None:
        raise ConfigurationError("n_phi was given for kind='theta'; pass n_theta, or kind='phi'")
    if kind == "phi" and n_theta is not None:
        raise ConfigurationError("n_theta was given for kind='phi'; pass n_phi, or kind='theta'")
    n_angle = int((n_theta if kind == "theta" else n_phi) or 9)
    if n_angle < 1:
        raise ConfigurationError(f"the number of angle bins must be >= 1; got {n_angle}")
    r_max, dr = float(r_max), float(dr)
    if not (math.isfinite(dr) and dr > 0 and math.isfinite(r_max) and r_max >= dr):
        raise ConfigurationError(f"need 0 < dr <= r_max; got dr={dr}, r_max={r_max}")
    n_r = int(math.floor(r_max / dr + 1e-9))
    rot = _frame(config, frame)
    idx = _centers(config, centers)
    channel = species_channels(config, species)
    species = tuple(str(s) for s in species)
    n_sp = len(species)

    r_edges = dr * np.arange(n_r + 1)
    d_angle = 0.5 * math.pi / n_angle
    angle_edges = d_angle * np.arange(n_angle + 1)
    counts = np.zeros(n_sp * n_angle * n_r, dtype=np.int64)
    zeta = np.zeros(dims)
    zeta[:2] = 1.0 / math.sqrt(2.0)
    for nl in iter_neighbor_batches(config, n_r * dr, idx, batch_size=max(1, int(batch_size))):
        if len(nl) == 0:
            continue
        v = nl.vectors[:, :dims] @ rot.T
        r = nl.distances
        keep = (r > 0) & (r < n_r * dr)
        v, r, sp = v[keep], r[keep], channel[nl.neighbor[keep]]
        if kind == "theta":
            angle = np.arccos(np.minimum(np.abs(v @ zeta) / r, 1.0))
        else:
            angle = np.arctan2(np.abs(v[:, 2]), np.abs(v[:, 0] - v[:, 1]) / math.sqrt(2.0))
        a_bin = np.minimum((angle / d_angle).astype(np.int64), n_angle - 1)
        r_bin = np.minimum((r / dr).astype(np.int64), n_r - 1)
        counts += np.bincount((sp * n_angle + a_bin) * n_r + r_bin, minlength=counts.size)
    counts = counts.reshape(n_sp, n_angle, n_r)

    lo, hi = r_edges[:-1], r_edges[1:]
    a_lo, a_hi = angle_edges[:-1], angle_edges[1:]
    if kind == "theta" and dims == 2:
        kappa = 2.0 * (hi ** 2 - lo ** 2)[None, :] * d_angle * np.ones((n_angle, 1))
    elif kind == "theta":
        kappa = (4.0 * math.pi / 3.0) * (hi ** 3 - lo ** 3)[None, :] * (np.cos(a_lo) - np.cos(a_hi))[:, None]
    else:
        kappa = (8.0 / 3.0) * (hi ** 3 - lo ** 3)[None, :] * d_angle * np.ones((n_angle, 1))
    n_beta = np.bincount(channel, minlength=n_sp).astype(np.float64)
    density = n_beta / config.volume  # rho f_beta
    with np.errstate(divide="ignore", invalid="ignore"):
        g = counts / (len(idx) * kappa[None, :, :] * density[:, None, None])
    g[n_beta == 0] = np.nan
    return OrientationalPairCorrelation(
        kind=kind, species=species, r=0.5 * (lo + hi), r_edges=r_edges, angles=0.5 * (a_lo + a_hi),
        angle_edges=angle_edges, g=g, counts=counts, n_centers=len(idx),
    )
