"""Density of fertile sites, Δ, brittle verdict and γ (Fan, Ma & Falk 2022): known answers and the OVITO modifier."""
from __future__ import annotations

import numpy as np
import pytest
from ovito.data import DataCollection, DataTable
from ovito.pipeline import Pipeline, PipelineSourceInterface, PythonSource, StaticSource

from ovito_glassml.analysis.dfs import (DFSProfile, dfs_analysis, fertile_site_density, locate_shear_band,
                                        figure_of_merit)
from ovito_glassml.descriptors.geometry import Configuration, ConfigurationError


def grid_config(nx=20, ny=10, nz=2, pbc=(True, True, True), cell=None):
    """Atoms on a 1 Å grid at half-integer coordinates (never on a slab edge with ω = 5)."""
    g = np.array([[i, j, k] for i in range(nx) for j in range(ny) for k in range(nz)], dtype=float) + 0.5
    cell = np.diag([nx, ny, nz]).astype(float) if cell is None else np.asarray(cell, dtype=float)
    frac = g / [nx, ny, nz]
    return Configuration(frac @ cell.T, cell, np.zeros(len(g), dtype=int), ("Cu",), pbc=pbc)


def brute_force(config, values, axis, centres_frac, width, threshold=0.5):
    """Independent reference: minimum-image perpendicular distance to each slab's central plane."""
    i = "xyz".index(axis)
    d = config.widths[i]
    s = np.linalg.solve(config.cell, (config.positions - config.origin).T).T[:, i]
    ok = ~np.isnan(values)
    out = []
    for c in centres_frac:
        delta = (s - c) * d
        if config.pbc[i]:
            delta = delta - d * np.round(delta / d)
            delta[delta >= d / 2] -= d  # minimum image in [-d/2, d/2)
        inside = ok & (delta >= -width / 2) & (delta < width / 2)
        out.append(np.count_nonzero(inside & (values > threshold)) / np.count_nonzero(inside))
    return np.array(out)


def planes_value(config, fertile_planes, axis="x", planes=20):
    """Value 1 on the atoms whose grid plane index along ``axis`` is in ``fertile_planes``, 0 elsewhere."""
    i = "xyz".index(axis)
    idx = np.floor(config.fractional()[:, i] * planes).astype(int)
    return np.isin(idx, list(fertile_planes)).astype(float)


def test_fertile_slab_gives_hand_computed_profile():
    config = grid_config()
    values = planes_value(config, range(5, 10))  # fertile for 5 < x < 10 (planes 5.5 ... 9.5)
    prof = fertile_site_density(config, values, slab_width=5.0, axis="x", n_positions=20)
    np.testing.assert_allclose(prof.positions, np.arange(20) + 0.5)
    # the slab at c holds the 5 planes c-2 ... c+2 (100 atoms); DFS = fertile planes among them / 5
    expected = np.array([0, 0, 0, 1, 2, 3, 4, 5, 4, 3, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0]) / 5
    np.testing.assert_allclose(prof.dfs, expected, atol=1e-15)
    assert np.all(prof.counts == 100)
    np.testing.assert_array_equal(prof.fertile, (expected * 100).round().astype(int))
    assert prof.peak_position == pytest.approx(7.5)
    assert prof.spacing == pytest.approx(1.0) and prof.excluded == 0

    res = dfs_analysis(config, values, axes="XY", slab_width=5.0, n_positions=20)
    # along Y every slab has the overall fraction 5/20; Δ is max - min over both profiles pooled
    np.testing.assert_allclose(res.profiles["y"].dfs, 0.25)
    assert res.delta == pytest.approx(1.0)
    assert res.delta_per_axis == pytest.approx({"x": 1.0, "y": 0.0})
    assert res.brittle is True and res.peak_axis == "x"
    assert res.peaks["x"] == pytest.approx(7.5) and res.peaks["y"] == pytest.approx(0.25)  # 20 centres in 10 Å


def test_fertile_slab_straddling_the_periodic_boundary_wraps_around():
    config = grid_config()
    values = planes_value(config, [18, 19, 0, 1])  # x in (18, 20) and (0, 2)
    prof = fertile_site_density(config, values, slab_width=5.0, axis="x", n_positions=20)
    expected = np.array([4, 3, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4]) / 5
    np.testing.assert_allclose(prof.dfs, expected, atol=1e-15)
    assert np.all(prof.counts == 100)
    # shifting all atoms by a box length changes nothing (wrapping into the cell)
    shifted = fertile_site_density(config.translated([-20.0, 0, 0]), values, slab_width=5.0, axis="x",
                                   n_positions=20)
    np.testing.assert_allclose(shifted.dfs, expected, atol=1e-15)
    # the profile is invariant under a cyclic shift of atoms and slab grid together
    rolled = fertile_site_density(grid_config(), planes_value(grid_config(), [1, 2, 3, 4]), slab_width=5.0,
                                  axis="x", n_positions=20)
    np.testing.assert_allclose(rolled.dfs, np.roll(expected, 3), atol=1e-15)


def test_non_periodic_axis_clips_slabs_instead_of_wrapping():
    config = grid_config(pbc=(False, True, True))
    values = planes_value(config, [18, 19, 0, 1])
    prof = fertile_site_density(config, values, slab_width=5.0, axis="x", n_positions=20)
    assert list(prof.counts[:3]) == [60, 80, 100] and list(prof.counts[-3:]) == [100, 80, 60]
    np.testing.assert_allclose(prof.dfs[:3], [2 / 3, 2 / 4, 2 / 5])
    np.testing.assert_allclose(prof.dfs[-3:], [2 / 5, 2 / 4, 2 / 3])
    assert not prof.periodic


def test_uniform_values_give_zero_delta_and_ductile():
    config = grid_config()
    for v in (0.9, 0.1):
        res = dfs_analysis(config, np.full(config.count, v), slab_width=5.0)
        assert res.delta == 0.0 and res.brittle is False
        assert np.all(res.pooled_dfs() == (1.0 if v > 0.5 else 0.0))
    # the threshold is strict: exactly 0.5 is not fertile
    res = dfs_analysis(config, np.full(config.count, 0.5), slab_width=5.0)
    assert np.all(res.pooled_dfs() == 0.0)


def test_brittle_verdict_at_six_percent():
    config = grid_config()
    idx = np.floor(config.fractional()[:, 0] * 20).astype(int)
    rank = np.zeros(config.count, dtype=int)
    for p in range(20):  # rank of each atom inside its x plane (20 atoms per plane)
        rank[idx == p] = np.arange(np.count_nonzero(idx == p))

    def verdict(extra):
        # one fertile atom per x plane, plus ``extra`` more in plane 10; slabs hold 100 atoms
        values = ((rank < 1) | ((idx == 10) & (rank < 1 + extra))).astype(float)
        return dfs_analysis(config, values, axes="X", slab_width=5.0, n_positions=20)

    ductile, brittle = verdict(5), verdict(7)
    assert ductile.delta == pytest.approx(0.05) and ductile.brittle is False
    assert brittle.delta == pytest.approx(0.07) and brittle.brittle is True
    assert brittle.peaks["x"] == pytest.approx(8.5)  # first of the equal maxima (slabs at 8.5 ... 12.5)
    # the critical Δ is a parameter
    assert dfs_analysis(config, np.zeros(config.count), axes="X", slab_width=5.0, brittle_delta=-1).brittle


def test_matches_brute_force_on_random_triclinic_cell():
    rng = np.random.default_rng(3)
    cell = np.array([[20.0, 5.0, -2.0], [0.0, 16.0, 3.0], [0.0, 0.0, 12.0]])
    pos = rng.random((400, 3)) @ cell.T + rng.normal(scale=8.0, size=(400, 3))  # some atoms outside the cell
    config = Configuration(pos, cell, np.zeros(400, dtype=int), ("Cu",), origin=[1.0, -2.0, 0.5])
    values = rng.random(400)
    values[:7] = np.nan  # not evaluated: excluded
    res = dfs_analysis(config, values, axes="XYZ", slab_width=6.0, spacing=1.3)
    for axis, prof in res.profiles.items():
        np.testing.assert_allclose(prof.dfs, brute_force(config, values, axis, prof.fractional, 6.0), atol=1e-12)
        assert prof.excluded == 7
        assert prof.length == pytest.approx(config.widths["xyz".index(axis)])
        assert prof.spacing == pytest.approx(prof.length / round(prof.length / 1.3))
    # positions: centre planes measured along the face normal from the coordinate origin
    n_x = np.linalg.inv(cell)[0] / np.linalg.norm(np.linalg.inv(cell)[0])
    expected = res.profiles["x"].fractional * config.widths[0] + config.origin @ n_x
    np.testing.assert_allclose(res.profiles["x"].positions, expected)
    # the same fractional coordinates in the orthogonal cell of the same face distances give the same DFS
    ortho = np.diag(config.widths)
    same = Configuration(config.fractional() @ ortho.T, ortho, config.types, ("Cu",))
    res2 = dfs_analysis(same, values, axes="XYZ", slab_width=6.0, spacing=1.3)
    for axis in "xyz":
        np.testing.assert_allclose(res2.profiles[axis].dfs, res.profiles[axis].dfs, atol=1e-12)


def test_nan_values_are_excluded_like_absent_atoms():
    config = grid_config()
    rng = np.random.default_rng(0)
    values = rng.random(config.count)
    missing = rng.random(config.count) < 0.3
    with_nan = np.where(missing, np.nan, values)
    a = dfs_analysis(config, with_nan, slab_width=5.0)
    b = dfs_analysis(config.subset(np.flatnonzero(~missing)), values[~missing], slab_width=5.0)
    for axis in "xy":
        np.testing.assert_allclose(a.profiles[axis].dfs, b.profiles[axis].dfs)
    assert a.delta == pytest.approx(b.delta)
    with pytest.raises(ConfigurationError, match="every value is NaN"):
        fertile_site_density(config, np.full(config.count, np.nan), slab_width=5.0)


def test_input_errors_are_clear():
    config = grid_config()
    v = np.zeros(config.count)
    with pytest.raises(ConfigurationError, match="larger than the cell width 10 Å along Y"):
        dfs_analysis(config, v, axes="XY")  # default ω = 19 Å > 10 Å
    with pytest.raises(ConfigurationError, match="unknown DFS axis"):
        dfs_analysis(config, v, axes="XW", slab_width=2.0)
    with pytest.raises(ConfigurationError, match="one value per atom"):
        fertile_site_density(config, np.zeros((config.count, 3)), slab_width=2.0)
    with pytest.raises(ConfigurationError, match="values for"):
        fertile_site_density(config, v[:-1], slab_width=2.0)
    with pytest.raises(ConfigurationError, match="positive"):
        fertile_site_density(config, v, slab_width=-1.0)
    flat = Configuration(config.positions[:, :2], np.diag([20.0, 10.0, 1.0]), config.types, ("Cu",), is_2d=True)
    with pytest.raises(ConfigurationError, match="two-dimensional"):
        dfs_analysis(flat, v, axes="XYZ", slab_width=2.0)
    # auto spacing: ω / 20 rounded to fit the box
    assert len(fertile_site_density(config, v, slab_width=5.0).positions) == 80


def known_profile(dfs, periodic=True):
    dfs = np.asarray(dfs, dtype=float)
    n = len(dfs)
    return DFSProfile(axis="x", positions=np.arange(n) + 0.5, dfs=dfs, counts=np.full(n, 10),
                      fertile=np.round(dfs * 10).astype(int), fractional=(np.arange(n) + 0.5) / n,
                      slab_width=2.0, threshold=0.5, length=float(n), offset=0.0, periodic=periodic)


def test_figure_of_merit_on_known_profiles():
    prof = known_profile([0.1, 0.3, 0.5, 0.3, 0.1, 0.1])
    assert figure_of_merit(prof, 2.5) == 1.0  # band at the maximum
    assert figure_of_merit(prof, 0.5) == pytest.approx(3 / 6)  # at the minimum: the fraction of ties
    assert figure_of_merit(prof, 1.5) == pytest.approx(5 / 6)
    assert figure_of_merit(prof, 2.0) == pytest.approx(5 / 6)  # interpolated 0.4
    assert figure_of_merit(prof, 6.5) == pytest.approx(3 / 6)  # periodic: 6.5 is 0.5
    assert figure_of_merit(prof, 0.0) == pytest.approx(3 / 6)  # between 5.5 and 0.5 across the boundary
    assert figure_of_merit(prof, -3.5) == 1.0  # -3.5 is 2.5
    # for indicators where low values favour banding: fraction higher than or equal
    assert figure_of_merit(prof, 0.5, higher_is_fertile=False) == 1.0
    assert figure_of_merit(prof, 2.5, higher_is_fertile=False) == pytest.approx(1 / 6)
    # non-periodic: no interpolation across the boundary, clamped beyond the last centre
    open_prof = known_profile([0.2, 0.3, 0.5, 0.3, 0.1, 0.9], periodic=False)
    assert open_prof.value_at(0.0) == pytest.approx(0.2) and open_prof.value_at(9.0) == pytest.approx(0.9)
    assert figure_of_merit(open_prof, 6.0) == 1.0


def test_figure_of_merit_pools_the_axes_of_an_analysis():
    config = grid_config()
    values = planes_value(config, range(5, 10))
    res = dfs_analysis(config, values, axes="XY", slab_width=5.0, n_positions=20)
    # X: 20 values (max 1 at 7.5), Y: 20 values of 0.25 -> 40 locations
    assert figure_of_merit(res, 7.5, axis="x") == 1.0
    n_le_quarter = np.count_nonzero(res.pooled_dfs() <= 0.25)
    assert figure_of_merit(res, 3.0, axis="y") == pytest.approx(n_le_quarter / 40)
    assert figure_of_merit(res.profiles["x"], 0.5) == pytest.approx(11 / 20)
    with pytest.raises(ConfigurationError, match="along which axis"):
        figure_of_merit(res, 7.5)
    with pytest.raises(ConfigurationError, match="no DFS profile along 'Z'"):
        figure_of_merit(res, 7.5, axis="z")


# --- the OVITO modifier -------------------------------------------------------------------------

def data_collection(config: Configuration, values=None, name="Plastic Susceptibility",
                    data: DataCollection | None = None) -> DataCollection:
    """Cell, positions and (optionally) the property ``name``, in a new or a given (emptied) collection."""
    data = DataCollection() if data is None else data
    data.objects.clear()
    data.create_cell(np.column_stack([config.cell, config.origin]), pbc=config.pbc)
    particles = data.create_particles(count=config.count)
    particles.create_property("Position", data=config.positions)
    if values is not None:
        particles.create_property(name, data=values)
    return data


def test_modifier_tables_and_attributes_equal_direct_call():
    from ovito_glassml import FertileSiteDensityModifier

    config = grid_config(cell=[[20.0, 3.0, 0.0], [0.0, 10.0, 0.0], [0.0, 0.0, 2.0]])
    values = 0.3 + 0.4 * planes_value(config, [18, 19, 0, 1])
    pipeline = Pipeline(source=StaticSource(data=data_collection(config, values)))
    pipeline.modifiers.append(FertileSiteDensityModifier(slab_width=5.0, spacing=0.5))
    data = pipeline.compute()
    direct = dfs_analysis(config, values, axes="XY", slab_width=5.0, spacing=0.5, permutations=100)
    for axis in "xy":
        table = data.tables[f"dfs-{axis}"]
        prof = direct.profiles[axis]
        assert table.plot_mode == DataTable.PlotMode.Line
        np.testing.assert_allclose(table.x[...], prof.positions)
        np.testing.assert_allclose(table.y[...], prof.dfs)
        np.testing.assert_array_equal(table["Atoms"][...], prof.counts)
        assert "(Å)" in table.axis_label_x and "Plastic Susceptibility > 0.5" in table.axis_label_y
        assert data.attributes[f"DFS.Peak{axis.upper()}"] == pytest.approx(direct.peaks[axis])
    assert "dfs-z" not in data.tables
    assert data.attributes["DFS.Delta"] == pytest.approx(direct.delta)
    assert direct.delta == pytest.approx(np.nanmax(direct.profiles["x"].dfs)) and direct.delta > 0.5
    assert data.attributes["DFS.Brittle"] == 1
    # the noise reference (100 shuffles, seed 0, by default): a fertile slab is no accident
    assert data.attributes["DFS.DeltaNoise"] == pytest.approx(direct.delta_noise)
    assert data.attributes["DFS.DeltaPValue"] == pytest.approx(direct.delta_p_value) == pytest.approx(1 / 101)
    pipeline.modifiers[0].delegate.noise_permutations = 0
    data = pipeline.compute()
    assert "DFS.DeltaNoise" not in data.attributes and "DFS.DeltaPValue" not in data.attributes


def test_modifier_vector_component_z_axis_and_errors():
    from ovito_glassml import FertileSiteDensityModifier

    config = grid_config(nx=10, ny=10, nz=10)
    values = np.full(config.count, 0.2)
    data = data_collection(config)
    prop = data.particles_.create_property("Probabilities", dtype=float, components=["Low", "High"])
    prop[...] = np.column_stack([values, 1 - values])
    pipeline = Pipeline(source=StaticSource(data=data))
    mod = FertileSiteDensityModifier(property="Probabilities.high", axes="XYZ", slab_width=3.0)
    pipeline.modifiers.append(mod)
    out = pipeline.compute()
    assert {"dfs-x", "dfs-y", "dfs-z"} <= set(out.tables.keys())
    assert out.attributes["DFS.Delta"] == 0.0 and out.attributes["DFS.Brittle"] == 0
    assert "DFS.PeakZ" in out.attributes
    for prop_name, message in [("Plastic Susceptibility", r"no property 'Plastic Susceptibility'.*Probabilities"),
                               ("Probabilities", r"2 components \(Low, High\).*Probabilities.Low"),
                               ("Probabilities.Mid", "no component 'Mid'")]:
        mod.property = prop_name
        with pytest.raises(Exception, match=message):
            pipeline.compute()


class TwoFrames(PipelineSourceInterface):
    """Frame f: a fertile slab at planes 4f + 2 ... 4f + 6 of a 20 x 5 x 2 grid."""

    def compute_trajectory_length(self, **kwargs):
        return 2

    def create(self, data: DataCollection, *, frame: int, **kwargs):
        config = grid_config(nx=20, ny=5, nz=2)
        values = planes_value(config, range(4 * frame + 2, 4 * frame + 7))
        data_collection(config, values, data=data)  # the collection may hold the previous frame
        yield 1.0


def test_modifier_is_correct_on_every_frame():
    from ovito_glassml import FertileSiteDensityModifier

    pipeline = Pipeline(source=PythonSource(delegate=TwoFrames()))
    pipeline.modifiers.append(FertileSiteDensityModifier(axes="X", slab_width=5.0, spacing=1.0))
    assert pipeline.num_frames == 2
    peaks = [pipeline.compute(f).attributes["DFS.PeakX"] for f in (1, 0, 1)]
    assert peaks == pytest.approx([8.5, 4.5, 8.5])  # the slab moves by 4 Å
    assert pipeline.compute(0).tables["dfs-x"].y[...].max() == 1.0


# -- locating a shear band from per-atom strain ---------------------------------------------------

def _random_glass(n=6000, box=(60.0, 50.0, 20.0), seed=0):
    rng = np.random.default_rng(seed)
    pos = rng.uniform(0, 1, (n, 3)) * box
    return Configuration(pos, np.diag(box), np.zeros(n, dtype=int), ("Cu",)), rng


def test_locate_shear_band_finds_a_planted_band_and_its_axis():
    config, rng = _random_glass()
    y = config.positions[:, 1]
    strain = rng.exponential(0.1, config.count)
    strain[np.abs(y - 31.0) < 3.0] += 5.0  # a 6 Å band normal to Y at y = 31
    band = locate_shear_band(config, strain, fraction=0.05, slab_width=6.0, spacing=0.5)
    assert band.axis == "y"
    assert band.position == pytest.approx(31.0, abs=0.5)
    assert band.background == pytest.approx(0.05, abs=1e-3)
    assert band.contrast > 5  # the slab holds mostly active atoms
    # the same band seen as a vertical one: swap x and y
    swapped = Configuration(config.positions[:, [1, 0, 2]], np.diag([50.0, 60.0, 20.0]), config.types, ("Cu",))
    band2 = locate_shear_band(swapped, strain, fraction=0.05, slab_width=6.0, spacing=0.5)
    assert band2.axis == "x" and band2.position == pytest.approx(band.position)


def test_locate_shear_band_wraps_across_the_periodic_boundary_and_follows_translation():
    config, rng = _random_glass(seed=1)
    strain = rng.exponential(0.1, config.count)
    y = config.positions[:, 1]
    strain[(y < 2.0) | (y > 48.0)] += 5.0  # a band centred on the face y = 0 = 50
    band = locate_shear_band(config, strain, slab_width=4.0, spacing=0.5)
    assert band.axis == "y"
    assert min(band.position, 50.0 - band.position) <= 0.5
    # translate every atom by 17 Å along y (wrapped): the band moves with them
    moved = config.positions.copy()
    moved[:, 1] = (moved[:, 1] + 17.0) % 50.0
    band_moved = locate_shear_band(Configuration(moved, config.cell, config.types, ("Cu",)), strain,
                                   slab_width=4.0, spacing=0.5)
    d = (band_moved.position - band.position - 17.0 + 25.0) % 50.0 - 25.0
    assert abs(d) <= 0.5
    # atom order does not matter
    perm = rng.permutation(config.count)
    band_perm = locate_shear_band(Configuration(config.positions[perm], config.cell, config.types, ("Cu",)),
                                  strain[perm], slab_width=4.0, spacing=0.5)
    assert band_perm.position == band.position and band_perm.axis == band.axis


def test_figure_of_merit_is_one_when_the_fertile_sites_sit_in_the_band():
    config, rng = _random_glass(seed=2)
    y = config.positions[:, 1]
    strain = rng.exponential(0.1, config.count)
    strain[np.abs(y - 12.0) < 3.0] += 5.0
    band = locate_shear_band(config, strain, slab_width=6.0)
    fertile = (np.abs(y - 12.0) < 8.0).astype(float)  # predicted fertile sites around the band
    analysis = dfs_analysis(config, fertile, axes="XY")
    # the band sits on the DFS plateau (a 19 Å slab holds the whole 16 Å fertile region there; only
    # the random density of the atoms makes a few plateau slabs differ)
    assert figure_of_merit(analysis, band.position, axis=band.axis) > 0.95
    # fertile sites far from the band: gamma is low
    far = (np.abs(y - 37.0) < 8.0).astype(float)
    assert figure_of_merit(dfs_analysis(config, far, axes="XY"), band.position, axis=band.axis) < 0.6


def test_locate_shear_band_refuses_bad_input():
    config, rng = _random_glass(n=500, seed=3)
    with pytest.raises(ConfigurationError, match="between 0 and 1"):
        locate_shear_band(config, rng.random(500), fraction=1.5)
    with pytest.raises(ConfigurationError, match="one value per atom"):
        locate_shear_band(config, rng.random(499))
    with pytest.raises(ConfigurationError, match="no band"):
        locate_shear_band(config, np.ones(500))
    with pytest.raises(ConfigurationError, match="NaN"):
        locate_shear_band(config, np.full(500, np.nan))


def test_noise_reference_equals_placing_the_fertile_sites_by_hand():
    """Fast path (fertile counts only) against dfs_analysis of values fertile at the drawn atoms, on a triclinic
    cell with a non-periodic axis, atoms outside the cell and unevaluated atoms."""
    rng = np.random.default_rng(5)
    cell = np.array([[20.0, 5.0, -2.0], [0.0, 16.0, 3.0], [0.0, 0.0, 12.0]])
    pos = rng.random((500, 3)) @ cell.T + rng.normal(scale=4.0, size=(500, 3))
    config = Configuration(pos, cell, np.zeros(500, dtype=int), ("Cu",), pbc=(True, False, True))
    values = rng.random(500)
    values[::9] = np.nan
    res = dfs_analysis(config, values, axes="XYZ", slab_width=6.0, spacing=1.3, permutations=7, seed=11)
    ref_rng = np.random.default_rng(11)
    evaluated = np.flatnonzero(~np.isnan(values))
    n_fertile = np.count_nonzero(values[evaluated] > 0.5)
    ref = []
    for _ in range(7):
        placed = np.where(np.isnan(values), np.nan, 0.0)  # the same atoms evaluated, none fertile ...
        placed[evaluated[ref_rng.choice(len(evaluated), n_fertile, replace=False)]] = 1.0  # ... but these
        ref.append(dfs_analysis(config, placed, axes="XYZ", slab_width=6.0, spacing=1.3).delta)
    from ovito_glassml.analysis.dfs import permuted_deltas
    np.testing.assert_allclose(permuted_deltas(config, values, res.profiles, 7, seed=11), ref, atol=1e-12)
    assert res.delta_noise == pytest.approx(np.median(ref))
    assert res.delta_p_value == pytest.approx((1 + np.count_nonzero(np.array(ref) >= res.delta)) / 8)
    assert res.permutations == 7
    # the input is not modified, and no permutations means no noise reference
    assert np.count_nonzero(np.isnan(values)) == len(values[::9])
    plain = dfs_analysis(config, values, axes="XYZ", slab_width=6.0, spacing=1.3)
    assert np.isnan(plain.delta_noise) and np.isnan(plain.delta_p_value) and plain.permutations == 0


def test_noise_reference_tells_a_planted_band_from_random_sites():
    config, rng = _random_glass()
    # a band: 300 fertile atoms in the slab 20 <= x < 32, none elsewhere
    band = np.zeros(config.count)
    inside = np.flatnonzero((config.positions[:, 0] >= 20) & (config.positions[:, 0] < 32))
    band[inside[:300]] = 1.0
    res = dfs_analysis(config, band, slab_width=12.0, permutations=50)
    assert res.delta_p_value == pytest.approx(1 / 51)  # no shuffle comes close
    assert res.delta > 5 * res.delta_noise
    # the same number of fertile atoms at random places: Δ is typical of the noise
    scattered = np.zeros(config.count)
    scattered[rng.choice(config.count, 300, replace=False)] = 1.0
    res = dfs_analysis(config, scattered, slab_width=12.0, permutations=50)
    assert 0.05 < res.delta_p_value <= 1.0
    assert 0.5 < res.delta / res.delta_noise < 2.0
    with pytest.raises(ConfigurationError, match="permutations"):
        dfs_analysis(config, scattered, permutations=-1)
    with pytest.raises(ConfigurationError, match="permutations"):
        dfs_analysis(config, scattered, permutations=2.5)
