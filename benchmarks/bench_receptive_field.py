"""What a larger receptive field costs at prediction: SDM half-width x first layer, against a fixed yardstick.

    python benchmarks/bench_receptive_field.py [--atoms 32000] [--sample 256] [--json out.json]

The susceptibility network's candidates (Fan & Ma 2021 use a 9.6 A half-width; the shipped CNN
sees 4.8 A): SDM half-width r_c = 4.8, 7.2 or 9.6 A at the same 0.6 A voxel (grids 16, 24, 32,
two channels Cu, Zr) and the first layer of :func:`ovito_glassml.training.cnn.build_network`:
``none``, ``pool`` (2^3 average pool) or ``stride`` (a 3^3 convolution of stride 2), each a
``compact-fabric`` network with 4 outputs (the strains 2, 3, 5, 10 %).  Weights are random:
speed does not depend on them.

For each candidate, on ``--sample`` random centres of the bundled glass replicated to ``--atoms``
atoms, loading ``xy``:

* **SDM atoms/s**: :func:`~ovito_glassml.descriptors.sdm.iter_spatial_density_maps`, batches of 256;
* **network images/s**: the exported ONNX file in an ONNX Runtime session with the runtime's
  default options (:func:`ovito_glassml.inference.engine.session_options`), batches of 256, best
  of 3 passes;
* **SDM + CNN atoms/s**: one after the other, ``1 / (1/sdm + 1/network)`` (the runtime overlaps
  the two, which is at most the faster of them better);
* the multiply-adds per image (convolutions and linear layers, counted from the PyTorch modules);
* with ``--int8`` (the default; ``--no-int8`` skips it): the same network quantised to static int8
  (:func:`ovito_glassml.inference.quantize.quantize_onnx_file`, QDQ, per-channel weights, activation
  ranges from the candidate's own sample of SDMs), its images/s and SDM + int8 CNN atoms/s.  This
  is the speed half of the int8 rule; accuracy needs trained weights (``bench_quantization.py``).

The reference is the yardstick CNN (``benchmarks/reference_cnn``: the compact 4.8 A network
without a strided first layer that the models held before the one-network ``susceptibility``)
on the 4.8 A maps in the same run, with the shipped CNN (``models/susceptibility/cnn``) beside
it; every ratio is a row's SDM + CNN atoms/s over the reference's.  Needs the ``train``
extra (PyTorch builds the candidates).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

from common import cu_zr_glass, images_per_second  # noqa: E402

SHIPPED = ROOT / "models" / "susceptibility" / "cnn"
CUTOFFS = (4.8, 7.2, 9.6)
YARDSTICK = HERE / "reference_cnn"   # the fixed reference (module doc)
STEMS = ("none", "pool", "stride")


def multiply_adds(net, shape) -> int:
    """Multiply-adds of one image through the Conv and Linear layers (forward hooks)."""
    import torch

    total = [0]

    def hook(module, inputs, output):
        if isinstance(module, (torch.nn.Conv3d, torch.nn.Conv2d)):
            k = int(np.prod(module.kernel_size)) * module.in_channels // module.groups
            total[0] += k * int(output.numel())
        elif isinstance(module, torch.nn.Linear):
            total[0] += module.in_features * module.out_features

    handles = [m.register_forward_hook(hook) for m in net.modules()]
    with torch.no_grad():
        net.eval()(torch.zeros((1,) + tuple(shape)))
    for h in handles:
        h.remove()
    return total[0]


def _sdm_rate(config, settings, centres) -> tuple[float, np.ndarray]:
    from ovito_glassml.descriptors.sdm import iter_spatial_density_maps

    for _ in iter_spatial_density_maps(config, settings, "xy", centers=centres[:8]):  # compile, warm caches
        pass
    t = time.perf_counter()
    images = np.concatenate([im for _, im in iter_spatial_density_maps(config, settings, "xy", centers=centres,
                                                                      batch_size=256, reuse_buffer=False)])
    return len(centres) / (time.perf_counter() - t), images


def _int8_rate(path: Path, images: np.ndarray) -> float:
    from ovito_glassml.inference.quantize import quantize_onnx_file

    return _network_rate(quantize_onnx_file(path, path.with_suffix(".int8.onnx"), images), images)


def _network_rate(path: Path, images: np.ndarray, batch: int = 256, reps: int = 3) -> float:
    import onnxruntime as ort

    from ovito_glassml.inference.engine import engine_options, session_options

    run = ort.InferenceSession(str(path), session_options(engine_options()), providers=["CPUExecutionProvider"])
    return images_per_second(run, images, batch, reps)


def measure(n_atoms: int, sample: int, int8: bool = True) -> dict:
    import torch

    from ovito_glassml.descriptors.sdm import SDMSettings
    from ovito_glassml.inference import load_model
    from ovito_glassml.training.cnn import build_network, count_parameters, export_onnx

    torch.manual_seed(0)
    config = cu_zr_glass(n_atoms)
    centres = np.sort(np.random.default_rng(0).choice(config.count, size=min(sample, config.count), replace=False))
    shipped = load_model(SHIPPED, providers=["CPUExecutionProvider"]).card
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for cutoff in CUTOFFS:
            settings = SDMSettings(cutoff=cutoff, spacing=0.6, species=tuple(shipped.settings.species))
            sdm_rate, images = _sdm_rate(config, settings, centres)
            if abs(cutoff - shipped.settings.cutoff) < 1e-9:
                for label, folder, is_ref in (("yardstick: CNN shipped before (4.8 A, no stem, 1 output)", YARDSTICK,
                                               True),
                                              ("shipped CNN (models/susceptibility/cnn)", SHIPPED, False)):
                    rows.append({"candidate": label, "cutoff": cutoff, "stem": "none", "grid": settings.grid_size,
                                 "sdm_atoms_s": sdm_rate, "net_images_s": _network_rate(folder / "model.onnx", images),
                                 "mmac": float("nan"), "parameters": None, "reference": is_ref})
            for stem in STEMS:
                net = build_network("compact-fabric", len(settings.species), settings.grid_size, 3, outputs=4, stem=stem)
                path = Path(tmp) / f"r{cutoff:g}_{stem}.onnx"
                export_onnx(net.eval(), settings, path, images[:4])
                rows.append({"candidate": f"{cutoff:g} A, {stem}", "cutoff": cutoff, "stem": stem, "grid": settings.grid_size,
                             "sdm_atoms_s": sdm_rate, "net_images_s": _network_rate(path, images),
                             "mmac": multiply_adds(net, settings.shape) / 1e6, "parameters": count_parameters(net),
                             "int8_images_s": _int8_rate(path, images) if int8 else None, "reference": False})
            del images
    for r in rows:
        r["combined_atoms_s"] = 1.0 / (1.0 / r["sdm_atoms_s"] + 1.0 / r["net_images_s"])
        if r.get("int8_images_s"):
            r["combined_int8_atoms_s"] = 1.0 / (1.0 / r["sdm_atoms_s"] + 1.0 / r["int8_images_s"])
    ref = next(r for r in rows if r["reference"])
    for r in rows:
        r["ratio"] = r["combined_atoms_s"] / ref["combined_atoms_s"]
    return {"atoms": config.count, "sample": int(len(centres)), "int8": bool(int8), "rows": rows}


def table(result: dict) -> str:
    int8 = result.get("int8", False)
    head = "| candidate | grid | MMAC/image | parameters | SDM atoms/s | network images/s | SDM + CNN atoms/s | ratio |"
    rule = "|---|---|---|---|---|---|---|---|"
    if int8:
        head += " int8 network images/s | SDM + int8 CNN atoms/s |"
        rule += "---|---|"
    out = [head, rule]
    for r in result["rows"]:
        mmac = "" if not np.isfinite(r["mmac"]) else f"{r['mmac']:,.0f}"
        params = "" if r["parameters"] is None else f"{r['parameters']:,}"
        line = (f"| {r['candidate']} | {r['grid']}^3 | {mmac} | {params} | {r['sdm_atoms_s']:,.0f} | "
                f"{r['net_images_s']:,.0f} | {r['combined_atoms_s']:,.0f} | {r['ratio']:.2f} |")
        if int8:
            line += (f" {r['int8_images_s']:,.0f} | {r['combined_int8_atoms_s']:,.0f} |" if r.get("int8_images_s")
                     else "  |  |")
        out.append(line)
    return "\n".join(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--atoms", type=int, default=32000)
    ap.add_argument("--sample", type=int, default=256, help="random centres per candidate (default 256)")
    ap.add_argument("--int8", action=argparse.BooleanOptionalAction, default=True,
                    help="also quantise each candidate to int8 and time it (default on)")
    ap.add_argument("--json", help="write the figures here")
    args = ap.parse_args(argv)
    result = measure(args.atoms, args.sample, int8=args.int8)
    print(f"{result['sample']} centres of a {result['atoms']:,}-atom Cu50Zr50 glass, loading xy; "
          "ratio = SDM + CNN atoms/s over the yardstick CNN's")
    print(table(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
