"""Bad input never ends the process and never gives numbers silently: clear errors, or warnings where it can run."""
import re
import warnings

import numpy as np
import pytest

from conftest import random_glass
from ovito_glassml.descriptors.geometry import (CoincidentAtomsWarning, ConfigurationError, coincident_pairs)
from ovito_glassml.descriptors.interstice import interstice_features, voronoi_neighbors
from ovito_glassml.descriptors.radial import RadialSettings, radial_features
from ovito_glassml.descriptors.sdm import SDMSettings, spatial_density_map


def _spread_glass(n=60, seed=2):
    """Random positions at least 1.2 A apart (no accidental close pairs)."""
    cfg = random_glass(n, seed=seed)
    rng = np.random.default_rng(seed)
    pos = cfg.positions.copy()
    for i in range(n):
        while True:
            d = pos[:i] - pos[i]
            d -= cfg.cell[0, 0] * np.round(d / cfg.cell[0, 0])
            if i == 0 or np.min(np.linalg.norm(d, axis=1)) > 1.2:
                break
            pos[i] = rng.random(3) * cfg.cell[0, 0]
    return cfg.replace(positions=pos)


def _with_duplicate(cfg, i=7, j=3, offset=(0.0, 0.0, 0.0)):
    pos = cfg.positions.copy()
    pos[i] = pos[j] + np.asarray(offset)
    return cfg.replace(positions=pos)


# -- coincident atoms ---------------------------------------------------------------------------
@pytest.mark.parametrize("offset", [(0.0, 0.0, 0.0), (1e-6, 0.0, 0.0), (0.004, -0.003, 0.002)])
def test_coincident_atoms_are_named_before_the_tessellation(offset):
    """voro++ ends the process ('Duplicate: 7 (...) matches 3') on two atoms at one position; they are refused first."""
    cfg = _with_duplicate(_spread_glass(), offset=offset)
    with pytest.raises(ConfigurationError, match=r"1 pair\(s\) of atoms are closer than 0.01 .*atom 3 at \(.*\) and "
                                                 r"atom 7 at .* apart.*Remove the duplicated atoms"):
        interstice_features(cfg)
    with pytest.raises(ConfigurationError, match="Voronoi tessellation"):
        voronoi_neighbors(cfg)


def test_a_duplicate_through_the_periodic_boundary_is_found():
    cfg = _spread_glass()
    side = cfg.cell[0, 0]
    cfg = _with_duplicate(cfg, offset=(side, 0.0, -side))  # the same point, one period away
    pairs, dist = coincident_pairs(cfg)
    assert pairs.tolist() == [[3, 7]] and dist[0] < 1e-9
    with pytest.raises(ConfigurationError, match="atom 3 .* and atom 7"):
        interstice_features(cfg)
    # not periodic along x: the copy lies a whole cell away, a different place
    assert len(coincident_pairs(cfg.replace(pbc=(False, True, True)))[0]) == 0


def test_paths_without_a_tessellation_warn_and_still_run():
    cfg = _with_duplicate(_spread_glass())
    with pytest.warns(CoincidentAtomsWarning, match=r"atom 3 .* and atom 7 .*spatial density maps"):
        maps = spatial_density_map(cfg, SDMSettings(cutoff=3.0, spacing=0.6), "xy", [0, 3])
    assert np.all(np.isfinite(maps))
    with pytest.warns(CoincidentAtomsWarning, match="radial structure functions"):
        feats = radial_features(cfg, RadialSettings.absolute(("Cu", "Zr")))
    assert np.all(np.isfinite(feats))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a clean glass gives no warning
        radial_features(_spread_glass(), RadialSettings.absolute(("Cu", "Zr")))


# -- helpers for the OVITO and command-line tests -----------------------------------------------
def to_data(cfg, names=True, ids=True):
    """An OVITO DataCollection of ``cfg`` (types named after cfg.type_names, or bare numbers)."""
    from ovito.data import DataCollection, ParticleType

    data = DataCollection()
    data.create_cell(np.column_stack([cfg.cell, cfg.origin]), pbc=cfg.pbc)
    particles = data.create_particles(count=cfg.count)
    particles.create_property("Position", data=cfg.positions)
    if ids:
        particles.create_property("Particle Identifier", data=np.arange(1, cfg.count + 1) * 10)
    types = particles.create_property("Particle Type", data=cfg.types + 1)
    for k, name in enumerate(cfg.type_names):
        types.types.append(ParticleType(id=k + 1, name=name if names else ""))
    return data


def write_data_file(cfg, path, names=True):
    from ovito.io import export_file

    export_file(to_data(cfg, names), str(path), "lammps/data", atom_style="atomic")
    return path


@pytest.fixture(scope="module")
def demo_models(tmp_path_factory):
    from ovito_glassml.inference.demo import build_demo_models

    folder = tmp_path_factory.mktemp("demo_models")
    build_demo_models(folder)
    return folder


def predict(args, capsys):
    from ovito_glassml.cli import main

    rc = main(["predict", *map(str, args)])
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


# -- 4: type names that contradict the file's ---------------------------------------------------
def test_type_names_that_contradict_the_input_are_refused_unless_said_so():
    from ovito_glassml.modifiers.convert import apply_type_names, configuration_from_data

    cfg = _spread_glass()
    data = to_data(cfg)  # types 1 = Cu, 2 = Zr
    with pytest.raises(ConfigurationError, match=r"type 1 'Zr', type 2 'Cu'\) contradict the names the input "
                                                 r"already gives \(type 1 'Cu', type 2 'Zr'\).*--rename-types"):
        configuration_from_data(data, "1=Zr,2=Cu")
    assert configuration_from_data(data, "1=Cu,2=Zr").type_names == ("Cu", "Zr")  # agreeing names are fine
    swapped = configuration_from_data(data, "1=Zr,2=Cu", rename_types=True)
    assert swapped.type_names == ("Zr", "Cu")
    # types without names (LAMMPS dumps) are named without any override, and the output carries the names
    bare = to_data(cfg, names=False)
    assert configuration_from_data(bare, "1=Cu,2=Zr").type_names == ("Cu", "Zr")
    apply_type_names(bare, "1=Cu,2=Zr")
    assert [t.name for t in bare.particles.particle_types.types] == ["Cu", "Zr"]


def test_predict_refuses_contradicting_type_names_and_writes_the_names_used(demo_models, tmp_path, capsys,
                                                                            example_glass_path):
    from ovito.io import import_file

    base = ["--models", demo_models, "--skip", "susceptibility,dfs", "--no-pictures"]
    rc, _, err = predict([example_glass_path, "-o", tmp_path / "a", "--type-names", "1=Zr,2=Cu", *base], capsys)
    assert rc == 2 and "contradict the names the input already gives" in err and "--rename-types" in err
    assert not (tmp_path / "a" / "CuZr_example.xyz").exists()
    rc, _, err = predict([example_glass_path, "-o", tmp_path / "b", "--type-names", "1=Zr,2=Cu", "--rename-types",
                          *base], capsys)
    assert rc == 0, err
    written = import_file(str(tmp_path / "b" / "CuZr_example.xyz")).compute().particles
    original = import_file(str(example_glass_path)).compute().particles
    # type 1 of the input (Cu in the file) is written as Zr: the name the models used
    was_cu = np.asarray(original.particle_types[...]) == original.particle_types.type_by_name("Cu").id
    names = {t.id: t.name for t in written.particle_types.types}
    assert {names[i] for i in np.asarray(written.particle_types[...])[was_cu]} == {"Zr"}


# -- 7: missing and unreadable input files --------------------------------------------------------
def test_missing_or_unreadable_input_is_a_clear_error(tmp_path, capsys):
    from ovito_glassml.cli import main

    missing = tmp_path / "nope.data"
    rc, _, err = predict([missing, "-o", tmp_path / "o"], capsys)
    assert rc == 2 and err.startswith("glassml: error: input file") and str(missing) in err
    assert "LAMMPS data and dump files" in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()  # nothing was made
    junk = tmp_path / "glass.xyz"
    junk.write_text("this is not\na configuration\n")
    rc, _, err = predict([junk, "-o", tmp_path / "o"], capsys)
    assert rc == 2 and f"cannot read {junk}" in err and "formats OVITO reads" in err
    assert main(["describe", str(missing), "-o", str(tmp_path / "d")]) == 2
    assert str(missing) in capsys.readouterr().err
    assert main(["describe", str(tmp_path), "-o", str(tmp_path / "d")]) == 2
    assert "is a folder" in capsys.readouterr().err


# -- 8: repeated options add up --------------------------------------------------------------------
def test_repeated_skip_and_type_names_add_up(capsys, tmp_path):
    from ovito_glassml.cli import _parse_skip, build_parser

    args = build_parser().parse_args(["predict", "f", "-o", "o", "--skip", "susceptibility", "--skip", "dfs,qs",
                                      "--type-names", "1=Cu", "--type-names", "2=Zr", "--radii", "Xx=1.3"])
    assert _parse_skip(args.skip) == {"susceptibility", "dfs", "qs"}
    assert args.type_names == "1=Cu,2=Zr" and args.radii == "Xx=1.3"
    rc, _, err = predict(["f", "-o", tmp_path / "o", "--skip", "susceptibilty"], capsys)
    assert rc == 2 and "--skip names unknown prediction(s) ['susceptibilty']" in err


def test_second_skip_is_honoured_in_predict(demo_models, tmp_path, capsys, example_glass_path):
    import json

    rc, _, err = predict([example_glass_path, "-o", tmp_path, "--models", demo_models, "--skip", "susceptibility",
                          "--skip", "dfs", "--skip", "qs", "--no-pictures"], capsys)
    assert rc == 0, err
    assert set(json.loads((tmp_path / "summary.json").read_text())["models"]) == {"sf"}


# -- 9: impossible DFS settings are found before any model runs ---------------------------------------
@pytest.mark.parametrize("options, message", [
    (["--slab-width", "100"], r"slab width ω = 100 Å is larger than the cell width 40 Å along X and 40 Å along Y"),
    (["--axes", "XYZ"], r"larger than the cell width 12 Å along Z; choose a slab width <= 12 Å, or analyse only XY"),
])
def test_impossible_dfs_settings_are_refused_before_any_model_runs(demo_models, tmp_path, capsys, monkeypatch,
                                                                   options, message):
    from ovito_glassml.modifiers.prediction import PlasticSusceptibilityModifier, QuenchInSoftnessModifier

    from ovito_glassml.descriptors.geometry import Configuration

    rng = np.random.default_rng(4)
    box = np.array([40.0, 40.0, 12.0])  # a 12 A film, wide enough in X and Y
    film = Configuration(rng.random((800, 3)) * box, np.diag(box), rng.integers(0, 2, 800), ("Cu", "Zr"))
    path = write_data_file(film, tmp_path / "film.data")

    def never(*args, **kwargs):
        raise AssertionError("a model ran before the DFS settings were checked")

    monkeypatch.setattr(PlasticSusceptibilityModifier, "modify", never)
    monkeypatch.setattr(QuenchInSoftnessModifier, "modify", never)
    rc, _, err = predict([path, "-o", tmp_path / "o", "--models", demo_models, "--no-pictures", *options], capsys)
    assert rc == 2 and "the DFS analysis cannot run on" in err and "--no-dfs" in err, err
    assert re.search(message, err), err


# -- 10: an output folder named like a model -----------------------------------------------------------
def test_a_folder_named_like_a_model_does_not_shadow_it(demo_models, tmp_path, monkeypatch):
    from ovito_glassml.inference import ModelNotFoundError, find_model

    monkeypatch.setenv("GLASSML_MODELS", str(demo_models))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "dfs").mkdir()  # e.g. glassml predict FILE -o dfs
    (tmp_path / "dfs" / "glass.xyz").write_text("")
    assert find_model("dfs").directory == demo_models / "dfs"
    # a model folder of one's own under that name: ambiguous, said so; ./dfs is the folder
    import shutil

    shutil.copytree(demo_models / "qs", tmp_path / "qs")
    with pytest.raises(ModelNotFoundError, match=r"'qs' names both the installed model .* and the model folder"):
        find_model("qs")
    assert find_model("./qs").directory.resolve() == (tmp_path / "qs").resolve()


def test_predict_into_a_folder_named_dfs(demo_models, tmp_path, capsys, monkeypatch, example_glass_path):
    monkeypatch.chdir(tmp_path)
    rc, _, err = predict([example_glass_path, "-o", "dfs", "--models", demo_models, "--skip", "susceptibility,qs,sf",
                          "--no-pictures", "--noise-permutations", "0"], capsys)
    assert rc == 0, err
    assert (tmp_path / "dfs" / "CuZr_example.dfs-x.csv").is_file()


# -- 11: a radius for an element the model has none for ---------------------------------------------------
def test_quench_in_softness_takes_radii_of_unknown_elements(demo_models):
    from ovito.pipeline import Pipeline, StaticSource

    from ovito_glassml.inference import load_model
    from ovito_glassml.modifiers.prediction import QuenchInSoftnessModifier

    cfg = _spread_glass(80).replace(type_names=("Cu", "Xx"))

    def run(**kw):
        pipeline = Pipeline(source=StaticSource(data=to_data(cfg)))
        pipeline.modifiers.append(QuenchInSoftnessModifier(model=str(demo_models / "qs"), **kw))
        return pipeline.compute().particles["Quench-in Softness"][...]

    with pytest.raises(Exception, match=r"no atomic radius is known for particle type 'Xx'.*--radii Xx=1.3"):
        run()
    got = run(radii="Xx=1.30")
    from ovito_glassml.descriptors.interstice import IntersticeSettings  # the same as giving the model that radius
    import dataclasses

    for radius, values in ((1.3, got), (1.6, run(radii="Xx=1.6"))):
        model = load_model(demo_models / "qs")
        model.card = dataclasses.replace(model.card, settings=IntersticeSettings(radii={"Xx": radius}))
        np.testing.assert_allclose(values, model.predict(cfg), rtol=1e-12)
    with pytest.raises(Exception, match=r"Cu = 1.4 Å \(model: 1.26 Å\) would change features it was trained on"):
        run(radii="Xx=1.3,Cu=1.4")


# -- 13: exported names read back -----------------------------------------------------------------------------
def test_exported_property_names_are_found():
    from ovito_glassml.modifiers.shear_band import FertileSiteDensityModifier, particle_values

    cfg = _spread_glass(200, seed=6)
    data = to_data(cfg)
    values = np.linspace(0, 1, cfg.count)
    data.particles_.create_property("PlasticSusceptibility", data=values)  # as the .xyz of glassml predict reads back
    data.particles_.create_property("QuenchinSoftness", data=values[::-1].copy())
    np.testing.assert_array_equal(particle_values(data.particles, "Plastic Susceptibility"), values)
    np.testing.assert_array_equal(particle_values(data.particles, "Quench-in Softness"), values[::-1])
    mod = FertileSiteDensityModifier(slab_width=5.0, noise_permutations=0)  # default property: Plastic Susceptibility
    assert mod.analyse(data).delta >= 0
    with pytest.raises(ConfigurationError, match="no property 'Structural Flexibility'"):
        particle_values(data.particles, "Structural Flexibility")


# -- 14: describe CSVs carry id and type ------------------------------------------------------------------------
def test_describe_csv_has_id_and_type_columns(tmp_path, capsys):
    from ovito_glassml.cli import main

    cfg = _spread_glass(60, seed=3)
    path = write_data_file(cfg, tmp_path / "g.data")
    assert main(["describe", str(path), "-o", str(tmp_path / "out"), "--descriptors", "radial",
                 "--type-names", "1=Cu,2=Zr"]) == 0
    lines = (tmp_path / "out" / "g.radial.csv").read_text().splitlines()
    header = lines[0].split(",")
    assert header[:3] == ["id", "type", "G_Cu_0.60"] and len(header) == 2 + 99
    rows = [line.split(",") for line in lines[1:]]
    assert [int(r[0]) for r in rows] == list(range(10, 10 * cfg.count + 1, 10))
    assert [r[1] for r in rows] == cfg.species_names()
    np.testing.assert_allclose(np.array([[float(v) for v in r[2:]] for r in rows]),
                               np.load(tmp_path / "out" / "g.radial.npy"), rtol=1e-6, atol=1e-7)


# -- 15: progress lines without a terminal ----------------------------------------------------------------------
def test_progress_prints_periodic_lines_without_a_terminal(capsys):
    from ovito_glassml.cli import ProgressBar

    now = [0.0]
    bar = ProgressBar(1000, tty=False, step=0.05, interval=30.0, clock=lambda: now[0])
    bar.update(0, "frame 0 susceptibility: SDM + CNN")
    for done in range(1, 200):  # one long stage, the text never changes
        now[0] += 1.0
        bar.update(done * 0.25, "frame 0 susceptibility: SDM + CNN")
    lines = capsys.readouterr().err.splitlines()
    percents = [float(re.search(r"\]\s+([\d.]+)%", line).group(1)) for line in lines]
    # the first line, then a line per 30 s (the 5 % steps come every 200 s here)
    assert len(lines) == 1 + 199 // 30 and percents == sorted(percents) and percents[-1] >= 4.5
    now[0] += 1000.0
    bar.update(200, "frame 0 susceptibility: SDM + CNN")  # no advance since the last line...
    bar.update(200, "frame 0 susceptibility: SDM + CNN")  # ...is written once, not again
    assert len(capsys.readouterr().err.splitlines()) == 1


# -- 12: the demo uses demo models only ---------------------------------------------------------------------------
def test_demo_models_include_the_fertile_site_model(demo_models):
    from ovito_glassml.inference import load_card

    cards = {name: load_card(demo_models / name) for name in ("susceptibility", "dfs", "qs", "sf")}
    assert all(c.demo for c in cards.values()) and cards["dfs"].name == "dfs"


# -- 5: frames outside the training range -----------------------------------------------------------
@pytest.fixture(scope="module")
def example_config(example_glass_path):
    from ovito.io import import_file

    from ovito_glassml.modifiers.convert import configuration_from_data

    return configuration_from_data(import_file(str(example_glass_path)).compute())


def _monolayer(cfg):
    z = cfg.wrapped_positions()[:, 2]
    return cfg.subset(np.flatnonzero(np.abs(z - np.median(z)) < 1.3))


def test_domain_warnings_name_what_lies_outside(example_config):
    from ovito_glassml.inference.domain import domain_warnings

    cfg = example_config
    cards = []
    warnings_, stats = domain_warnings(cfg, cards)
    assert warnings_ == [] and stats["undercoordinated"] == 0 and 0.65 < stats["packing_fraction"] < 0.75
    for n in (1, 2):
        warnings_, _ = domain_warnings(cfg.subset(np.arange(n)), cards)
        assert f"only {n} atom(s)" in warnings_[0] and any("first-shell neighbours" in w for w in warnings_)
    layer = _monolayer(cfg)
    warnings_, stats = domain_warnings(layer, cards)
    assert any("fewer than 8 first-shell neighbours" in w for w in warnings_)
    assert any("packing fraction is 0.0" in w for w in warnings_) and stats["packing_fraction"] < 0.1
    # free surfaces: the same glass, not periodic along z
    warnings_, stats = domain_warnings(cfg.replace(pbc=(True, True, False)), cards)
    assert len(warnings_) == 1 and "a free surface" in warnings_[0] and 20 < stats["undercoordinated"] < 200
    # compressed by 22 % in volume: density far from a glass's (0.70 / 0.92^3 = 0.89)
    squeezed = cfg.replace(positions=cfg.positions * 0.92, cell=cfg.cell * 0.92, origin=cfg.origin * 0.92)
    assert any("packing fraction is 0.89" in w for w in domain_warnings(squeezed, cards)[0])


def test_domain_warnings_on_cells_narrower_than_the_descriptor(example_config, demo_models):
    from ovito_glassml.inference import load_card
    from ovito_glassml.inference.domain import descriptor_reach, domain_warnings

    sf = load_card(demo_models / "sf")
    assert descriptor_reach(sf) == pytest.approx(3.0 * max(sf.settings.peak_positions.values()))
    cfg = example_config
    small = cfg.subset(np.flatnonzero(np.all(cfg.fractional() < 0.25, axis=1)))
    small = small.replace(cell=cfg.cell * 0.25)  # a quarter of the box in each direction, periodic: ~31 atoms
    warnings_, stats = domain_warnings(small, [sf])
    assert any("less than the" in w and "its own periodic images" in w for w in warnings_)
    assert stats["reach"] == pytest.approx(descriptor_reach(sf))


def test_predict_warns_per_frame_and_in_the_summary(example_config, demo_models, tmp_path, capsys):
    import json

    path = write_data_file(_monolayer(example_config), tmp_path / "layer.data")
    rc, out, err = predict([path, "-o", tmp_path / "o", "--models", demo_models, "--type-names", "1=Cu,2=Zr",
                            "--skip", "susceptibility,dfs,qs", "--no-pictures"], capsys)
    assert rc == 0, err
    assert "warning: " in err and "frame 0: " in err and "first-shell neighbours" in err
    assert "WARNING(S): see above and summary.json" in out
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert summary["inputs"][0]["warnings"] and summary["inputs"][0]["domain"]["undercoordinated"] > 0
    assert {w["frame"] for w in summary["warnings"]} == {0} and len(summary["warnings"]) >= 2
    assert summary["inputs"][0]["types"] == {"1": "Cu", "2": "Zr"}  # the names the models used


# -- 6: periodic copies of a smaller cell -------------------------------------------------------------
def _replicate(cfg, n):
    shifts = np.array([[i, j, k] for i in range(n[0]) for j in range(n[1]) for k in range(n[2])], dtype=float)
    pos = (cfg.positions[None] + (shifts @ cfg.cell.T)[:, None]).reshape(-1, 3)
    return cfg.replace(positions=pos, types=np.tile(cfg.types, len(shifts)), cell=cfg.cell * np.asarray(n)[None, :])


def test_replicated_cells_are_detected(example_config):
    from ovito_glassml.analysis.dfs import replication

    cfg = example_config
    assert replication(cfg) == (1, 1, 1)
    assert replication(_replicate(cfg, (2, 2, 2))) == (2, 2, 2)
    assert replication(_replicate(cfg, (3, 1, 2))) == (3, 1, 2)
    big = _replicate(cfg, (2, 1, 1))
    order = np.random.default_rng(0).permutation(big.count)
    assert replication(big.subset(order)) == (2, 1, 1)  # atom order does not matter
    moved = big.positions.copy()
    moved[5] += 0.05  # one atom moved: no longer copies
    assert replication(big.replace(positions=moved)) == (1, 1, 1)
    assert replication(big.replace(pbc=(False, True, True))) == (1, 1, 1)  # copies along a non-periodic axis


def test_copying_a_cell_does_not_make_delta_significant(example_config):
    """On a 2x2x2 copy the noise reference of independent sites gave p = 0.01 where the original had 0.16;
    random sites replicated like the cell's give the original's noise and p-value."""
    from ovito_glassml.analysis.dfs import dfs_analysis

    cfg = example_config
    v = (np.random.default_rng(1).random(cfg.count) < 0.4).astype(float)
    one = dfs_analysis(cfg, v, permutations=200)
    copied = _replicate(cfg, (2, 2, 2))
    eight = dfs_analysis(copied, np.tile(v, 8), permutations=200)
    naive = dfs_analysis(copied, np.tile(v, 8), permutations=200, detect_replicas=False)
    assert eight.replicas == (2, 2, 2) and one.replicas == (1, 1, 1)
    assert eight.delta == pytest.approx(one.delta)
    assert eight.delta_p_value == pytest.approx(one.delta_p_value) and one.delta_p_value > 0.2
    assert eight.delta_noise == pytest.approx(one.delta_noise)
    assert naive.delta_p_value < 0.1  # what copying alone did before


def test_dfs_modifier_reports_the_copies(example_config):
    from ovito.pipeline import Pipeline, StaticSource

    from ovito_glassml.modifiers.shear_band import FertileSiteDensityModifier

    copied = _replicate(example_config, (1, 2, 1))
    data = to_data(copied)
    data.particles_.create_property("Plastic Susceptibility", data=np.tile(
        np.random.default_rng(2).random(example_config.count), 2))
    pipeline = Pipeline(source=StaticSource(data=data))
    pipeline.modifiers.append(FertileSiteDensityModifier(noise_permutations=20, slab_width=10.0))
    assert pipeline.compute().attributes["DFS.Replicas"] == "1x2x1"


def test_commands_on_a_file_with_a_duplicated_atom_end_with_a_clear_error(demo_models, tmp_path, capsys):
    """qs, dfs, susceptibility (their QS member tessellates) and describe all stopped the process in voro++."""
    from ovito_glassml.cli import main

    path = write_data_file(_with_duplicate(_spread_glass(80)), tmp_path / "dup.data")
    rc, _, err = predict([path, "-o", tmp_path / "o", "--models", demo_models, "--type-names", "1=Cu,2=Zr",
                          "--skip", "susceptibility,dfs,sf", "--no-pictures"], capsys)
    assert rc == 2 and "glassml: error: 1 pair(s) of atoms are closer than 0.01" in err, err
    assert "atom 3" in err and "atom 7" in err
    assert main(["describe", str(path), "-o", str(tmp_path / "d"), "--type-names", "1=Cu,2=Zr",
                 "--descriptors", "interstice"]) == 2
    assert "Voronoi tessellation" in capsys.readouterr().err


# -- 16: pictures ------------------------------------------------------------------------------------
def test_pictures_fade_the_low_atoms_draw_the_loading_frame_and_leave_the_input_alone(example_glass_path, tmp_path):
    from ovito.io import import_file

    from ovito_glassml.pictures import plot_dfs_png, render_property_png

    data = import_file(str(example_glass_path)).compute()
    values = np.random.default_rng(0).random(data.particles.count)
    data.particles_.create_property("Plastic Susceptibility", data=values)
    png = render_property_png(data, "Plastic Susceptibility", tmp_path / "p.png", size=(400, 300), frame="-zx")
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert "Transparency" not in data.particles  # the faded copy is the picture's own
    x = np.linspace(0, 30, 31)
    out = plot_dfs_png({"x": (x, 0.4 + 0.01 * np.sin(x))}, tmp_path / "d.png", 0.02, False, delta_noise=0.03,
                       p_value=0.5, note="the cell is 2x2x2 periodic copies of a smaller cell")
    assert out.read_bytes()[:4] == b"\x89PNG"


def test_predict_takes_a_radius_for_an_element_without_one(demo_models, tmp_path, capsys):
    import json

    cfg = _spread_glass(80).replace(type_names=("Cu", "Xx"))
    path = write_data_file(cfg, tmp_path / "cuxx.data")
    base = [path, "--models", demo_models, "--type-names", "1=Cu,2=Xx", "--skip", "susceptibility,dfs,sf",
            "--no-pictures"]
    rc, _, err = predict([*base, "-o", tmp_path / "a"], capsys)
    assert rc == 2 and "no atomic radius is known for particle type 'Xx'" in err and "--radii Xx=1.3" in err
    rc, _, err = predict([*base, "-o", tmp_path / "b", "--radii", "Xx=1.3"], capsys)
    assert rc == 0, err
    assert json.loads((tmp_path / "b" / "summary.json").read_text())["inputs"][0]["qs"]["mean"] > 0
    rc, _, err = predict([*base, "-o", tmp_path / "c", "--radii", "Xx=1.3", "--radii", "Cu=1.5"], capsys)
    assert rc == 2 and "Cu = 1.5 Å (model: 1.26 Å)" in err


def test_run_campaign_script_prints_its_help_and_refuses_an_unknown_lane():
    """scripts/run_campaign.sh answers --help and a misspelt lane before it starts any campaign."""
    import subprocess
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "scripts" / "run_campaign.sh"
    r = subprocess.run(["bash", str(script), "--help"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "Lanes: relaxed" in r.stdout and "lj2d_2k: start" not in r.stdout
    assert "set -uo" not in r.stdout and not r.stdout.startswith("#")
    r = subprocess.run(["bash", str(script), "--lane", "relax"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "unknown lane 'relax'" in r.stderr and "--lane relaxed" in r.stderr
    assert r.stdout == ""
