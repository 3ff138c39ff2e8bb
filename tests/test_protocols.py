"""Both protocols (the papers' balanced-set accuracy and the project's top-5 % figures), by
preparation and loading: known answers for perfect, constant and reversed predictors."""
from __future__ import annotations

import numpy as np
import pytest

from ovito_glassml.analysis.metrics import (balanced_accuracy, balanced_draw_accuracies, balanced_draw_sd,
                                            balanced_split_accuracy, paper_protocol_accuracy)
from ovito_glassml.training.samples import LabelledGlass, top_fraction_labels
from ovito_glassml.training.scoring import (PairScores, preparation_of, preparation_record, protocol_values,
                                            score_both_protocols)


def test_paper_protocol_accuracy_known_answers():
    rng = np.random.default_rng(0)
    y = np.zeros(2000)
    y[:10] = 1
    perfect = y.copy()
    assert paper_protocol_accuracy(y, perfect) == 1.0
    assert balanced_draw_sd(y, perfect) == 0.0
    for c in (0.3, 0.7):  # a constant decision: all negative (TPR 0, TNR 1) or all positive (TPR 1, TNR 0)
        assert paper_protocol_accuracy(y, np.full(2000, c)) == 0.5
        assert balanced_draw_sd(y, np.full(2000, c)) == 0.0
    assert paper_protocol_accuracy(y, 1 - perfect) == 0.0
    # a noisy predictor: the mean of many balanced draws converges to the exact expectation, and
    # their spread to the hypergeometric sd
    p = np.clip(0.5 * y + 0.5 * rng.random(2000), 0, 1)
    exact = paper_protocol_accuracy(y, p)
    assert exact == balanced_accuracy(y, p)
    draws = balanced_draw_accuracies(y, p, draws=4000, rng=1)
    assert draws.mean() == pytest.approx(exact, abs=3 * balanced_draw_sd(y, p) / np.sqrt(4000) + 1e-12)
    assert draws.std() == pytest.approx(balanced_draw_sd(y, p), rel=0.1)
    with pytest.raises(ValueError, match="as many negatives"):
        paper_protocol_accuracy([1, 1, 0], [0.9, 0.9, 0.1])


def test_balanced_split_accuracy_known_answers():
    y = np.r_[np.ones(5), np.zeros(95)]
    s = np.arange(100.0)[::-1]  # positives ranked first
    assert balanced_split_accuracy(y, s) == 1.0
    assert balanced_split_accuracy(y, -s) == 0.0
    assert balanced_split_accuracy(y, np.zeros(100)) == pytest.approx(0.5)
    # a random score: about one half
    r = np.random.default_rng(3).random(100000)
    yy = (np.random.default_rng(4).random(100000) < 0.05).astype(float)
    assert balanced_split_accuracy(yy, r) == pytest.approx(0.5, abs=0.02)
    # TPR at the ROC's crossing of TPR + FPR = 1: 2 positives, 2 negatives, order + - + -
    assert balanced_split_accuracy([1, 0, 1, 0], [4, 3, 2, 1]) == pytest.approx(0.5)
    assert balanced_split_accuracy([1, 1, 0, 0], [4, 3, 2, 1]) == 1.0


def _glass(name: str, prep: dict | None) -> LabelledGlass:
    from ovito_glassml.descriptors.geometry import Configuration

    config = Configuration(np.random.default_rng(0).random((4, 3)) * 5, np.eye(3) * 5, np.zeros(4, int), ("Cu",))
    return LabelledGlass(name, config, {}, provenance={} if prep is None else {"glass": prep})


def test_preparation_from_provenance():
    assert preparation_of(_glass("a", {"quench_rate": 1e13})) == "1e13"
    assert preparation_of(_glass("b", {"quench_rate": 1e13, "preparation": "window",
                                       "window": [[850, 650, 1e11]]})) == "relaxed"
    assert preparation_of(_glass("c", {"quench_rate": 2.5e12})) == "2.5e12"
    assert preparation_of(_glass("d", None)) == "unknown"
    rec = preparation_record(_glass("b", {"quench_rate": 1e13, "preparation": "window", "window": [[850, 650, 1e11]]}))
    assert rec == {"preparation": "relaxed", "protocol": "window", "quench_rate": 1e13, "window": [[850, 650, 1e11]]}


def _pairs():
    """Two preparations: the quenched glass holds 2, 5, 10 %, the relaxed one 2, 3, 5 %; 2000 atoms
    each; a perfect probability (1 on the top 0.5 % at 5 %), a constant 0.3, a reversed score."""
    out = []
    for g, prep, strains in (("q1", "1e13", (0.02, 0.05, 0.10)), ("r1", "relaxed", (0.02, 0.03, 0.05))):
        rng = np.random.default_rng(len(out))
        for o in ("xy", "yz"):
            d = {s: rng.random(2000) for s in strains}
            d[0.05] = d[0.05] + 0.0  # the label the perfect predictor knows
            top = top_fraction_labels(d[0.05], 0.005).astype(float)
            out.append(PairScores(g, prep, o, d, {"model": top, "constant": np.full(2000, 0.3),
                                                  "reversed": -d[0.05], "vflex": d[0.05]}))
    return out


def test_score_both_protocols_by_preparation_and_loading():
    decisions = {"model": "probability", "constant": "probability", "reversed": None, "vflex": None}
    b = score_both_protocols(_pairs(), decisions)
    assert b["strains_evaluated"] == ["0.02", "0.03", "0.05", "0.1"]
    assert set(b["strains_absent"]) == {"0.04"}  # no glass has it: reported, never interpolated
    assert b["preparations"] == {"1e13": {"glasses": ["q1"]}, "relaxed": {"glasses": ["r1"]}}
    paper = b["paper"]["strains"]["0.05"]
    assert paper["all"]["model"]["accuracy"] == 1.0
    assert paper["all"]["model"]["n_positives"] == 4 * 10 and paper["all"]["model"]["n_pairs"] == 4
    assert paper["all"]["constant"]["accuracy"] == 0.5
    # pooled over pairs, a per-pair ranking is nearly (not exactly) a pooled one
    assert paper["all"]["reversed"]["balanced_split_accuracy"] < 0.01 and "accuracy" not in paper["all"]["reversed"]
    assert paper["all"]["vflex"]["balanced_split_accuracy"] > 0.99 and paper["all"]["vflex"]["auc_roc"] > 0.99
    assert paper["by_loading"]["xy"]["reversed"]["balanced_split_accuracy"] < 0.01
    for prep in ("1e13", "relaxed"):
        assert paper["by_preparation"][prep]["model"]["accuracy"] == 1.0
        assert paper["by_preparation"][prep]["model"]["n_pairs"] == 2
    assert set(paper["by_loading"]) == {"xy", "yz"}
    assert paper["by_loading"]["yz"]["model"]["n_glasses"] == 2
    # top 5 %: the top-0.5 % indicator ranks the other 4.5 % of the positives with the negatives
    top = b["top5"]["strains"]["0.05"]["all"]
    assert top["vflex"]["auc_roc"] == 1.0 and top["vflex"]["c_rank"] > 0.9
    assert 0.5 < top["model"]["auc_roc"] < 1.0
    # a strain one preparation lacks: only the other is reported, and the lack is said
    s3 = b["paper"]["strains"]["0.03"]
    assert set(s3["by_preparation"]) == {"relaxed"} and s3["preparations_lacking_this_strain"] == {"1e13": ["q1"]}
    s10 = b["paper"]["strains"]["0.1"]
    assert set(s10["by_preparation"]) == {"1e13"}
    v = protocol_values(b)
    assert v["paper_accuracy@strain=0.05"] == 1.0 and v["paper_accuracy@strain=0.05@preparation=relaxed"] == 1.0
    assert v["baseline_constant_paper_accuracy@strain=0.05"] == 0.5
    assert v["baseline_vflex_top5_auc_roc@strain=0.05"] == 1.0  # per pair, then averaged
    assert "paper_accuracy@strain=0.04" not in v and "paper_accuracy@strain=0.03@preparation=1e13" not in v
    # order of the pairs does not matter
    assert score_both_protocols(_pairs()[::-1], decisions) == b


class _Oracle:
    """Knows the labels: probability 1 on the top 0.5 % of D2min at ``strain`` in the frame asked for."""

    orientational = True
    decision = "probability"

    def __init__(self, glasses, strain):
        self.by_config = {id(g.config): g for g in glasses}
        self.strain = strain

    def predict(self, config, centers=None, frame=None):
        g = self.by_config[id(config)]
        return top_fraction_labels(g.d2min_at(frame, self.strain), 0.005)[centers].astype(float)


class _Constant:
    decision = "probability"

    def predict(self, config, centers=None, frame=None):
        return np.full(len(centers), 0.3)


def test_evaluate_reports_both_protocols_for_every_model_kind(tmp_path, capsys):
    from test_training import synthetic_glass

    from ovito_glassml.training.evaluate import evaluate_model
    from ovito_glassml.training.linear import train_sf

    glasses = [synthetic_glass(k, n=400) for k in range(4)]
    glasses = [g.__class__(**{**g.__dict__, "provenance": {"glass": {"quench_rate": 1e13}}}) for g in glasses]
    sf = train_sf(glasses, tmp_path / "sf", test=[glasses[-1].name], c_grid=(1e-2,), folds=2)
    test = [glasses[-1]]
    m = evaluate_model(sf.directory, test, tmp_path / "eval", strains=[0.03, 0.05, 0.10],
                       baselines={"oracle": _Oracle(test, 0.05), "constant": _Constant()})
    p = m["protocols"]
    assert p["strains_evaluated"] == ["0.03", "0.05"] and set(p["strains_absent"]) == {"0.1"}
    assert p["predictors"]["model"] == {"decision": None} and p["predictors"]["oracle"] == {"decision": "probability"}
    row = p["paper"]["strains"]["0.05"]["all"]
    assert row["oracle"]["accuracy"] == 1.0 and row["constant"]["accuracy"] == 0.5
    assert "accuracy" not in row["model"] and 0 <= row["model"]["balanced_split_accuracy"] <= 1
    assert {"voronoi_volume", "v_flex"} <= set(row)  # the references, on the same atoms
    assert set(p["paper"]["strains"]["0.05"]["by_loading"]) == {"xy", "zx"}
    assert set(p["paper"]["strains"]["0.05"]["by_preparation"]) == {"1e13"}
    v = m["values"]
    assert v["baseline_oracle_paper_accuracy@strain=0.05"] == 1.0
    assert "paper_balanced_split_accuracy@strain=0.05@preparation=1e13" in v
    assert (tmp_path / "eval" / "paper_protocol.png").is_file()
    # glassml evaluate prints them per strain and preparation, and names the absent strains
    from ovito_glassml.training.cli_train import main

    f = test[0].save_npz(tmp_path / f"{test[0].name}.npz")
    assert main(["evaluate", str(sf.directory), str(f), "-o", str(tmp_path / "cli"), "-q"]) == 0
    text = capsys.readouterr().out
    assert "strain 5 %: all: papers' " in text and "1e13: papers' " in text
    assert "absent strains (no glass-loading holds them): 2 %, 4 %, 10 %" in text


# ----------------------------------------------------------------------------------------------
# one network, several strains
def test_output_weights_balance_each_output_and_skip_absent_labels():
    from ovito_glassml.training.cnn import _output_weights

    labels = np.array([[1, 1], [0, -1], [0, 0], [0, 1], [1, 0], [0, 0]], dtype=np.float32)
    w = np.array([1.0, 3.0, 3.0, 1.0, 1.0, 3.0])
    lw = _output_weights(labels, w)
    for k in range(2):
        for cls in (0, 1):
            assert lw[labels[:, k] == cls, k].sum() == pytest.approx(len(labels) / 2)
    assert lw[1, 1] == 0  # absent label
    # inside a class the inclusion weights are kept: negatives 1 and 2 of output 0 weigh 3 : 3 : 1 : 3
    assert lw[1, 0] / lw[3, 0] == pytest.approx(3.0)


def test_network_outputs_and_stems():
    torch = pytest.importorskip("torch")
    from ovito_glassml.training.cnn import build_network, count_parameters

    for arch in ("compact", "compact-fabric"):
        for grid, stem in ((16, "none"), (24, "none"), (32, "pool"), (32, "stride")):
            net = build_network(arch, 2, grid, 3, outputs=3, stem=stem).eval()
            with torch.no_grad():
                assert net(torch.zeros(2, 2, grid, grid, grid)).shape == (2, 3)
    # a pooled stem makes the 32^3 map cost about as much as 16^3 in the convolutions
    assert count_parameters(build_network("compact", 2, 32, 3, stem="pool")) == \
        count_parameters(build_network("compact", 2, 16, 3))
    with pytest.raises(Exception, match="stem"):
        build_network("compact", 2, 16, 3, stem="dilate")


def _two_strain_glasses():
    from test_training import synthetic_glass

    out = []
    for k in range(5):
        g = synthetic_glass(k)
        d2 = {o: dict(v) for o, v in g.d2min.items()}
        if k == 0:
            d2["zx"].pop(0.05)  # a loading without the 5 % snapshot: that output's labels are absent there
        out.append(LabelledGlass(g.name, g.config, d2, v_flex=g.v_flex, provenance={"glass": {"quench_rate": 1e13}}))
    return out


def test_samples_for_several_outputs_mark_absent_strains():
    from ovito_glassml.descriptors.sdm import SDMSettings
    from ovito_glassml.training.cnn import sdm_samples_multi

    glasses = _two_strain_glasses()
    settings = SDMSettings(cutoff=3.0, spacing=0.6, species=("Cu", "Zr"))
    s = sdm_samples_multi(glasses[:2], settings, [(0.03, 0.1), (0.05, 0.1)], negatives="balanced")
    assert s.labels.shape[1] == 2 and s.images.shape[0] == len(s.labels)
    assert (s.labels[:, 1] == -1).sum() > 0 and (s.labels[:, 0] == -1).sum() <= 2  # NaN atoms of the synthetic D2min
    assert s.counts["outputs"]["top10%@5%"]["pairs"] == 3 and s.counts["outputs"]["top10%@3%"]["pairs"] == 4
    # anchors: positive for some output; the kept negatives carry (negatives of the pair) / (kept)
    assert np.all((s.labels[s.anchor == 1] == 1).any(axis=1)) and not np.any(s.labels[s.anchor == 0] == 1)
    assert np.all(s.weights[s.anchor == 1] == 1) and np.all(s.weights[s.anchor == 0] > 1)


def test_one_network_two_strains_end_to_end(tmp_path):
    """A two-output CNN trains (2 epochs), exports one ONNX file with two columns; the card names
    its outputs; the runtime reads the selected one; a derived folder selects the other with the
    same file, and each card's metrics are those of its own output."""
    torch = pytest.importorskip("torch")
    import onnxruntime as ort

    from ovito_glassml.descriptors.sdm import SDMSettings, spatial_density_map
    from ovito_glassml.inference import load_model
    from ovito_glassml.inference.cards import load_card
    from ovito_glassml.training.cnn import derive_output_model, train_cnn

    glasses = _two_strain_glasses()
    out = tmp_path / "multi"
    r = train_cnn(glasses, out, targets=[(0.03, 0.1), (0.05, 0.1), (0.2, 0.1)], settings=SDMSettings(cutoff=3.0, spacing=0.6),
                  epochs=2, batch_size=8, seed=0, negatives="all", validation=1, test=1, stop_patience=1,
                  checkpoint=out / "ck.pt")
    card = load_card(out)
    assert card.output["select"] == "top10%@5%" and card.output["column"] == 1
    assert [o["name"] for o in card.output["outputs"]] == ["top10%@3%", "top10%@5%"]  # 20 %: no data, dropped
    assert card.training["protocol"]["outputs"]["dropped_targets_no_training_data"] == ["top10%@20%"]
    assert card.label["strain"] == 0.05 and card.metrics["values"]["strain"] == pytest.approx(0.05)
    assert "stopped" in card.training["protocol"] and len(r.history[0]["val_accuracy_outputs"]) == 2
    sess = ort.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])
    assert sess.get_outputs()[0].shape[-1] == 2
    test_glass = next(g for g in glasses if g.name == card.training["data"]["split"]["test"][0])
    idx = np.arange(0, test_glass.count, 9)
    images = spatial_density_map(test_glass.config, card.settings, "xy", idx)
    with torch.no_grad():
        both = torch.sigmoid(r.net(torch.from_numpy(images))).numpy()
    np.testing.assert_allclose(load_model(out).predict(test_glass.config, idx, frame="xy"), both[:, 1], atol=1e-5)
    derived, metrics = derive_output_model(out, tmp_path / "at3", "top10%@3%", [test_glass])
    assert (tmp_path / "at3" / "model.onnx").read_bytes() == (out / "model.onnx").read_bytes()
    assert derived.output["column"] == 0 and derived.label["strain"] == 0.03
    assert derived.metrics["values"]["strain"] == pytest.approx(0.03)
    np.testing.assert_allclose(load_model(tmp_path / "at3").predict(test_glass.config, idx, frame="xy"), both[:, 0],
                               atol=1e-5)


def test_select_output_column_reads_the_named_output():
    from ovito_glassml.inference.cards import CardError
    from ovito_glassml.inference.runtime import select_output_column

    class _Card:
        name = "m"

        def __init__(self, output):
            self.output = output

    outputs = [{"name": "a", "column": 0}, {"name": "b", "column": 1}]
    assert select_output_column(_Card({"select": "b", "outputs": outputs}), ["batch", 2]) == 1
    assert select_output_column(_Card({"select": "a", "column": 0, "outputs": outputs}), ["batch", 2]) == 0
    assert select_output_column(_Card({}), ["batch", 1]) == 0
    with pytest.raises(CardError, match="not among"):
        select_output_column(_Card({"select": "c", "outputs": outputs}), ["batch", 2])
    with pytest.raises(CardError, match="says 0"):
        select_output_column(_Card({"select": "b", "column": 0, "outputs": outputs}), ["batch", 2])
    with pytest.raises(CardError, match="2 columns"):
        select_output_column(_Card({}), ["batch", 2])


# ----------------------------------------------------------------------------------------------
# ensemble weights chosen on validation glasses
def test_weight_grid_and_choice_on_validation_pairs():
    from ovito_glassml.training.ensemble import choose_weights, weight_grid

    g = weight_grid(3, 0.5)
    assert g.shape == (6, 3) and np.allclose(g.sum(axis=1), 1) and {tuple(r) for r in g} >= {(0.5, 0.5, 0.0)}
    assert len(weight_grid(3, 0.1)) == 66
    with pytest.raises(Exception, match="divide 1"):
        weight_grid(2, 0.3)
    rng = np.random.default_rng(0)
    scores, labels = [], []
    for _ in range(3):  # the label is a + b > 1: only equal weights on a and b rank it perfectly
        z = rng.standard_normal((3, 3000))
        scores.append(z)
        labels.append((z[0] + z[1] > 1.0).astype(int))
    labels[0][:5] = -1  # atoms without a label are left out
    got = choose_weights(scores, labels, ["cnn", "qs", "sf"], step=0.1)
    assert got["weights"] == {"cnn": 0.5, "qs": 0.5, "sf": 0.0} and got["mean_auc"] == 1.0
    assert got["n_pairs"] == 3 and got["members_alone"]["sf"] == pytest.approx(0.5, abs=0.05)
    assert len(got["grid"]) == 66


def test_sf_member_enters_an_ensemble_untransformed():
    from ovito_glassml.training.ensemble import member_transform

    class _Card:
        def __init__(self, prop):
            self.property = prop

    class _M:
        def __init__(self, prop):
            self.card = _Card(prop)

    assert member_transform(_M("Quench-in Softness")) == "logit"
    assert member_transform(_M("Plastic Susceptibility")) == "logit"
    assert member_transform(_M("Structural Flexibility")) == "identity"


# ----------------------------------------------------------------------------------------------
# the tables in models/README.md and the shipped cards
def test_protocols_table_per_preparation(tmp_path):
    import json

    from conftest import load_script

    report = load_script("models_report")
    decisions = {"model": "probability", "constant": "probability", "vflex": None}
    block = score_both_protocols(_pairs(), decisions)
    block["evaluated_on"] = "2 glasses"
    for name in ("susceptibility", "qs"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "card.json").write_text(json.dumps({"metrics": {"protocols": block}}))
    text = report.protocols_table(tmp_path)
    assert "preparation 1e13" in text and "preparation relaxed" in text
    rows = [line for line in text.splitlines() if line.startswith("| `susceptibility` |")]
    # paper table, 1e13 glasses: 2 % (random), 3 % absent there, 4 % absent everywhere, 5 % perfect, 10 %
    cells = rows[0].split(" | ")
    assert cells[2] == "–" and cells[3] == "–" and cells[4].startswith("1.000")
    assert "Not measured" in report.protocols_table(tmp_path / "none")


def test_shipped_cards_protocols_are_reproduced():
    """The QS card's both-protocol figures (model, Voronoi volume, v_flex) are measured again on
    the glasses the card names."""
    import json
    from pathlib import Path

    from ovito_glassml.training.evaluate import evaluate_model
    from ovito_glassml.training.samples import load_glasses

    root = Path(__file__).resolve().parents[1]
    card = json.loads((root / "models" / "qs" / "card.json").read_text())
    block = card["metrics"].get("protocols")
    if not block:
        pytest.skip("the QS card carries no both-protocol figures yet")
    files = [f for g in block["glasses"] for f in (root / "data").rglob(f"{g}.npz")]
    if len(files) != len(block["glasses"]):
        pytest.skip("a glass of the card is not in data/")
    m = evaluate_model(root / "models" / "qs", load_glasses(files))
    for protocol in ("paper", "top5"):
        for s, b in block[protocol]["strains"].items():
            for key in ("model", "voronoi_volume", "v_flex"):
                want, got = b["all"].get(key), m["protocols"][protocol]["strains"][s]["all"].get(key)
                assert (want is None) == (got is None), (protocol, s, key)
                for k, v in (want or {}).items():
                    assert got[k] == pytest.approx(v, rel=1e-9, abs=1e-12), (protocol, s, key, k)


def test_prediction_cache_returns_the_same_numbers_and_shares_equal_files(tmp_path):
    import shutil
    from pathlib import Path

    from test_training import synthetic_glass

    from ovito_glassml.inference import load_model
    from ovito_glassml.training.prediction_cache import CachedPredictor, with_cache

    root = Path(__file__).resolve().parents[1]
    g = synthetic_glass(0, n=120)
    direct = load_model(root / "models" / "sf").predict(g.config, np.arange(0, 120, 3))
    a = CachedPredictor(load_model(root / "models" / "sf"), tmp_path / "cache")
    np.testing.assert_array_equal(a.predict(g.config, np.arange(0, 120, 3)), direct)
    assert (a.hits, a.misses) == (0, 1)
    # a copy of the folder (same files) reads the same entry; other centres are another entry
    shutil.copytree(root / "models" / "sf", tmp_path / "sf_copy")
    b = with_cache(load_model(tmp_path / "sf_copy"), tmp_path / "cache")
    np.testing.assert_array_equal(b.predict(g.config, np.arange(0, 120, 3)), direct)
    assert (b.hits, b.misses) == (1, 0)
    b.predict(g.config, np.arange(0, 120, 4))
    assert b.misses == 1 and b.card.name == "sf"


def test_provenance_summary_counts_the_glasses_of_each_preparation():
    from ovito_glassml.training.samples import provenance_summary

    glasses = [_glass("a", {"quench_rate": 1e13}), _glass("b", {"quench_rate": 1e13}),
               _glass("c", {"quench_rate": 1e13, "preparation": "window", "window": [[850, 700, 1e11]]})]
    preps = provenance_summary(glasses)["preparations"]
    assert [(p["preparation"], p["glasses"]) for p in preps] == [("1e13", 2), ("relaxed", 1)]
    assert preps[1]["window"] == [[850, 700, 1e11]]
