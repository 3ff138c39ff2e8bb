"""Prediction modifiers in OVITO pipelines equal direct runtime calls, on every frame."""
import numpy as np
import pytest
from ovito.data import DataCollection, ParticleType
from ovito.io import import_file
from ovito.modifiers import ExpressionSelectionModifier
from ovito.pipeline import Pipeline, StaticSource

import ovito_glassml
from conftest import EXAMPLE_GLASS, random_glass
from ovito_glassml import PlasticSusceptibilityModifier, QuenchInSoftnessModifier, StructuralFlexibilityModifier
from ovito_glassml.descriptors.geometry import cube_orientations, loading_frame
from ovito_glassml.inference import load_model
from ovito_glassml.inference.demo import build_demo_models
from ovito_glassml.modifiers.convert import configuration_from_data


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return {k: str(v) for k, v in build_demo_models(tmp_path_factory.mktemp("demo_models")).items()}


@pytest.fixture(scope="module")
def glass():
    return random_glass(120, seed=5)


def to_data(cfg, selection=None):
    data = DataCollection()
    data.create_cell(np.column_stack([cfg.cell, cfg.origin]), pbc=cfg.pbc)
    if cfg.is_2d:
        data.cell_.is2D = True
    particles = data.create_particles(count=cfg.count)
    particles.create_property("Position", data=cfg.positions)
    types = particles.create_property("Particle Type", data=cfg.types + 1)
    for k, name in enumerate(cfg.type_names):
        types.types.append(ParticleType(id=k + 1, name=name))
    if selection is not None:
        particles.create_property("Selection", data=selection.astype(np.int32))
    return data


def run(cfg, *modifiers, selection=None):
    pipeline = Pipeline(source=StaticSource(data=to_data(cfg, selection)))
    for m in modifiers:
        pipeline.modifiers.append(m)
    return pipeline.compute()


def test_modifiers_are_exported_and_registered():
    import tomllib
    from pathlib import Path

    # read from pyproject.toml (an editable install's metadata is only refreshed by reinstalling)
    pyproject = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())
    names = pyproject["project"]["entry-points"]["OVITO.Modifier"]
    for cls in ("PlasticSusceptibilityModifier", "QuenchInSoftnessModifier", "StructuralFlexibilityModifier"):
        assert getattr(ovito_glassml, cls).__name__ == cls
        assert f"ovito_glassml.modifiers.prediction:{cls}" in names.values()


def test_modifiers_equal_direct_runtime_calls(demo, glass):
    data = run(glass, PlasticSusceptibilityModifier(model=demo["susceptibility"], orientation="-zx", batch_size=32),
               QuenchInSoftnessModifier(model=demo["qs"]), StructuralFlexibilityModifier(model=demo["sf"]))
    np.testing.assert_allclose(data.particles["Plastic Susceptibility"][...],
                               load_model(demo["susceptibility"]).predict(glass, frame="-zx"), rtol=1e-6)
    np.testing.assert_allclose(data.particles["Quench-in Softness"][...], load_model(demo["qs"]).predict(glass),
                               rtol=1e-12)
    np.testing.assert_allclose(data.particles["Structural Flexibility"][...], load_model(demo["sf"]).predict(glass),
                               rtol=1e-10)
    assert data.attributes["PlasticSusceptibility.Model"] == "susceptibility"
    assert data.attributes["QuenchInSoftness.Demo"] == 1


def test_shear_vectors_and_only_selected(demo, glass):
    sel = np.zeros(glass.count, bool)
    sel[::9] = True
    s, n = np.array([1.0, 1.0, 0.0]), np.array([-1.0, 1.0, 1.0])
    mod = PlasticSusceptibilityModifier(model=demo["susceptibility"], orientation="", shear_direction=tuple(s),
                                        plane_normal=tuple(n), only_selected=True)
    values = run(glass, mod, selection=sel).particles["Plastic Susceptibility"][...]
    assert np.all(np.isnan(values[~sel]))
    expected = load_model(demo["susceptibility"]).predict(glass, np.flatnonzero(sel), frame=loading_frame(s, n))
    np.testing.assert_allclose(values[sel], expected, rtol=1e-6)


def test_all_orientations_max_and_softest(demo):
    cfg = random_glass(40, seed=6)
    data = run(cfg, PlasticSusceptibilityModifier(model=demo["susceptibility"], all_orientations=True))
    table = load_model(demo["susceptibility"]).predict_orientations(cfg, [n for n, _, _ in cube_orientations()])
    np.testing.assert_allclose(data.particles["Max Plastic Susceptibility"][...], table.max(axis=0), rtol=1e-6)
    softest = data.particles["Softest Orientation"]
    np.testing.assert_array_equal(softest[...], table.argmax(axis=0))
    names = [n for n, _, _ in cube_orientations()]
    assert [t.name for t in softest.types] == names and [t.id for t in softest.types] == list(range(24))
    assert data.attributes["PlasticSusceptibility.Orientations"].split(",") == names


def test_output_property_puts_a_second_model_beside_the_first(demo):
    """The dfs model beside the susceptibility model: same numbers under its own name (also the
    maximum over orientations), attributes prefixed by that name, the default output untouched."""
    cfg = random_glass(40, seed=7)
    fertile = "Fertile Site Probability"
    data = run(cfg, PlasticSusceptibilityModifier(model=demo["susceptibility"], orientation="yz"),
               PlasticSusceptibilityModifier(model=demo["susceptibility"], orientation="yz", output_property=fertile))
    np.testing.assert_array_equal(data.particles[fertile][...], data.particles["Plastic Susceptibility"][...])
    assert data.attributes["FertileSiteProbability.Orientation"] == "yz"
    assert data.attributes["FertileSiteProbability.Model"] == "susceptibility"
    scan = run(cfg, PlasticSusceptibilityModifier(model=demo["susceptibility"], all_orientations=True,
                                                  output_property=fertile))
    table = load_model(demo["susceptibility"]).predict_orientations(cfg, [n for n, _, _ in cube_orientations()])
    np.testing.assert_allclose(scan.particles["Max " + fertile][...], table.max(axis=0), rtol=1e-6)
    np.testing.assert_array_equal(scan.particles[fertile + " Softest Orientation"][...], table.argmax(axis=0))
    assert "Plastic Susceptibility" not in scan.particles and "Softest Orientation" not in scan.particles
    with pytest.raises(Exception, match="output property name is empty"):
        run(cfg, PlasticSusceptibilityModifier(model=demo["susceptibility"], output_property="  "))


def test_errors_reach_the_user(demo, glass):
    with pytest.raises(Exception, match="no model named 'nope' is installed; see models/README.md"):
        run(glass, QuenchInSoftnessModifier(model="nope"))
    with pytest.raises(Exception, match="predicts Plastic Susceptibility, but this modifier outputs Quench-in"):
        run(glass, QuenchInSoftnessModifier(model=demo["susceptibility"]))
    with pytest.raises(Exception, match="configuration is 2D but model"):
        run(glass.replace(is_2d=True), StructuralFlexibilityModifier(model=demo["sf"]))


def write_dump(path, frames, cell_length):
    with open(path, "w") as fh:
        for step, cfg in enumerate(frames):
            fh.write(f"ITEM: TIMESTEP\n{step}\nITEM: NUMBER OF ATOMS\n{cfg.count}\n")
            fh.write("ITEM: BOX BOUNDS pp pp pp\n" + f"0 {cell_length}\n" * 3 + "ITEM: ATOMS id type x y z\n")
            for i, (t, p) in enumerate(zip(cfg.types, cfg.positions)):
                fh.write(f"{i + 1} {t + 1} {p[0]:.6f} {p[1]:.6f} {p[2]:.6f}\n")


def test_every_frame_of_a_trajectory(demo, tmp_path):
    base = random_glass(80, seed=7)
    side = base.cell[0, 0]
    moved = base.replace(positions=base.positions + np.random.default_rng(1).normal(0, 0.3, base.positions.shape))
    path = tmp_path / "traj.dump"
    write_dump(path, [base, moved], side)
    pipeline = import_file(str(path), multiple_frames=True)
    assert pipeline.num_frames == 2
    cnn = PlasticSusceptibilityModifier(model=demo["susceptibility"], type_names="1=Cu,2=Zr")
    sf = StructuralFlexibilityModifier(model=demo["sf"], type_names="1=Cu,2=Zr")
    pipeline.modifiers.append(cnn)
    pipeline.modifiers.append(sf)
    results = {}
    for frame in (1, 0, 1):  # revisit a frame: served from the cache, still that frame's values
        data = pipeline.compute(frame)
        cfg = configuration_from_data(data, "1=Cu,2=Zr")
        got = data.particles["Plastic Susceptibility"][...]
        np.testing.assert_allclose(got, load_model(demo["susceptibility"]).predict(cfg), rtol=1e-6)
        np.testing.assert_allclose(data.particles["Structural Flexibility"][...],
                                   load_model(demo["sf"]).predict(cfg), rtol=1e-10)
        results.setdefault(frame, got.copy())
    assert not np.allclose(results[0], results[1])


@pytest.mark.skipif(not EXAMPLE_GLASS.exists(), reason="the bundled example glass is not there yet")
def test_example_glass(demo):
    pipeline = import_file(str(EXAMPLE_GLASS))
    pipeline.modifiers.append(ExpressionSelectionModifier(expression="ParticleIdentifier <= 40"))
    pipeline.modifiers.append(PlasticSusceptibilityModifier(model=demo["susceptibility"], only_selected=True))
    pipeline.modifiers.append(StructuralFlexibilityModifier(model=demo["sf"]))
    data = pipeline.compute()
    cfg = configuration_from_data(data)
    sel = np.flatnonzero(data.particles["Selection"][...])
    values = data.particles["Plastic Susceptibility"][...]
    np.testing.assert_allclose(values[sel], load_model(demo["susceptibility"]).predict(cfg, sel), rtol=1e-6)
    np.testing.assert_allclose(data.particles["Structural Flexibility"][...], load_model(demo["sf"]).predict(cfg),
                               rtol=1e-10)


def test_an_ensemble_model_in_the_susceptibility_modifier(demo, tmp_path):
    import json
    import shutil

    folder = tmp_path / "ens"
    folder.mkdir()
    shutil.copytree(demo["susceptibility"], folder / "cnn")
    shutil.copytree(demo["qs"], folder / "qs")
    card = json.loads((folder / "cnn" / "card.json").read_text())
    card.update(name="ens", kind="ensemble", descriptor={"name": "members", "settings": {"members": ["cnn", "qs"]}},
                input={"shape": []}, files={"ensemble": "ensemble.json"})
    card.pop("integrity")  # a hand-made card: not sealed
    (folder / "card.json").write_text(json.dumps(card))
    (folder / "ensemble.json").write_text(json.dumps({
        "members": [{"folder": "cnn", "weight": 0.6, "mean": 0.1, "sd": 0.5},
                    {"folder": "qs", "weight": 0.4, "mean": -0.2, "sd": 2.0}],
        "calibration": {"scale": 1.5, "offset": -0.3}}))
    cfg = random_glass(60, seed=8)
    sel = np.zeros(cfg.count, bool)
    sel[::4] = True
    data = run(cfg, PlasticSusceptibilityModifier(model=str(folder), orientation="y-z", only_selected=True),
               selection=sel)
    values = data.particles["Plastic Susceptibility"][...]
    cnn, qs = load_model(folder / "cnn"), load_model(folder / "qs")

    def logit(p):
        return np.log(p / (1 - p))

    s = 0.6 * (logit(cnn.predict(cfg, frame="y-z")) - 0.1) / 0.5 + 0.4 * (logit(qs.predict(cfg)) + 0.2) / 2.0
    np.testing.assert_allclose(values[sel], (1 / (1 + np.exp(-(1.5 * s - 0.3))))[sel], rtol=1e-6)
    assert np.all(np.isnan(values[~sel])) and data.attributes["PlasticSusceptibility.Model"] == "ens"
    data = run(cfg, PlasticSusceptibilityModifier(model=str(folder), all_orientations=True))
    table = load_model(folder).predict_orientations(cfg, [n for n, _, _ in cube_orientations()])
    np.testing.assert_allclose(data.particles["Max Plastic Susceptibility"][...], table.max(axis=0), rtol=1e-6)
