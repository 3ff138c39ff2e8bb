#!/usr/bin/env python
"""Measure the shipped models in both protocols on their test glasses and write the figures
into their cards (``metrics.protocols``) and ``metrics.json``.

    nice -n 19 python scripts/evaluate_shipped.py [--models susceptibility,dfs,qs,sf,susceptibility_2d] [--no-write]

Test glasses: the test parts of :data:`ovito_glassml.training.splits.SPLITS` that exist under
``data/`` (``cuzr50_4k`` g0013-g0016; the relaxed campaign's 213-216 once they are there), every
loading each holds.  Each model is evaluated through the runtime (:func:`evaluate_model`) with,
on the same atoms: QS, SF and the CNN member of the susceptibility models, the radial SVM (fitted
on the training glasses of the shipped models, top 5 % of D2min at the model's label strain, every
loading), the Voronoi volume and the simulated v_flex.  Both protocols at 2, 3, 4, 5 and 10 %
strain (those the glasses hold), by preparation and loading (:mod:`ovito_glassml.training.scoring`).

``susceptibility_2d`` (the 2D Lennard-Jones CNN) is measured on the test glasses its card lists
(``lj2d_2k`` g0021-g0024 and ``lj2d_2k_relaxed`` g0521-g0524, four loadings each) against the
radial SVM fitted on its own training glasses and the Voronoi volume; QS, SF and v_flex are Cu-Zr
quantities and do not apply.

Model predictions are cached in ``runs/prediction-cache`` (git-ignored): the network runs once per
glass and loading, whichever model or rerun asks again.  Full evaluations go to
``runs/evaluate_shipped/<model>/``; ``--no-write`` leaves the cards alone.  The card's headline
``values`` stay as they are: only ``metrics.protocols`` is (re)written.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
MODELS = ROOT / "models"
WORK = ROOT / "runs" / "evaluate_shipped"
CACHE = ROOT / "runs" / "prediction-cache"
SHIPPED = ("susceptibility", "dfs", "qs", "sf", "susceptibility_2d")
OWN_GLASSES = {"susceptibility_2d": "lj2d"}  # models measured on their card's own split, not SPLITS
SVM_FRACTION = 0.05


def _glass_file(name: str) -> Path:
    """``data/<campaign>/<name>.npz`` of a glass named ``<campaign>_gNNNN``."""
    return DATA / name.rsplit("_g", 1)[0] / f"{name}.npz"


def _label_strain(card) -> float:
    return float(card.label.get("strain", 0.05))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default=",".join(SHIPPED))
    ap.add_argument("--no-write", action="store_true", help="measure only; leave the cards and metrics.json alone")
    ap.add_argument("--max-atoms", type=int, help="atoms per glass (a quick check; the cards need all)")
    args = ap.parse_args(argv)
    if args.max_atoms and not args.no_write:
        ap.error("--max-atoms measures a subset: use it with --no-write")

    from ovito_glassml.inference.cards import load_card
    from ovito_glassml.training.evaluate import evaluate_model, update_card_protocols
    from ovito_glassml.training.linear import RadialSVMBaseline
    from ovito_glassml.training.samples import load_glasses
    from ovito_glassml.training.splits import split_files

    test, missing = [], []
    if any(n not in OWN_GLASSES for n in args.models.split(",")):
        test_files, missing = split_files(DATA, "test")
        if missing:
            print(f"test glasses not (yet) in data/: {', '.join(missing)}", flush=True)
        test = load_glasses(test_files)
        print(f"test glasses: {', '.join(g.name for g in test)}", flush=True)
    svm_cache: dict[tuple[str, float], RadialSVMBaseline] = {}
    train = None
    names = args.models.split(",")
    unknown = [n for n in names if n not in SHIPPED]
    if unknown:
        ap.error(f"unknown model(s) {', '.join(unknown)}; the shipped models are {', '.join(SHIPPED)}")
    for name in names:
        folder = MODELS / name
        card = load_card(folder)
        split = card.training["data"].get("split", {})
        trained_on = split.get("train") or card.training["data"].get("glasses")
        strain = _label_strain(card) if card.property == "Plastic Susceptibility" else 0.05
        own = OWN_GLASSES.get(name)
        if own:  # its own system: the card's split, its own radial SVM, no Cu-Zr baselines
            glasses = load_glasses([_glass_file(g) for g in sorted(split["test"])])
            print(f"{name}: test glasses {', '.join(g.name for g in glasses)}", flush=True)
        else:
            glasses = test
        key = (own or "cuzr50_4k", strain)
        if key not in svm_cache:
            if own:
                fit_on = load_glasses([_glass_file(g) for g in sorted(trained_on)])
            else:
                if train is None:
                    train = load_glasses([DATA / "cuzr50_4k" / f"{g}.npz" for g in sorted(trained_on)])
                fit_on = train
            t0 = time.perf_counter()
            svm_cache[key] = RadialSVMBaseline.fit(fit_on, strain, SVM_FRACTION, None, seed=0)
            print(f"radial SVM at top {SVM_FRACTION:g} / strain {strain:g} fitted on {len(fit_on)} glasses "
                  f"({time.perf_counter() - t0:.0f} s)", flush=True)
        baselines = {"radial_svm": svm_cache[key]}
        if not own:
            if name != "qs":
                baselines["qs"] = MODELS / "qs"
            if name != "sf":
                baselines["sf"] = MODELS / "sf"
            if name in ("qs", "sf"):
                baselines["cnn"] = MODELS / "susceptibility" / "cnn"
            else:
                baselines["cnn"] = folder / "cnn"
        t0 = time.perf_counter()
        m = evaluate_model(folder, glasses, WORK / name, baselines=baselines, max_atoms=args.max_atoms, cache=CACHE,
                           progress=lambda msg: print(f"  {name}: {msg}", flush=True))
        print(f"{name}: evaluated in {time.perf_counter() - t0:.0f} s", flush=True)
        p = m["protocols"]
        for s in p["strains_evaluated"]:
            row = p["paper"]["strains"][s]["all"]
            top = p["top5"]["strains"][s]["all"]
            parts = []
            for k in row:
                acc = row[k].get("accuracy", row[k].get("balanced_split_accuracy"))
                parts.append(f"{k} {acc:.3f}/{top.get(k, {}).get('auc_roc', float('nan')):.3f}")
            print(f"  strain {s}: paper accuracy / top-5 % AUC: " + ", ".join(parts), flush=True)
        if p["strains_absent"]:
            print(f"  absent strains: {', '.join(p['strains_absent'])}", flush=True)
        if not args.no_write:
            update_card_protocols(folder, m)
            print(f"{name}: wrote metrics.protocols into {folder / 'card.json'} and metrics.json", flush=True)
    summary = {"test_glasses": [g.name for g in test], "missing": missing, "models": names}
    WORK.mkdir(parents=True, exist_ok=True)
    (WORK / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
