import numpy as np
import pytest

from conftest import fcc_crystal, random_glass
from ovito_glassml.descriptors.geometry import ConfigurationError, neighbor_list
from ovito_glassml.descriptors.radial import (RadialSettings, first_peak_positions, iter_radial_features,
                                              radial_feature_names, radial_features)

PEAKS = {"Cu-Cu": 2.55, "Cu-Zr": 2.8, "Zr-Zr": 3.15}
FCC_SHELLS = [(1, 12), (2, 6), (3, 24), (4, 12), (5, 24), (6, 8), (7, 48), (8, 6), (9, 36)]  # d = a sqrt(k/2)
TRUNCATION_BOUND = 200 * np.exp(-18)  # neighbours x largest dropped Gaussian tail at 6 sigma


def brute_force(cfg, settings):
    """Plain sum over a neighbour list, no truncation."""
    species = list(settings.species)
    scale = settings.scale_matrix(list(cfg.type_names))
    cutoff = settings.search_cutoff(list(cfg.type_names))
    nl = neighbor_list(cfg, cutoff)
    grid = settings.grid
    out = np.zeros((cfg.count, settings.n_features))
    out[:, -1] = 1.0
    for i, j, d in zip(nl.center, nl.neighbor, nl.distances):
        b = species.index(cfg.type_names[cfg.types[j]])
        rb = d * scale[cfg.types[i], b]
        if rb <= settings.r_max:
            out[i, b * len(grid):(b + 1) * len(grid)] += np.exp(-(grid - rb) ** 2 / (2 * settings.sigma ** 2))
    return out


def test_fcc_closed_form_absolute_and_reduced():
    a = 3.61
    cfg = fcc_crystal(a, reps=3)  # cell 10.8 A: thinner than twice the 6.6 A cutoff
    settings = RadialSettings.absolute(["Cu"])
    grid = settings.grid
    expected = sum(n * np.exp(-(grid - a * np.sqrt(k / 2)) ** 2 / (2 * settings.sigma ** 2))
                   for k, n in FCC_SHELLS if a * np.sqrt(k / 2) <= settings.r_max)
    feats = radial_features(cfg, settings, dtype=np.float64)
    for row in feats:
        np.testing.assert_allclose(row[:-1], expected, atol=TRUNCATION_BOUND)
        assert row[-1] == 1.0
    reduced = RadialSettings(["Cu"], r_max=2.9, peak_positions={"Cu-Cu": a / np.sqrt(2)})
    g = reduced.grid
    expected = sum(n * np.exp(-(g - np.sqrt(k)) ** 2 / (2 * 0.05 ** 2)) for k, n in FCC_SHELLS if np.sqrt(k) <= 2.9)
    np.testing.assert_allclose(radial_features(cfg, reduced, dtype=np.float64)[5, :-1], expected,
                               atol=TRUNCATION_BOUND)


@pytest.mark.parametrize("triclinic", [False, True])
def test_matches_brute_force_binary(triclinic):
    cfg = random_glass(150, seed=4, triclinic=triclinic)
    settings = RadialSettings(["Cu", "Zr"], peak_positions=PEAKS)
    np.testing.assert_allclose(radial_features(cfg, settings, dtype=np.float64), brute_force(cfg, settings), atol=1e-6)


def test_invariances():
    cfg = random_glass(200, seed=5, triclinic=True)
    settings = RadialSettings(["Zr", "Cu"], peak_positions=PEAKS)
    ref = radial_features(cfg, settings, dtype=np.float64)
    moved = radial_features(cfg.translated([13.1, -7.7, 101.3]), settings, dtype=np.float64)
    np.testing.assert_allclose(moved, ref, atol=1e-9)
    perm = np.random.default_rng(0).permutation(cfg.count)
    np.testing.assert_allclose(radial_features(cfg.subset(perm), settings, dtype=np.float64), ref[perm], atol=1e-9)
    pos = cfg.positions.copy()
    pos[7] += cfg.cell @ np.array([2.0, -1.0, 1.0])  # another periodic image of atom 7
    np.testing.assert_allclose(radial_features(cfg.replace(positions=pos), settings, dtype=np.float64), ref, atol=1e-9)


def test_batches_and_centres():
    cfg = random_glass(100, seed=6)
    settings = RadialSettings(["Cu", "Zr"], peak_positions=PEAKS)
    full = radial_features(cfg, settings)
    centers = np.array([5, 3, 99])
    np.testing.assert_allclose(radial_features(cfg, settings, centers), full[centers])
    batches = list(iter_radial_features(cfg, settings, batch_size=30))
    assert [len(i) for i, _ in batches] == [30, 30, 30, 10]


def test_names_and_settings_round_trip():
    settings = RadialSettings(["Cu", "Zr"], peak_positions=PEAKS)
    names = radial_feature_names(settings)
    assert len(names) == settings.n_features == 2 * 49 + 1
    assert names[0] == "G_Cu_0.60" and names[48] == "G_Cu_3.00" and names[49] == "G_Zr_0.60" and names[-1] == "bias"
    assert RadialSettings.from_dict(settings.to_dict()) == settings


def test_errors():
    with pytest.raises(ConfigurationError, match="missing \\['Cu-Zr'"):
        RadialSettings(["Cu", "Zr"], peak_positions={"Cu-Cu": 2.5, "Zr-Zr": 3.1})
    cfg = random_glass(20, seed=1, names=("Cu", "Ni"))
    with pytest.raises(ConfigurationError, match="not among the species"):
        radial_features(cfg, RadialSettings(["Cu", "Zr"], peak_positions=PEAKS))
    with pytest.raises(ConfigurationError, match="no centre atoms"):
        radial_features(random_glass(20), RadialSettings(["Cu", "Zr"], peak_positions=PEAKS), centers=[])


def test_first_peak_of_fcc():
    peaks = first_peak_positions([fcc_crystal(3.61, reps=3)], ["Cu"])
    assert abs(peaks["Cu-Cu"] - 3.61 / np.sqrt(2)) < 0.03
