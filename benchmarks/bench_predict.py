"""End-to-end prediction speed and peak memory: SDM + CNN, interstice + GBDT, radial + linear.

    python benchmarks/bench_predict.py [--atoms 32000] [--models DIR] [--skip-cnn]
    python benchmarks/bench_predict.py --models models      # the shipped models (those present)

Uses the models in --models (default: the untrained demo models, built on the fly: a compact
CNN on 16^3 x 2 SDMs, 5 LightGBM folds, linear SF weights): the network weights do not change
the cost, so the demo models time the real pipeline.  Prints atoms/s per stage and the peak
resident memory of the process.
"""
from __future__ import annotations

import argparse
import tempfile

import numpy as np

from common import Timer, cu_zr_glass, peak_memory_mib, print_table
from ovito_glassml.inference import load_model
from ovito_glassml.inference.demo import build_demo_models


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--atoms", type=int, default=32000)
    parser.add_argument("--models", help="folder with sf/, qs/, susceptibility/ and/or dfs/ (default: demo models); "
                                         "the kinds it lacks are skipped")
    parser.add_argument("--skip-cnn", action="store_true")
    args = parser.parse_args()
    folder = args.models or tempfile.mkdtemp()
    if not args.models:
        build_demo_models(folder)
    config = cu_zr_glass(args.atoms)
    rows = []
    from pathlib import Path  # noqa: PLC0415

    for name in ("sf", "qs", "susceptibility", "dfs"):
        if name in ("susceptibility", "dfs") and args.skip_cnn:
            continue
        if not (Path(folder) / name / "card.json").is_file():
            print(f"(no {name} model in {folder}: skipped)")
            continue
        model = load_model(f"{folder}/{name}")
        with Timer() as t:
            values = model.predict(config)
        assert values.shape == (config.count,) and np.isfinite(values).all()
        rows.append({"model": f"{name} ({model.card.kind} on {model.card.descriptor})", "atoms": config.count,
                     "seconds": f"{t.seconds:.1f}", "atoms/s": f"{config.count / t.seconds:,.0f}",
                     "peak memory so far (MiB)": f"{peak_memory_mib():,.0f}"})
    print_table(rows, f"Prediction on a {config.count:,}-atom Cu-Zr glass")


if __name__ == "__main__":
    main()
