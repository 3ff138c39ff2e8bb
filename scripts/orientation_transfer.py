"""Does an orientation-aware model know which loading it predicts for?  A prediction-by-labels matrix.

    python scripts/orientation_transfer.py data/cuzr50_4k/cuzr50_4k_g0013.npz ... \\
        [--model susceptibility] [--reference qs] [--orientations xy,x-y,yz] [--strain 0.05] [-o out.json]

For every held-out glass and every pair of its loadings (o, o'): the model's prediction made in the
frame of o, scored (ROC AUC) against the labels of o' (top ``f_thres`` of D2min at the card's strain,
or ``--strain``).  An orientation-aware model that has learnt the loading scores highest on the
diagonal (o' = o); an orientation-blind one (``--reference``, e.g. QS) gives one prediction for all
loadings, so its row is the same for every o.  A loading the model never trained on (e.g. ``yz`` for
a model trained on ``xy`` and ``x-y``) tests whether what it learnt is the loading geometry or those
two loadings.  Pass only glasses no model here was trained or selected on.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from ovito_glassml.analysis import metrics as M
from ovito_glassml.inference.runtime import load_model
from ovito_glassml.training.samples import load_glasses, top_fraction_labels


def transfer_matrix(model, glasses, orientations, strain, fraction):
    """AUC[o][o'] per glass: the prediction in frame o against the labels of loading o'."""
    per_glass = {}
    for g in glasses:
        have = [o for o in orientations if g.has_d2min(o, strain)]
        if len(have) < 2:
            continue
        idx = np.arange(g.count)
        labels = {o: top_fraction_labels(g.d2min_at(o, strain)[idx], fraction) for o in have}
        preds = {o: model.predict(g.config, idx, frame=o) for o in have} if getattr(model, "orientational", True) \
            else dict.fromkeys(have, model.predict(g.config, idx))
        per_glass[g.name] = {o: {o2: float(M.roc_auc(labels[o2][labels[o2] >= 0], preds[o][labels[o2] >= 0]))
                                 for o2 in have} for o in have}
        print(f"{g.name}: " + "; ".join(f"{o}->{o2} {v:.3f}" for o, r in per_glass[g.name].items()
                                        for o2, v in r.items()), flush=True)
    return per_glass


def summarise(per_glass, orientations):
    """Mean AUC per (o, o') over the glasses with both, and the diagonal against the off-diagonal."""
    mean = {}
    for o in orientations:
        for o2 in orientations:
            v = [r[o][o2] for r in per_glass.values() if o in r and o2 in r]
            if v:
                mean.setdefault(o, {})[o2] = {"auc": float(np.mean(v)), "n": len(v)}
    diag = [r[o][o] for r in per_glass.values() for o in r]
    off = [r[o][o2] for r in per_glass.values() for o in r for o2 in r if o2 != o]
    return {"mean": mean, "diagonal_auc": float(np.mean(diag)), "off_diagonal_auc": float(np.mean(off))}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("datasets", nargs="+")
    ap.add_argument("--model", default="susceptibility")
    ap.add_argument("--reference", default="qs", help="an orientation-blind model on the same atoms ('' for none)")
    ap.add_argument("--orientations", default="xy,x-y,yz,y-z,zx,z-x")
    ap.add_argument("--strain", type=float, default=None, help="label strain (default: the model card's)")
    ap.add_argument("-o", "--output", default=None)
    args = ap.parse_args(argv)
    glasses = load_glasses(args.datasets)
    orientations = args.orientations.split(",")
    out = {"command": "python scripts/orientation_transfer.py " + " ".join(argv or __import__("sys").argv[1:]),
           "glasses": [g.name for g in glasses]}
    first = load_model(args.model)
    # both models are scored against the same labels: the (orientation-aware) model's
    strain = args.strain if args.strain is not None else float(first.card.label["strain"])
    fraction = float(first.card.label.get("f_thres", 0.05))
    for role, name in (("model", args.model), ("reference", args.reference)):
        if not name:
            continue
        m = first if role == "model" else load_model(name)
        print(f"== {role}: {name} (label: top {fraction:g} of D2min at {strain:g})", flush=True)
        per_glass = transfer_matrix(m, glasses, orientations, strain, fraction)
        out[role] = {"name": name, "trained_orientations": (m.card.training.get("data") or {}).get("orientations"),
                     "strain": strain, "f_thres": fraction, "per_glass": per_glass,
                     **summarise(per_glass, orientations)}
        s = out[role]
        print(f"{name}: diagonal AUC {s['diagonal_auc']:.3f}, off-diagonal {s['off_diagonal_auc']:.3f}")
        for o, r in s["mean"].items():
            print(f"  predicted in {o:4s}: " + "  ".join(f"{o2} {v['auc']:.3f}" for o2, v in r.items()))
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(json.dumps(out, indent=1) + "\n")
        print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
