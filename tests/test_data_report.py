"""scripts/data_report.py: the shear-band section finds a band planted at a known place; running
shears are read from their packed checkpoints."""
from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import load_script
from ovito_glassml.simulation.dataset import GlassDataset


@pytest.fixture(scope="module")
def data_report():
    return load_script("data_report")


def _grid_glass(band_x: float | None) -> GlassDataset:
    """Atoms on a 1 Å grid in a 40 x 20 x 10 Å periodic box; D2min peaks at x = band_x (the two
    grid planes x = band_x ± 0.5 hold exactly the top 5 %); band_x None: D2min rises along y."""
    g = np.stack(np.meshgrid(np.arange(40), np.arange(20), np.arange(10), indexing="ij"), -1).reshape(-1, 3) + 0.5
    n = len(g)
    d2 = np.exp(-0.5 * (g[:, 0] - band_x) ** 2) if band_x is not None else g[:, 1] / 20.0
    strains = np.array([0.05, 0.1, 0.2])
    orient = {"rotation": np.eye(3), "strain": np.linspace(0, 0.2, 5), "stress": np.zeros(5), "energy": np.zeros(5),
              "snapshot_strains": strains, "d2min": np.stack([d2 * s for s in strains]),
              "snapshot_cells": np.stack([np.diag([40.0, 20.0, 10.0])] * 3)}
    prov = {"system": {"name": "Cu50Zr50", "dimensions": 3}}
    return GlassDataset(positions=g.astype(float), types=np.zeros(n, int), type_names=("Cu",),
                        cell=np.diag([40.0, 20.0, 10.0]), origin=np.zeros(3), pbc=(True, True, True), provenance=prov,
                        voronoi_volume=np.ones(n), orientations={"xy": orient}, path="/x/band_g0007.npz")


def test_band_section_finds_the_planted_band(data_report, tmp_path):
    lines, (fig, _) = data_report.band_section("band", [_grid_glass(13.0)], tmp_path, fraction=0.05, width=10.0)
    rows = [ln.split("|")[1:-1] for ln in lines if ln.startswith("| g0007")]
    # one row per snapshot from 10 % on, not the 5 % one
    assert [r[2].strip() for r in rows] == ["10 %", "20 %"]
    for r in rows:
        assert r[3].strip() == "X"
        # every 10 A slab holding both active planes (x = 12.5, 13.5) ties: centres in (8.5, 17.5)
        assert abs(float(r[4]) - 13.0) < 4.5
        # all the active atoms in a slab of 10 of the 40 grid planes: contrast = 40 / 10
        assert float(r[5]) == pytest.approx(4.0, rel=0.1)
    assert fig.exists() and fig.stat().st_size > 0


def test_band_section_skips_campaigns_not_sheared_far(data_report, tmp_path):
    ds = _grid_glass(13.0)
    o = ds.orientations["xy"]
    o["snapshot_strains"] = np.array([0.02, 0.05, 0.1])  # below BAND_STRAIN
    assert data_report.band_section("short", [ds], tmp_path) == ([], None)


def test_homogeneous_gradient_gives_a_band_along_y(data_report, tmp_path):
    lines, _ = data_report.band_section("grad", [_grid_glass(None)], tmp_path, fraction=0.05, width=10.0)
    rows = [ln.split("|")[1:-1] for ln in lines if ln.startswith("| g0007")]
    assert all(r[3].strip() == "Y" for r in rows)


def test_running_shears_are_read_from_the_packed_checkpoints(data_report, tmp_path):
    part = tmp_path / "big" / "partial"
    part.mkdir(parents=True)
    state = {"params": {"max_strain": 0.2, "strain_step": 0.001}, "step": 3, "strain": [0.0, 0.001, 0.002, 0.003],
             "stress": [0.0, 0.1, 0.2, 0.25], "wall_s": 7200.0, "mpi_ranks_used": [1, 2]}
    np.savez(part / "big_g0101_shear_xy.npz", format="glassml-partial-shear-2", orientation="xy",
             state=json.dumps(state))
    np.savez(part / "big_g0101_shear_xy_snap_00002.npz", positions=np.zeros((1, 3)))  # a snapshot: not a run
    whole = (part / "big_g0101_shear_xy.npz").read_bytes()
    (part / "big_g0102_shear_xy.npz").write_bytes(whole[: len(whole) // 2])  # a truncated pack
    runs = data_report._running_shears(tmp_path, "big")
    assert [r.get("glass") for r in runs] == ["g0101", None]
    r = runs[0]
    assert (r["orientation"], r["step"], r["n_steps"], r["ranks"], r["wall_s"]) == ("xy", 3, 200, [1, 2], 7200.0)
    np.testing.assert_allclose(r["stress"], [0.0, 0.1, 0.2, 0.25])
    assert runs[1]["file"] == "big_g0102_shear_xy.npz" and runs[1]["error"]


def test_remaining_time_counts_packed_steps_and_the_longest_task(data_report):
    med = {"glass (all stages)": 100.0, "MSD (all seeds)": 10.0, "shear, one orientation": 1000.0}
    # 2 glasses, 1 MSD, 3 shears of which one is packed at 40 % (0.6 left): 200 + 10 + 2.6 * 1000
    work, wall = data_report.remaining_time(med, 2, 1, 3, [0.6], cores=16)
    assert work == pytest.approx(2810.0)
    assert wall == pytest.approx(1000.0)  # an unstarted shear is longer than 2810 / 16
    # only the packed shear is left: its remaining 60 %, however many cores
    assert data_report.remaining_time(med, 0, 0, 1, [0.6], cores=16) == pytest.approx((600.0, 600.0))
    # many short tasks: the work spread over the cores
    assert data_report.remaining_time(med, 0, 64, 0, [], cores=16) == pytest.approx((640.0, 40.0))
    # no shear of this size measured yet: unknown, not zero
    assert np.isnan(data_report.remaining_time({}, 0, 0, 2, [], cores=16)[0])


def test_label_agreement_known_answers(data_report):
    rng = np.random.default_rng(3)
    a = rng.random(2000)
    # identical and monotonically transformed labels: full overlap, rank correlation 1
    assert data_report.label_agreement(a, a) == pytest.approx((1.0, 1.0))
    assert data_report.label_agreement(a, np.exp(3 * a)) == pytest.approx((1.0, 1.0))
    # reversed ranking: no shared top atoms, rank correlation -1
    assert data_report.label_agreement(a, -a) == pytest.approx((-1.0, 0.0))
    # a planted overlap: b's top 100 (5 %) share exactly 40 atoms with a's
    order = np.argsort(-a)
    b = rng.random(2000) * 0.5
    b[order[:40]] = 2.0 + rng.random(40)
    b[order[-60:]] = 2.0 + rng.random(60)
    assert data_report.label_agreement(a, b)[1] == pytest.approx(0.4)


def test_agreement_section_averages_over_glasses_with_both_loadings(data_report):
    g1, g2 = _grid_glass(13.0), _grid_glass(13.0)
    for g, flip in ((g1, False), (g2, True)):
        o = dict(g.orientations["xy"])
        # the second loading: the same labels (g1) or their reverse (g2)
        o["d2min"] = -o["d2min"] if flip else o["d2min"].copy()
        g.orientations["x-y"] = o
    g3 = _grid_glass(13.0)  # one loading only: not counted
    lines = data_report.agreement_section([g1, g2, g3], ["xy", "x-y", "yz"])
    at5 = lines[lines.index("At 5 % strain:") + 4]
    # mean of overlap 100 % and 0 %, of Spearman 1 and -1, over 2 glasses
    assert at5 == "| `xy` | 50.0 % / 0.00 (2) |"
    assert data_report.agreement_section([g3], ["xy", "x-y"]) == []


def _labelled(path, n: int, cu: float, strains: dict, seeds: int, split: str = "train", glass: dict | None = None) -> None:
    """A data-set file with ``n`` Cu-Zr atoms (Cu fraction ``cu``), D2min snapshots up to ``strains[o]``
    in each orientation ``o`` and ``seeds`` MSD runs (0: no MSD)."""
    from ovito_glassml.simulation.dataset import save_dataset

    rng = np.random.default_rng(0)
    types = (np.arange(n) >= round(cu * n)).astype(int)
    orients = {}
    for o, top in strains.items():
        snaps = np.array([s for s in (0.02, 0.05, 0.1, 0.2) if s <= top + 1e-9])
        orients[o] = {"rotation": np.eye(3), "strain": np.linspace(0, top, 3), "stress": np.zeros(3),
                      "energy": np.zeros(3), "snapshot_strains": snaps, "d2min": rng.random((len(snaps), n)),
                      "snapshot_cells": np.stack([np.eye(3) * 40.0] * len(snaps))}
    prov = {"system": {"name": "CuZr", "dimensions": 3}, "glass": glass or {}, "lammps_version": "test",
            "stages": {"msd": seeds > 0}, "orientations_done": list(strains), "split": split}
    msd = {} if not seeds else dict(msd=np.ones(n), msd_runs=np.ones((seeds, n)), msd_temperature=np.full(seeds, 50.0),
                                    v_flex=np.ones(n))
    save_dataset(path, GlassDataset(positions=rng.random((n, 3)) * 40, types=types, type_names=("Cu", "Zr"),
                                    cell=np.eye(3) * 40.0, origin=np.zeros(3), pbc=(True, True, True), provenance=prov,
                                    voronoi_volume=np.ones(n), orientations=orients, **msd))


def test_targets_count_only_the_files_that_meet_them(data_report, tmp_path):
    six = {o: 0.1 for o in ("xy", "x-y", "yz", "y-z", "zx", "z-x")}
    _labelled(tmp_path / "a" / "good.npz", 4000, 0.5, six, 10, split="test")
    _labelled(tmp_path / "a" / "five_to_10.npz", 4000, 0.5, {**six, "z-x": 0.05}, 10)
    _labelled(tmp_path / "a" / "few_seeds.npz", 4000, 0.5, six, 5)
    _labelled(tmp_path / "a" / "small.npz", 3999, 0.5, six, 10)
    _labelled(tmp_path / "b" / "cu64.npz", 4000, 0.64, six, 10)
    _labelled(tmp_path / "c" / "big.npz", 16000, 0.5, {"xy": 0.2}, 0)
    _labelled(tmp_path / "c" / "big_to_10.npz", 16000, 0.5, {"xy": 0.1}, 0)
    (tmp_path / "c" / "broken.npz").write_bytes(b"not a zip")
    window = {"preparation": "window", "window": [[1100.0, 850.0, 1e12], [850.0, 700.0, 1e11]]}
    _labelled(tmp_path / "d" / "relaxed.npz", 4000, 0.5, six, 10, glass=window)
    _labelled(tmp_path / "d" / "relaxed_few_seeds.npz", 4000, 0.5, six, 5, split="test", glass=window)
    lines = data_report.targets_section(tmp_path)
    rows = [ln.split("|")[2:5] for ln in lines if ln.startswith("| ") and "---" not in ln][1:]
    assert [[c.strip() for c in r] for r in rows] == [["2", "16", "not yet"], ["1", "4", "not yet"],
                                                      ["1", "16", "not yet"], ["0", "4", "not yet"],
                                                      ["1", "2", "not yet"], ["0", "2", "not yet"],
                                                      ["0", "20", "not yet"]]
