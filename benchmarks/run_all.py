"""Run every benchmark in one go and write every speed figure into docs/speed.md.

    python benchmarks/run_all.py [--no-descriptors] [--output docs/speed.md]

One run, one machine: the prediction path (``bench_inference.py``: each CPU step against a plain
fp32 ONNX Runtime pass, predict-all, memory), frames in parallel (``bench_frames.py``), CPU and
GPU (``bench_gpu.py``), the receptive-field candidates of the susceptibility network
(``bench_receptive_field.py``, when PyTorch is installed) and the descriptor benchmarks (``bench_sdm.py``, ``bench_interstice.py``,
``bench_radial.py --million``, ``bench_dfs.py --million``; their tables are copied as printed).
Every figure comes with its ratio to the reference measured in the same run.  The accuracy of
the int8 network is not a speed figure: it comes from ``benchmarks/results/quantization.json``
(written by ``bench_quantization.py``, whose date the page gives).
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DESCRIPTORS = [["bench_sdm.py"], ["bench_interstice.py"], ["bench_radial.py", "--million"],
               ["bench_dfs.py", "--million"]]

INTRO = """# Prediction speed

What this page gives you: how fast ovito-glassml predicts on a CPU (and a GPU when one was
measured), what each speed-up is worth against a plain ONNX Runtime pass of the same network,
how much memory a prediction needs, how many trajectory frames per second `--jobs` gets, and
what the optional int8 network does to the held-out metrics.  Every figure below comes from one
run of `python benchmarks/run_all.py` on one machine ({machine}); rerun it to get your own.
Other jobs running on the machine slow every figure alike, so the **ratios** (each figure over
its reference, measured in the same run) are what carries over to other machines.

What to do with it:

* `glassml predict` and the OVITO modifiers run with these defaults: shared passes, SDM
  generation overlapped with the network, ONNX Runtime threads that do not spin-wait, graph
  optimisation "all", fp32; the tables show what each is worth against the plain reference.
* Models that share a network (the shipped `dfs` and `susceptibility` read the 10 % and 5 %
  outputs of one CNN and hold the same quench-in-softness boosters as `qs`) run it **once** per
  frame and loading.
* Many frames: `glassml predict --jobs N` (local processes) or `--scheduler ADDRESS` (a Dask
  cluster, e.g. Slurm/PBS through dask-jobqueue; `pip install 'ovito-glassml[cluster]'`).
* Knobs for experiments (environment): `GLASSML_THREADS`, `GLASSML_SPIN=0/1`, `GLASSML_OPT_LEVEL`,
  `GLASSML_OVERLAP=0/1`, `GLASSML_PRECISION=fp32/int8`, `GLASSML_RESULT_CACHE_MB`.
"""


def _run(script, json_path=None, extra=()):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(HERE), str(ROOT), os.environ.get("PYTHONPATH", "")]))
    cmd = [sys.executable, str(HERE / script[0]), *script[1:], *extra]
    if json_path:
        cmd += ["--json", str(json_path)]
    print(f"\n===== {' '.join(script)} =====", flush=True)
    t = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=str(ROOT))
    sys.stdout.write(proc.stdout)
    sys.stderr.write(proc.stderr[-3000:] if proc.returncode else "")
    return proc, time.perf_counter() - t


def _fmt(v, digits=0):
    if isinstance(v, float):
        if v != v:
            return "n/a"
        return f"{v:,.{digits}f}"
    return str(v)


def _table(rows, cols):
    out = ["| " + " | ".join(c for c, _ in cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        out.append("| " + " | ".join(fn(r) for _, fn in cols) + " |")
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-descriptors", action="store_true", help="skip the descriptor benchmarks")
    parser.add_argument("--output", default=str(ROOT / "docs" / "speed.md"))
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--frames-random", type=int, default=0, metavar="N",
                        help="frames benchmark on a random packing of N atoms (quicker) instead of the 2,000-atom glass")
    parser.add_argument("--centres", type=int, default=0, help="predict-all on this many centres (0: all atoms)")
    parser.add_argument("--sample", type=int, default=1024, help="images / centres of the step measurements")
    parser.add_argument("--stream-centres", type=int, default=2048)
    parser.add_argument("--field-sample", type=int, default=256,
                        help="centres per candidate of the receptive-field benchmark (needs PyTorch)")
    parser.add_argument("--keep", help="also keep the raw figures (JSON) in this folder")
    parser.add_argument("--render", metavar="DIR", help="only write the page from the raw figures a run kept in DIR "
                                                        "(and the current quantization.json)")
    args = parser.parse_args()
    if args.render:
        return render(Path(args.render), args.output)
    tmp = Path(args.keep) if args.keep else Path(tempfile.mkdtemp())
    tmp.mkdir(parents=True, exist_ok=True)
    started = time.strftime("%Y-%m-%d %H:%M")
    load0 = os.getloadavg()[0]
    inf, t_inf = _run(["bench_inference.py", "--centres", str(args.centres), "--sample", str(args.sample),
                       "--stream-centres", str(args.stream_centres)], tmp / "inference.json")
    frames, t_fr = _run(["bench_frames.py", "--frames", str(args.frames), "--random", str(args.frames_random)],
                        tmp / "frames.json")
    gpu, t_gpu = _run(["bench_gpu.py", "--sample", str(args.sample)], tmp / "gpu.json")
    field, t_field = None, float("nan")
    if importlib.util.find_spec("torch") is not None:  # the candidates are built with PyTorch (train extra)
        field, t_field = _run(["bench_receptive_field.py", "--sample", str(args.field_sample)], tmp / "field.json")
    desc = []
    if not args.no_descriptors:
        for script in DESCRIPTORS:
            desc.append((script, *_run(script)))
    load1 = os.getloadavg()[0]
    meta = {"started": started, "load0": load0, "load1": load1, "t_inf": t_inf, "t_fr": t_fr, "t_gpu": t_gpu,
            "t_field": t_field,
            "descriptors": [{"script": sc, "stdout": p.stdout, "seconds": sec} for sc, p, sec in desc],
            "failed": [p.args[1] for p in (inf, frames, gpu, field) if p is not None and p.returncode]}
    (tmp / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    render(tmp, args.output)
    print(f"\nwrote {args.output}")
    failed = [p for p in (inf, frames, gpu, field) if p is not None and p.returncode] + \
        [p for _, p, _ in desc if p.returncode]
    return 1 if failed else 0


def render(tmp: Path, output: str) -> int:
    """Write the page from the raw figures in ``tmp`` (inference.json, frames.json, gpu.json, meta.json)."""
    meta = json.loads((tmp / "meta.json").read_text()) if (tmp / "meta.json").is_file() else {}
    started, load0, load1 = meta.get("started", "?"), meta.get("load0", float("nan")), meta.get("load1", float("nan"))
    t_inf, t_fr, t_gpu = (meta.get(k, float("nan")) for k in ("t_inf", "t_fr", "t_gpu"))
    desc = [(d["script"], d["stdout"], d["seconds"]) for d in meta.get("descriptors", [])]

    I = json.loads((tmp / "inference.json").read_text()) if (tmp / "inference.json").is_file() else None
    F = json.loads((tmp / "frames.json").read_text()) if (tmp / "frames.json").is_file() else None
    G = json.loads((tmp / "gpu.json").read_text()) if (tmp / "gpu.json").is_file() else None
    R = json.loads((tmp / "field.json").read_text()) if (tmp / "field.json").is_file() else None
    qpath = HERE / "results" / "quantization.json"
    Q = json.loads(qpath.read_text()) if qpath.is_file() else None

    if I and started == "?":
        started, load0, load1 = I["date"], I["load_before"], I.get("load_after", float("nan"))
    if not (I or F or G):
        md = [INTRO.format(machine="the machine it ran on").replace(
            "Every figure below comes from one\nrun", "Every figure on this page comes from one\nrun"),
            "\n## Figures\n", "No run of `benchmarks/run_all.py` has been recorded on this page yet: run it to fill "
            "the tables (prediction steps, predict-all and memory, frames per second, CPU and GPU).\n"]
        if Q:
            md.append(_quant_section(Q))
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        Path(output).write_text("\n".join(md), encoding="utf-8")
        return 0
    machine = (f"{os.cpu_count()} CPU cores ({platform.processor() or platform.machine()}), "
               f"{platform.system()}, Python {platform.python_version()}, onnxruntime "
               f"{I['onnxruntime'] if I else '?'}; run started {started}, load average {load0:.1f} at the start "
               f"and {load1:.1f} at the end")
    md = [INTRO.format(machine=machine)]
    if I:
        pa = {r["run"]: r for r in I["predict_all"]}
        ref = pa["reference"]
        md.append("## Headline\n")
        rows = [("reference: one plain fp32 SDM + CNN pass (the shipped CNN)", ref)]
        rows += [(label, pa[key]) for key, label in (
            ("reference_previous", "yardstick: the same plain pass of the CNN shipped before (benchmarks/reference_cnn)"),
            ("predict_all", "predict-all: susceptibility + dfs + qs + sf, shared passes"),
            ("predict_all_int8", "predict-all, int8 network"),
            ("predict_all_unshared", "predict-all with sharing off (each model its own pass)"))
                 if key in pa]
        n_pred = ref.get("predicted", I["atoms"])
        md.append(f"{I['atoms']:,}-atom Cu50Zr50 glass (the bundled 2,000-atom glass replicated), loading `xy`, "
                  + ("every atom predicted" if n_pred == I["atoms"] else
                     f"{n_pred:,} random centres predicted (the cost is per centre; the neighbour grids and the "
                     "interstice tessellation are built for the whole glass)") + ".\n")
        md.append(_table(rows, [("run", lambda r: r[0]), ("seconds", lambda r: _fmt(r[1]["seconds"], 1)),
                                ("ratio to reference", lambda r: f"{r[1]['ratio']:.2f}")]
                          + ([("ratio to yardstick", lambda r: f"{r[1]['ratio_previous']:.2f}")]
                             if "reference_previous" in pa else [])
                          + [("atoms/s", lambda r: _fmt(r[1]["atoms/s"])),
                             ("peak memory (MiB)", lambda r: _fmt(r[1]["peak MiB"])),
                             ("parts (s)", lambda r: ", ".join(f"{k} {v}" for k, v in r[1]["parts"].items()))]))
        s = I["stream"]
        md.append(f"\nStreaming: SDM + CNN over {s['centres']:,} centres of a {s['atoms']:,}-atom glass: peak memory "
                  f"{s['peak_mib_first_batches']:,.0f} MiB after the first batches and {s['peak_mib_end']:,.0f} MiB "
                  f"at the end ({s['centres'] / s['seconds']:,.0f} atoms/s): memory is the neighbour grid of the "
                  "configuration plus a few batches, not a function of how many atoms are predicted.\n")
        md.append("## The CPU path, step by step\n")
        md.append(f"CNN alone on {I['sample']:,} SDM images made beforehand (best of 3 passes); ratio = images/s over "
                  "the plain fp32 session with ONNX Runtime's default options at batch 128.\n")
        md.append(_table(I["network"], [("step", lambda r: r["step"]), ("images/s", lambda r: _fmt(r["images/s"])),
                                        ("ratio", lambda r: f"{r['ratio']:.2f}")]))
        md.append(f"\nSDM + CNN on {I['sample']:,} centres (best of 2); ratio over generating the SDMs and running "
                  "the plain session one batch after the other.\n")
        md.append(_table(I["sdm_cnn"], [("step", lambda r: r["step"]), ("atoms/s", lambda r: _fmt(r["atoms/s"])),
                                        ("ratio", lambda r: f"{r['ratio']:.2f}")]))
    if F:
        md.append("\n## Many frames\n")
        md.append(f"`glassml predict` (every installed model, no pictures) on a "
                  f"{len(F['rows']) and F['rows'][0]['frames']}-frame trajectory ({F.get('system', '')}, "
                  f"{F['atoms']:,} atoms per frame); "
                  f"ratio over one job; the summaries of the runs agree: {F['agree']}.\n")
        md.append(_table(F["rows"], [("jobs", lambda r: str(r["jobs"])), ("seconds", lambda r: _fmt(r["seconds"], 1)),
                                     ("frames/s", lambda r: _fmt(r["frames/s"], 3)),
                                     ("ratio", lambda r: f"{r['ratio']:.2f}")]))
    if G:
        md.append("\n## CPU and GPU\n")
        md.append(f"GPU: {G['gpu'] or 'none on this machine'}; ONNX Runtime providers {', '.join(G['providers'])}. "
                  f"{G['sample']:,} centres of the {G['atoms']:,}-atom glass; ratio = network images/s over the CPU's.\n")
        md.append(_table(G["rows"], [("run", lambda r: r["run"]),
                                     ("network images/s", lambda r: _fmt(r.get("network images/s", float("nan")))),
                                     ("SDM + CNN atoms/s", lambda r: _fmt(r.get("SDM + CNN atoms/s", float("nan")))),
                                     ("ratio", lambda r: f"{r['ratio']:.2f}" if "ratio" in r else ""),
                                     ("note", lambda r: r.get("note", "") + (
                                         f"max abs change {r['max |p - p_fp32|']:.1e}" if "max |p - p_fp32|" in r
                                         else ""))]))
    if R:
        from bench_receptive_field import table as field_table  # noqa: PLC0415

        md.append("\n## Receptive field: what a larger map costs\n")
        md.append(f"Candidates for the susceptibility network (`benchmarks/bench_receptive_field.py`): SDM half-width "
                  f"4.8, 7.2 or 9.6 Å at 0.6 Å voxels, first layer none / 2^3 average pool / stride-2 convolution, "
                  f"`compact-fabric` with 4 outputs, random weights; {R['sample']:,} centres of the {R['atoms']:,}-atom "
                  "glass; SDM + CNN = one after the other; ratio = SDM + CNN atoms/s over the yardstick's "
                  "(`benchmarks/reference_cnn`, the 4.8 Å CNN shipped before; first row)"
                  + ("; int8 = the same network quantised to static int8 (QDQ, per-channel weights, activation "
                     "ranges from the same sample of SDMs)" if R.get("int8") else "") + ".\n")
        md.append(field_table(R))
    if Q:
        md.append(_quant_section(Q))
    if desc:
        md.append("\n## Descriptors\n")
        md.append("The descriptor benchmarks of the same run, as printed (each against its plain reference loop).\n")
        for script, stdout, secs in desc:
            md.append(f"### `{' '.join(script)}` ({secs:.0f} s)\n\n```\n{stdout.strip()}\n```\n")
    if meta.get("note"):
        md.append(f"\n{meta['note']}\n")
    t_field = meta.get("t_field", float("nan"))
    md.append(f"\n_Benchmark wall time: inference {t_inf:.0f} s, frames {t_fr:.0f} s, GPU script {t_gpu:.0f} s"
              + (f", receptive field {t_field:.0f} s" if t_field == t_field else "") + "._\n")
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    Path(output).write_text("\n".join(md), encoding="utf-8")
    return 0


def _quant_section(Q) -> str:
    md = ["\n## int8: accuracy on the test glasses\n"]
    md.append(f"From `benchmarks/bench_quantization.py` ({Q['date']}): static int8 (QDQ, per-channel weights), "
              f"calibrated on {Q['calibration_images']:,} SDMs of the training glasses; scored on "
              f"{', '.join(Q['test_glasses'])} x {len(Q['orientations'])} loadings ({Q['pairs']} pairs, "
              f"{Q['atoms_per_glass']:,} atoms each) with the evaluation protocol (labels = top 5 % of D2min at "
              "the card's strain; balanced accuracy at p > 0.5) and the papers' protocol (top 0.5 % of D2min, pairs "
              "pooled, balanced sets, accuracy of the decision p > 0.5). Rule: ship int8 only if every change is below "
              f"0.003 -> {'met: the int8 networks ship beside the fp32 ones (model.int8.onnx), used with GLASSML_PRECISION=int8; fp32 stays the default, the precision the cards were evaluated in' if Q['within_0.003'] else 'NOT met: int8 is not shipped'}. "
              f"Network speed in that run: int8 {Q['speed']['int8_images_per_s']:,.0f} vs fp32 "
              f"{Q['speed']['fp32_images_per_s']:,.0f} images/s (x{Q['speed']['ratio']:.2f}).\n")
    rows = []
    for key, d in Q["deltas"].items():
        m32, m8 = Q["metrics"][f"{key}/fp32"], Q["metrics"][f"{key}/int8"]
        rows.append((key, m32, m8, d))
    md.append(_table(rows, [("model", lambda r: r[0]),
                            ("AUC fp32", lambda r: f"{r[1]['auc_roc']:.4f}"),
                            ("AUC int8", lambda r: f"{r[2]['auc_roc']:.4f}"),
                            ("change", lambda r: f"{r[3]['auc_roc']:+.4f}"),
                            ("bal. acc. fp32", lambda r: f"{r[1]['balanced_accuracy']:.4f}"),
                            ("bal. acc. int8", lambda r: f"{r[2]['balanced_accuracy']:.4f}"),
                            ("change", lambda r: f"{r[3]['balanced_accuracy']:+.4f}")]
                   + ([("papers' acc. fp32", lambda r: f"{r[1]['paper_accuracy']:.4f}"),
                       ("papers' acc. int8", lambda r: f"{r[2]['paper_accuracy']:.4f}"),
                       ("change", lambda r: f"{r[3]['paper_accuracy']:+.4f}")]
                      if all("paper_accuracy" in d for d in Q["deltas"].values()) else [])))
    md.append(f"\nLargest change of a predicted probability: {Q['max_abs_probability_change']:.3f}.\n")
    return "\n".join(md)


if __name__ == "__main__":
    sys.exit(main())
