"""Atoms/s of the shipped CNN on the CPU and, when onnxruntime-gpu and a GPU are present, CUDA fp32 and fp16.

    python benchmarks/bench_gpu.py [--atoms 32000] [--sample 4096] [--json out.json]

For each execution provider two figures, on the same glass (the bundled Cu50Zr50 glass
replicated to ``--atoms``) and the same ``--sample`` centres:

* **network**: images/s of the CNN alone on SDM images made beforehand (batch 512 on CUDA,
  128 on the CPU);
* **SDM + CNN**: atoms/s of the whole runtime path (SDMs generated on the CPU, overlapped with
  the network), what ``glassml predict`` gets.

fp16 is the shipped network converted with ``onnxruntime.transformers.float16`` (inputs and
outputs kept float32; needs ``onnx``); its largest probability change against fp32 on the sample
is printed beside it.  Without a usable GPU the CUDA rows say why and only the CPU is measured.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

from common import cu_zr_glass  # noqa: E402

CNN = ROOT / "models" / "dfs" / "cnn"


def gpu_name() -> str | None:
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                             text=True, timeout=20)
        return out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout.strip() else None
    except (OSError, subprocess.SubprocessError):
        return None


def _fp16(path: Path) -> Path:
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    model = convert_float_to_float16(onnx.load(str(path)), keep_io_types=True)
    out = Path(tempfile.mkdtemp()) / "model.fp16.onnx"
    onnx.save(model, str(out))
    return out


def _network_rate(sess, images, bs):
    name = sess.get_inputs()[0].name
    sess.run(None, {name: images[:bs]})
    best, outs = 0.0, None
    for _ in range(3):
        t = time.perf_counter()
        outs = [sess.run(None, {name: images[s:s + bs]})[0] for s in range(0, len(images), bs)]
        best = max(best, len(images) / (time.perf_counter() - t))
    return best, np.concatenate(outs).reshape(len(images), -1)[:, 0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--atoms", type=int, default=32000)
    parser.add_argument("--sample", type=int, default=4096)
    parser.add_argument("--json")
    args = parser.parse_args()
    import onnxruntime as ort

    from ovito_glassml.descriptors.sdm import iter_spatial_density_maps
    from ovito_glassml.inference import load_model
    from ovito_glassml.inference.sharing import clear_shared

    config = cu_zr_glass(args.atoms)
    rng = np.random.default_rng(0)
    idx = np.sort(rng.choice(config.count, size=min(args.sample, config.count), replace=False))
    card = load_model(CNN, providers=["CPUExecutionProvider"]).card
    images = np.concatenate([im for _, im in iter_spatial_density_maps(config, card.settings, "xy", centers=idx,
                                                                       reuse_buffer=False)])
    available = ort.get_available_providers()
    result = {"onnxruntime": ort.__version__, "providers": available, "gpu": gpu_name(), "cpus": os.cpu_count(),
              "atoms": config.count, "sample": len(idx), "rows": []}
    print(f"onnxruntime {ort.__version__}, providers {available}, GPU: {result['gpu'] or 'none'}", flush=True)

    def row(label, providers, path, bs, reference=None):
        sess = ort.InferenceSession(str(path), providers=providers)
        if sess.get_providers()[0] != providers[0]:
            result["rows"].append({"run": label, "note": f"{providers[0]} could not be used (fell back to "
                                                         f"{sess.get_providers()[0]})"})
            print(f"{label}: {result['rows'][-1]['note']}", flush=True)
            return None
        net, values = _network_rate(sess, images, bs)
        entry = {"run": label, "network images/s": net}
        if path == CNN / "model.onnx":
            clear_shared()
            model = load_model(CNN, providers=providers)
            t = time.perf_counter()
            model.predict(config, idx, frame="xy", batch_size=bs)
            entry["SDM + CNN atoms/s"] = len(idx) / (time.perf_counter() - t)
        if reference is not None:
            entry["max |p - p_fp32|"] = float(np.abs(values - reference).max())
        result["rows"].append(entry)
        print("  ".join(f"{k}: {v:,.1f}" if isinstance(v, float) else f"{k}: {v}" for k, v in entry.items()),
              flush=True)
        return values

    cpu = row("CPU fp32", ["CPUExecutionProvider"], CNN / "model.onnx", 128)
    if "CUDAExecutionProvider" not in available:
        result["rows"].append({"run": "CUDA", "note": "onnxruntime-gpu is not installed (pip install "
                                                      "'ovito-glassml[gpu]')"})
        print("CUDA: onnxruntime-gpu is not installed; only the CPU was measured")
    else:
        cuda = ["CUDAExecutionProvider", "CPUExecutionProvider"]
        fp32 = row("CUDA fp32", cuda, CNN / "model.onnx", 512, cpu)
        if fp32 is not None:
            try:
                row("CUDA fp16", cuda, _fp16(CNN / "model.onnx"), 512, fp32)
            except ImportError as exc:
                result["rows"].append({"run": "CUDA fp16", "note": f"needs onnx to convert the network ({exc})"})
    for r in result["rows"]:
        if "network images/s" in r and "network images/s" in result["rows"][0]:
            r["ratio"] = r["network images/s"] / result["rows"][0]["network images/s"]
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
