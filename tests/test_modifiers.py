"""OVITO pipeline round trips of the descriptor modifiers on the bundled example glass."""
import numpy as np
import pytest
from ovito.data import DataCollection, ParticleType
from ovito.io import import_file
from ovito.modifiers import ExpressionSelectionModifier
from ovito.pipeline import Pipeline, StaticSource

from ovito_glassml import IntersticeFeaturesModifier, RadialFeaturesModifier, SpatialDensityMapModifier
from ovito_glassml.descriptors.geometry import ConfigurationError, orientation_frame
from ovito_glassml.descriptors.interstice import INTERSTICE_FEATURE_NAMES, IntersticeSettings, interstice_features
from ovito_glassml.descriptors.radial import RadialSettings, radial_feature_names, radial_features
from ovito_glassml.descriptors.sdm import SDMSettings, spatial_density_map
from ovito_glassml.modifiers.convert import configuration_from_data, parse_type_names

PEAKS = "Cu-Cu=2.5,Cu-Zr=2.75,Zr-Zr=3.15"


@pytest.fixture(scope="module")
def example(example_glass_path):
    data = import_file(str(example_glass_path)).compute()
    return str(example_glass_path), configuration_from_data(data)


def test_example_glass_is_read_with_named_types(example):
    _, config = example
    assert set(config.type_names) == {"Cu", "Zr"}
    assert config.count >= 1000 and config.pbc == (True, True, True)


def test_radial_modifier_equals_direct_call(example):
    path, config = example
    pipeline = import_file(path)
    pipeline.modifiers.append(RadialFeaturesModifier(species="Cu,Zr", peak_positions=PEAKS))
    data = pipeline.compute()
    prop = data.particles["Radial Features"]
    settings = RadialSettings(["Cu", "Zr"], peak_positions={"Cu-Cu": 2.5, "Cu-Zr": 2.75, "Zr-Zr": 3.15})
    assert list(prop.component_names) == [n.replace('.', 'p') for n in radial_feature_names(settings)]
    assert prop.component_names[0] == 'G_Cu_0p60'
    np.testing.assert_allclose(prop[...], radial_features(config, settings, dtype=np.float64), atol=1e-12)
    assert "Cu-Zr=2.750" in data.attributes["RadialFeatures.PeakPositions"]


def test_interstice_modifier_equals_direct_call(example):
    path, config = example
    pipeline = import_file(path)
    pipeline.modifiers.append(IntersticeFeaturesModifier())
    prop = pipeline.compute().particles["Interstice Features"]
    assert list(prop.component_names) == list(INTERSTICE_FEATURE_NAMES)
    np.testing.assert_allclose(prop[...], interstice_features(config, IntersticeSettings()), atol=1e-12)


def test_sdm_modifier_mean_grid_and_per_atom_file(example, tmp_path):
    path, config = example
    pipeline = import_file(path)
    pipeline.modifiers.append(ExpressionSelectionModifier(expression="ParticleIdentifier <= 12"))
    out = tmp_path / "maps.npy"
    mod = SpatialDensityMapModifier(orientation="-zx", species="Cu,Zr", cutoff=4.8, spacing=0.6,
                                    output_file=str(out), batch_size=5)
    pipeline.modifiers.append(mod)
    data = pipeline.compute()
    selected = np.flatnonzero(data.particles["Particle Identifier"][...] <= 12)
    settings = SDMSettings(cutoff=4.8, spacing=0.6, species=("Cu", "Zr"), dimensions=3)
    direct = spatial_density_map(config, settings, orientation_frame("-zx"), selected)
    maps = np.load(out)
    assert maps.shape == (len(selected), 2, 16, 16, 16)
    np.testing.assert_allclose(maps, direct, rtol=1e-5, atol=1e-6)
    grid = data.grids["sdm"]
    assert tuple(grid.shape) == (16, 16, 16)
    for c, name in enumerate(["Cu", "Zr"]):
        np.testing.assert_allclose(grid[f"Density {name}"][...], direct[:, c].mean(0).ravel(), rtol=1e-5, atol=1e-6)
    assert data.attributes["SDM.Count"] == len(selected)


def test_trajectory_frames_are_each_computed(example, tmp_path):
    """A two-frame file: the modifier result follows the frame."""
    from ovito.io import export_file

    path, config = example
    pipeline = import_file(path)
    traj = tmp_path / "traj.dump"
    export_file(pipeline, str(traj), "lammps/dump", columns=["Particle Identifier", "Particle Type", "Position.X",
                                                             "Position.Y", "Position.Z"], frame=0)
    text = traj.read_text()
    lines = text.splitlines()
    # second frame: every atom moved by the same vector (features must not change) ...
    shifted = lines[:9] + [" ".join(l.split()[:2] + [str(float(x) + 1.5) for x in l.split()[2:]]) for l in lines[9:]]
    shifted[1] = "1"
    traj.write_text(text + "\n".join(shifted) + "\n")
    pipe = import_file(str(traj), multiple_frames=True)
    pipe.modifiers.append(RadialFeaturesModifier(species="Cu,Zr", peak_positions=PEAKS, type_names="1=Cu,2=Zr"))
    assert pipe.num_frames == 2
    a = pipe.compute(0).particles["Radial Features"][...]
    b = pipe.compute(1).particles["Radial Features"][...]
    np.testing.assert_allclose(a, b, atol=1e-9)


def _hand_made(with_types=True, named=True):
    data = DataCollection()
    cell = data.create_cell(np.eye(3) * 12.0, pbc=(True, True, True))
    parts = data.create_particles(count=3)
    parts.create_property("Position", data=[[0, 0, 0], [2.5, 0, 0], [0, 2.5, 0]])
    if with_types:
        ptype = parts.create_property("Particle Type", data=[1, 2, 1])
        ptype.types.append(ParticleType(id=1, name="Cu" if named else ""))
        ptype.types.append(ParticleType(id=2, name="Zr" if named else ""))
    return data, cell


def test_clear_errors_for_bad_input():
    data, _ = _hand_made(with_types=False)
    with pytest.raises(ConfigurationError, match="no 'Particle Type' property"):
        configuration_from_data(data)
    data, _ = _hand_made(named=False)
    with pytest.raises(ConfigurationError, match=r"type\(s\) \[1, 2\] have no name"):
        configuration_from_data(data)
    assert configuration_from_data(data, "1=Cu,2=Zr").type_names == ("Cu", "Zr")
    with pytest.raises(ConfigurationError, match="1=Cu,2=Zr"):
        parse_type_names("Cu,Zr")


def test_modifier_errors_reach_the_pipeline():
    data, _ = _hand_made(named=False)
    pipeline = Pipeline(source=StaticSource(data=data))
    pipeline.modifiers.append(RadialFeaturesModifier(mode="absolute", r_min=1.0, r_max=4.0, sigma=0.2))
    with pytest.raises(Exception, match="have no name"):
        pipeline.compute()


def test_input_is_not_modified(example):
    path, _ = example
    source = import_file(path).compute()
    before = source.particles.positions[...].copy()
    pipeline = Pipeline(source=StaticSource(data=source))
    pipeline.modifiers.append(RadialFeaturesModifier(species="Cu,Zr", peak_positions=PEAKS))
    pipeline.compute()
    assert "Radial Features" not in source.particles
    np.testing.assert_array_equal(source.particles.positions[...], before)
