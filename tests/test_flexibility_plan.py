"""scripts/train_flexibility.py: the SF plan on stand-in glasses (real data-set files under the
split's names), its rule and its order (no test figure before the decision)."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _plan():
    spec = importlib.util.spec_from_file_location("train_flexibility", ROOT / "scripts" / "train_flexibility.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_rule_replaces_only_when_the_better_candidate_beats_the_shipped_model():
    plan = _plan()
    shipped = {"figure": 0.80}
    d = plan.decide(shipped, {"relaxed": {"figure": 0.79}, "both": {"figure": 0.81}})
    assert d["best"] == "both" and d["replace"] is True
    d = plan.decide(shipped, {"relaxed": {"figure": 0.78}, "both": {"figure": 0.80}})
    assert d["best"] == "both" and d["replace"] is False   # a tie keeps the shipped model


def test_the_plan_runs_in_order_on_stand_in_glasses(tmp_path, monkeypatch):
    stand_in = {  # split name -> a committed file with an MSD stage
        "cuzr50_4k/cuzr50_4k_g0001": "cuzr50_4k/cuzr50_4k_g0001",
        "cuzr50_4k/cuzr50_4k_g0009": "cuzr50_4k/cuzr50_4k_g0009",
        "cuzr50_4k/cuzr50_4k_g0013": "cuzr50_4k/cuzr50_4k_g0013",
        "cuzr50_4k_relaxed/cuzr50_4k_relaxed_g0201": "cuzr50_4k_relaxed/cuzr50_4k_relaxed_g0201",
        "cuzr50_4k_relaxed/cuzr50_4k_relaxed_g0209": "cuzr50_4k_relaxed/cuzr50_4k_relaxed_g0202",
        "cuzr50_4k_relaxed/cuzr50_4k_relaxed_g0213": "cuzr50_4k_relaxed/cuzr50_4k_relaxed_g0213",
    }
    for name, real in stand_in.items():
        src = ROOT / "data" / f"{real}.npz"
        if not src.exists():
            pytest.skip(f"{src} is not in this checkout")
        dst = tmp_path / "data" / f"{name}.npz"
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.symlink_to(src)
    plan = _plan()
    monkeypatch.setattr(plan, "DATA", tmp_path / "data")
    work = tmp_path / "sf_v2"
    assert any("no file for cuzr50_4k_relaxed_g0210" in m for m in plan.lacking())
    with pytest.raises(SystemExit, match="decision comes first"):
        plan.stage_test(work)
    plan.stage_train(work)
    for name in ("relaxed", "both"):
        card = json.loads((work / name / "card.json").read_text())
        trained = set(card["training"]["data"]["glasses"])
        assert trained == ({"cuzr50_4k_relaxed_g0201"} if name == "relaxed"
                           else {"cuzr50_4k_g0001", "cuzr50_4k_relaxed_g0201"})
    plan.stage_select(work)
    sel = json.loads((work / "selection.json").read_text())
    for entry in [sel["shipped"], *sel["candidates"].values()]:
        means = [r["mean"] for r in entry["preparations"].values()]
        assert entry["figure"] == pytest.approx(sum(means) / 2)
        for r in entry["preparations"].values():
            assert r["mean"] == pytest.approx((r["Cu"] + r["Zr"]) / 2) and 0.3 < r["Cu"] < 1
    assert sel["candidates"]["both"]["preparations"]["cuzr50_4k_relaxed"]["glasses"] == ["cuzr50_4k_relaxed_g0209"]
    assert sel["replace"] == (sel["candidates"][sel["best"]]["figure"] > sel["shipped"]["figure"])
    plan.stage_test(work)
    test = json.loads((work / "test.json").read_text())
    assert set(test) == {"measured", "shipped", "relaxed", "both"}
    assert test["shipped"]["preparations"]["cuzr50_4k"]["glasses"] == ["cuzr50_4k_g0013"]
