"""scripts/shear_band_check.py: Fan, Ma & Falk's γ test finds a planted band in the loading frame."""
from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import load_script
from ovito_glassml.descriptors.geometry import orientation_frame
from ovito_glassml.simulation.dataset import GlassDataset, save_dataset

BOX = np.array([40.0, 30.0, 20.0])


@pytest.fixture(scope="module")
def check():
    return load_script("shear_band_check")


def _band(x: np.ndarray, at: float = 13.0) -> np.ndarray:
    """D2min peaked at ``at`` (Å): the two grid planes beside it hold the largest values, with small
    random differences (kept in float32) so that any top fraction of them is one definite set."""
    return np.exp(-0.5 * (x - at) ** 2) + 1e-4 * np.random.default_rng(0).random(len(x))


def _grid() -> np.ndarray:
    g = np.stack(np.meshgrid(*[np.arange(int(b)) for b in BOX], indexing="ij"), -1).reshape(-1, 3) + 0.5
    return g.astype(float)


class Stub:
    """A model whose 'susceptibility' is 1 within 1 A of sample y = ``y0`` (else 0); records frames."""

    def __init__(self, y0: float):
        self.y0, self.frames = y0, []

    def predict(self, config, frame=None):
        self.frames.append(np.asarray(frame))
        return (np.abs(config.positions[:, 1] - self.y0) < 1).astype(float)


def test_band_and_dfs_are_measured_in_the_loading_frame(check):
    """Loading yz (s = y, n = z): a band of high D2min at sample y = 13 is ⟂ X of the loading frame,
    at x = 13; a predictor marking that band gets γ = 1, one marking y = 28 (15 A away) less."""
    from ovito_glassml.descriptors.geometry import Configuration
    from ovito_glassml.simulation.protocol import rotate_to_loading_frame

    pos = _grid()
    config = Configuration(positions=pos, cell=np.diag(BOX), types=np.zeros(len(pos), int), type_names=("Cu",))
    d2 = _band(pos[:, 1])
    R = orientation_frame("yz")
    pos_l, cell_l = rotate_to_loading_frame(pos, np.diag(BOX), np.zeros(3), R)
    slabs = Configuration(positions=pos_l, cell=cell_l, types=config.types, type_names=("Cu",))
    good, bad = Stub(13.0), Stub(28.0)
    band, scores = check.score_band(config, d2, d2, {"good": good, "bad": bad}, slab_width=10.0, band_width=10.0,
                                    band_fraction=0.04, rotation=R, slabs=slabs)
    assert band.axis == "x" and abs(band.position - 13.0) < 4.5
    assert scores["good"]["gamma"] == 1.0 and scores["oracle"]["gamma"] == 1.0
    assert scores["bad"]["gamma"] < 0.8
    np.testing.assert_allclose(good.frames[0], R)  # the model predicted in the loading frame
    # a continuous predictor (e.g. SF's ln v_flex): fertile = its top fraction, here the 2 planes nearest the band
    graded = Stub(13.0)
    graded.predict = lambda config, frame=None: -np.abs(config.positions[:, 1] - 13.0)
    _, sc = check.score_band(config, d2, None, {"graded": graded}, slab_width=10.0, band_width=10.0,
                             band_fraction=0.04, rotation=R, top={"graded": 2 / 30}, slabs=slabs)
    assert sc["graded"]["gamma"] == 1.0 and sc["graded"]["fertile_fraction"] == pytest.approx(2 / 30, abs=1e-3)
    _, sc = check.score_band(config, d2, None, {"graded": graded}, slab_width=10.0, band_width=10.0,
                             band_fraction=0.04, rotation=R, slabs=slabs)
    # without `top`, values > 0.5 are fertile: none here, so every location ties and γ is undefined, not 1
    assert sc["graded"]["fertile_fraction"] == 0.0 and np.isnan(sc["graded"]["gamma"])
    # in the sample frame (loading xy) the same band is ⟂ Y
    band_xy, _ = check.score_band(config, d2, None, {}, slab_width=10.0, band_width=10.0, band_fraction=0.04)
    assert band_xy.axis == "y" and abs(band_xy.position - 13.0) < 4.5
    with pytest.raises(ValueError, match="loading frame"):  # a rotated loading needs its frame's positions
        check.score_band(config, d2, None, {}, slab_width=10.0, rotation=R)


def test_every_orientation_of_a_file_is_checked_and_written(check, tmp_path):
    pos = _grid()
    n = len(pos)
    strains = np.array([0.05, 0.2])
    orients = {}
    for name, axis in (("xy", 0), ("yz", 1)):
        d2 = _band(pos[:, axis])  # a band at 13 along the loading frame's X
        orients[name] = {"rotation": orientation_frame(name), "strain": np.linspace(0, 0.2, 3), "stress": np.zeros(3),
                         "energy": np.zeros(3), "snapshot_strains": strains, "d2min": np.stack([d2, d2]),
                         "snapshot_cells": np.stack([np.diag(BOX)] * 2)}
    prov = {"system": {"name": "Cu50Zr50", "dimensions": 3}, "glass": {"n_atoms": n}, "lammps_version": 20250722,
            "stages": {"glass": True, "msd": False, "shear": list(orients)}, "orientations_done": list(orients),
            "complete": True}
    ds = GlassDataset(positions=pos, types=np.zeros(n, int), type_names=("Cu",), cell=np.diag(BOX),
                      origin=np.zeros(3), pbc=(True, True, True), provenance=prov, voronoi_volume=np.ones(n),
                      orientations=orients)
    f = save_dataset(tmp_path / "band_g0001.npz", ds)
    out = tmp_path / "rows.json"
    assert check.main([str(f), "--band-fraction", "0.04", "--band-width", "10", "-o", str(out)]) == 0
    res = json.loads(out.read_text())
    assert [r["orientation"] for r in res["rows"]] == ["xy", "yz"]
    for r in res["rows"]:
        assert r["band_axis"] == "x" and abs(r["band_position"] - 13.0) < 4.5 and r["band_strain"] == pytest.approx(0.2)
        assert r["predictors"]["oracle"]["gamma"] == 1.0  # the oracle (top 5 % at 5 %) marks the band itself
    assert res["mean_gamma"]["oracle"] == {"mean": 1.0, "sem": 0.0, "n": 2}
    # the oracle's fertile sites fill the band slab: no random placement fluctuates as much
    assert all(r["predictors"]["oracle"]["delta_p_value"] == pytest.approx(1 / 201) for r in res["rows"])
    assert res["delta"]["oracle"]["p_below_0.05"] == 2 and res["delta"]["oracle"]["n"] == 2
    assert res["command"] == f"python scripts/shear_band_check.py {f} --band-fraction 0.04 --band-width 10 -o {out}"


def test_record_writes_the_summary_and_preparation_into_a_sealed_card(check, tmp_path):
    """--record LABEL=FOLDER: the card gets metrics.shear_band (γ of the rows, the glasses'
    preparation from their provenance), stays sealed, and says so in words."""
    from ovito_glassml.inference.cards import load_card
    from ovito_glassml.inference.demo import build_demo_models

    pos = _grid()
    n = len(pos)
    d2 = _band(pos[:, 1])
    orients = {"xy": {"rotation": orientation_frame("xy"), "strain": np.linspace(0, 0.2, 3), "stress": np.zeros(3),
                      "energy": np.zeros(3), "snapshot_strains": np.array([0.05, 0.2]), "d2min": np.stack([d2, d2]),
                      "snapshot_cells": np.stack([np.diag(BOX)] * 2)}}
    prov = {"system": {"name": "Cu50Zr50", "dimensions": 3}, "lammps_version": 20250722,
            "glass": {"n_atoms": n, "quench_rate": 1e13, "preparation": "window", "window": [[850.0, 700.0, 1e11]]},
            "stages": {"glass": True, "msd": False, "shear": ["xy"]}, "orientations_done": ["xy"], "complete": True}
    ds = GlassDataset(positions=pos, types=np.zeros(n, int), type_names=("Cu",), cell=np.diag(BOX),
                      origin=np.zeros(3), pbc=(True, True, True), provenance=prov, voronoi_volume=np.ones(n),
                      orientations=orients)
    f = save_dataset(tmp_path / "band_g0007.npz", ds)
    rows = tmp_path / "rows.json"
    assert check.main([str(f), "--band-fraction", "0.04", "--band-width", "10", "-o", str(rows)]) == 0
    build_demo_models(tmp_path / "models")
    folder = tmp_path / "models" / "dfs"
    assert load_card(folder).shear_band_text() == "not tested against simulated shear bands"
    assert check.main([str(f), "--from-rows", str(rows), "--record", f"oracle={folder}"]) == 0
    card = load_card(folder)  # verifies the seal
    (entry,) = card.metrics["shear_band"]
    assert entry["gamma_mean"] == 1.0 and entry["n"] == 1 and entry["preparations"] == ["relaxed"]
    assert entry["glasses"] == ["band_g0007"] and entry["atoms"] == [n]
    assert "mean γ 1.00" in card.shear_band_text() and "preparation relaxed" in card.shear_band_text()
    # recording the same glasses again replaces the entry, not appends
    assert check.main([str(f), "--from-rows", str(rows), "--record", f"oracle={folder}"]) == 0
    assert len(load_card(folder).metrics["shear_band"]) == 1
    # an entry on more glasses of the same band definition supersedes the early one; another band keeps it
    g = save_dataset(tmp_path / "band_g0008.npz", ds)
    rows2 = tmp_path / "rows2.json"
    assert check.main([str(f), str(g), "--band-fraction", "0.04", "--band-width", "10", "-o", str(rows2)]) == 0
    assert check.main([str(f), str(g), "--from-rows", str(rows2), "--record", f"oracle={folder}"]) == 0
    (entry,) = load_card(folder).metrics["shear_band"]
    assert entry["glasses"] == ["band_g0007", "band_g0008"] and entry["n"] == 2
    rows3 = tmp_path / "rows3.json"
    assert check.main([str(f), "--band-fraction", "0.05", "--band-width", "10", "-o", str(rows3)]) == 0
    assert check.main([str(f), "--from-rows", str(rows3), "--record", f"oracle={folder}"]) == 0
    assert [e["n"] for e in load_card(folder).metrics["shear_band"]] == [2, 1]
    with pytest.raises(SystemExit):  # a label the rows do not hold
        check.main([str(f), "--from-rows", str(rows), "--record", f"nosuch={folder}"])
