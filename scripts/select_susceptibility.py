#!/usr/bin/env python
"""Choose the shipped ``susceptibility`` model on validation glasses, before any test figure.

Pre-registered (session 9, committed before it was run).  The four held-out test glasses
g0013-g0016 have all informed earlier decisions, so the choice is made on training-set glasses
that none of the candidates' members saw: ``cuzr50_4k`` g0009-g0012 (the CNNs were trained on
g0001, g0002, g0004-g0006 with validation g0003, QS on g0001-g0008; the ensembles were
standardised and calibrated on g0001-g0006), in both loadings xy and x-y, with the
``susceptibility`` label: top 5 % of D2min at 5 % strain, per glass and loading.

Candidates (equal-weight CNN + QS ensembles on standardised logits, DESIGN section 5):

A. the CNN trained on the 5 % label (session-8 pre-registered ``ens_susceptibility``);
B. the CNN trained on the 10 % label (the shipped ``dfs`` ensemble), scored on the 5 % label.
   Its ranking does not depend on which label calibrates it, so ``models/dfs`` scores it.

Rule: the candidate with the larger mean AUC at 5 % over the 8 glass-loading pairs becomes
``models/susceptibility`` (``glassml train ensemble ... --strain 0.05 --fraction 0.05``), and its
card figures are measured once on g0013-g0016 (both loadings) and reported whatever they are.
QS, SF and a radial linear SVM (fitted on g0001-g0006) are scored on the same atoms for context.

    python scripts/select_susceptibility.py runs/select_susceptibility
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "cuzr50_4k"
CANDIDATES = {"A_cnn5_qs": ROOT / "runs" / "prereg" / "ens_susceptibility", "B_cnn10_qs": ROOT / "models" / "dfs"}
VALIDATION = [f"cuzr50_4k_g{i:04d}" for i in (9, 10, 11, 12)]
FIT = [f"cuzr50_4k_g{i:04d}" for i in (1, 2, 3, 4, 5, 6)]
STRAIN, FRACTION, ORIENTATIONS = 0.05, 0.05, ["xy", "x-y"]


def main(out: Path) -> int:
    from ovito_glassml.training.evaluate import evaluate_model
    from ovito_glassml.training.linear import RadialSVMBaseline
    from ovito_glassml.training.samples import load_glasses

    val = load_glasses([DATA / f"{n}.npz" for n in VALIDATION])
    fit = load_glasses([DATA / f"{n}.npz" for n in FIT])
    radial = RadialSVMBaseline.fit(fit, STRAIN, FRACTION, ORIENTATIONS, seed=0)
    baselines = {"B_cnn10_qs": CANDIDATES["B_cnn10_qs"], "qs": ROOT / "models" / "qs", "sf": ROOT / "models" / "sf",
                 "radial_svm": radial}
    res = evaluate_model(CANDIDATES["A_cnn5_qs"], val, out, strains=[STRAIN], orientations=ORIENTATIONS,
                         baselines=baselines, progress=lambda m: print(m, flush=True))
    v = res["values"]
    auc = {"A_cnn5_qs": v["auc_roc"], **{k: v.get(f"baseline_{k}_auc_roc") for k in baselines}}
    crank = {"A_cnn5_qs": v["c_rank"], **{k: v.get(f"baseline_{k}_c_rank") for k in baselines}}
    winner = max(CANDIDATES, key=lambda k: auc[k])
    summary = {"validation_glasses": VALIDATION, "orientations": ORIENTATIONS, "strain": STRAIN,
               "f_thres": FRACTION, "auc_roc": auc, "c_rank": crank, "winner": winner,
               "winner_folder": str(CANDIDATES[winner].relative_to(ROOT))}
    (out / "selection.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "runs/select_susceptibility")))
