"""scripts/train_susceptibility.py --check: the relaxed lane starts the model plan only on complete glasses."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, load_script

DATA = ROOT / "data" / "cuzr50_4k"


@pytest.fixture()
def plan_script(tmp_path, monkeypatch):
    if not (DATA / "cuzr50_4k_g0001.npz").exists():
        pytest.skip("the cuzr50_4k data sets are not in this checkout")
    mod = load_script("train_susceptibility")
    (tmp_path / "cuzr50_4k").mkdir()
    for f in DATA.glob("cuzr50_4k_g*.npz"):
        (tmp_path / "cuzr50_4k" / f.name).symlink_to(f)
    monkeypatch.setattr(mod, "DATA", tmp_path)
    return mod, tmp_path / "cuzr50_4k"


ARGS = ["--check", "--campaigns", "cuzr50_4k", "--test-campaigns", "cuzr50_4k"]


def _drop_loading(src: Path, dst: Path, orientation: str) -> None:
    """A copy of a data-set file whose provenance no longer lists ``orientation`` as done."""
    with np.load(src, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    prov = json.loads(str(arrays["provenance"]))
    prov["orientations_done"] = [o for o in prov["orientations_done"] if o != orientation]
    arrays["provenance"] = np.array(json.dumps(prov))
    dst.unlink()
    np.savez(dst, **arrays)


def test_check_passes_only_when_every_glass_holds_six_loadings(plan_script, capsys):
    mod, folder = plan_script
    assert mod.main(ARGS) == 0
    assert capsys.readouterr().out.strip() == "ready"
    _drop_loading(DATA / "cuzr50_4k_g0001.npz", folder / "cuzr50_4k_g0001.npz", "z-x")
    (folder / "cuzr50_4k_g0010.npz").unlink()
    assert mod.main(ARGS) == 1
    out = capsys.readouterr().out
    assert "train: cuzr50_4k_g0001 lacks z-x" in out
    assert "no file for cuzr50_4k_g0010" in out
    assert "g0002" not in out  # complete glasses are not named
