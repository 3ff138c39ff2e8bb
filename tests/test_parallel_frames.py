"""glassml predict --jobs N and --scheduler: the same results as one process."""
import json
from pathlib import Path

import numpy as np
import pytest

from conftest import random_glass
from ovito_glassml.cli import main
from ovito_glassml.inference.demo import build_demo_models
from ovito_glassml.inference.frames import worker_threads


@pytest.fixture(scope="module")
def demo_models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    build_demo_models(folder)
    return folder


def write_trajectory(path: Path, frames: int = 3, n: int = 150) -> Path:
    """A small random glass as a LAMMPS dump of ``frames`` frames, each shifted and jiggled."""
    config = random_glass(n, seed=5)
    rng = np.random.default_rng(9)
    side = config.cell[0, 0]
    lines = []
    for k in range(frames):
        pos = (config.positions + 0.3 * k + 0.05 * rng.standard_normal(config.positions.shape)) % side
        lines += ["ITEM: TIMESTEP", str(k), "ITEM: NUMBER OF ATOMS", str(n), "ITEM: BOX BOUNDS pp pp pp",
                  *[f"0 {side:.8f}"] * 3, "ITEM: ATOMS id type x y z"]
        lines += [f"{i + 1} {t + 1} {x:.6f} {y:.6f} {z:.6f}" for i, (t, (x, y, z)) in enumerate(zip(config.types, pos))]
    path.write_text("\n".join(lines) + "\n")
    return path


def _comparable(summary):
    out = []
    for e in summary["inputs"]:
        e = {k: v for k, v in e.items() if k != "seconds"}
        e["outputs"] = sorted(Path(p).name for p in e["outputs"])
        out.append(e)
    return out


def _run(traj, out, models, *extra):
    code = main(["predict", str(traj), "-o", str(out), "--models", str(models), "--type-names", "1=Cu,2=Zr",
                 "--no-pictures", "--noise-permutations", "5", "--slab-width", "4", *extra])
    assert code == 0
    return json.loads((out / "summary.json").read_text())


def _same_outputs(a: Path, b: Path):
    files_a = sorted(p.name for p in a.iterdir() if p.name != "summary.json")
    files_b = sorted(p.name for p in b.iterdir() if p.name != "summary.json")
    assert files_a == files_b and files_a
    for name in files_a:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_jobs_give_the_results_of_one_process(demo_models, tmp_path, capsys):
    traj = write_trajectory(tmp_path / "traj.dump")
    serial = _run(traj, tmp_path / "serial", demo_models)
    parallel = _run(traj, tmp_path / "parallel", demo_models, "--jobs", "2")
    assert [e["frame"] for e in parallel["inputs"]] == [0, 1, 2]
    assert _comparable(parallel) == _comparable(serial)
    _same_outputs(tmp_path / "serial", tmp_path / "parallel")
    assert parallel["parallel"]["jobs"] == 2 and parallel["parallel"]["frames"] == 3
    assert not (tmp_path / "parallel" / ".glassml-parts").exists()
    assert "frames/s" in capsys.readouterr().out


def test_dask_scheduler_gives_the_results_of_one_process(demo_models, tmp_path):
    pytest.importorskip("dask.distributed")
    traj = write_trajectory(tmp_path / "traj.dump", frames=2)
    serial = _run(traj, tmp_path / "serial", demo_models)
    dask = _run(traj, tmp_path / "dask", demo_models, "--scheduler", "local", "--jobs", "2")
    assert _comparable(dask) == _comparable(serial)
    _same_outputs(tmp_path / "serial", tmp_path / "dask")


def test_bad_jobs_refused(demo_models, tmp_path, capsys):
    traj = write_trajectory(tmp_path / "traj.dump", frames=1)
    assert main(["predict", str(traj), "-o", str(tmp_path / "o"), "--models", str(demo_models),
                 "--type-names", "1=Cu,2=Zr", "--no-dfs", "--jobs", "0"]) == 2
    assert "--jobs" in capsys.readouterr().err


def test_worker_threads_share_the_cores():
    assert worker_threads(1) >= 1 and worker_threads(10_000) == 1
