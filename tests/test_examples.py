"""The example batch scripts run and print what they promise (with the untrained demo models)."""
import subprocess
import sys
from pathlib import Path

import pytest

from ovito_glassml.inference.demo import build_demo_models
from test_cli import two_frame_dump

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def demo_models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    build_demo_models(folder)
    return folder


def run(script, *args, cwd):
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / script), *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_color_by_susceptibility(demo_models, tmp_path):
    out = run("color_by_susceptibility.py", "--models", demo_models, "-o", tmp_path / "p.png", cwd=tmp_path)
    assert "2000 atoms" in out and "DEMO" in out
    assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"


def test_qs_and_sf(demo_models, tmp_path):
    out = run("qs_and_sf.py", "--models", demo_models, "-o", tmp_path / "a.xyz", cwd=tmp_path)
    assert "Cu" in out and "Zr" in out and (tmp_path / "a.xyz").exists()


def test_dfs_of_trajectory(demo_models, example_glass_path, tmp_path):
    traj = two_frame_dump(example_glass_path, tmp_path / "traj.dump")
    out = run("dfs_of_trajectory.py", traj, "--type-names", "1=Cu,2=Zr", "--models", demo_models,
              "--model", "susceptibility", "-o", tmp_path / "dfs", cwd=tmp_path)
    assert len([l for l in out.splitlines() if l.strip().startswith(("0 ", "1 "))]) == 2
    assert sorted(p.name for p in (tmp_path / "dfs").iterdir()) == ["dfs-x.0.txt", "dfs-x.1.txt", "dfs-y.0.txt",
                                                                    "dfs-y.1.txt"]


def test_make_demo_models(tmp_path):
    out = run("make_demo_models.py", tmp_path / "m", cwd=tmp_path)
    assert {p.name for p in (tmp_path / "m").iterdir()} >= {"susceptibility", "qs", "sf"}
