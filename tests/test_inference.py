"""Runtime: predictions of the three model kinds, streaming of SDM batches, invariances, errors."""
import json
import re
import shutil
import tomllib
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from conftest import random_glass
from ovito_glassml.descriptors.geometry import ConfigurationError, cube_orientations, orientation_frame
from ovito_glassml.descriptors.interstice import interstice_features
from ovito_glassml.descriptors.radial import radial_features
from ovito_glassml.descriptors.sdm import SDMSettings, spatial_density_map
from ovito_glassml.inference import LightGBMModel, LinearModel, OnnxCNNModel, load_model
from ovito_glassml.inference.demo import build_demo_models
from ovito_glassml.inference.cards import seal_card

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return build_demo_models(tmp_path_factory.mktemp("demo_models"))


@pytest.fixture(scope="module")
def models(demo):
    return {k: load_model(v) for k, v in demo.items()}


@pytest.fixture(scope="module")
def glass():
    return random_glass(160, seed=3)


def test_demo_models_round_trip_through_load_model(models):
    assert isinstance(models["susceptibility"], OnnxCNNModel)
    assert isinstance(models["qs"], LightGBMModel) and len(models["qs"].boosters) == 5
    assert isinstance(models["sf"], LinearModel)
    assert models["susceptibility"].property_name == "Plastic Susceptibility"
    assert models["qs"].property_name == "Quench-in Softness"
    assert models["sf"].property_name == "Structural Flexibility"
    assert models["susceptibility"].providers[-1] == "CPUExecutionProvider"


def test_cnn_equals_onnx_session_on_sdm_images(models, glass):
    model = models["susceptibility"]
    centers = np.array([5, 0, 77, 13])
    images = spatial_density_map(glass, model.card.settings, "xz", centers)
    direct = model.session.run(None, {"sdm": images})[0][:, 0]
    got = model.predict(glass, centers, frame="xz", batch_size=3)
    assert got.dtype == np.float64 and got.shape == (4,)
    np.testing.assert_allclose(got, direct, rtol=1e-6)
    assert np.all((got > 0) & (got < 1))


def test_centres_order_mask_and_duplicates(models, glass):
    model = models["susceptibility"]
    full = model.predict(glass, batch_size=50)
    assert full.shape == (glass.count,) and np.all(np.isfinite(full))
    idx = np.array([150, 3, 3, 42])
    np.testing.assert_allclose(model.predict(glass, idx, batch_size=2), full[idx], rtol=1e-6)
    mask = np.zeros(glass.count, bool)
    mask[[1, 9]] = True
    np.testing.assert_allclose(model.predict(glass, mask), full[[1, 9]], rtol=1e-6)
    with pytest.raises(ConfigurationError, match="out of range"):
        model.predict(glass, [glass.count])


def test_rotating_configuration_and_frame_together_changes_nothing(models):
    model = models["susceptibility"]
    glass = random_glass(150, seed=4, triclinic=True)
    q = Rotation.from_euler("zyx", [0.4, -1.1, 2.3]).as_matrix()
    centers = np.arange(0, 150, 10)
    for name in ("xy", "-zx"):
        r = orientation_frame(name)
        a = model.predict(glass, centers, frame=r)
        b = model.predict(glass.rotated(q), centers, frame=r @ q.T)
        np.testing.assert_allclose(a, b, atol=2e-5)


@pytest.mark.parametrize("overlap", [False, True])
def test_sdm_to_cnn_path_holds_a_bounded_number_of_batches(models, glass, monkeypatch, overlap):
    import dataclasses

    from ovito_glassml.inference.sharing import RESULTS

    model = models["susceptibility"]
    monkeypatch.setattr(model, "options", dataclasses.replace(model.options, overlap=overlap, queue_depth=2))
    RESULTS.clear()
    seen = []
    original = model.run_batch_outputs

    def spy(images):
        seen.append((images.__array_interface__["data"][0], len(images), images.shape[1:]))
        return original(images)

    monkeypatch.setattr(model, "run_batch_outputs", spy)
    out = model.predict(glass, np.arange(40), batch_size=7)
    assert out.shape == (40,)
    assert [n for _, n, _ in seen] == [7] * 5 + [5]
    buffers = len({ptr for ptr, _, _ in seen})
    if overlap:  # a pool of queue_depth + 2 buffers (producer, queue, consumer), whatever the size
        assert buffers <= 4
    else:
        assert buffers == 1  # every batch is the same reused buffer
    assert all(shape == (2, 16, 16, 16) for _, _, shape in seen)
    RESULTS.clear()


def test_predict_orientations(models, glass):
    model = models["susceptibility"]
    names = [n for n, _, _ in cube_orientations()[:3]]
    out = model.predict_orientations(glass, names, centers=[0, 1, 2])
    assert out.shape == (3, 3)
    for k, name in enumerate(names):
        np.testing.assert_allclose(out[k], model.predict(glass, [0, 1, 2], frame=name), rtol=1e-6)


def test_qs_is_mean_of_fold_probabilities(models, glass):
    model = models["qs"]
    centers = np.arange(0, 160, 7)
    x = interstice_features(glass, model.card.settings, centers)
    expected = np.mean([b.predict(x) for b in model.boosters], axis=0)
    np.testing.assert_allclose(model.predict(glass, centers), expected, rtol=1e-12)


def test_sf_is_species_weights_dot_radial_features(models, glass, demo, tmp_path):
    model = models["sf"]
    x = radial_features(glass, model.card.settings, dtype=np.float64)
    w = np.array([model.weights[glass.type_names[t]] for t in glass.types])
    np.testing.assert_allclose(model.predict(glass), np.einsum("ij,ij->i", x, w), rtol=1e-10)
    # a species with no weight vector gives NaN for its centres
    folder = tmp_path / "sf_cu_only"
    shutil.copytree(demo["sf"], folder)
    data = json.loads((folder / "weights.json").read_text())
    del data["weights"]["Zr"]
    (folder / "weights.json").write_text(json.dumps(data))
    seal_card(folder)  # changed on purpose: record the new weights file
    got = load_model(folder).predict(glass)
    zr = glass.types == glass.type_names.index("Zr")
    assert np.all(np.isnan(got[zr])) and np.all(np.isfinite(got[~zr]))


def test_wrong_dimensions_and_species_are_refused(models, glass):
    flat = glass.replace(is_2d=True)
    for model in models.values():
        with pytest.raises(ConfigurationError, match="configuration is 2D but model .* is for 3D"):
            model.predict(flat)
    alloy = glass.replace(type_names=("Cu", "Al"))
    with pytest.raises(ConfigurationError, match=r"particle type\(s\) \['Al'\]"):
        models["sf"].predict(alloy)
    with pytest.raises(ConfigurationError, match=r"particle type\(s\) \['Al'\]"):
        models["susceptibility"].predict(alloy)
    # QS sees species only through radii: it transfers to other elements (Wang & Jain 2019); an element
    # without a radius is refused by name
    fep = glass.replace(type_names=("Fe", "P"))
    qs = models["qs"].predict(fep)
    assert np.all(np.isfinite(qs))
    nb = glass.replace(type_names=("Cu", "Nb"))  # Nb's Miracle radius differs from Zr's: a different answer
    assert not np.allclose(models["qs"].predict(nb), models["qs"].predict(glass))
    with pytest.raises(ConfigurationError, match="Xx"):
        models["qs"].predict(glass.replace(type_names=("Cu", "Xx")))


def test_2d_demo_models(tmp_path):
    settings = SDMSettings.defaults(2, ("A", "B"), cutoff=2.0, spacing=0.25)
    made = build_demo_models(tmp_path, species=("A", "B"), sdm_settings=settings,
                             peak_positions={"A-A": 1.0, "A-B": 0.9, "B-B": 0.8})
    assert set(made) == {"susceptibility", "dfs", "sf"}
    rng = np.random.default_rng(0)
    from ovito_glassml.descriptors.geometry import Configuration

    cfg = Configuration(rng.random((120, 3)) * 11.0, np.eye(3) * 11.0, rng.integers(0, 2, 120), ("A", "B"),
                        is_2d=True)
    p = load_model(made["susceptibility"]).predict(cfg, np.arange(10), frame="positive_pure_shear")
    assert p.shape == (10,) and np.all(np.isfinite(p))
    with pytest.raises(ConfigurationError, match="configuration is 3D but model"):
        load_model(made["susceptibility"]).predict(cfg.replace(is_2d=False))


def test_explicit_cpu_provider(demo):
    model = load_model(demo["susceptibility"], providers=["CPUExecutionProvider"])
    assert model.providers == ["CPUExecutionProvider"]


def test_pyproject_lists_every_package():
    # the package list is explicit (models/ is mapped into the wheel): a new subpackage must be added
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "ovito_glassml").rglob("__init__.py")
             if "__pycache__" not in p.parts}
    assert found <= listed, f"add {sorted(found - listed)} to [tool.setuptools] packages in pyproject.toml"
    assert config["package-dir"]["ovito_glassml._shipped_models"] == "models"
    assert (ROOT / "models" / "__init__.py").is_file()
    assert re.search(r"\*/\*\.onnx", json.dumps(config["package-data"]))
