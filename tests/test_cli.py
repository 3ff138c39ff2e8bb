"""The glassml command line end to end on the bundled example glass (demo models)."""
import json

import numpy as np
import pytest
from ovito.io import import_file

from ovito_glassml.cli import main
from ovito_glassml.inference.demo import build_demo_models


@pytest.fixture(scope="module")
def demo_models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    build_demo_models(folder)
    return folder


def two_frame_dump(example_glass_path, path):
    """The example glass as a 2-frame LAMMPS dump with bare numeric types; frame 1 is shifted by 1.5 A."""
    from ovito.io import export_file

    export_file(import_file(str(example_glass_path)), str(path), "lammps/dump",
                columns=["Particle Identifier", "Particle Type", "Position.X", "Position.Y", "Position.Z"])
    lines = path.read_text().splitlines()
    shifted = lines[:9] + [" ".join(l.split()[:2] + [f"{float(x) + 1.5:.6f}" for x in l.split()[2:]])
                           for l in lines[9:]]
    shifted[1] = "1"
    path.write_text("\n".join(lines + shifted) + "\n")
    return path


def test_describe_writes_all_descriptors(example_glass_path, tmp_path, capsys):
    assert main(["describe", str(example_glass_path), "-o", str(tmp_path), "--sdm-atoms", "3",
                 "--sdm-cutoff", "4.8"]) == 0
    summary = json.loads((tmp_path / "describe.json").read_text())
    entry = summary["inputs"][0]
    inter = np.load(tmp_path / "CuZr_example.interstice.npy")
    radial = np.load(tmp_path / "CuZr_example.radial.npy")
    maps = np.load(tmp_path / "CuZr_example.sdm.npy")
    assert inter.shape == (entry["atoms"], 80) and radial.shape == (entry["atoms"], 99)
    assert maps.shape == (3, 2, 16, 16, 16)
    assert np.load(tmp_path / "CuZr_example.sdm_mean.npy").shape == (2, 16, 16, 16)
    header = (tmp_path / "CuZr_example.interstice.csv").read_text().splitlines()[0].split(",")
    assert header[:3] == ["id", "type", "Dist_interstice_mean_voro"] and len(header) == 2 + 80
    assert set(entry["radial_peak_positions"]) == {"Cu-Cu", "Cu-Zr", "Zr-Zr"}


def test_predict_end_to_end_with_demo_models(example_glass_path, demo_models, tmp_path, capsys):
    assert main(["predict", str(example_glass_path), "-o", str(tmp_path), "--models", str(demo_models)]) == 0
    out = capsys.readouterr().out
    assert "DEMO" in out
    summary = json.loads((tmp_path / "summary.json").read_text())
    entry = summary["inputs"][0]
    # demo models only: the demo folder holds a demo fertile-site model too, so no trained model joins in
    assert set(summary["models"]) == {"susceptibility", "dfs", "qs", "sf"}
    assert all(m["demo"] for m in summary["models"].values())
    for name in ("CuZr_example.xyz", "CuZr_example.dfs-x.csv", "CuZr_example.dfs-y.csv", "CuZr_example.dfs.png",
                 "CuZr_example.susceptibility.png"):
        assert (tmp_path / name).stat().st_size > 0, name
    assert (tmp_path / "CuZr_example.susceptibility.png").read_bytes()[:4] == b"\x89PNG"
    data = import_file(str(tmp_path / "CuZr_example.xyz")).compute()
    # extended XYZ column names carry no spaces
    for prop in ("PlasticSusceptibility", "QuenchinSoftness", "StructuralFlexibility"):
        assert prop in data.particles, list(data.particles.keys())
    values = np.asarray(data.particles["PlasticSusceptibility"][...])
    assert np.isclose(entry["susceptibility"]["fraction_above_threshold"], np.mean(values > 0.5), atol=1e-3)
    table = np.loadtxt(tmp_path / "CuZr_example.dfs-x.csv", delimiter=",", skiprows=1)
    assert np.isclose(entry["dfs"]["delta"], max(table[:, 1].max(), np.loadtxt(
        tmp_path / "CuZr_example.dfs-y.csv", delimiter=",", skiprows=1)[:, 1].max()) - min(
        table[:, 1].min(), np.loadtxt(tmp_path / "CuZr_example.dfs-y.csv", delimiter=",", skiprows=1)[:, 1].min()))
    # the noise reference: 100 random placements by default; p = (1 + hits) / 101
    assert entry["dfs"]["noise_permutations"] == 100 and entry["dfs"]["delta_noise"] >= 0
    p = entry["dfs"]["delta_p_value"]
    assert 1 / 101 <= p <= 1 and abs(p * 101 - round(p * 101)) < 1e-9
    assert "random sites: delta" in out
    # what the verdict rests on: the demo card states no preparation and no shear-band test
    assert entry["dfs"]["model"] == "dfs" and entry["dfs"]["verdict_tested_on"] == \
        "not tested against simulated shear bands"
    assert "DFS verdict from the 'dfs' model" in out and "its shear-band test: not tested" in out


def test_predict_multi_frame_dump_with_type_names(example_glass_path, demo_models, tmp_path):
    dump = two_frame_dump(example_glass_path, tmp_path / "traj.dump")
    out = tmp_path / "out"
    assert main(["predict", str(dump), "-o", str(out), "--models", str(demo_models), "--type-names", "1=Cu,2=Zr",
                 "--skip", "qs", "--no-pictures"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert [e["frame"] for e in summary["inputs"]] == [0, 1]
    a = import_file(str(out / "traj_frame0.xyz")).compute().particles["PlasticSusceptibility"][...]
    b = import_file(str(out / "traj_frame1.xyz")).compute().particles["PlasticSusceptibility"][...]
    np.testing.assert_allclose(a, b, atol=1e-5)  # a rigid shift changes nothing


def test_predict_without_type_names_and_without_models_fails_clearly(example_glass_path, demo_models, tmp_path,
                                                                     capsys, monkeypatch):
    monkeypatch.delenv("GLASSML_MODELS", raising=False)
    assert main(["predict", str(example_glass_path), "-o", str(tmp_path), "--model", "qs=softness9"]) == 2
    assert "no model named 'softness9' is installed; see models/README.md" in capsys.readouterr().err
    assert main(["predict", str(example_glass_path), "-o", str(tmp_path), "--noise-permutations", "-5"]) == 2
    assert "--noise-permutations must be >= 0" in capsys.readouterr().err
    dump = two_frame_dump(example_glass_path, tmp_path / "traj.dump")
    assert main(["predict", str(dump), "-o", str(tmp_path), "--models", str(demo_models), "--no-pictures"]) == 2
    assert "--type-names 1=Cu,2=Zr" in capsys.readouterr().err


def test_models_command_lists_demo_models(demo_models, capsys, monkeypatch):
    monkeypatch.setenv("GLASSML_MODELS", str(demo_models))
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "susceptibility: Plastic Susceptibility" in out and "DEMO" in out


def test_readme_main_command_uses_the_shipped_models(example_glass_path, tmp_path, capsys, monkeypatch):
    """`glassml predict FILE -o DIR` with nothing else: the trained models installed with the package;
    a default model that is not installed is reported and skipped, the others still run."""
    from pathlib import Path

    shipped = Path(__file__).resolve().parents[1] / "models"
    kinds = {"susceptibility", "dfs", "qs", "sf"}
    have = {k for k in kinds if (shipped / k / "card.json").is_file()}
    if not have:
        pytest.skip("no Cu-Zr model ships")
    monkeypatch.delenv("GLASSML_MODELS", raising=False)
    assert main(["predict", str(example_glass_path), "-o", str(tmp_path), "--no-pictures"]) == 0
    captured = capsys.readouterr()
    assert "DEMO" not in captured.out
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert set(summary["models"]) == have and not any(m["demo"] for m in summary["models"].values())
    assert set(summary["not_installed"]) == kinds - have
    for kind in set(summary["not_installed"]) - {"dfs"}:
        assert f"{kind} is not predicted" in captured.err
    assert ("no DFS analysis" in captured.err) == (not have & {"susceptibility", "dfs"})
    data = import_file(str(tmp_path / "CuZr_example.xyz")).compute()
    columns = {"susceptibility": "PlasticSusceptibility", "dfs": "FertileSiteProbability", "qs": "QuenchinSoftness",
               "sf": "StructuralFlexibility"}
    for kind, column in columns.items():
        assert (column in data.particles) == (kind in have)
    for kind in have & {"susceptibility", "dfs", "qs"}:
        v = np.asarray(data.particles[columns[kind]][...])
        assert np.all((v >= 0) & (v <= 1)) and v.std() > 0.01  # a trained model tells atoms apart
    entry = summary["inputs"][0]
    if have & {"susceptibility", "dfs"}:  # the DFS analysis runs on the fertile-site model when it ships
        want = "Fertile Site Probability" if "dfs" in have else "Plastic Susceptibility"
        assert entry["dfs"]["property"] == want and 0 <= entry["dfs"]["delta"] <= 1
        assert (tmp_path / "CuZr_example.dfs-x.csv").is_file() and (tmp_path / "CuZr_example.dfs-y.csv").is_file()
    else:
        assert "dfs" not in entry
    if "sf" in have:
        assert np.all(np.isfinite(np.asarray(data.particles["StructuralFlexibility"][...])))


@pytest.mark.parametrize("command", [[], ["describe"], ["predict"], ["models"], ["generate"], ["train"],
                                     ["evaluate"]])
def test_help_is_plain_text(command, capsys):
    """Every help page prints without docstring markup, and every option says what it does."""
    with pytest.raises(SystemExit) as exc:
        main([*command, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for markup in ("``", ":func:", ":mod:", ":class:", ":attr:", "**"):
        assert markup not in out, f"glassml {' '.join(command)} --help shows {markup!r}"
    if command == ["models"]:
        assert "also print the folder" in out
