"""Model cards: validation failures name the field; loading checks the card against the model files."""
import copy
import json

import numpy as np
import pytest

from ovito_glassml.descriptors.interstice import INTERSTICE_FEATURE_NAMES
from ovito_glassml.descriptors.sdm import SDMSettings
from ovito_glassml.inference import (CardError, ModelCard, ModelNotFoundError, available_models, find_model,
                                     load_card, load_model)
from ovito_glassml.inference.demo import build_demo_models


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return build_demo_models(tmp_path_factory.mktemp("demo_models"))


def _card_dict(demo, which):
    return json.loads((demo[which] / "card.json").read_text())


def _copy_model(demo, which, tmp_path):
    import shutil

    dest = tmp_path / which
    shutil.copytree(demo[which], dest)
    return dest


def _unseal(folder):
    """Drop the card's integrity record (a card written by an older version), to reach the checks behind it."""
    data = json.loads((folder / "card.json").read_text())
    data.pop("integrity")
    (folder / "card.json").write_text(json.dumps(data))


def test_demo_cards_validate_and_round_trip(demo):
    for which, kind in (("susceptibility", "onnx-cnn"), ("qs", "lightgbm"), ("sf", "linear")):
        card = load_card(demo[which])
        assert card.kind == kind and card.demo and "meaningless" in card.notes
        assert card.species == ("Cu", "Zr")
        again = ModelCard.from_dict(json.loads(json.dumps(card.to_dict())), directory=card.directory)
        assert again.to_dict() == card.to_dict()
    cnn = load_card(demo["susceptibility"])
    assert cnn.input_shape == (2, 16, 16, 16) and cnn.settings == SDMSettings(cutoff=4.8, spacing=0.6)
    assert load_card(demo["qs"]).feature_names == INTERSTICE_FEATURE_NAMES
    assert load_card(demo["sf"]).settings.peak_positions["Cu-Zr"] == pytest.approx(2.84)


@pytest.mark.parametrize("field", ["kind", "property", "species", "descriptor", "training", "label", "metrics",
                                   "software", "demo", "files", "input"])
def test_missing_field_is_named(demo, field):
    data = _card_dict(demo, "sf")
    del data[field]
    with pytest.raises(CardError, match=f"required field.*'{field}'"):
        ModelCard.from_dict(data)


@pytest.mark.parametrize("change, message", [
    (lambda d: d.update(kind="random-forest"), "'kind' is 'random-forest'"),
    (lambda d: d.update(property="Softness"), "'property' is 'Softness'"),
    (lambda d: d.update(dimensions=4), "'dimensions' must be 2 or 3"),
    (lambda d: d.update(species=["Cu", "Cu"]), "names a species twice"),
    (lambda d: d.update(demo="yes"), "'demo' must be true or false"),
    (lambda d: d.update(extra=1), "unknown field"),
    (lambda d: d["descriptor"].update(name="sdm"), "takes the 'interstice' descriptor"),
    (lambda d: d["descriptor"]["settings"].update(distance_cutoff=-1), "descriptor.settings"),
    (lambda d: d["input"].update(feature_names=d["input"]["feature_names"][:-1]), "has 79 features"),
    (lambda d: d["input"]["feature_names"].__setitem__(3, "Foo"), "feature 3 is 'Foo'"),
    (lambda d: d["files"].update(folds=["../../etc/passwd"]), "plain file name"),
    (lambda d: d["files"].update(folds=[]), "non-empty list"),
    (lambda d: d["training"].update(protocol=""), "training.protocol"),
    (lambda d: d["label"].pop("definition"), "label.definition"),
    (lambda d: d.update(demo=False), "metrics.values"),
    (lambda d: d.update(software={}), "'software'"),
])
def test_malformed_lightgbm_card_is_refused(demo, change, message):
    data = copy.deepcopy(_card_dict(demo, "qs"))
    change(data)
    with pytest.raises(CardError, match=message.replace("(", r"\(").replace("[", r"\[")):
        ModelCard.from_dict(data)


def test_cnn_card_input_shape_must_match_sdm_settings(demo):
    data = _card_dict(demo, "susceptibility")
    data["input"]["shape"] = [2, 32, 32, 32]
    with pytest.raises(CardError, match=r"input.shape' is \[2, 32, 32, 32\].*\[2, 16, 16, 16\]"):
        ModelCard.from_dict(data)
    data = _card_dict(demo, "susceptibility")
    data["species"] = ["Zr", "Cu"]
    with pytest.raises(CardError, match="differs from the SDM channel order"):
        ModelCard.from_dict(data)


def test_trained_card_needs_metrics(demo):
    data = _card_dict(demo, "sf")
    data["demo"] = False
    data["metrics"] = {"evaluated_on": "4 held-out glasses", "values": {"pearson": 0.7}}
    assert not ModelCard.from_dict(data).demo
    data["metrics"]["values"] = {"pearson": "high"}
    with pytest.raises(CardError, match="non-numeric"):
        ModelCard.from_dict(data)


def test_onnx_input_shape_mismatch_is_refused(demo, tmp_path):
    folder = _copy_model(demo, "susceptibility", tmp_path)
    data = json.loads((folder / "card.json").read_text())
    settings = SDMSettings(cutoff=3.0, spacing=0.6)  # 10^3 images, the file takes 16^3
    data["descriptor"]["settings"] = settings.to_dict()
    data["input"]["shape"] = list(settings.shape)
    (folder / "card.json").write_text(json.dumps(data))
    with pytest.raises(CardError, match=r"its descriptor, input differ\(s\) from what the model was trained"):
        load_model(folder)
    _unseal(folder)
    with pytest.raises(CardError, match=r"axis 2 is 16 in the file but 10 from the SDM settings"):
        load_model(folder)


def test_lightgbm_feature_count_and_names_are_checked(demo, tmp_path):
    import lightgbm

    rng = np.random.default_rng(0)
    x, y = rng.random((60, 10)), rng.integers(0, 2, 60)
    folder = _copy_model(demo, "qs", tmp_path)
    booster = lightgbm.train({"objective": "binary", "verbose": -1, "num_threads": 1, "min_data_in_leaf": 5},
                             lightgbm.Dataset(x, y), num_boost_round=2)
    booster.save_model(str(folder / "fold2.txt"))
    with pytest.raises(CardError, match="fold2.txt .* does not match the SHA-256 its card records"):
        load_model(folder)
    _unseal(folder)
    with pytest.raises(CardError, match="fold2.txt takes 10 features but the card's descriptor"):
        load_model(folder)
    names = [f"f{k}" for k in range(80)]
    booster = lightgbm.train({"objective": "binary", "verbose": -1, "num_threads": 1, "min_data_in_leaf": 5},
                             lightgbm.Dataset(rng.random((60, 80)), y, feature_name=names), num_boost_round=2)
    booster.save_model(str(folder / "fold2.txt"))
    with pytest.raises(CardError, match="feature 0 of fold2.txt is 'f0'.*'Dist_interstice_mean_voro'"):
        load_model(folder)
    booster = lightgbm.train({"objective": "regression", "verbose": -1, "num_threads": 1, "min_data_in_leaf": 5},
                             lightgbm.Dataset(rng.random((60, 80)), y, feature_name=list(INTERSTICE_FEATURE_NAMES)),
                             num_boost_round=2)
    booster.save_model(str(folder / "fold2.txt"))
    with pytest.raises(CardError, match="not a binary LightGBM classifier"):
        load_model(folder)


def test_linear_weight_length_is_checked(demo, tmp_path):
    folder = _copy_model(demo, "sf", tmp_path)
    _unseal(folder)
    data = json.loads((folder / "weights.json").read_text())
    data["weights"]["Zr"] = data["weights"]["Zr"][:-1]
    (folder / "weights.json").write_text(json.dumps(data))
    with pytest.raises(CardError, match="weight vector of 'Zr' has 98 entries but the radial descriptor gives 99"):
        load_model(folder)
    data["weights"] = {"Al": [0.0] * 99}
    (folder / "weights.json").write_text(json.dumps(data))
    with pytest.raises(CardError, match=r"species \['Al'\] that are not in the card"):
        load_model(folder)


def test_missing_model_file_is_named(demo, tmp_path):
    folder = _copy_model(demo, "qs", tmp_path)
    (folder / "fold4.txt").unlink()
    with pytest.raises(CardError, match="fold4.txt.*does not exist"):
        load_model(folder)


def test_unknown_model_name_points_to_readme(monkeypatch):
    monkeypatch.delenv("GLASSML_MODELS", raising=False)
    with pytest.raises(ModelNotFoundError, match=r"no model named 'nope' is installed; see models/README.md"):
        load_model("nope")
    with pytest.raises(ModelNotFoundError, match="no model folder or card at"):
        load_model("./no/such/folder")


def test_models_are_found_through_environment(demo, monkeypatch):
    root = demo["sf"].parent
    monkeypatch.setenv("GLASSML_MODELS", str(root))
    assert {c.name for c in available_models()} >= {"susceptibility", "qs", "sf"}
    assert find_model("qs").kind == "lightgbm"
    assert load_model("sf").property_name == "Structural Flexibility"
    with pytest.raises(ModelNotFoundError, match="Installed models: .*qs.*sf.*susceptibility"):
        load_model("softness")


def test_shipped_models_are_not_demo_models(monkeypatch):
    # demo models (untrained, meaningless predictions) must never be shipped
    monkeypatch.delenv("GLASSML_MODELS", raising=False)
    assert not any(card.demo for card in available_models())


def _ensemble_dict(demo):
    data = _card_dict(demo, "susceptibility")
    data.update(kind="ensemble", descriptor={"name": "members", "settings": {"members": ["cnn", "qs"]}},
                input={"shape": []}, files={"ensemble": "ensemble.json"})
    return data


@pytest.mark.parametrize("change, message", [
    (lambda d: d["descriptor"]["settings"].update(members=["cnn"]), "at least two member folders"),
    (lambda d: d["descriptor"]["settings"].update(members=["cnn", "../qs"]), "plain file name"),
    (lambda d: d["descriptor"]["settings"].update(members=["cnn", "cnn"]), "names a folder twice"),
    (lambda d: d["descriptor"].update(name="sdm"), "takes the 'members' descriptor"),
    (lambda d: d.update(input={"shape": [2, 16, 16, 16]}), "members' cards describe their inputs"),
    (lambda d: d.update(files={"model": "model.onnx"}), "exactly the key 'ensemble'"),
])
def test_malformed_ensemble_card_is_refused(demo, change, message):
    data = _ensemble_dict(demo)
    assert ModelCard.from_dict(copy.deepcopy(data)).settings.members == ("cnn", "qs")
    change(data)
    with pytest.raises(CardError, match=message):
        ModelCard.from_dict(data)


def test_ensemble_of_demo_members_loads_and_names_missing_members(demo, tmp_path):
    import shutil

    folder = tmp_path / "ens"
    folder.mkdir()
    shutil.copytree(demo["susceptibility"], folder / "cnn")
    shutil.copytree(demo["qs"], folder / "qs")
    data = _ensemble_dict(demo)
    data.pop("integrity")  # a hand-made card, not sealed
    (folder / "card.json").write_text(json.dumps(data))
    spec = {"members": [{"folder": "cnn", "weight": 0.5, "mean": 0.0, "sd": 1.0},
                        {"folder": "qs", "weight": 0.5, "mean": 0.0, "sd": 1.0}]}
    (folder / "ensemble.json").write_text(json.dumps(spec))
    model = load_model(folder)
    assert model.orientational and [m.card.kind for m in model.members] == ["onnx-cnn", "lightgbm"]
    # the member files belong to the model (a changed member invalidates cached results)
    assert folder / "qs" / "fold0.txt" in load_card(folder).file_paths()
    spec["members"][1]["transform"] = "square"
    (folder / "ensemble.json").write_text(json.dumps(spec))
    with pytest.raises(CardError, match="transform 'square'"):
        load_model(folder)
    spec["members"][1]["transform"] = "logit"
    (folder / "ensemble.json").write_text(json.dumps(spec))
    (folder / "qs" / "card.json").unlink()
    with pytest.raises(CardError, match="qs.*card.json"):
        load_model(folder)


# -- integrity: SHA-256 of the files, fingerprint of the card ------------------------------------
def _truncate(path, fraction=0.5):
    data = path.read_bytes()
    path.write_bytes(data[:int(len(data) * fraction)])


def test_truncated_lightgbm_file_is_refused_before_lightgbm_reads_it(demo, tmp_path):
    """A LightGBM file cut short crashes the LightGBM library (signal 11 or 6) when it reads it; the card's
    SHA-256 refuses it first, and an unsealed card's LightGBM files are checked for completeness."""
    import subprocess
    import sys

    folder = _copy_model(demo, "qs", tmp_path)
    _truncate(folder / "fold1.txt")
    with pytest.raises(CardError, match=r"fold1.txt \(\d+ bytes\) does not match the SHA-256 its card records"):
        load_model(folder)
    _unseal(folder)
    with pytest.raises(CardError, match="fold1.txt is not a complete LightGBM text model: it ends before the 'end of "
                                        "trees' line"):
        load_model(folder)
    # the same in a fresh process: a clean error and exit status 0, never a crash
    code = ("from ovito_glassml.inference import CardError, load_model\n"
            f"try:\n    load_model({str(folder)!r})\nexcept CardError as exc:\n    print('refused:', exc)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "refused:" in proc.stdout and "[LightGBM] [Fatal]" not in proc.stderr


@pytest.mark.parametrize("cut", [0.02, 0.5, 0.97, 0.9999])
def test_lightgbm_completeness_check_finds_every_cut(demo, tmp_path, cut):
    from ovito_glassml.inference.cards import check_lightgbm_text

    folder = _copy_model(demo, "qs", tmp_path)
    check_lightgbm_text(folder / "fold0.txt")  # complete: passes
    data = (folder / "fold0.txt").read_bytes()
    end = data.index(b"end of parameters")
    # cut inside the header, the trees, the parameters, and at the last line of the parameters
    at = {0.02: 60, 0.5: len(data) // 2, 0.97: end - 200, 0.9999: end + 3}[cut]
    (folder / "fold0.txt").write_bytes(data[:at])
    with pytest.raises(CardError, match="not a complete LightGBM text model"):
        check_lightgbm_text(folder / "fold0.txt")


def test_changed_onnx_file_is_refused_and_listed_as_skipped(demo, tmp_path, monkeypatch):
    from ovito_glassml.inference import scan_models

    folder = _copy_model(demo, "susceptibility", tmp_path)
    data = bytearray((folder / "model.onnx").read_bytes())
    data[-5] ^= 0xFF
    (folder / "model.onnx").write_bytes(bytes(data))
    with pytest.raises(CardError, match="model.onnx .*does not match the SHA-256 its card records"):
        load_model(folder)
    monkeypatch.setenv("GLASSML_MODELS", str(tmp_path))
    problems = dict(scan_models()[1])
    assert "does not match the SHA-256" in problems[folder]


@pytest.mark.parametrize("which, edit, fields", [
    # SF: first-peak positions (the reduced distances)
    ("sf", lambda d: d["descriptor"]["settings"]["peak_positions"].update({"Cu-Zr": 2.5}), "descriptor"),
    # QS: a radius and the distance cutoff
    ("qs", lambda d: d["descriptor"]["settings"].update(radii={"Cu": 1.35}), "descriptor"),
    ("qs", lambda d: d["descriptor"]["settings"].update(distance_cutoff=3.6), "descriptor"),
    # CNN: the species (channel) order, swapped consistently in both places
    ("susceptibility", lambda d: (d.update(species=["Zr", "Cu"]),
                                  d["descriptor"]["settings"].update(species=["Zr", "Cu"])), "species, descriptor"),
    ("susceptibility", lambda d: d["descriptor"]["settings"].update(truncation=3.0), "descriptor"),
    ("susceptibility", lambda d: d["output"].update(column=None), "output"),
])
def test_edited_card_settings_are_refused_on_load(demo, tmp_path, which, edit, fields):
    """Edits that keep every shape (so no other check notices) change the numbers; the fingerprint refuses them."""
    folder = _copy_model(demo, which, tmp_path)
    data = json.loads((folder / "card.json").read_text())
    edit(data)
    ModelCard.from_dict(data)  # still a well-formed card
    (folder / "card.json").write_text(json.dumps(data))
    with pytest.raises(CardError, match=f"was edited after the model was made: its {fields} differ"):
        load_model(folder)
    with pytest.raises(CardError, match="edited after the model was made"):
        load_card(folder)


def test_unchanged_card_reformatted_still_loads_and_metrics_may_change(demo, tmp_path):
    folder = _copy_model(demo, "sf", tmp_path)
    data = json.loads((folder / "card.json").read_text())
    data["notes"] = "a note the user added"
    data["metrics"]["note"] = "re-evaluated"
    (folder / "card.json").write_text(json.dumps(data, indent=None, sort_keys=True))  # other formatting, key order
    assert load_model(folder).card.notes == "a note the user added"


def test_seal_records_a_changed_model_on_purpose(demo, tmp_path, capsys):
    from ovito_glassml.cli import main

    folder = _copy_model(demo, "sf", tmp_path)
    data = json.loads((folder / "card.json").read_text())
    data["descriptor"]["settings"]["peak_positions"]["Cu-Zr"] = 2.5
    (folder / "card.json").write_text(json.dumps(data))
    with pytest.raises(CardError, match="edited after the model was made"):
        load_model(folder)
    assert main(["models", "--seal", str(folder)]) == 0
    assert "sealed" in capsys.readouterr().out
    card = load_model(folder).card
    assert card.settings.peak_positions["Cu-Zr"] == 2.5 and set(card.sha256) == {"weights.json"}
    sealed = json.loads((folder / "card.json").read_text())
    assert {k: v for k, v in sealed.items() if k != "integrity"} == {k: v for k, v in data.items() if k != "integrity"}


def test_ensemble_record_covers_its_members(demo, tmp_path):
    import shutil

    from ovito_glassml.inference.cards import seal_card

    folder = tmp_path / "ens"
    folder.mkdir()
    shutil.copytree(demo["susceptibility"], folder / "cnn")
    shutil.copytree(demo["qs"], folder / "qs")
    data = _ensemble_dict(demo)
    data.pop("integrity")
    (folder / "card.json").write_text(json.dumps(data))
    (folder / "ensemble.json").write_text(json.dumps(
        {"members": [{"folder": "cnn", "weight": 0.5, "mean": 0.0, "sd": 1.0},
                     {"folder": "qs", "weight": 0.5, "mean": 0.0, "sd": 1.0}]}))
    card = seal_card(folder)
    assert set(card.sha256) == {"ensemble.json", "cnn/card.json", "cnn/model.onnx", "qs/card.json"} | {
        f"qs/fold{k}.txt" for k in range(5)}
    load_model(folder)
    _truncate(folder / "qs" / "fold3.txt", 0.3)
    with pytest.raises(CardError, match=r"qs/fold3.txt \(\d+ bytes\) does not match the SHA-256"):
        load_model(folder)


def test_shipped_models_are_sealed_and_verified():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "models"
    folders = sorted(p.parent for p in root.glob("*/card.json"))
    assert folders
    for folder in folders:
        card = load_card(folder)  # checks the fingerprint and every file's SHA-256
        names = {str(p.relative_to(folder)) for p in card.file_paths()}
        assert card.sha256 and set(card.sha256) == names, folder
        assert set(card.fingerprint) == {"kind", "property", "dimensions", "species", "descriptor", "input",
                                         "output", "files"}


def test_preparation_text_names_the_preparation_of_the_training_glasses(demo):
    """The card says how its training glasses were made: from training.data.preparations (written
    by provenance_summary) or, for cards without it, from the shared campaign configuration."""
    data = _card_dict(demo, "qs")
    data["training"]["data"] = {"n_glasses": 8, "common": {"campaign_config": {
        "system": "CuZr", "glass": {"quench_rate": 1e13}}}}
    card = ModelCard.from_dict(data)
    assert card.preparation_text() == "8 glasses quenched at 1e13 K/s"
    data["training"]["data"]["preparations"] = [
        {"preparation": "relaxed", "protocol": "window", "quench_rate": 1e13,
         "window": [[1100.0, 850.0, 1e12], [850.0, 700.0, 1e11]], "effective_cooling_rate": 3.2e10, "glasses": 12},
        {"preparation": "1e13", "protocol": "quench", "quench_rate": 1e13, "glasses": 1}]
    assert ModelCard.from_dict(data).preparation_text() == (
        "12 glasses cooled slowly through the glass transition (1100-850 K at 1e12 K/s, 850-700 K at 1e11 K/s; "
        "1e13 K/s elsewhere), effective cooling rate 3.2e10 K/s; 1 glass quenched at 1e13 K/s")
    # LJ glasses (the system says units lj): reduced temperatures and rates per tau, never kelvin
    lj = dict(data["training"]["data"], common={"system": {"units": "lj"}}, preparations=[
        {"protocol": "quench", "quench_rate": 1e-3, "glasses": 20},
        {"protocol": "window", "quench_rate": 1e-3, "window": [[0.6, 0.2, 1e-4]], "glasses": 20}])
    assert ModelCard.from_dict(dict(data, training=dict(data["training"], data=lj))).preparation_text() == (
        "20 glasses quenched at 1e-03/tau; 20 glasses cooled slowly through the glass transition "
        "(0.6-0.2 at 1e-04/tau; 1e-03/tau elsewhere)")
    data["training"]["data"]["preparations"] = [{"protocol": "quench", "quench_rate": None, "glasses": 2}]
    assert "not readable" in ModelCard.from_dict(data).preparation_text()  # a hand-written card never fails
    data["metrics"] = dict(data["metrics"], shear_band=[{"gamma_mean": None, "n": 3}])
    assert "not readable" in ModelCard.from_dict(data).shear_band_text()
    data["training"]["data"] = {"glasses": ["g1"]}
    assert ModelCard.from_dict(data).preparation_text() == "not stated on the card"


def test_shipped_cards_state_their_preparation_and_shear_band_test(monkeypatch):
    monkeypatch.delenv("GLASSML_MODELS", raising=False)
    cards = {c.name: c for c in available_models()}
    for name in ("susceptibility", "dfs", "qs", "sf"):
        assert cards[name].preparation_text().endswith("quenched at 1e13 K/s"), name
    for name in ("susceptibility", "dfs"):
        assert "glass-loadings of 4,000 atoms, preparation 1e13" in cards[name].shear_band_text()
