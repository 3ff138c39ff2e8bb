"""Each network runs once: shared passes by file hash, the engine options, the CUDA provider choice."""
import shutil

import numpy as np
import pytest

from conftest import random_glass
from ovito_glassml.descriptors.geometry import ConfigurationError
from ovito_glassml.inference import load_model, runtime
from ovito_glassml.inference.demo import build_demo_models
from ovito_glassml.inference.engine import EngineOptions, overlapped, set_engine_options
from ovito_glassml.inference.sharing import ResultCache, clear_shared


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return build_demo_models(tmp_path_factory.mktemp("shared_demo"))


@pytest.fixture(scope="module")
def glass():
    return random_glass(120, seed=11)


@pytest.fixture(autouse=True)
def fresh():
    clear_shared()
    yield
    clear_shared()
    set_engine_options(overlap=True, precision="fp32")


def _count_runs(model, monkeypatch):
    calls = []
    original = type(model).run_batch_outputs   # what a prediction pass runs, batch by batch

    def spy(self, images):
        calls.append(len(images))
        return original(self, images)

    monkeypatch.setattr(type(model), "run_batch_outputs", spy)
    return calls


def test_two_folders_with_the_same_network_share_one_pass(demo, glass, tmp_path, monkeypatch):
    copy = tmp_path / "copy_of_susceptibility"
    shutil.copytree(demo["susceptibility"], copy)
    a, b = load_model(demo["susceptibility"]), load_model(copy)
    assert a.share_key() == b.share_key()
    assert a.session is b.session  # identical bytes and options: one ONNX Runtime session
    calls = _count_runs(a, monkeypatch)
    pa = a.predict(glass, frame="xz")
    n = sum(calls)
    assert n == glass.count
    pb = b.predict(glass, frame="xz")
    assert sum(calls) == n  # the second model read the first one's pass
    np.testing.assert_array_equal(pa, pb)
    b.predict(glass, frame="yz")
    assert sum(calls) == 2 * n  # another loading is another pass


def test_shared_pass_equals_separate_passes(demo, glass, monkeypatch):
    model = load_model(demo["susceptibility"])
    shared = model.predict(glass, frame="xy")
    again = model.predict(glass, frame="xy")
    monkeypatch.setenv("GLASSML_RESULT_CACHE_MB", "0")
    clear_shared()
    separate = load_model(demo["susceptibility"]).predict(glass, frame="xy")
    np.testing.assert_array_equal(shared, separate)
    np.testing.assert_array_equal(again, separate)
    # streamed batches read back from the cache cover every centre once, with the same values
    monkeypatch.delenv("GLASSML_RESULT_CACHE_MB")
    got = np.full(glass.count, np.nan)
    for chunk, values in model.iter_predict(glass, frame="xy", batch_size=16):
        got[chunk] = values
    np.testing.assert_array_equal(got, separate)


def _two_output_copies(demo, tmp_path):
    """Two folders holding one two-output network (columns p and 1 - p of the demo CNN), the
    first card selecting column 0, the second column 1."""
    import json

    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from ovito_glassml.inference.cards import seal_card

    model = onnx.load(str(demo["susceptibility"] / "model.onnx"))
    g = model.graph
    g.initializer.append(numpy_helper.from_array(np.ones((1, 1), dtype=np.float32), "one"))
    g.node.append(helper.make_node("Sub", ["one", "probability"], ["complement"]))
    g.node.append(helper.make_node("Concat", ["probability", "complement"], ["both"], axis=1))
    del g.output[:]
    g.output.append(helper.make_tensor_value_info("both", TensorProto.FLOAT, ["batch", 2]))
    onnx.checker.check_model(model)
    folders = []
    for column, name in ((0, "at5"), (1, "at10")):
        folder = tmp_path / name
        shutil.copytree(demo["susceptibility"], folder)
        onnx.save(model, str(folder / "model.onnx"))
        card = json.loads((folder / "card.json").read_text())
        card["name"] = name
        card["output"] = {"meaning": "demo", "select": name, "column": column,
                          "outputs": [{"name": "at5", "column": 0}, {"name": "at10", "column": 1}]}
        (folder / "card.json").write_text(json.dumps(card))
        seal_card(folder)  # record the new network and output in the card's integrity block
        folders.append(folder)
    return folders


def test_cards_selecting_two_outputs_of_one_network_share_its_pass(demo, glass, tmp_path, monkeypatch):
    at5, at10 = _two_output_copies(demo, tmp_path)
    a, b = load_model(at5), load_model(at10)
    assert (a.column, b.column) == (0, 1)
    assert a.share_key() == b.share_key()
    expected = load_model(demo["susceptibility"]).predict(glass, frame="xy")
    clear_shared()
    calls = _count_runs(a, monkeypatch)
    pa = a.predict(glass, frame="xy")
    n = sum(calls)
    assert n == glass.count
    pb = b.predict(glass, frame="xy")
    assert sum(calls) == n  # the second card read its column from the first card's pass
    np.testing.assert_allclose(pa, expected, atol=1e-6)
    np.testing.assert_allclose(pb, 1 - expected, atol=1e-6)
    # the same column order whichever card runs first, and without the shared cache
    monkeypatch.setenv("GLASSML_RESULT_CACHE_MB", "0")
    clear_shared()
    np.testing.assert_allclose(load_model(at10).predict(glass, frame="xy"), pb, atol=1e-7)
    np.testing.assert_allclose(load_model(at5).run_batch(np.zeros((2, *a.card.input_shape), np.float32)),
                               1 - load_model(at10).run_batch(np.zeros((2, *a.card.input_shape), np.float32)),
                               atol=1e-6)


def test_changed_file_is_a_different_network(demo, glass, tmp_path):
    copy = tmp_path / "other"
    shutil.copytree(demo["susceptibility"], copy)
    with open(copy / "model.onnx", "ab") as fh:
        fh.write(b"\0")  # other bytes (still loads: trailing bytes of a protobuf are ignored or refused)
    a = load_model(demo["susceptibility"])
    try:
        b = load_model(copy)
    except Exception:  # noqa: BLE001 - a refused file is fine too; it is never mistaken for the first
        return
    assert a.share_key() != b.share_key()


def test_ensemble_members_computed_once(demo, glass, tmp_path, monkeypatch):
    """Two ensembles holding the same CNN and the same GBDT, plus that GBDT alone: one CNN pass per
    loading and one GBDT pass per configuration."""
    from ovito_glassml.inference.cards import load_card

    folders = []
    for name, scale in (("ens_a", 1.0), ("ens_b", 1.3)):
        d = tmp_path / name
        shutil.copytree(demo["susceptibility"], d / "cnn")
        shutil.copytree(demo["qs"], d / "qs")
        import json

        (d / "ensemble.json").write_text(json.dumps({
            "members": [{"folder": "cnn", "weight": 0.5, "transform": "logit", "mean": 0.0, "sd": 1.0},
                        {"folder": "qs", "weight": 0.5, "transform": "logit", "mean": 0.0, "sd": 1.0}],
            "calibration": {"scale": scale, "offset": 0.0}}))
        card = load_card(demo["susceptibility"]).to_dict()
        card.update(name=name, kind="ensemble", descriptor={"name": "members", "settings": {"members": ["cnn", "qs"]}},
                    input={"shape": []}, files={"ensemble": "ensemble.json"}, output={})
        card["species"] = list(load_card(demo["susceptibility"]).species)
        card.pop("integrity", None)
        (d / "card.json").write_text(json.dumps(card))
        try:  # cards may record their files' hashes: record this hand-made ensemble's
            from ovito_glassml.inference.cards import seal_card
        except ImportError:
            pass
        else:
            seal_card(d)
        folders.append(d)
    try:
        a, b = load_model(folders[0]), load_model(folders[1])
    except ConfigurationError as exc:  # card rules this helper does not know (e.g. sealed hashes)
        pytest.skip(f"ensemble card not accepted: {exc}")
    qs = load_model(demo["qs"])
    cnn_calls = _count_runs(a.members[0], monkeypatch)
    gbdt_calls = []
    import ovito_glassml.descriptors.interstice as inter

    real = inter.interstice_features

    def spy(*args, **kw):
        gbdt_calls.append(1)
        return real(*args, **kw)

    monkeypatch.setattr(inter, "interstice_features", spy)
    pa = a.predict(glass, frame="xy")
    pb = b.predict(glass, frame="xy")
    pq = qs.predict(glass)
    assert sum(cnn_calls) == glass.count and len(gbdt_calls) == 1
    # every orientation: one more CNN pass, the GBDT member is not recomputed
    a.predict_orientations(glass, ["yz", "zx"])
    assert sum(cnn_calls) == 3 * glass.count and len(gbdt_calls) == 1
    # the shared values are those of separate computations
    monkeypatch.setenv("GLASSML_RESULT_CACHE_MB", "0")
    clear_shared()
    np.testing.assert_array_equal(pa, load_model(folders[0]).predict(glass, frame="xy"))
    np.testing.assert_array_equal(pb, load_model(folders[1]).predict(glass, frame="xy"))
    np.testing.assert_array_equal(pq, load_model(demo["qs"]).predict(glass))


def test_overlap_gives_the_same_values(demo, glass):
    set_engine_options(overlap=False)
    plain = load_model(demo["susceptibility"]).predict(glass, frame="zx", batch_size=8)
    clear_shared()
    set_engine_options(overlap=True)
    model = load_model(demo["susceptibility"])
    assert model.options.overlap
    np.testing.assert_array_equal(model.predict(glass, frame="zx", batch_size=8), plain)


def test_overlapped_propagates_errors_and_stops_early():
    def batches():
        for k in range(5):
            if k == 3:
                raise ValueError("broken batch")
            yield np.array([k]), np.full((1, 2), k, dtype=np.float32)

    seen = []
    with pytest.raises(ValueError, match="broken batch"):
        for idx, images in overlapped(batches(), depth=1):
            seen.append(int(images[0, 0]))
    assert seen == [0, 1, 2]
    gen = overlapped(((np.array([k]), np.zeros((1, 2), np.float32)) for k in range(1000)), depth=2)
    next(gen)
    gen.close()  # the producer stops; nothing hangs


def test_engine_options_checked():
    with pytest.raises(ConfigurationError):
        EngineOptions(opt_level="fast")
    with pytest.raises(ConfigurationError):
        EngineOptions(precision="int4")
    with pytest.raises(ConfigurationError):
        EngineOptions(threads=0)


def test_int8_without_a_quantised_file_is_refused(demo):
    with pytest.raises(ConfigurationError, match="int8"):
        load_model(demo["susceptibility"], precision="int8")


def test_result_cache_is_bounded():
    cache = ResultCache(max_bytes=3 * 8 * 100)
    for k in range(5):
        cache.put(k, np.zeros(100))
    assert len(cache) == 3 and cache.nbytes <= 3 * 800
    assert cache.get(0) is None and cache.get(4) is not None
    assert not cache.get(4).flags.writeable


# ---------------------------------------------------------------------------------------------
# the CUDA provider
def test_cuda_provider_chosen_when_listed(monkeypatch):
    import onnxruntime as ort

    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    assert runtime.default_providers() == ["CUDAExecutionProvider", "CPUExecutionProvider"]
    monkeypatch.setattr(ort, "get_available_providers", lambda: ["AzureExecutionProvider", "CPUExecutionProvider"])
    assert runtime.default_providers() == ["CPUExecutionProvider"]


def test_cuda_provider_used_on_a_gpu(demo, glass):
    import onnxruntime as ort

    if "CUDAExecutionProvider" not in ort.get_available_providers():
        pytest.skip("onnxruntime-gpu is not installed (the gpu extra)")
    model = load_model(demo["susceptibility"])
    if model.providers[0] != "CUDAExecutionProvider":
        pytest.skip("onnxruntime-gpu is installed but no GPU can be used here")
    cpu = load_model(demo["susceptibility"], providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(model.predict(glass), cpu.predict(glass), atol=1e-4)


def test_shipped_int8_networks_are_the_quantised_shipped_cnn():
    """The int8 files beside the shipped CNNs come from those very networks and predict nearly alike
    (their held-out metrics: benchmarks/results/quantization.json, docs/speed.md)."""
    import json
    from pathlib import Path

    from ovito_glassml.inference.sharing import file_sha256
    from ovito_glassml.modifiers.convert import configuration_from_data

    root = Path(__file__).resolve().parents[1] / "models"
    folders = [p.parent for p in sorted(root.glob("*/cnn/model.int8.onnx"))]
    if not folders:
        pytest.skip("no int8 network ships")
    for folder in folders:
        record = json.loads((folder / "model.int8.json").read_text())
        assert record["source_sha256"] == file_sha256(folder / "model.onnx")
        assert record["sha256"] == file_sha256(folder / "model.int8.onnx")
    from ovito.io import import_file

    config = configuration_from_data(import_file(str(root.parent / "examples" / "data" / "CuZr_example.data")).compute())
    idx = np.arange(0, config.count, 25)
    fp32 = load_model(folders[0], providers=["CPUExecutionProvider"]).predict(config, idx)
    int8 = load_model(folders[0], providers=["CPUExecutionProvider"], precision="int8").predict(config, idx)
    assert np.abs(fp32 - int8).max() < 0.15 and np.corrcoef(fp32, int8)[0, 1] > 0.99


def test_quantize_cnn_writes_a_close_int8_network_bound_to_its_source(demo, glass, tmp_path):
    """quantize_cnn: an int8 file and record beside model.onnx; predictions close to fp32; a changed
    model.onnx makes the int8 file refused (its record names the source's hash)."""
    import json

    from ovito_glassml.inference.cards import load_card, seal_card
    from ovito_glassml.inference.quantize import calibration_images, quantize_cnn
    from ovito_glassml.inference.sharing import file_sha256

    folder = tmp_path / "susceptibility"
    shutil.copytree(demo["susceptibility"], folder)
    card = load_card(folder)
    images = calibration_images([glass], card.settings, ["xy"], per_frame=64)
    out = quantize_cnn(folder, images, glasses=["random_glass_11"])
    record = json.loads(out.with_name("model.int8.json").read_text())
    assert record["source_sha256"] == file_sha256(out.with_name("model.onnx"))
    assert record["sha256"] == file_sha256(out) and record["calibration"]["images"] == 64
    fp32 = load_model(folder, providers=["CPUExecutionProvider"]).predict(glass, frame="xy")
    int8 = load_model(folder, providers=["CPUExecutionProvider"], precision="int8").predict(glass, frame="xy")
    assert np.abs(fp32 - int8).max() < 0.15 and np.corrcoef(fp32, int8)[0, 1] > 0.95
    clear_shared()
    source = out.with_name("model.onnx")
    import onnx
    from onnx import numpy_helper

    net = onnx.load(str(source))
    first = net.graph.initializer[0]
    first.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(first) * 1.01, first.name))
    onnx.save(net, str(source))  # no longer the network the int8 file was made from
    with pytest.raises(ConfigurationError, match="SHA-256"):  # the card's own check comes first
        load_model(folder, providers=["CPUExecutionProvider"])
    seal_card(folder)  # the changed network recorded on purpose: fp32 loads, the old int8 file does not
    load_model(folder, providers=["CPUExecutionProvider"])
    with pytest.raises(ConfigurationError, match="int8"):
        load_model(folder, providers=["CPUExecutionProvider"], precision="int8")
