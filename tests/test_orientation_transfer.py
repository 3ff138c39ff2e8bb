"""scripts/orientation_transfer.py: the prediction-by-labels matrix on models with known answers."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from conftest import load_script


@pytest.fixture(scope="module")
def transfer():
    return load_script("orientation_transfer")


def _glass(name, labels_by_o):
    n = len(next(iter(labels_by_o.values())))
    return SimpleNamespace(name=name, count=n, config=None,
                           has_d2min=lambda o, s: o in labels_by_o,
                           d2min_at=lambda o, s: labels_by_o[o])


class Aware:  # predicts, in frame o, exactly loading o's D2min
    orientational = True

    def __init__(self, glasses):
        self.by_id = glasses

    def predict(self, config, idx, frame=None):
        return self.by_id[frame][idx]


def test_an_oracle_per_loading_is_perfect_on_the_diagonal_only(transfer):
    rng = np.random.default_rng(0)
    d2 = {"xy": rng.random(1000), "x-y": rng.random(1000), "yz": rng.random(1000)}
    g = _glass("g1", d2)
    per = transfer.transfer_matrix(Aware(d2), [g], ["xy", "x-y", "yz", "zx"], 0.05, 0.05)
    r = per["g1"]
    assert set(r) == {"xy", "x-y", "yz"}  # zx: no labels, left out
    for o in r:
        assert r[o][o] == pytest.approx(1.0)
        for o2 in r:
            if o2 != o:  # independent random labels: near chance
                assert abs(r[o][o2] - 0.5) < 0.1
    s = transfer.summarise(per, ["xy", "x-y", "yz"])
    assert s["diagonal_auc"] == pytest.approx(1.0)
    assert abs(s["off_diagonal_auc"] - 0.5) < 0.06
    assert s["mean"]["xy"]["yz"]["n"] == 1
    assert (s["column_wins"], s["columns"]) == (3, 3)
    assert 0.4 < s["diagonal_margin"] < 0.6


def test_column_wins_and_margin_on_a_hand_made_matrix(transfer):
    per = {"g": {"a": {"a": 0.70, "b": 0.60}, "b": {"a": 0.65, "b": 0.55}}}
    s = transfer.summarise(per, ["a", "b"])
    # column a: 0.70 (frame a) beats 0.65; column b: 0.55 (frame b) loses to 0.60
    assert (s["column_wins"], s["columns"]) == (1, 2)
    assert s["diagonal_margin"] == pytest.approx(((0.70 - 0.65) + (0.55 - 0.60)) / 2)
    assert s["diagonal_margin_se"] == pytest.approx(np.std([0.05, -0.05], ddof=1) / np.sqrt(2))


def test_an_orientation_blind_model_gives_equal_rows(transfer):
    rng = np.random.default_rng(1)
    d2 = {"xy": rng.random(500), "yz": rng.random(500)}
    blind = SimpleNamespace(orientational=False, predict=lambda config, idx: d2["xy"][idx])
    per = transfer.transfer_matrix(blind, [_glass("g", d2), _glass("one-loading", {"xy": d2["xy"]})],
                                   ["xy", "yz"], 0.05, 0.05)
    assert list(per) == ["g"]  # a glass with one loading has no pair
    assert per["g"]["xy"] == per["g"]["yz"]
    assert per["g"]["yz"]["xy"] == pytest.approx(1.0)
    s = transfer.summarise(per, ["xy", "yz"])
    assert s["column_wins"] == 0 and s["diagonal_margin"] == pytest.approx(0.0)  # ties are not wins
