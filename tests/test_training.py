"""Training and evaluation end to end on tiny synthetic glasses (seconds).

The synthetic "D2min" and "v_flex" are deterministic functions of the local structure (plus a
little noise), so the trainers have something to learn; every trained model is exported, reloaded
through the runtime and must give the trained model's own predictions.
"""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from ovito_glassml.descriptors.geometry import Configuration, ConfigurationError, neighbor_list, orientation_frame
from ovito_glassml.inference import load_model
from ovito_glassml.inference.cards import load_card
from ovito_glassml.training.samples import (LabelledGlass, balanced_indices, load_glasses, split_by_glass,
                                            threshold_labels, top_fraction_labels)

ORIENTATIONS = ("xy", "zx")
STRAINS = (0.03, 0.05)


def _packing(n: int, seed: int, density: float = 0.06) -> Configuration:
    rng = np.random.default_rng(seed)
    side = (n / density) ** (1 / 3)
    dmin2 = 2.1 ** 2
    pos = np.zeros((n, 3))
    count = 0
    while count < n:
        p = rng.random(3) * side
        d = pos[:count] - p
        d -= side * np.round(d / side)
        if count == 0 or np.einsum("ij,ij->i", d, d).min() >= dmin2:
            pos[count] = p
            count += 1
    return Configuration(pos, np.eye(3) * side, (rng.random(n) < 0.5).astype(int), ("Cu", "Zr"))


def synthetic_glass(k: int, n: int = 200) -> LabelledGlass:
    """D2min grows with local free volume and with the shear-aligned neighbour anisotropy x*y in
    the loading frame; ln v_flex falls with the number of close neighbours."""
    config = _packing(n, seed=100 + k)
    rng = np.random.default_rng(k)
    nl = neighbor_list(config, 3.6)
    close = np.bincount(nl.center, weights=np.exp(-((nl.distances - 2.2) / 0.5) ** 2), minlength=n)
    d2 = {}
    for o in ORIENTATIONS:
        v = nl.vectors @ orientation_frame(o).T
        aniso = np.bincount(nl.center, weights=v[:, 0] * v[:, 1] / nl.distances ** 2, minlength=n)
        base = np.exp(-0.6 * close + 0.8 * aniso + 0.05 * rng.standard_normal(n))
        d2[o] = {s: s * base for s in STRAINS}
        d2[o][STRAINS[0]][0] = np.nan  # an atom without a D2min fit
    v_flex = np.exp(-0.3 * close + 0.1 * config.types + 0.02 * rng.standard_normal(n))
    return LabelledGlass(f"g{k}", config, d2, v_flex=v_flex, msd=v_flex / 2.5,
                         provenance={"system": "synthetic", "seed": k})


@pytest.fixture(scope="module")
def glasses():
    return [synthetic_glass(k) for k in range(5)]


# ----------------------------------------------------------------------------------------------
def test_labels_and_balanced_indices():
    d = np.array([0.1, 5.0, np.nan, 3.0, 0.2, 4.0, 0.0, 1.0, 2.0, 0.5, 0.3])
    top = top_fraction_labels(d, 0.2)  # 10 finite -> 2 largest
    assert top.tolist() == [0, 1, -1, 0, 0, 1, 0, 0, 0, 0, 0]
    thr = threshold_labels(d, 2.0)
    assert thr.tolist() == [0, 1, -1, 1, 0, 1, 0, 0, 0, 0, 0]
    idx = balanced_indices(thr, 0)
    assert len(idx) == 6 and thr[idx].sum() == 3 and -1 not in thr[idx].tolist()
    with pytest.raises(ConfigurationError):
        top_fraction_labels(d, 1.5)


def test_split_never_shares_a_glass(glasses):
    for seed in range(4):
        s = split_by_glass(glasses, test=0.2, validation=0.2, seed=seed)
        names = s.names()
        sets = [set(v) for v in names.values()]
        assert sum(len(x) for x in sets) == len(glasses) == len(set.union(*sets))
        assert all(not (a & b) for i, a in enumerate(sets) for b in sets[i + 1:])
        assert len(names["test"]) == 1 and len(names["validation"]) == 1
    explicit = split_by_glass(glasses, test=["g0", "g3"], validation=1, seed=0)
    assert {g.name for g in explicit.test} == {"g0", "g3"} and len(explicit.validation) == 1
    with pytest.raises(ConfigurationError, match="at least one for training"):
        split_by_glass(glasses[:2], test=1, validation=1)
    # 'auto' takes the glasses the generator marked as test glasses, else 20 %
    import dataclasses
    marked = [dataclasses.replace(g, provenance={**g.provenance, "split": "test" if g.name in ("g1", "g4") else "train"})
              for g in glasses]
    for spec in ("auto", "marked"):
        assert {g.name for g in split_by_glass(marked, test=spec, validation=0).test} == {"g1", "g4"}
    assert len(split_by_glass(glasses, test="auto", validation=0).test) == 1
    with pytest.raises(ConfigurationError, match="no glass is marked"):
        split_by_glass(glasses, test="marked")
    # strains stored as float32 are still found
    assert glasses[0].d2min_at("xy", np.float32(0.05)) is glasses[0].d2min_at("xy", 0.05)
    f32 = LabelledGlass("f32", glasses[0].config, {"xy": {float(np.float32(0.1)): glasses[0].d2min_at("xy", 0.05)}})
    assert f32.has_d2min("xy", 0.1) and not f32.has_d2min("xy", 0.099) and not f32.has_d2min("zx", 0.1)
    assert f32.d2min_at("xy", 0.1) is f32.d2min["xy"][float(np.float32(0.1))]


def test_npz_round_trip(tmp_path, glasses):
    g = dataclasses.replace(glasses[0], msd_runs=np.stack([glasses[0].msd * 0.9, glasses[0].msd * 1.1]))
    path = g.save_npz(tmp_path / "g0.npz")
    (back,) = load_glasses([path])
    np.testing.assert_array_equal(back.msd_runs, g.msd_runs)
    assert back.name == g.name and back.orientations == list(ORIENTATIONS)
    np.testing.assert_array_equal(back.config.positions, g.config.positions)
    np.testing.assert_array_equal(back.d2min_at("zx", 0.05), g.d2min_at("zx", 0.05))
    np.testing.assert_array_equal(back.v_flex, g.v_flex)
    assert back.provenance == g.provenance
    with pytest.raises(ConfigurationError, match="no D2min at strain"):
        g.d2min_at("xy", 0.07)
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(ConfigurationError, match="other.npz"):
        load_glasses([tmp_path / "other.npz"])


def test_generator_dataset_adapter(tmp_path, glasses):
    """The generator's per-glass file (simulation.dataset) is read through LabelledGlass.from_file."""
    dataset = pytest.importorskip("ovito_glassml.simulation.dataset")
    g = glasses[1]
    c = g.config
    orients = {o: {"rotation": orientation_frame(o), "strain": np.array([0.0, 0.03, 0.05]),
                   "stress": np.zeros(3), "energy": np.zeros(3), "snapshot_strains": np.array(STRAINS),
                   "d2min": np.stack([g.d2min_at(o, s) for s in STRAINS]), "snapshot_cells": np.stack([c.cell] * 2)}
               for o in g.orientations}
    prov = {"system": {"name": "synthetic", "dimensions": 3}, "glass": {"seed": 1}, "lammps_version": 0,
            "stages": {"msd": True}, "orientations_done": g.orientations, "complete": True}
    ds = dataset.GlassDataset(positions=c.positions, types=c.types, type_names=c.type_names, cell=c.cell,
                              origin=c.origin, pbc=c.pbc, provenance=prov, voronoi_volume=np.full(c.count, 16.0),
                              orientations=orients, msd=g.msd, msd_runs=np.stack([g.msd, g.msd]),
                              msd_temperature=np.array([50.0, 50.0]), v_flex=g.v_flex)
    for folder in ("a", "b"):
        dataset.save_dataset(tmp_path / folder / "glass_000.npz", ds)
    back = LabelledGlass.from_file(tmp_path / "a" / "glass_000.npz")
    assert back.name == "glass_000" and back.orientations == g.orientations and back.provenance == prov
    assert back.msd_runs.shape == (2, c.count)
    np.testing.assert_allclose(back.config.positions, c.positions, atol=1e-4)  # stored as float32
    np.testing.assert_allclose(back.d2min_at("zx", 0.05), g.d2min_at("zx", 0.05), rtol=1e-6)
    assert np.isnan(back.d2min_at("xy", 0.03)[0]) and back.voronoi_volume[0] == 16.0
    np.testing.assert_allclose(back.v_flex, g.v_flex, rtol=1e-6)
    both = load_glasses([tmp_path])  # a folder, searched recursively; equal file names get the folder prefixed
    assert [x.name for x in both] == ["a/glass_000", "b/glass_000"]


# ----------------------------------------------------------------------------------------------
# CNN
def test_mirror_batch_matches_numpy_mirrors():
    torch = pytest.importorskip("torch")
    from ovito_glassml.descriptors.sdm import mirror_images
    from ovito_glassml.training.cnn import mirror_batch

    for dims, n_ops in ((3, 8), (2, 4)):
        x = np.random.default_rng(dims).random((n_ops, 2) + (6,) * dims).astype(np.float32)
        ops = np.arange(n_ops)
        got = mirror_batch(torch.from_numpy(x), ops, dims).numpy()
        want = np.stack([mirror_images(x[k], k, dimensions=dims) for k in ops])
        np.testing.assert_array_equal(got, want)


def test_network_shapes_and_sizes():
    torch = pytest.importorskip("torch")
    from ovito_glassml.training.cnn import build_network, count_parameters

    paper = build_network("paper", 2, 32, 3)
    assert sum(isinstance(m, torch.nn.Conv3d) for m in paper.modules()) == 20
    assert sum(isinstance(m, torch.nn.MaxPool3d) for m in paper.modules()) == 3
    assert {m.out_channels for m in paper.modules() if isinstance(m, torch.nn.Conv3d)} == {60}
    compact = build_network("compact", 2, 16, 3)
    assert [m.out_channels for m in compact.modules() if isinstance(m, torch.nn.Conv3d)] == [16, 16, 32, 32, 64, 64]
    assert count_parameters(compact) < count_parameters(paper)
    net2d = build_network("paper", 2, 50, 2).eval()
    assert net2d(torch.zeros(3, 2, 50, 50)).shape == (3, 1)
    with pytest.raises(ConfigurationError):
        build_network("huge")


def _toy_samples(seed: int):
    """2D images whose label is whether the centre pixel of channel 0 is bright: learnable in a few epochs."""
    from ovito_glassml.training.cnn import SDMSamples

    rng = np.random.default_rng(seed)
    images = rng.random((48, 2, 10, 10)).astype(np.float32)
    labels = (np.arange(48) % 3 == 0).astype(np.float32)
    images[labels == 1, 0, 4:6, 4:6] += 1.0
    return SDMSamples(images, labels)


class _Interrupt(Exception):
    pass


def test_fit_network_resumes_from_its_checkpoint_exactly(tmp_path):
    """Killed after epoch 2 and rerun, training ends with the same weights and history as a run
    that was never interrupted; a checkpoint made for other samples or settings is refused."""
    torch = pytest.importorskip("torch")
    from ovito_glassml.training.cnn import build_network, fit_network

    train, val = _toy_samples(1), _toy_samples(2)
    kw = dict(dimensions=2, epochs=4, batch_size=8, lr=3e-3, stop_patience=10, seed=3,
              device=torch.device("cpu"), resample_negatives=True)

    def net():
        torch.manual_seed(0)
        return build_network("compact", 2, 10, 2)

    whole, hist_whole, best_whole = fit_network(net(), train, val, **kw)

    ck = tmp_path / "ck.pt"

    def stop_after_two(msg):
        if msg.startswith("epoch 2:"):
            raise _Interrupt

    with pytest.raises(_Interrupt):
        fit_network(net(), train, val, checkpoint=ck, fingerprint={"arch": "compact"}, progress=stop_after_two, **kw)
    assert ck.exists() and not ck.with_name(ck.name + ".tmp").exists()
    notes = []
    resumed, hist, best = fit_network(net(), train, val, checkpoint=ck, fingerprint={"arch": "compact"},
                                      progress=notes.append, **kw)
    assert notes[0].startswith(f"resumed from checkpoint {ck} after epoch 2")
    assert [n.split(":")[0] for n in notes[1:]] == ["epoch 3", "epoch 4"]
    assert best == best_whole
    drop = lambda h: [{k: v for k, v in row.items() if k != "seconds"} for row in h]  # noqa: E731
    assert drop(hist) == drop(hist_whole)
    for (k, a), b in zip(whole.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), k
    # a finished run resumes to the end at once, with no epoch trained
    notes.clear()
    again, _, _ = fit_network(net(), train, val, checkpoint=ck, fingerprint={"arch": "compact"},
                              progress=notes.append, **kw)
    assert len(notes) == 1 and all(torch.equal(a, b) for a, b in zip(again.state_dict().values(),
                                                                       whole.state_dict().values()))
    # other settings, other samples: refused with the reason
    with pytest.raises(ConfigurationError, match="other data or settings.*lr: checkpoint 0.003, now 0.001"):
        fit_network(net(), train, val, checkpoint=ck, fingerprint={"arch": "compact"}, **{**kw, "lr": 1e-3})
    with pytest.raises(ConfigurationError, match="samples_sha256"):
        fit_network(net(), _toy_samples(5), val, checkpoint=ck, fingerprint={"arch": "compact"}, **kw)
    ck.write_bytes(b"not a checkpoint")
    with pytest.raises(ConfigurationError, match="cannot be read.*--restart"):
        fit_network(net(), train, val, checkpoint=ck, **kw)


@pytest.fixture(scope="module")
def cnn_result(glasses, tmp_path_factory):
    pytest.importorskip("torch")
    from ovito_glassml.descriptors.sdm import SDMSettings
    from ovito_glassml.training.cnn import train_cnn

    out = tmp_path_factory.mktemp("models") / "susceptibility"
    # batch 8: about 30 steps per epoch, enough for the batch-norm running statistics used at evaluation
    result = train_cnn(glasses, out, strain=0.05, fraction=0.1, settings=SDMSettings(cutoff=3.0, spacing=0.6),
                       epochs=2, batch_size=8, seed=0, radial_baseline=True, checkpoint=out / "ck.pt")
    assert not (out / "ck.pt").exists()  # deleted once the model folder is complete
    return result


def test_cnn_end_to_end(cnn_result, glasses):
    import torch

    from ovito_glassml.descriptors.sdm import spatial_density_map

    r = cnn_result
    card = load_card(r.directory)
    assert card.kind == "onnx-cnn" and not card.demo and card.input_shape == (2, 10, 10, 10)
    assert card.settings.cutoff == 3.0 and card.label["f_thres"] == 0.1 and card.label["strain"] == 0.05
    split = card.training["data"]["split"]
    assert not set(split["test"]) & set(split["train"] + split["validation"])
    assert card.training["data"]["glasses"] == split["train"] + split["validation"]
    epochs_run = card.training["protocol"]["epochs_run"]
    assert 1 <= epochs_run <= 2 and len(r.history) == epochs_run
    # ONNX vs PyTorch, through the runtime, on a held-out glass
    assert r.onnx_max_abs_diff < 1e-5
    test_glass = next(g for g in glasses if g.name == split["test"][0])
    idx = np.arange(0, test_glass.count, 7)
    got = load_model(r.directory).predict(test_glass.config, idx, frame="zx")
    images = spatial_density_map(test_glass.config, card.settings, "zx", idx)
    with torch.no_grad():
        want = torch.sigmoid(r.net(torch.from_numpy(images))).numpy().reshape(-1)
    np.testing.assert_allclose(got, want, atol=1e-5)
    # metrics measured on the one test glass, both orientations, both strains
    v = card.metrics["values"]
    assert v["n_glasses"] == 1 and v["n_pairs"] == 2 and v["n_atoms"] == 2 * test_glass.count
    assert {"auc_roc@strain=0.03", "c_rank@strain=0.05", "baseline_voronoi_volume_c_rank",
            "baseline_radial_svm_auc_roc"} <= set(v)
    assert v["auc_roc"] > 0.6  # the synthetic D2min is learnable even after 2 epochs
    assert (r.directory / "roc.png").stat().st_size > 1000 and (r.directory / "c_rank_vs_strain.png").is_file()
    saved = json.loads((r.directory / "metrics.json").read_text())
    assert saved["values"]["c_rank"] == pytest.approx(v["c_rank"])


def test_evaluate_reproduces_card_and_updates_it(cnn_result, glasses, tmp_path):
    from ovito_glassml.training.evaluate import evaluate_model, update_card_metrics

    card = load_card(cnn_result.directory)
    test_glasses = [g for g in glasses if g.name in card.training["data"]["split"]["test"]]
    m = evaluate_model(cnn_result.directory, test_glasses, tmp_path / "eval")
    for k in ("balanced_accuracy", "auc_roc", "c_rank", "overlap_ratio"):
        assert m["values"][k] == pytest.approx(card.metrics["values"][k], abs=1e-6)
    sub = evaluate_model(cnn_result.directory, test_glasses, strains=[0.05], orientations=["xy"], max_atoms=50)
    assert sub["values"]["n_atoms"] == 50 and sub["values"]["strain"] == 0.05
    # orientation control: each orientation's prediction against the other orientation's labels
    from ovito_glassml.analysis.metrics import roc_auc
    from ovito_glassml.training.samples import top_fraction_labels

    model = load_model(cnn_result.directory)
    (g,) = test_glasses
    idx = np.arange(g.count)
    want = []
    for o, o2 in (("xy", "zx"), ("zx", "xy")):
        y = top_fraction_labels(g.d2min_at(o2, 0.05), 0.1)
        want.append(roc_auc(y[y >= 0], model.predict(g.config, idx, frame=o)[y >= 0]))
    assert m["values"]["n_orientation_swaps"] == 2
    assert m["values"]["auc_roc_other_orientation_labels"] == pytest.approx(np.mean(want), abs=1e-9)
    copy_dir = tmp_path / "copy"
    copy_dir.mkdir()
    for f in ("card.json", "model.onnx"):
        (copy_dir / f).write_bytes((cnn_result.directory / f).read_bytes())
    new = update_card_metrics(copy_dir, sub)
    assert new.metrics["values"]["n_atoms"] == 50 and load_card(copy_dir).metrics["evaluated_on"] == sub["evaluated_on"]


# ----------------------------------------------------------------------------------------------
# QS
def test_choose_threshold_and_folds():
    from ovito_glassml.training.gbdt import fold_assignment
    from ovito_glassml.training.samples import choose_threshold

    d = np.r_[np.arange(100.0), np.nan]
    t = choose_threshold(d, 0.05)
    assert (d[np.isfinite(d)] > t).sum() == 5
    folds, how = fold_assignment(np.repeat(np.arange(6), 10), 5, seed=1)
    for g in range(6):  # grouped: a glass lies in one fold
        assert len(np.unique(folds[g * 10:(g + 1) * 10])) == 1
    assert "glass" in how
    folds, how = fold_assignment(np.repeat(np.arange(3), 10), 5)
    assert np.bincount(folds).tolist() == [6] * 5 and "atom" in how


def test_qs_end_to_end(glasses, tmp_path):
    from ovito_glassml.descriptors.interstice import INTERSTICE_FEATURE_NAMES, interstice_features
    from ovito_glassml.training.gbdt import train_qs

    grid = {"num_leaves": (4, 8), "learning_rate": (0.1,), "n_estimators": (20,)}
    r = train_qs(glasses, tmp_path / "qs", strain=0.05, target_fraction=0.1, grid=grid, folds=3, min_data_in_leaf=5)
    card = load_card(r.directory)
    assert card.kind == "lightgbm" and card.files["folds"] == ["fold0.txt", "fold1.txt", "fold2.txt"]
    assert card.label["threshold"] == r.threshold and card.label["orientation"] == "xy"
    assert card.label["plastic_fraction_train"] == pytest.approx(0.1, abs=0.01)
    search = card.training["protocol"]["search"]
    assert len(search["results"]) == 2
    assert search["best"]["cv_auc_mean"] == max(x["cv_auc_mean"] for x in search["results"])
    assert card.training["protocol"]["cv"] == "grouped by glass (4 glasses)"  # 4 training glasses >= 3 folds
    test_glass = next(g for g in glasses if g.name == card.training["data"]["split"]["test"][0])
    x = interstice_features(test_glass.config, card.settings)
    want = np.mean([b.predict(x) for b in r.boosters], axis=0)
    np.testing.assert_array_equal(load_model(r.directory).predict(test_glass.config), want)
    assert r.boosters[0].feature_name() == list(INTERSTICE_FEATURE_NAMES)
    v = card.metrics["values"]
    assert v["n_glasses"] == 1 and v["n_atoms"] == test_glass.count - 0  # NaN atom is at strain 0.03 only
    assert v["auc_roc"] > 0.7 and 0 <= v["recall"] <= 1 and "baseline_voronoi_volume_auc_roc" in v

    # transfer test: the same model on other glasses, labels by plastic fraction; goes into the card
    # beside the held-out figures, which stay
    from ovito_glassml.training.evaluate import evaluate_model, update_card_metrics

    other = [glasses[k] for k in range(2)]
    t = evaluate_model(r.directory, other, plastic_fraction=0.1)
    frac = t["values"]["plastic_fraction"]
    assert frac == pytest.approx(0.1, abs=0.01) and t["label"]["threshold_rule"].startswith("chosen so that 0.1")
    with pytest.raises(ConfigurationError, match="not both"):
        evaluate_model(r.directory, other, plastic_fraction=0.1, threshold=1.0)
    fixed = evaluate_model(r.directory, other, threshold=t["label"]["threshold"])
    assert fixed["values"]["auc_roc"] == pytest.approx(t["values"]["auc_roc"])
    new = update_card_metrics(r.directory, t, transfer="other")
    assert new.metrics["values"]["auc_roc"] == v["auc_roc"]
    assert new.metrics["values"]["transfer_other_auc_roc"] == pytest.approx(t["values"]["auc_roc"])
    assert new.metrics["transfer"]["other"]["label"]["threshold"] == pytest.approx(t["label"]["threshold"])
    again = update_card_metrics(r.directory, evaluate_model(r.directory, [test_glass]))
    assert again.metrics["values"]["transfer_other_auc_roc"] == pytest.approx(t["values"]["auc_roc"])
    assert again.metrics["values"]["auc_roc"] == pytest.approx(v["auc_roc"])


def test_cnn_card_figures_use_the_loadings_it_was_trained_on(glasses, tmp_path):
    pytest.importorskip("torch")
    from ovito_glassml.descriptors.sdm import SDMSettings
    from ovito_glassml.training.cnn import train_cnn
    from ovito_glassml.training.evaluate import evaluate_model

    r = train_cnn(glasses, tmp_path / "xy_only", strain=0.05, fraction=0.1, orientations=["xy"],
                  settings=SDMSettings(cutoff=3.0, spacing=0.6), epochs=1, batch_size=8, seed=0)
    card = load_card(r.directory)
    assert card.training["data"]["orientations"] == ["xy"]
    (test_glass,) = [g for g in glasses if g.name in card.training["data"]["split"]["test"]]
    assert set(test_glass.orientations) == {"xy", "zx"}
    assert card.metrics["values"]["n_pairs"] == 1  # the zx labels of the test glass are not the card's
    again = evaluate_model(r.directory, [test_glass])
    assert again["values"]["auc_roc"] == pytest.approx(card.metrics["values"]["auc_roc"], abs=1e-9)
    assert evaluate_model(r.directory, [test_glass], orientations=["xy", "zx"])["values"]["n_pairs"] == 2


def test_qs_on_several_loadings_stacks_their_labels(glasses, tmp_path):
    from ovito_glassml.analysis.metrics import roc_auc
    from ovito_glassml.training.gbdt import choose_threshold, train_qs
    from ovito_glassml.training.samples import threshold_labels

    grid = {"num_leaves": (4,), "learning_rate": (0.1,), "n_estimators": (20,)}
    r = train_qs(glasses, tmp_path / "qs2", strain=0.05, orientation="xy,zx", target_fraction=0.1, grid=grid,
                 folds=3, min_data_in_leaf=5)
    card = load_card(r.directory)
    split = card.training["data"]["split"]
    train = [g for g in glasses if g.name in split["train"]]
    # the threshold is chosen on every (glass, loading) sample of the training glasses
    want = choose_threshold(np.concatenate([g.d2min_at(o, 0.05) for g in train for o in ("xy", "zx")]), 0.1)
    assert r.threshold == pytest.approx(want)
    assert card.label["orientations"] == ["xy", "zx"] and card.label["orientation"] == "xy"
    assert card.training["data"]["training_atoms"] == 2 * sum(g.count for g in train)
    assert len(card.training["data"]["glass_orientation_pairs"]) == 2 * len(train)
    # held-out metrics pool both loadings; each loading alone is reported beside them
    (test_glass,) = [g for g in glasses if g.name in split["test"]]
    p = load_model(r.directory).predict(test_glass.config)
    v = card.metrics["values"]
    assert v["n_pairs"] == 2 and v["n_atoms"] == 2 * test_glass.count
    y = {o: threshold_labels(test_glass.d2min_at(o, 0.05), r.threshold) for o in ("xy", "zx")}
    for o in ("xy", "zx"):
        assert v[f"auc_roc@orientation={o}"] == pytest.approx(roc_auc(y[o], p))
    assert v["auc_roc"] == pytest.approx(roc_auc(np.concatenate([y["xy"], y["zx"]]), np.concatenate([p, p])))
    with pytest.raises(ConfigurationError, match="distinct"):
        train_qs(glasses, tmp_path / "bad", strain=0.05, orientation="xy,xy", grid=grid, folds=3)


# ----------------------------------------------------------------------------------------------
# SF
def test_sf_end_to_end(glasses, tmp_path):
    from ovito_glassml.descriptors.radial import radial_features
    from ovito_glassml.training.linear import train_sf

    r = train_sf(glasses, tmp_path / "sf", c_grid=(1e-3, 1.0), folds=3)
    card = load_card(r.directory)
    assert card.kind == "linear" and set(card.settings.peak_positions) == {"Cu-Cu", "Cu-Zr", "Zr-Zr"}
    assert card.training["protocol"]["peak_positions"]["values"] == card.settings.peak_positions
    test_glass = next(g for g in glasses if g.name == card.training["data"]["split"]["test"][0])
    got = load_model(r.directory).predict(test_glass.config)
    x = radial_features(test_glass.config, card.settings, dtype=np.float64)
    names = np.asarray(test_glass.config.type_names)[test_glass.config.types]
    for sp, model in r.models.items():
        sel = names == sp
        assert model.intercept_ == 0.0
        np.testing.assert_allclose(got[sel], model.predict(x[sel]), rtol=1e-12, atol=1e-12)
    v = card.metrics["values"]
    assert v["pearson_ln_vflex_Cu"] > 0.8 and v["pearson_ln_vflex_Zr"] > 0.8
    assert v["n_atoms"] == test_glass.count and (r.directory / "sf_scatter.png").is_file()


# ----------------------------------------------------------------------------------------------
# command line
def test_cli_train_and_evaluate(glasses, tmp_path, capsys):
    from ovito_glassml.training.cli_train import main

    files = [str(g.save_npz(tmp_path / f"{g.name}.npz")) for g in glasses]
    out = tmp_path / "models" / "sf"
    assert main(["train", "sf", *files, "-o", str(out), "--test", "g1", "--folds", "3", "--c-grid", "0.1", "-q"]) == 0
    text = capsys.readouterr().out
    assert "pearson_ln_vflex_Cu" in text and load_card(out).training["data"]["split"]["test"] == ["g1"]
    assert main(["evaluate", str(out), files[1], "-o", str(tmp_path / "ev"), "-q"]) == 0
    m = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert m["values"]["pearson_ln_vflex_Cu"] == pytest.approx(load_card(out).metrics["values"]["pearson_ln_vflex_Cu"])
    assert main(["train", "sf", files[0], "-o", str(tmp_path / "x"), "-q"]) == 2  # one glass: cannot split
    assert "at least one for training" in capsys.readouterr().err


def test_cli_train_leaves_out_glasses_without_the_labels(glasses, tmp_path, capsys):
    """A campaign still running has glasses without MSD or without the shear: the CLI trains on
    the labelled ones and names the others."""
    from ovito_glassml.training.cli_train import main

    no_msd = dataclasses.replace(glasses[0], name="nomsd", v_flex=None, msd=None)
    no_shear = LabelledGlass("noshear", glasses[1].config, {}, v_flex=glasses[1].v_flex, msd=glasses[1].msd)
    files = [str(g.save_npz(tmp_path / f"{g.name}.npz")) for g in [*glasses[1:], no_msd, no_shear]]
    out = tmp_path / "sf"
    assert main(["train", "sf", *files, "-o", str(out), "--test", "g1", "--folds", "3", "--c-grid", "0.1", "-q"]) == 0
    assert "left out 1 glass without v_flex (MSD stage not done): nomsd" in capsys.readouterr().err
    assert "nomsd" not in load_card(out).training["data"]["glasses"]
    out = tmp_path / "qs"
    assert main(["train", "qs", *files, "-o", str(out), "--test", "g1", "--strain", "0.05", "--folds", "3",
                 "--grid", '{"num_leaves": [7], "n_estimators": [20]}', "-q"]) == 0
    err = capsys.readouterr().err
    assert "left out 1 glass without D2min at 0.05 strain in xy: noshear" in err
    assert "noshear" not in load_card(out).training["data"]["glasses"]


def test_batch_norm_recalibration_gives_the_plain_average():
    torch = pytest.importorskip("torch")
    from ovito_glassml.training.cnn import recalibrate_batch_norm

    torch.manual_seed(0)
    conv = torch.nn.Conv2d(2, 3, 3, padding=1)
    net = torch.nn.Sequential(conv, torch.nn.BatchNorm2d(3))
    images = np.random.default_rng(0).random((40, 2, 6, 6)).astype(np.float32) * 3 + 1
    recalibrate_batch_norm(net, images, torch.device("cpu"), batch_size=8)
    with torch.no_grad():
        z = conv(torch.from_numpy(images))
    bn = net[1]
    # mean of the per-batch means = the plain mean (equal batches); variance: mean of unbiased batch variances
    np.testing.assert_allclose(bn.running_mean.numpy(), z.mean(dim=(0, 2, 3)).numpy(), rtol=1e-5)
    batch_vars = [z[k:k + 8].var(dim=(0, 2, 3), unbiased=True) for k in range(0, 40, 8)]
    np.testing.assert_allclose(bn.running_var.numpy(), torch.stack(batch_vars).mean(0).numpy(), rtol=1e-5)
    assert bn.momentum == 0.1 and not net.training


def test_shell_matrix_is_a_mirror_invariant_shell_mean():
    pytest.importorskip("torch")
    from ovito_glassml.descriptors.sdm import mirror_images, sdm_mirror_operations
    from ovito_glassml.training.cnn import shell_matrix

    m = shell_matrix(6, 3)
    np.testing.assert_allclose(m.sum(axis=0), 1.0, rtol=1e-6)  # each column is a mean
    assert ((m > 0).sum(axis=1) <= 1).all()  # a pixel lies in at most one shell
    assert (m[:, 0] > 0).sum() == 8  # the innermost shell: the 8 pixels around the centre at r = sqrt(3)/2
    np.testing.assert_allclose(np.ones(6 ** 3) @ m, 1.0, rtol=1e-6)  # a uniform image: every shell mean = 1
    images = np.random.default_rng(1).random((3, 2, 6, 6, 6)).astype(np.float32)
    want = images.reshape(3, 2, -1) @ m
    for k in range(len(sdm_mirror_operations(3))):
        got = mirror_images(images, k).reshape(3, 2, -1) @ m
        np.testing.assert_allclose(got, want, rtol=1e-5)
    # a pixel outside the inscribed sphere (a corner) belongs to no shell
    assert m[0].sum() == 0 and shell_matrix(5, 2).shape[0] == 25


def test_fabric_moments_flip_with_the_loading_sense_and_match_the_neighbours():
    torch = pytest.importorskip("torch")
    from ovito_glassml.descriptors.sdm import SDMSettings, mirror_images, sdm_mirror_operations, spatial_density_map
    from ovito_glassml.training.cnn import build_network, fabric_matrix, shell_matrix

    m, shells = fabric_matrix(8, 3), shell_matrix(8, 3)
    assert m.shape == shells.shape and np.all((m != 0) <= (shells > 0))
    np.testing.assert_allclose(np.ones(8 ** 3) @ m, 0.0, atol=1e-6)  # a uniform image has no fabric
    images = np.random.default_rng(2).random((3, 2, 8, 8, 8)).astype(np.float32)
    want = images.reshape(3, 2, -1) @ m
    for k in range(len(sdm_mirror_operations(3))):  # invariant under the SDM's mirror group
        np.testing.assert_allclose(mirror_images(images, k).reshape(3, 2, -1) @ m, want, rtol=1e-4, atol=1e-6)
    # the opposite sense (x -> -x) flips the sign
    np.testing.assert_allclose(images[..., ::-1].reshape(3, 2, -1) @ m, -want, rtol=1e-4, atol=1e-6)
    # one neighbour at (s, n) = (d, d) / sqrt 2 from atom 0: a positive moment in xy, negative in x-y
    d = 2.0 / np.sqrt(2.0)
    config = Configuration(np.array([[10.0, 10.0, 10.0], [10 + d, 10 + d, 10.0]]), np.eye(3) * 20.0,
                           np.array([0, 0]), ("Cu", "Zr"))
    st = SDMSettings(cutoff=2.4, spacing=0.6, species=("Cu", "Zr"))
    fm = fabric_matrix(st.grid_size, 3)
    xy = spatial_density_map(config, st, "xy", [0]).reshape(2, -1) @ fm
    x_y = spatial_density_map(config, st, "x-y", [0]).reshape(2, -1) @ fm
    assert xy[0].sum() > 0 and x_y[0].sum() < 0 and np.allclose(xy, -x_y, atol=1e-6)
    assert np.allclose(xy[1], 0.0)  # no Zr neighbour
    net = build_network("compact-fabric", 2, 16, 3).eval()
    assert net.shells.shape[1] == 2 * shell_matrix(16, 3).shape[1]
    assert net(torch.zeros(2, 2, 16, 16, 16)).shape == (2, 1)


def test_all_negatives_and_per_epoch_resampling(glasses, tmp_path):
    torch = pytest.importorskip("torch")
    from ovito_glassml.descriptors.sdm import SDMSettings
    from ovito_glassml.training.cnn import build_network, export_onnx, fit_network, sdm_samples

    settings = SDMSettings(cutoff=3.0, spacing=0.6)
    balanced = sdm_samples(glasses[:2], settings, 0.05, 0.1, ["xy"], seed=0)
    every = sdm_samples(glasses[:2], settings, 0.05, 0.1, ["xy"], seed=0, negatives="all")
    assert every.counts["samples"] == 2 * glasses[0].count  # every atom of both glass-orientation pairs
    assert every.counts["positives"] == balanced.counts["positives"] == balanced.counts["samples"] // 2
    with pytest.raises(ConfigurationError, match="negatives"):
        sdm_samples(glasses[:1], settings, 0.05, 0.1, ["xy"], negatives="some")
    val = sdm_samples(glasses[2:3], settings, 0.05, 0.1, ["xy"], seed=1)
    net = build_network("compact-shells", settings.channels, settings.grid_size, 3)
    net, history, best = fit_network(net, every, val, 3, epochs=2, batch_size=8, resample_negatives=True)
    assert len(history) == 2 and 1 <= best <= 2
    # the shell path exports to ONNX and ONNX Runtime agrees with PyTorch
    assert export_onnx(net, settings, tmp_path / "m.onnx", val.images[:16]) < 1e-5


def test_sdm_samples_refuse_more_images_than_memory(glasses, monkeypatch):
    """Every negative of a large data set can need more memory than the machine has; that is
    refused before any image is computed, with the size and the way out, not killed part-way."""
    pytest.importorskip("torch")
    from ovito_glassml.descriptors.sdm import SDMSettings
    from ovito_glassml.training import cnn

    settings = SDMSettings(cutoff=3.0, spacing=0.6)
    needed = 2 * glasses[0].count * int(np.prod(settings.shape)) * 4  # two glass-orientation pairs, float32
    monkeypatch.setattr(cnn, "available_memory", lambda: int(needed / 0.9) - 1)
    with pytest.raises(ConfigurationError, match=r"need .* GiB of memory, but only .* available; use negatives='balanced'"):
        cnn.sdm_samples(glasses[:2], settings, 0.05, 0.1, ["xy"], negatives="all")
    monkeypatch.setattr(cnn, "available_memory", lambda: int(needed / 0.9) + 1)
    assert cnn.sdm_samples(glasses[:2], settings, 0.05, 0.1, ["xy"], negatives="all").counts["samples"] \
        == 2 * glasses[0].count
    monkeypatch.setattr(cnn, "available_memory", lambda: None)  # unknown (not Linux): no check
    cnn._check_memory(10**18, "x", "y")


def test_vflex_reliability_matches_the_noise_it_was_given():
    """Runs = exp(T + e_s): the reliability of ln v_flex from S seeds is var(T') / (var(T') + s^2/S),
    with T' = T + ln(omega)/3 (omega is measured without noise)."""
    from ovito_glassml.simulation.labels import vflex_reliability

    rng = np.random.default_rng(3)
    n, s, sigma = 40000, 10, 0.3
    t = rng.normal(0.0, 0.5, n)
    omega = np.exp(rng.normal(2.7, 0.3, n))
    runs = np.exp(t + rng.normal(0.0, sigma, (s, n)))
    true_var = np.var(t + np.log(omega) / 3)
    expected = true_var / (true_var + sigma ** 2 / s)
    assert vflex_reliability(runs, omega) == pytest.approx(expected, abs=0.01)
    assert vflex_reliability(np.repeat(runs[:1], 4, axis=0), omega) == pytest.approx(1.0)  # identical seeds
    assert np.isnan(vflex_reliability(runs[:3], omega))


def test_sf_evaluation_reports_label_reliability(glasses, tmp_path):
    """With per-seed MSD runs the SF metrics carry the label's reliability and rho / sqrt(R)."""
    from ovito_glassml.training.evaluate import evaluate_model
    from ovito_glassml.simulation.labels import vflex_reliability
    from ovito_glassml.training.linear import train_sf

    r = train_sf(glasses, tmp_path / "sf", c_grid=(1.0,), folds=3)
    rng = np.random.default_rng(0)
    g = glasses[-1]
    omega = np.full(g.count, 12.0)
    runs = g.msd * np.exp(rng.normal(0.0, 0.2, (6, g.count)))
    noisy = dataclasses.replace(g, msd=runs.mean(0), msd_runs=runs, voronoi_volume=omega,
                                v_flex=runs.mean(0) * omega ** (1 / 3))
    v = evaluate_model(load_model(r.directory), [noisy])["values"]
    cu = np.asarray(g.config.type_names)[g.config.types] == "Cu"
    assert v["label_reliability_Cu"] == pytest.approx(vflex_reliability(runs[:, cu], omega[cu]), rel=1e-9)
    assert 0 < v["label_reliability_Cu"] < 1
    assert v["pearson_ln_vflex_noise_free_estimate_Cu"] == pytest.approx(
        v["pearson_ln_vflex_Cu"] / np.sqrt(v["label_reliability_Cu"]))
    with pytest.raises(ConfigurationError, match="msd_runs has shape"):
        dataclasses.replace(g, msd_runs=runs[:, :10])
    # without per-seed runs there is no reliability figure
    assert "label_reliability_Cu" not in evaluate_model(load_model(r.directory), [g])["values"]


def test_validation_score_is_the_balanced_accuracy():
    """(TPR + TNR) / 2 of a fixed predictor on an unbalanced set, against hand-computed counts."""
    torch = pytest.importorskip("torch")
    from ovito_glassml.training.cnn import _balanced_accuracy

    class Sign(torch.nn.Module):  # logit = the first pixel: positive -> predicted plastic
        def forward(self, x):
            return x.reshape(len(x), -1)[:, :1]

    labels = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], dtype=np.float32)  # 4 positives, 10 negatives
    first = np.array([1, 1, 1, -1, 1, 1, -1, -1, -1, -1, -1, -1, -1, -1], dtype=np.float32)  # TP 3, FP 2
    images = np.zeros((14, 1, 2, 2), dtype=np.float32)
    images[:, 0, 0, 0] = first
    bacc, _ = _balanced_accuracy(Sign(), images, labels, torch.device("cpu"), batch_size=5)
    assert bacc == pytest.approx((3 / 4 + 8 / 10) / 2)
    # on a balanced subset it is the plain accuracy
    sel = np.r_[0:4, 4:8]
    bacc_bal, _ = _balanced_accuracy(Sign(), images[sel], labels[sel], torch.device("cpu"), batch_size=3)
    assert bacc_bal == pytest.approx(np.mean((first[sel] > 0) == (labels[sel] == 1)))


# ----------------------------------------------------------------------------------------------
# ensemble (CNN + QS)
@pytest.fixture(scope="module")
def ensemble_members(cnn_result, glasses, tmp_path_factory):
    from ovito_glassml.training.gbdt import train_qs

    test = load_card(cnn_result.directory).training["data"]["split"]["test"]
    grid = {"num_leaves": (4,), "learning_rate": (0.1,), "n_estimators": (20,)}
    qs = train_qs(glasses, tmp_path_factory.mktemp("members") / "qs", strain=0.05, target_fraction=0.1, grid=grid,
                  folds=3, min_data_in_leaf=5, test=test)
    return {"cnn": cnn_result.directory, "qs": qs.directory}, test


def _logit(p):
    q = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(q / (1 - q))


def test_ensemble_combines_standardised_member_logits(ensemble_members, glasses, tmp_path):
    from ovito_glassml.analysis.metrics import roc_auc
    from ovito_glassml.training.ensemble import build_ensemble

    members, test = ensemble_members
    r = build_ensemble(glasses, tmp_path / "ens", members, {"cnn": 0.5, "qs": 0.5}, test=test,
                       radial_baseline=True)
    card = load_card(r.directory)
    assert card.kind == "ensemble" and card.property == "Plastic Susceptibility" and not card.demo
    assert card.settings.members == ("cnn", "qs") and card.label["f_thres"] == 0.1
    assert (r.directory / "cnn" / "model.onnx").is_file() and (r.directory / "qs" / "card.json").is_file()
    model = load_model(r.directory)
    cnn, qs = load_model(members["cnn"]), load_model(members["qs"])
    assert model.orientational and not qs.orientational
    # standardisation: mean and sd of each member's logits over the training glasses and loadings
    train = [g for g in glasses if g.name not in test]
    ok = [(g, o, top_fraction_labels(g.d2min_at(o, 0.05), 0.1) >= 0) for g in train for o in ORIENTATIONS]
    lc = np.concatenate([_logit(cnn.predict(g.config, frame=o))[m] for g, o, m in ok])
    lq = np.concatenate([_logit(qs.predict(g.config))[m] for g, o, m in ok])
    (sc, sq) = r.spec["members"]
    assert (sc["mean"], sc["sd"]) == pytest.approx((lc.mean(), lc.std()), rel=1e-6)
    assert (sq["mean"], sq["sd"]) == pytest.approx((lq.mean(), lq.std()), rel=1e-6)
    # calibration: the balanced logistic optimum has mean p(positives) + mean p(negatives) = 1
    y = np.concatenate([top_fraction_labels(g.d2min_at(o, 0.05), 0.1)[m] for g, o, m in ok]).astype(bool)
    a, b = r.spec["calibration"]["scale"], r.spec["calibration"]["offset"]
    p = 1 / (1 + np.exp(-(a * (0.5 * (lc - sc["mean"]) / sc["sd"] + 0.5 * (lq - sq["mean"]) / sq["sd"]) + b)))
    assert a > 0 and p[y].mean() + p[~y].mean() == pytest.approx(1.0, abs=1e-4)
    # prediction = the formula, by hand, on a held-out glass in two loadings
    g = next(x for x in glasses if x.name == test[0])
    for o in ORIENTATIONS:
        s = 0.5 * (_logit(cnn.predict(g.config, frame=o)) - sc["mean"]) / sc["sd"] \
            + 0.5 * (_logit(qs.predict(g.config)) - sq["mean"]) / sq["sd"]
        np.testing.assert_allclose(model.predict(g.config, frame=o), 1 / (1 + np.exp(-(a * s + b))), rtol=1e-9)
    # atom order: a permuted subset gives the same values
    idx = np.random.default_rng(1).permutation(g.count)[:77]
    np.testing.assert_allclose(model.predict(g.config, idx, frame="zx"), model.predict(g.config, frame="zx")[idx])
    # the card's figures are the ensemble's own, scored like a CNN; members scored beside it
    v = card.metrics["values"]
    want = [roc_auc(top_fraction_labels(g.d2min_at(o, 0.05), 0.1), model.predict(g.config, frame=o))
            for o in ORIENTATIONS]
    assert v["auc_roc@strain=0.05"] == pytest.approx(np.mean(want), abs=1e-9)
    cnn_card = load_card(members["cnn"])
    assert v["baseline_member_cnn_auc_roc"] == pytest.approx(cnn_card.metrics["values"]["auc_roc"], abs=1e-9)
    assert {"baseline_member_qs_auc_roc", "baseline_radial_svm_auc_roc", "auc_roc_other_orientation_labels"} <= set(v)


def test_ensemble_reuses_the_orientation_blind_member(ensemble_members, glasses, tmp_path):
    from ovito_glassml.training.ensemble import build_ensemble

    members, test = ensemble_members
    r = build_ensemble(glasses, tmp_path / "ens", members, {"cnn": 1.0, "qs": 0.0}, test=test)
    model = load_model(r.directory)
    g = glasses[0]
    calls = []
    qs = model.members[1]
    original = qs.predict
    qs.predict = lambda *a, **k: calls.append(1) or original(*a, **k)
    a, b = model.predict(g.config, frame="xy"), model.predict(g.config, frame="zx")
    assert len(calls) == 1 and not np.allclose(a, b)
    # weight 0 on QS: the ensemble ranks exactly as the CNN
    cnn = load_model(members["cnn"])
    assert np.array_equal(np.argsort(model.predict(g.config, frame="xy"), kind="stable"),
                          np.argsort(cnn.predict(g.config, frame="xy"), kind="stable"))


def test_ensemble_refuses_test_glasses_a_member_saw_and_broken_folders(ensemble_members, glasses, tmp_path):
    from ovito_glassml.inference.cards import CardError
    from ovito_glassml.inference.cards import seal_card
    from ovito_glassml.training.ensemble import build_ensemble

    members, test = ensemble_members
    seen = load_card(members["cnn"]).training["data"]["split"]["train"][0]
    with pytest.raises(ConfigurationError, match="was trained on the test glass"):
        build_ensemble(glasses, tmp_path / "bad", members, {"cnn": 0.5, "qs": 0.5}, test=[seen])
    with pytest.raises(ConfigurationError, match="one weight per member"):
        build_ensemble(glasses, tmp_path / "bad", members, {"cnn": 0.5}, test=test)
    r = build_ensemble(glasses, tmp_path / "ens", members, {"cnn": 0.5, "qs": 0.5}, test=test)
    spec = json.loads((r.directory / "ensemble.json").read_text())
    spec["members"] = spec["members"][::-1]
    (r.directory / "ensemble.json").write_text(json.dumps(spec))
    with pytest.raises(CardError, match="ensemble.json .*does not match the SHA-256 its card records"):
        load_model(r.directory)
    seal_card(r.directory)  # as if changed on purpose: the checks behind the card's record
    with pytest.raises(CardError, match="must agree, in order"):
        load_model(r.directory)
    spec["members"] = spec["members"][::-1]
    spec["members"][1]["sd"] = 0.0
    (r.directory / "ensemble.json").write_text(json.dumps(spec))
    seal_card(r.directory)
    with pytest.raises(CardError, match="must be > 0"):
        load_model(r.directory)
    spec["members"][1]["sd"] = 1.0
    (r.directory / "ensemble.json").write_text(json.dumps(spec))
    seal_card(r.directory)
    import shutil

    shutil.rmtree(r.directory / "qs")
    with pytest.raises(CardError, match="does not exist"):
        load_model(r.directory)


def test_cli_train_ensemble(ensemble_members, glasses, tmp_path, capsys):
    from ovito_glassml.training.cli_train import main

    members, test = ensemble_members
    for g in glasses:
        g.save_npz(tmp_path / f"{g.name}.npz")
    code = main(["train", "ensemble", str(tmp_path), "-o", str(tmp_path / "ens"), "--member",
                 f"cnn={members['cnn']}", "--member", f"qs={members['qs']}", "--weights", "0.7,0.3",
                 "--test", ",".join(test), "-q"])
    assert code == 0 and "held-out metrics" in capsys.readouterr().out
    spec = json.loads((tmp_path / "ens" / "ensemble.json").read_text())
    assert [m["weight"] for m in spec["members"]] == [0.7, 0.3]
    assert main(["train", "ensemble", str(tmp_path), "-o", str(tmp_path / "e2"), "--member", f"cnn={members['cnn']}",
                 "--member", f"qs={members['qs']}", "--weights", "1", "--test", ",".join(test), "-q"]) == 2
    assert "give one per --member" in capsys.readouterr().err


def test_ensemble_label_can_differ_from_its_members(ensemble_members, glasses, tmp_path):
    """Members trained on one label combined to predict another (the shipped `susceptibility`
    could have used the 10 %-strain CNN for the 5 % label): the card records both, calibration and
    metrics use the ensemble's label."""
    from ovito_glassml.analysis.metrics import roc_auc
    from ovito_glassml.training.cli_train import main
    from ovito_glassml.training.ensemble import build_ensemble

    members, test = ensemble_members
    r = build_ensemble(glasses, tmp_path / "ens", members, {"cnn": 0.5, "qs": 0.5}, test=test, fraction=0.2)
    card = load_card(r.directory)
    assert card.label["f_thres"] == 0.2 and card.label["strain"] == 0.05
    assert card.label["lead_member_label"] == {"strain": 0.05, "f_thres": 0.1}
    assert "top 0.2 of the glass's atoms" in card.label["definition"]
    model = load_model(r.directory)
    g = next(x for x in glasses if x.name == test[0])
    want = [roc_auc(top_fraction_labels(x.d2min_at(o, 0.05), 0.2), model.predict(x.config, frame=o))
            for x in glasses if x.name in test for o in ORIENTATIONS]
    assert card.metrics["values"]["auc_roc@strain=0.05"] == pytest.approx(np.mean(want), abs=1e-9)
    # the ranking does not depend on the label; the calibration does
    same = build_ensemble(glasses, tmp_path / "ens10", members, {"cnn": 0.5, "qs": 0.5}, test=test)
    p20, p10 = model.predict(g.config, frame="xy"), load_model(same.directory).predict(g.config, frame="xy")
    assert np.array_equal(np.argsort(p20, kind="stable"), np.argsort(p10, kind="stable"))
    assert not np.allclose(p20, p10)
    with pytest.raises(ConfigurationError, match="between 0 and 1"):
        build_ensemble(glasses, tmp_path / "bad", members, {"cnn": 0.5, "qs": 0.5}, test=test, fraction=5.0)
    (tmp_path / "data").mkdir()
    for x in glasses:
        x.save_npz(tmp_path / "data" / f"{x.name}.npz")
    assert main(["train", "ensemble", str(tmp_path / "data"), "-o", str(tmp_path / "cli"), "--member",
                 f"cnn={members['cnn']}", "--member", f"qs={members['qs']}", "--fraction", "0.2",
                 "--test", ",".join(test), "-q"]) == 0
    assert load_card(tmp_path / "cli").label["f_thres"] == 0.2


def test_ensemble_standardises_on_the_cnn_training_glasses(ensemble_members, glasses, tmp_path):
    from ovito_glassml.training.ensemble import build_ensemble

    members, test = ensemble_members
    extra = synthetic_glass(7)
    seen = set(load_card(members["cnn"]).training["data"]["glasses"])
    lead = build_ensemble(glasses + [extra], tmp_path / "lead", members, {"cnn": 0.5, "qs": 0.5}, test=test)
    assert set(lead.card.training["data"]["glasses"]) == seen and extra.name not in seen
    every = build_ensemble(glasses + [extra], tmp_path / "all", members, {"cnn": 0.5, "qs": 0.5}, test=test,
                           standardise_on="all")
    assert set(every.card.training["data"]["glasses"]) == seen | {extra.name}
    assert every.spec["members"][0]["mean"] != lead.spec["members"][0]["mean"]


def test_cli_checkpoint_path_default_restart_and_none(tmp_path, capsys):
    import argparse

    from ovito_glassml.training.cli_train import CHECKPOINT_NAME, _checkpoint_path

    out = tmp_path / "models" / "cnn"
    ns = lambda **kw: argparse.Namespace(**{"output": str(out), "checkpoint": None, "restart": False, **kw})  # noqa: E731
    assert _checkpoint_path(ns()) == out / CHECKPOINT_NAME
    assert _checkpoint_path(ns(checkpoint="none")) is None
    mine = tmp_path / "ck.pt"
    mine.write_bytes(b"old")
    assert _checkpoint_path(ns(checkpoint=str(mine))) == mine and mine.exists()  # kept: the run resumes from it
    assert _checkpoint_path(ns(checkpoint=str(mine), restart=True)) == mine and not mine.exists()
    assert f"--restart: deleted the checkpoint {mine}" in capsys.readouterr().err
