"""Int8 quantisation of the shipped CNN: what it does to the held-out metrics, and its speed.

    python benchmarks/bench_quantization.py [--model models/dfs/cnn] [--per-frame 48] [--install]

1. Calibrates ONNX Runtime's static int8 quantisation (QDQ, per-channel int8 weights, int8
   activations, min/max ranges) on SDM images of the CNN's **training** glasses (the card's
   ``training.data.glasses``, from ``data/<campaign>/``), ``--per-frame`` random atoms per
   glass and training orientation.
2. Scores fp32 and int8 on the **test** glasses the card was evaluated on (``metrics.evaluated_on``)
   with the protocol of ``ovito_glassml.training.evaluate``: per (glass, orientation) at the
   card's strain, labels = top ``f_thres`` (5 %) of D2min, AUC-ROC and balanced accuracy at
   p > 0.5, each the mean over the pairs; and the papers' protocol accuracy (Fan & Ma 2021: top
   0.5 % of D2min, pairs pooled, balanced sets, the model's decision p > 0.5); the same for the
   shipped ensembles (``dfs``, ``susceptibility``) that hold this CNN, with their QS member
   computed once per glass.
3. Times fp32 and int8 on the same images in the same run (best of three passes each).

Writes ``benchmarks/results/quantization.json``; ``--install`` also keeps the int8 file, if every
change of step 2 is below 0.003 (the int8 rule), beside
``model.onnx`` (``model.int8.onnx`` + ``model.int8.json``), and beside every CNN member of the
ensembles that holds the same ONNX file (one network with an output per strain).
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ovito_glassml.inference import load_model  # noqa: E402
from ovito_glassml.analysis.metrics import paper_protocol_accuracy  # noqa: E402
from ovito_glassml.inference.quantize import INT8_FILE, INT8_RECORD, calibration_images, quantize_cnn  # noqa: E402
from ovito_glassml.inference.cards import file_sha256  # noqa: E402
from ovito_glassml.training.scoring import PAPER_FRACTION  # noqa: E402
from ovito_glassml.training.evaluate import _score_rows  # noqa: E402
from ovito_glassml.training.samples import load_glasses, top_fraction_labels  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "quantization.json"


def _glass_files(names):
    out = []
    for name in names:
        campaign = name.rsplit("_g", 1)[0]
        out.append(ROOT / "data" / campaign / f"{name}.npz")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=str(ROOT / "models" / "dfs" / "cnn"))
    parser.add_argument("--ensembles", default="dfs,susceptibility", help="shipped ensembles holding this CNN")
    parser.add_argument("--per-frame", type=int, default=48, help="calibration atoms per training glass and orientation")
    parser.add_argument("--max-atoms", type=int, default=0, help="test atoms per glass (0: all)")
    parser.add_argument("--install", action="store_true", help="keep model.int8.onnx beside model.onnx")
    args = parser.parse_args()

    fp32 = load_model(args.model, providers=["CPUExecutionProvider"])
    card = fp32.card
    train = card.training["data"]
    frames = list(train.get("orientations") or ["xy"])
    test_names = sorted(re.findall(r"[\w]+_g\d{4}", card.metrics["evaluated_on"]))
    print(f"calibration: {len(train['glasses'])} training glasses x {len(frames)} orientations x "
          f"{args.per_frame} atoms; test: {test_names}", flush=True)
    t0 = time.perf_counter()
    training = load_glasses(_glass_files(sorted(train["glasses"])))
    images = calibration_images([g.config for g in training], card.settings, frames, args.per_frame)
    tmp = Path(tempfile.mkdtemp())
    work = tmp / "cnn"
    shutil.copytree(card.directory, work)
    q = quantize_cnn(work, images, glasses=sorted(train["glasses"]))
    print(f"quantised in {time.perf_counter() - t0:.0f} s ({len(images)} calibration images)", flush=True)
    int8 = load_model(work, providers=["CPUExecutionProvider"])
    int8.use_precision("int8")

    ensembles, members = {}, {}
    for name in [s for s in args.ensembles.split(",") if s]:
        ens = load_model(ROOT / "models" / name)
        k_cnn = next(k for k, m in enumerate(ens.members) if m.card.kind == "onnx-cnn")
        ensembles[name] = (ens, k_cnn)
        # the ensemble's own CNN member (it may read another output column of the same network), in
        # fp32 and, from a copy holding the int8 file just made, in int8
        src = ens.members[k_cnn].card.directory
        if file_sha256(ens.members[k_cnn].card.file_paths()[0]) != file_sha256(card.file_paths()[0]):
            raise SystemExit(f"{name}'s CNN member ({src}) is not the network {args.model}; quantise it on its own")
        copy = tmp / f"member_{name}"
        shutil.copytree(src, copy)
        for fname in (INT8_FILE, INT8_RECORD):
            shutil.copy2(work / fname, copy / fname)
        m8 = load_model(copy, providers=["CPUExecutionProvider"])
        m8.use_precision("int8")
        members[name] = (load_model(src, providers=["CPUExecutionProvider"]), m8)

    test = load_glasses(_glass_files(test_names))
    rows = {key: [] for key in ["cnn/fp32", "cnn/int8"] + [f"{n}/{p}" for n in ensembles for p in ("fp32", "int8")]}
    paper = {key: ([], []) for key in rows}   # pooled top-0.5 % labels and probabilities per key
    diffs = []
    for g in test:
        rng = np.random.default_rng(0)
        idx = (np.sort(rng.choice(g.count, args.max_atoms, replace=False)) if 0 < args.max_atoms < g.count
               else np.arange(g.count))
        static = {}
        for name, (ens, k_cnn) in ensembles.items():
            static[name] = [None if k == k_cnn else m.predict(g.config, idx) for k, m in enumerate(ens.members)]
        for o in frames:
            if o not in g.d2min:
                continue
            p32 = fp32.predict(g.config, idx, frame=o)
            p8 = int8.predict(g.config, idx, frame=o)
            diffs.append(np.abs(p32 - p8).max())
            for label, (p_cnn, strain, f) in {"cnn": (None, float(card.label["strain"]), float(card.label["f_thres"]))}.items():
                d = g.d2min_at(o, strain)[idx]
                y = top_fraction_labels(d, f)
                rows["cnn/fp32"].append(_score_rows(p32, d, y, f, True))
                rows["cnn/int8"].append(_score_rows(p8, d, y, f, True))
                for prec, p in (("fp32", p32), ("int8", p8)):
                    paper[f"cnn/{prec}"][0].append(top_fraction_labels(d, PAPER_FRACTION))
                    paper[f"cnn/{prec}"][1].append(p)
            for name, (ens, k_cnn) in ensembles.items():
                strain, f = float(ens.card.label["strain"]), float(ens.card.label["f_thres"])
                d = g.d2min_at(o, strain)[idx]
                y = top_fraction_labels(d, f)
                own = [m.predict(g.config, idx, frame=o) for m in members[name]]  # its own output column
                for prec, p in zip(("fp32", "int8"), own):
                    raw = [p if k == k_cnn else v for k, v in enumerate(static[name])]
                    combined = ens.combine(raw)
                    rows[f"{name}/{prec}"].append(_score_rows(combined, d, y, f, True))
                    paper[f"{name}/{prec}"][0].append(top_fraction_labels(d, PAPER_FRACTION))
                    paper[f"{name}/{prec}"][1].append(combined)
            print(f"  {g.name} {o}: done", flush=True)
    metrics = {k: {m: float(np.mean([r[m] for r in v])) for m in ("auc_roc", "balanced_accuracy")}
               for k, v in rows.items()}
    for k, (labels, probs) in paper.items():
        y, p = np.concatenate(labels), np.concatenate(probs)
        keep = y >= 0
        metrics[k]["paper_accuracy"] = float(paper_protocol_accuracy(y[keep], p[keep]))
    names = ("auc_roc", "balanced_accuracy", "paper_accuracy")
    deltas = {}
    for key in sorted({k.split("/")[0] for k in rows}):
        deltas[key] = {m: metrics[f"{key}/int8"][m] - metrics[f"{key}/fp32"][m] for m in names}

    # speed on the same images, same run: fp32 (plain session) vs int8
    def rate(model, n=1024, bs=128):
        best = 0.0
        for _ in range(3):
            t = time.perf_counter()
            for s in range(0, n, bs):
                model.run_batch(images[s:s + bs])
            best = max(best, n / (time.perf_counter() - t))
        return best

    n = min(1024, len(images))
    speed = {"fp32_images_per_s": rate(fp32, n), "int8_images_per_s": rate(int8, n)}
    speed["ratio"] = speed["int8_images_per_s"] / speed["fp32_images_per_s"]
    ok = all(abs(v) < 0.003 for d in deltas.values() for v in d.values())
    result = {"model": str(Path(args.model).relative_to(ROOT)) if Path(args.model).is_absolute() else args.model,
              "test_glasses": test_names, "orientations": frames, "pairs": len(rows["cnn/fp32"]),
              "atoms_per_glass": int(len(idx)), "calibration_images": int(len(images)),
              "metrics": metrics, "deltas": deltas, "max_abs_probability_change": float(max(diffs)),
              "speed": speed, "within_0.003": ok, "date": time.strftime("%Y-%m-%d")}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    if args.install and not ok:
        print("not installed: a change reaches 0.003 (the int8 rule, docs/speed.md); the fp32 network stays alone")
    elif args.install:
        source = file_sha256(card.file_paths()[0])
        targets = [card.directory] + [ens.members[k].card.directory for ens, k in ensembles.values()]
        for folder in dict.fromkeys(Path(t).resolve() for t in targets):
            member = load_model(folder).card
            if file_sha256(member.file_paths()[0]) != source:
                continue
            for fname in (INT8_FILE, INT8_RECORD):
                shutil.copy2(work / fname, folder / fname)
            print(f"installed {folder / INT8_FILE}")
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
