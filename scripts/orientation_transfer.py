"""Does an orientation-aware model know which loading it predicts for?  A prediction-by-labels matrix.

    python scripts/orientation_transfer.py data/cuzr50_4k/cuzr50_4k_g0013.npz ... \\
        [--model susceptibility] [--reference qs] [--orientations xy,x-y,yz] [--strain 0.05] [-o out.json]
    python scripts/orientation_transfer.py --from-json out.json   # recompute the summary of a saved run

For every held-out glass and every pair of its loadings (o, o'): the model's prediction made in the
frame of o, scored (ROC AUC) against the labels of o' (top ``f_thres`` of D2min at the card's strain,
or ``--strain``).  An orientation-aware model that has learnt the loading scores highest on the
diagonal (o' = o); an orientation-blind one (``--reference``, e.g. QS) gives one prediction for all
loadings, so its row is the same for every o.  Per glass and loading o', the summary counts whether
the prediction made in the frame of o' is the best of all frames against o''s labels ("column
wins") and gives the mean margin over the other frames' AUC with its standard error.  A loading the model never trained on (e.g. ``yz`` for
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
    # per glass and labelled loading o' (a column): does the prediction made in the frame of o' score
    # highest against o''s labels, and by how much does it beat the mean of the other frames?
    wins, margins = 0, []
    for r in per_glass.values():
        for o2 in r:
            others = [r[o][o2] for o in r if o != o2]
            wins += int(r[o2][o2] > max(others))
            margins.append(r[o2][o2] - float(np.mean(others)))
    m = np.asarray(margins)
    se = float(m.std(ddof=1) / np.sqrt(len(m))) if len(m) > 1 else float("nan")
    return {"mean": mean, "diagonal_auc": float(np.mean(diag)), "off_diagonal_auc": float(np.mean(off)),
            "column_wins": wins, "columns": len(margins),
            "diagonal_margin": float(m.mean()) if len(m) else float("nan"), "diagonal_margin_se": se}


def report(name: str, s: dict) -> None:
    print(f"{name}: diagonal AUC {s['diagonal_auc']:.3f}, off-diagonal {s['off_diagonal_auc']:.3f}; the matching "
          f"frame is best for {s['column_wins']}/{s['columns']} glass-loadings, by "
          f"{s['diagonal_margin']:.4f} +- {s['diagonal_margin_se']:.4f} AUC over the other frames' mean")
    for o, r in s["mean"].items():
        print(f"  predicted in {o:4s}: " + "  ".join(f"{o2} {v['auc']:.3f}" for o2, v in r.items()))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("datasets", nargs="+")
    ap.add_argument("--model", default="susceptibility")
    ap.add_argument("--reference", default="qs", help="an orientation-blind model on the same atoms ('' for none)")
    ap.add_argument("--orientations", default="xy,x-y,yz,y-z,zx,z-x")
    ap.add_argument("--strain", type=float, default=None, help="label strain (default: the model card's)")
    ap.add_argument("-o", "--output", default=None)
    ap.add_argument("--from-json", action="store_true",
                    help="the datasets are earlier outputs of this script: recompute their summaries only")
    args = ap.parse_args(argv)
    if args.from_json:
        for path in args.datasets:
            out = json.loads(Path(path).read_text())
            for role in ("model", "reference"):
                if role in out:
                    orients = list(out[role]["mean"])
                    out[role].update(summarise(out[role]["per_glass"], orients))
                    report(out[role]["name"], out[role])
            Path(path).write_text(json.dumps(out, indent=1) + "\n")
        return
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
        report(name, out[role])
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(json.dumps(out, indent=1) + "\n")
        print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
