"""Orientational pair correlation g_zeta(r, theta), g_zeta(r, phi) (Fan & Ma 2021, Eqs. 3-4)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from ovito_glassml.analysis.pair_correlation import orientational_pair_correlation
from ovito_glassml.descriptors.geometry import Configuration, ConfigurationError, loading_frame


def ideal_gas(n, density, seed, is_2d=False):
    rng = np.random.default_rng(seed)
    if is_2d:
        side = math.sqrt(n / density)
        cell = np.diag([side, side, 1.0])
    else:
        side = (n / density) ** (1 / 3)
        cell = np.eye(3) * side
    pos = rng.uniform(0, side, (n, 3))
    return Configuration(pos, cell, rng.integers(0, 2, n), ("Cu", "Zr"), is_2d=is_2d)


@pytest.mark.parametrize("kind,dims", [("theta", 3), ("phi", 3), ("theta", 2)])
def test_ideal_gas_is_one_at_all_angles(kind, dims):
    cfg = ideal_gas(6000, 0.05 if dims == 3 else 0.5, seed=dims, is_2d=dims == 2)
    frame = loading_frame([1, 2, 0], [-2, 1, 3]) if dims == 3 else loading_frame([1, 2], [-2, 1], dimensions=2)
    r_max = 6.0 if dims == 3 else 4.0
    kw = {"n_theta": 6} if kind == "theta" else {"n_phi": 6}
    res = orientational_pair_correlation(cfg, frame, None, ("Cu", "Zr"), r_max, r_max / 12, kind=kind, **kw)
    assert res.g.shape == (2, 6, 12) and res.kind == kind and res.n_centers == cfg.count
    expected = res.counts / res.g  # the ideal-gas count in each bin
    sel = expected > 50
    assert sel.sum() > 0.7 * sel.size
    # Poisson noise, doubled because each pair is counted from both ends
    z = (res.g[sel] - 1) / np.sqrt(2 / expected[sel])
    assert np.abs(z).max() < 5.0
    assert abs(np.average(res.g[sel], weights=expected[sel]) - 1) < 0.01
    assert np.allclose(res.angles, (np.arange(6) + 0.5) * math.pi / 12)


def test_hand_constructed_3d():
    # one Cu centre in an open box, frame = box axes: zeta = (x + y)/sqrt2
    s2 = 1 / math.sqrt(2)
    centre = np.array([20.0, 20.0, 20.0])
    rel = np.array([
        [2.05 * s2, 2.05 * s2, 0.0],    # Zr along zeta: theta = 0, phi undefined-ish (r_perp = 0 -> 0)
        [0.0, 0.0, 3.3],                # Cu along z: theta = pi/2, phi = pi/2
        [3.3 * s2, -3.3 * s2, 0.0],     # Cu along the contraction direction: theta = pi/2, phi = 0
        [-2.6 * s2, -2.6 * s2, 0.0],    # Zr along -zeta: theta = 0 (|r.zeta|)
    ])
    pos = np.vstack([centre, centre + rel])
    cfg = Configuration(pos, np.eye(3) * 40.0, [0, 1, 0, 0, 1], ("Cu", "Zr"), pbc=(False,) * 3)
    vol = 40.0 ** 3
    dr, n = 0.5, 3
    res = orientational_pair_correlation(cfg, np.eye(3), [0], ("Cu", "Zr"), 4.0, dr, n_theta=n)
    expect = np.zeros_like(res.g)
    d = math.pi / 2 / n

    def kappa_theta(k, a):
        return 4 * math.pi / 3 * (((k + 1) * dr) ** 3 - (k * dr) ** 3) * (math.cos(a * d) - math.cos((a + 1) * d))

    expect[1, 0, 4] = 1 / (kappa_theta(4, 0) * 2 / vol)   # Zr at r = 2.05, theta = 0
    expect[1, 0, 5] = 1 / (kappa_theta(5, 0) * 2 / vol)   # Zr at r = 2.6
    expect[0, 2, 6] = 2 / (kappa_theta(6, 2) * 3 / vol)   # two Cu at r = 3.3, theta = pi/2
    assert np.allclose(res.g, expect, rtol=1e-12)
    assert res.counts.sum() == 4
    res = orientational_pair_correlation(cfg, np.eye(3), [0], ("Cu", "Zr"), 4.0, dr, n_phi=n, kind="phi")
    kappa_phi = 8 / 3 * ((7 * dr) ** 3 - (6 * dr) ** 3) * d
    assert res.g[0, 2, 6] == pytest.approx(1 / (kappa_phi * 3 / vol))  # Cu along z: phi = pi/2
    assert res.g[0, 0, 6] == pytest.approx(1 / (kappa_phi * 3 / vol))  # Cu along s - n: phi = 0
    # a frame rotated by 90 degrees about z swaps zeta and the contraction direction
    frame = loading_frame([0, 1, 0], [-1, 0, 0])
    res = orientational_pair_correlation(cfg, frame, [0], ("Cu", "Zr"), 4.0, dr, n_theta=n)
    assert res.counts[1, 2].sum() == 2 and res.counts[0, 0, 6] == 1 and res.counts[0, 2, 6] == 1


def test_hand_constructed_2d_kappa_is_paper_value():
    centre = np.array([10.0, 10.0, 0.0])
    s2 = 1 / math.sqrt(2)
    pos = np.vstack([centre, centre + [1.1 * s2, 1.1 * s2, 0], centre + [0.3, 1.3, 0]])
    cfg = Configuration(pos, np.diag([20.0, 20.0, 1.0]), [0, 0, 1], ("S", "L"), pbc=(False,) * 3, is_2d=True)
    dr, n = 0.2, 4
    res = orientational_pair_correlation(cfg, np.eye(2), [0], ("S", "L"), 2.0, dr, n_theta=n)
    area = 400.0
    d = math.pi / 2 / n
    # paper: kappa = 4 r dr dtheta with r the bin centre; r = 1.1 in bin 5 (centre 1.1)
    assert res.g[0, 0, 5] == pytest.approx(1 / (4 * 1.1 * dr * d * 2 / area))
    # (0.3, 1.3): r = 1.334 (bin 6, centre 1.3), theta = 45 - 13 = 32 degrees -> bin 1 of 4
    assert res.g[1, 1, 6] == pytest.approx(1 / (4 * 1.3 * dr * d * 1 / area))
    assert res.counts.sum() == 2


def test_errors():
    cfg2 = ideal_gas(50, 0.5, 0, is_2d=True)
    cfg3 = ideal_gas(50, 0.05, 0)
    with pytest.raises(ConfigurationError, match="3D configuration"):
        orientational_pair_correlation(cfg2, np.eye(2), None, ("Cu", "Zr"), 3.0, 0.1, n_phi=4, kind="phi")
    with pytest.raises(ConfigurationError, match="n_phi was given"):
        orientational_pair_correlation(cfg3, np.eye(3), None, ("Cu", "Zr"), 3.0, 0.1, n_phi=4)
    with pytest.raises(ConfigurationError, match="3x3 loading frame"):
        orientational_pair_correlation(cfg3, np.eye(2), None, ("Cu", "Zr"), 3.0, 0.1)
    with pytest.raises(ConfigurationError, match="no centre"):
        orientational_pair_correlation(cfg3, np.eye(3), [], ("Cu", "Zr"), 3.0, 0.1)
    with pytest.raises(ConfigurationError, match="not among the species"):
        orientational_pair_correlation(cfg3, np.eye(3), None, ("Cu",), 3.0, 0.1)
    res = orientational_pair_correlation(cfg3, "xy", [0, 1], ("Cu", "Zr", "Al"), 3.0, 0.5)
    assert np.all(np.isnan(res.g[2])) and res.g.shape == (3, 9, 6)
