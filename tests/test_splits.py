"""The fixed glass splits: no glass on two sides, the 2D table matches the shipped model's card."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from ovito_glassml.training.splits import PARTS, SPLITS, SPLITS_2D, glass_names, split_files

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("table", [SPLITS, SPLITS_2D], ids=["cuzr", "lj2d"])
def test_no_glass_is_on_two_sides(table):
    for campaign, parts in table.items():
        names = [n for p in PARTS for n in parts[p]]
        assert len(names) == len(set(names)), campaign
        assert all(n.startswith(campaign + "_g") for n in names)


def test_lj2d_split_is_the_shipped_models_split_and_the_relaxed_one_mirrors_it():
    card = json.loads((ROOT / "models" / "susceptibility_2d" / "card.json").read_text())
    shipped = card["training"]["data"]["split"]
    campaigns = {n.rsplit("_g", 1)[0] for part in PARTS for n in shipped[part]}
    assert campaigns and campaigns <= set(SPLITS_2D)
    for campaign in campaigns:  # the shipped model's glasses of each campaign are that campaign's split
        for part in PARTS:
            assert sorted(n for n in shipped[part] if n.rsplit("_g", 1)[0] == campaign) == \
                sorted(SPLITS_2D[campaign][part]), (campaign, part)
    for part in PARTS:  # seed k + 500 plays the part of seed k
        mirrored = sorted(f"lj2d_2k_relaxed_g{int(n[-4:]) + 500:04d}" for n in SPLITS_2D["lj2d_2k"][part])
        assert sorted(SPLITS_2D["lj2d_2k_relaxed"][part]) == mirrored
    assert SPLITS_2D["lj2d_2k"]["validation"] == [f"lj2d_2k_g{k:04d}" for k in (3, 5, 11, 12, 19)]
    assert SPLITS_2D["lj2d_2k_relaxed"]["test"] == [f"lj2d_2k_relaxed_g{k:04d}" for k in range(521, 525)]


def test_split_files_lists_existing_files_and_names_the_missing(tmp_path):
    (tmp_path / "lj2d_2k").mkdir()
    present = SPLITS_2D["lj2d_2k"]["test"][:2]
    for n in present:
        (tmp_path / "lj2d_2k" / f"{n}.npz").write_bytes(b"")
    found, missing = split_files(tmp_path, "test", ["lj2d_2k"], splits=SPLITS_2D)
    assert [p.stem for p in found] == present
    assert missing == SPLITS_2D["lj2d_2k"]["test"][2:]


def test_an_unknown_part_is_refused():
    with pytest.raises(ValueError, match="part must be one of"):
        split_files(".", "holdout")
    with pytest.raises(ValueError, match="part must be one of"):
        glass_names("holdout")
