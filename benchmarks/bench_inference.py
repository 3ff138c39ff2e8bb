"""Prediction speed of the shipped CNN path, each step against a plain fp32 ONNX Runtime pass.

    python benchmarks/bench_inference.py [--atoms 32000] [--sample 1024] [--json out.json]

System: the bundled 2,000-atom Cu50Zr50 glass replicated to ``--atoms`` (32,000) atoms; the
network is the shipped CNN (``models/dfs/cnn``, the same file as ``models/susceptibility/cnn``,
which reads another of its outputs).

* **reference**: what the runtime did before these options existed: a plain fp32
  ``InferenceSession`` (ONNX Runtime's default options), batches of 128, SDMs generated and then
  run one batch after the other.
* **network steps** (SDM images made beforehand, ``--sample`` of them, best of 3 passes): graph
  optimisation level, intra-op threads, batch size, int8 (when ``model.int8.onnx`` is there);
  each as images/s and its ratio to the reference session on the same images.
* **SDM + CNN** on ``--sample`` centres: sequential (reference) vs SDM generation overlapped with
  the network (producer thread, bounded queue), and the SDM generation alone.
* **predict-all** on all ``--atoms``: the shipped susceptibility, dfs, qs and sf models through
  the runtime (shared passes), against one reference SDM + CNN pass over the same atoms and
  against the four models run with sharing off; each in its own process, with its peak memory.
  A second, fixed yardstick: the same plain pass of ``benchmarks/reference_cnn/`` (the compact
  4.8 A CNN without a strided first layer that the models held before the one-network
  ``susceptibility``/``dfs``), so the speed targets keep one meaning whatever network ships.
* **streaming at 1,000,000 atoms**: SDM + CNN over the first ``--stream-centres`` atoms of a
  1,000,000-atom glass: peak memory after the first batches and at the end (bounded: it does
  not grow with the number of centres).

Every figure comes from the same run; other jobs on the machine slow all of them alike, so the
ratios are the figures to compare.  ``--json`` writes them for ``run_all.py``.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

from common import cu_zr_glass, images_per_second as _rate, peak_memory_mib  # noqa: E402

CNN = ROOT / "models" / "dfs" / "cnn"
SHIPPED = ROOT / "models"
PREVIOUS_CNN = HERE / "reference_cnn"   # the fixed yardstick (module doc)


def _plain_session(path, threads=None, level=None, spin=True):
    import onnxruntime as ort

    so = ort.SessionOptions()
    if threads:
        so.intra_op_num_threads = threads
    if level is not None:
        so.graph_optimization_level = level
    if not spin:
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def _images(config, settings, n, seed=0):
    from ovito_glassml.descriptors.sdm import iter_spatial_density_maps

    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(config.count, size=min(n, config.count), replace=False))
    return idx, np.concatenate([im for _, im in iter_spatial_density_maps(config, settings, "xy", centers=idx,
                                                                          batch_size=256, reuse_buffer=False)])


def network_steps(config, sample):
    import onnxruntime as ort

    from ovito_glassml.inference import load_model
    from ovito_glassml.inference.quantize import int8_path

    card = load_model(CNN, providers=["CPUExecutionProvider"]).card
    _, images = _images(config, card.settings, sample)
    ref = _plain_session(CNN / "model.onnx")
    rows = []
    base = _rate(ref, images, 128)
    rows.append({"step": "reference: plain fp32 session, batch 128", "images/s": base})
    L = ort.GraphOptimizationLevel
    for label, level in (("disable", L.ORT_DISABLE_ALL), ("basic", L.ORT_ENABLE_BASIC),
                         ("extended", L.ORT_ENABLE_EXTENDED), ("all", L.ORT_ENABLE_ALL)):
        rows.append({"step": f"graph optimisation {label}", "images/s": _rate(_plain_session(CNN / "model.onnx",
                                                                                             level=level), images, 128)})
    rows.append({"step": "no spin-waiting of idle threads", "images/s": _rate(_plain_session(CNN / "model.onnx",
                                                                                           spin=False), images, 128)})
    for threads in (1, 2):
        rows.append({"step": f"{threads} intra-op thread(s)",
                     "images/s": _rate(_plain_session(CNN / "model.onnx", threads=threads), images, 128)})
    for bs in (16, 64, 256, 512):
        rows.append({"step": f"batch {bs}", "images/s": _rate(ref, images, bs)})
    q = int8_path(CNN / "model.onnx")
    if q.is_file():
        rows.append({"step": "int8 (static, QDQ, calibrated on training SDMs)",
                     "images/s": _rate(_plain_session(q), images, 128)})
        rows.append({"step": "int8, no spin-waiting", "images/s": _rate(_plain_session(q, spin=False), images, 128)})
    else:
        rows.append({"step": "int8: no model.int8.onnx (run bench_quantization.py --install)", "images/s": float("nan")})
    rows.append({"step": "reference again (drift check)", "images/s": _rate(ref, images, 128)})
    for r in rows:
        r["ratio"] = r["images/s"] / base
    return rows


def sdm_cnn_steps(config, sample):
    """SDM + CNN on `sample` centres: plain sequential vs overlapped; SDM generation alone."""
    from ovito_glassml.descriptors.sdm import iter_spatial_density_maps
    from ovito_glassml.inference import load_model
    from ovito_glassml.inference.engine import set_engine_options

    rng = np.random.default_rng(1)
    idx = np.sort(rng.choice(config.count, size=min(sample, config.count), replace=False))
    ref = _plain_session(CNN / "model.onnx")
    card = load_model(CNN).card
    name = ref.get_inputs()[0].name

    def reference():
        for _, images in iter_spatial_density_maps(config, card.settings, "xy", centers=idx, batch_size=128,
                                                   reuse_buffer=True):
            ref.run(None, {name: images})

    def sdm_only():
        for _ in iter_spatial_density_maps(config, card.settings, "xy", centers=idx, batch_size=128, reuse_buffer=True):
            pass

    from ovito_glassml.inference.sharing import RESULTS

    models = {}
    for overlap in (False, True):  # loaded before timing; each timed pass starts with an empty result cache
        set_engine_options(overlap=overlap)
        models[overlap] = load_model(CNN, providers=["CPUExecutionProvider"])
    int8 = (CNN / "model.int8.onnx").is_file()
    if int8:
        set_engine_options(overlap=True, precision="int8")
        models["int8"] = load_model(CNN, providers=["CPUExecutionProvider"])
        set_engine_options(precision="fp32")

    def runtime(key):
        def go():
            RESULTS.clear()
            models[key].predict(config, idx, frame="xy")
        return go

    runtime_int8 = runtime("int8")

    cases = [("reference: SDM then plain fp32 session, batch by batch", reference),
             ("SDM generation alone", sdm_only),
             ("runtime, sequential (overlap off)", runtime(False)),
             ("runtime, SDM overlapped with the network", runtime(True))]
    if int8:
        cases.append(("runtime, overlapped, int8", runtime_int8))
    best = {label: 0.0 for label, _ in cases}
    sdm_only()  # compile / warm
    for _ in range(2):
        for label, fn in cases:
            t = time.perf_counter()
            fn()
            best[label] = max(best[label], len(idx) / (time.perf_counter() - t))
    base = best[cases[0][0]]
    return [{"step": label, "atoms/s": v, "ratio": v / base} for label, v in best.items()]


def _child(scenario: str, atoms: int, extra: dict) -> dict:
    """Run one scenario in a fresh process (its own peak memory)."""
    out = subprocess.run([sys.executable, __file__, "--scenario", scenario, "--atoms", str(atoms),
                          "--extra", json.dumps(extra)], capture_output=True, text=True, cwd=str(ROOT))
    if out.returncode:
        raise RuntimeError(f"scenario {scenario} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def scenario(name: str, atoms: int, extra: dict) -> dict:
    from ovito_glassml.inference import load_model
    from ovito_glassml.inference.engine import set_engine_options

    if name == "stream":
        config = cu_zr_glass(atoms)
        model = load_model(CNN, providers=["CPUExecutionProvider"])
        n = int(extra.get("centres", 2048))
        rss, t0 = [], time.perf_counter()
        done = 0
        for chunk, _ in model.iter_predict(config, centers=np.arange(n), frame="xy"):
            done += len(chunk)
            rss.append(peak_memory_mib())
        return {"atoms": config.count, "centres": done, "seconds": time.perf_counter() - t0,
                "peak_mib_first_batches": rss[min(2, len(rss) - 1)], "peak_mib_end": rss[-1]}
    config = cu_zr_glass(atoms)
    centres = None
    if extra.get("centres"):
        centres = np.sort(np.random.default_rng(2).choice(config.count, size=min(int(extra["centres"]), config.count),
                                                          replace=False))
    n_pred = config.count if centres is None else len(centres)
    t0 = time.perf_counter()
    if name == "reference":
        from ovito_glassml.descriptors.sdm import iter_spatial_density_maps
        from ovito_glassml.inference.cards import load_card

        folder = Path(extra.get("cnn") or CNN)
        card = load_card(folder)
        sess = _plain_session(folder / "model.onnx")
        inp = sess.get_inputs()[0].name
        for _, images in iter_spatial_density_maps(config, card.settings, "xy", centers=centres, batch_size=128,
                                                   reuse_buffer=True):
            sess.run(None, {inp: images})
        seconds = {"sdm+cnn": time.perf_counter() - t0}
    else:  # predict-all: the shipped models, shared or not
        from ovito_glassml.inference.sharing import RESULTS

        if name == "predict_all_unshared":
            os.environ["GLASSML_RESULT_CACHE_MB"] = "0"
        if extra.get("precision"):
            set_engine_options(precision=extra["precision"])
        seconds = {}
        for kind in ("susceptibility", "dfs", "qs", "sf"):
            t = time.perf_counter()
            model = load_model(SHIPPED / kind)
            model.predict(config, centres, frame="xy")
            seconds[kind] = time.perf_counter() - t
        seconds["cache_hits"] = RESULTS.hits
    return {"atoms": config.count, "predicted": n_pred, "total": time.perf_counter() - t0, "seconds": seconds,
            "peak_mib": peak_memory_mib()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--atoms", type=int, default=32000)
    parser.add_argument("--sample", type=int, default=1024, help="images / centres for the step measurements")
    parser.add_argument("--stream-atoms", type=int, default=1_000_000)
    parser.add_argument("--stream-centres", type=int, default=2048)
    parser.add_argument("--centres", type=int, default=0,
                        help="predict-all on this many random centres of the --atoms glass (0: every atom)")
    parser.add_argument("--no-unshared", action="store_true", help="skip predict-all with sharing off (the longest part)")
    parser.add_argument("--json", help="write the figures here")
    parser.add_argument("--scenario", help=argparse.SUPPRESS)
    parser.add_argument("--extra", default="{}", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.scenario:
        print(json.dumps(scenario(args.scenario, args.atoms, json.loads(args.extra))))
        return 0

    import onnxruntime as ort

    result = {"date": time.strftime("%Y-%m-%d %H:%M"), "cpus": os.cpu_count(), "load_before": os.getloadavg()[0],
              "onnxruntime": ort.__version__, "atoms": args.atoms, "sample": args.sample}
    config = cu_zr_glass(args.atoms)
    print(f"{config.count} atoms; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs", flush=True)
    result["network"] = network_steps(config, args.sample)
    _print(result["network"], "images/s", "CNN alone (SDM images made beforehand)")
    result["sdm_cnn"] = sdm_cnn_steps(config, args.sample)
    _print(result["sdm_cnn"], "atoms/s", "SDM + CNN")
    c = {"centres": args.centres}
    ref = _child("reference", args.atoms, c)
    runs = {"reference": ref}
    if (PREVIOUS_CNN / "model.onnx").is_file():
        runs["reference_previous"] = _child("reference", args.atoms, {**c, "cnn": str(PREVIOUS_CNN)})
    runs["predict_all"] = _child("predict_all", args.atoms, c)
    if (CNN / "model.int8.onnx").is_file():
        runs["predict_all_int8"] = _child("predict_all", args.atoms, {**c, "precision": "int8"})
    if not args.no_unshared:
        runs["predict_all_unshared"] = _child("predict_all_unshared", args.atoms, c)
    base = ref["seconds"]["sdm+cnn"]
    previous = runs["reference_previous"]["seconds"]["sdm+cnn"] if "reference_previous" in runs else float("nan")
    rows = []
    for key, r in runs.items():
        total = r["seconds"]["sdm+cnn"] if key.startswith("reference") else r["total"]
        rows.append({"run": key, "seconds": total, "ratio": total / base, "ratio_previous": total / previous,
                     "atoms/s": r["predicted"] / total,
                     "predicted": r["predicted"],
                     "peak MiB": r["peak_mib"],
                     "parts": {k: round(v, 1) for k, v in r["seconds"].items() if k != "cache_hits"}})
    result["predict_all"] = rows
    _print(rows, "seconds", f"predict-all on {args.atoms} atoms (ratio = seconds / reference SDM + CNN pass)")
    result["stream"] = _child("stream", args.stream_atoms, {"centres": args.stream_centres})
    print(f"\nstreaming: {result['stream']}")
    result["load_after"] = os.getloadavg()[0]
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


def _print(rows, key, title):
    print(f"\n{title}")
    for r in rows:
        label = r.get("step") or r.get("run")
        print(f"  {label:<60} {r[key]:>10,.1f} {key}  x{r['ratio']:.2f}"
              + (f"  peak {r['peak MiB']:,.0f} MiB" if "peak MiB" in r else ""), flush=True)


if __name__ == "__main__":
    sys.exit(main())
