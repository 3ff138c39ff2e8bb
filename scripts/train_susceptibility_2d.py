#!/usr/bin/env python
"""The 2D Lennard-Jones susceptibility model on relaxed glasses: measure, train, decide, test.

The plan and its rule are those of docs/models-evaluation.md ("The 2D Lennard-Jones model on
relaxed glasses"), written before the relaxed 2D glasses existed; this script carries them out.

Glasses: :data:`ovito_glassml.training.splits.SPLITS_2D`.  ``lj2d_2k`` (cooled at 1e-3/tau) is
split as the shipped ``susceptibility_2d`` was trained; ``lj2d_2k_relaxed`` (cooled at 1e-4/tau
from T = 0.6 to 0.2, 1e-3/tau elsewhere) glass for glass with it (validation g0503, g0505, g0511,
g0512, g0519; test g0521-g0524; the other fifteen of g0501-g0520 train).

Stages (each skipped when its output exists, so an interrupted run resumes; a CNN resumes from its
per-epoch checkpoint, copied to ``checkpoints/lj2d_relaxed/`` at most every 30 minutes and
committed):

1. ``shipped``: the shipped ``susceptibility_2d`` on the relaxed test glasses, both protocols at
   every strain they hold (2, 3, 4, 5, 10 %), beside the radial SVM fitted on its own training
   glasses, the 1e-3/tau ones (``shipped_on_relaxed.json``).  No training, no decision: the first measurement.
2. ``cnn``: the ``susceptibility_2d`` recipe of scripts/train_models.sh (``compact-shells`` CNN,
   SDM half-width 2.5 sigma at 0.2 sigma, top 5 % of D2min at 4 % strain, every negative kept and a
   fresh balanced draw each epoch, RMSprop lr 3e-4, early stopping on the validation glasses, at
   most 60 epochs) trained as candidate ``relaxed`` (i) on the relaxed training glasses and
   candidate ``both`` (ii) on the training glasses of both preparations.
3. ``select``: **Rule.**  The candidate with the higher mean top-5 % AUC at 4 % over the
   validation glass-loadings of both preparations (the mean of the two preparations' means, so each
   weighs equally) replaces ``models/susceptibility_2d`` if and only if that figure is higher than
   the shipped model's on the same glass-loadings.  The papers' protocol accuracy is recorded beside
   it and decides nothing (``selection.json``).  A replaced model is kept in
   ``runs/lj2d_relaxed/replaced/``.
4. ``test``: after the decision, whatever it is: both candidates, the shipped model and the one it
   replaced on the test glasses of both preparations, beside the radial SVM fitted on the training
   glasses of both (``test.json``; the per-preparation rows are the transfer figures); a new
   shipped model gets its card's figures from ``scripts/evaluate_shipped.py``.

    python scripts/train_susceptibility_2d.py --plan          # resolved glasses and stages
    python scripts/train_susceptibility_2d.py [STAGE ...]     # default: every stage in order
    python scripts/train_susceptibility_2d.py --persist-now   # commit the running CNN's progress now
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import retrain_all_loadings as persist  # noqa: E402  (the committed-checkpoint helpers)

DATA = ROOT / "data"
MODELS = ROOT / "models"
SHIPPED = MODELS / "susceptibility_2d"
WORK = ROOT / "runs" / "lj2d_relaxed"
STORE = ROOT / "checkpoints" / "lj2d_relaxed"
CACHE = ROOT / "runs" / "prediction-cache"
RECORDS = ROOT / "docs" / "relaxed"   # committed copies of the measurements and the decision (headlines only)
STAGES = ("shipped", "cnn", "select", "test")
RELAXED, FAST = "lj2d_2k_relaxed", "lj2d_2k"
CANDIDATES = {"relaxed": (RELAXED,), "both": (FAST, RELAXED)}   # candidate -> campaigns it trains on
LABEL_STRAIN, FRACTION = 0.04, 0.05
RECIPE = ["--strain", str(LABEL_STRAIN), "--fraction", str(FRACTION), "--sdm-cutoff", "2.5",
          "--arch", "compact-shells", "--epochs", "60", "--lr", "3e-4", "--negatives", "all", "--seed", "0"]


def _files(part: str, campaigns) -> list[Path]:
    from ovito_glassml.training.splits import SPLITS_2D, split_files

    found, missing = split_files(DATA, part, list(campaigns), splits=SPLITS_2D)
    if missing:
        raise SystemExit(f"{part} glasses missing under data/: {', '.join(missing)}; let "
                         "scripts/run_campaign.sh --lane calibration finish the 2D campaign first")
    return found


def _glasses(part: str, campaigns):
    from ovito_glassml.training.samples import load_glasses

    return load_glasses(_files(part, campaigns))


def _names(files) -> list[str]:
    return [Path(f).stem for f in files]


def _radial_svm(campaigns=(FAST,)):
    """The rotation-invariant baseline: a linear SVM on radial features, top 5 % of D2min at 4 %,
    fitted on the training glasses of ``campaigns`` (the 1e-3/tau ones the shipped model was
    trained on for the first measurement; both sets for the test stage, as the candidate ``both``)."""
    from ovito_glassml.training.linear import RadialSVMBaseline

    return RadialSVMBaseline.fit(_glasses("train", campaigns), LABEL_STRAIN, FRACTION, None, seed=0)


def _headline(p: dict, model: str = "model") -> dict:
    """Per strain: papers' accuracy and top-5 % AUC, all pairs and by preparation."""
    out = {}
    for s in p["strains_evaluated"]:
        paper, top = p["paper"]["strains"][s], p["top5"]["strains"][s]
        row = {"paper_accuracy": paper["all"].get(model, {}).get("accuracy"),
               "top5_auc": top["all"].get(model, {}).get("auc_roc"), "by_preparation": {}}
        for prep in top.get("by_preparation", {}):
            row["by_preparation"][prep] = {
                "paper_accuracy": paper["by_preparation"][prep].get(model, {}).get("accuracy"),
                "top5_auc": top["by_preparation"][prep].get(model, {}).get("auc_roc"),
                "n_pairs": top["by_preparation"][prep].get(model, {}).get("n_pairs")}
        out[s] = row
    return out


def _record(name: str, result: dict) -> None:
    """Write ``result`` without its full protocol blocks to ``docs/relaxed/lj2d_<name>.json``."""
    slim = {k: v for k, v in result.items() if k != "protocols"}
    if "models" in slim:
        slim["models"] = {m: {k: v for k, v in r.items() if k != "protocols"} for m, r in slim["models"].items()}
    RECORDS.mkdir(parents=True, exist_ok=True)
    (RECORDS / f"lj2d_{name}.json").write_text(json.dumps(slim, indent=2, default=float) + "\n")


def stage_shipped() -> None:
    from ovito_glassml.training.evaluate import evaluate_model

    path = WORK / "shipped_on_relaxed.json"
    if path.exists():
        return print(f"shipped: {path} exists")
    test = _glasses("test", (RELAXED,))
    m = evaluate_model(SHIPPED, test, WORK / "shipped_on_relaxed", baselines={"radial_svm": _radial_svm()},
                       cache=CACHE, progress=lambda msg: print(f"  shipped: {msg}", flush=True))
    out = {"test_glasses": [g.name for g in test], "model": _headline(m["protocols"]),
           "radial_svm": _headline(m["protocols"], "radial_svm"), "protocols": m["protocols"]}
    WORK.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2, default=float) + "\n")
    _record("shipped_on_relaxed", out)
    for s, row in out["model"].items():
        print(f"shipped on relaxed test glasses, strain {s}: papers' accuracy {row['paper_accuracy']:.3f}, "
              f"top-5 % AUC {row['top5_auc']:.3f} (radial SVM {out['radial_svm'][s]['paper_accuracy']:.3f} / "
              f"{out['radial_svm'][s]['top5_auc']:.3f})", flush=True)


def stage_cnn(commit: bool = True, only: str | None = None) -> None:
    for cand, campaigns in CANDIDATES.items():
        if only and cand != only:
            continue
        out = WORK / cand
        found = persist.restore(WORK, STORE, sub=cand, stored=f"{cand}-checkpoint.pt")
        if found:
            print(f"cnn {cand}: resuming from {found}", flush=True)
        if (out / "card.json").exists():
            print(f"cnn {cand}: {out} exists")
            continue
        train, val, test = (_files(p, campaigns) for p in ("train", "validation", "test"))
        args = ["train", "cnn", *map(str, train + val + test), "-o", str(out), "--name", "susceptibility_2d",
                "--validation", ",".join(_names(val)), "--test", ",".join(_names(test)), *RECIPE,
                "--radial-baseline", "--cache", str(CACHE)]
        WORK.mkdir(parents=True, exist_ok=True)
        persist._glassml(*args, log=WORK / f"{cand}.log",
                         watch=persist.CheckpointWatch(work=WORK, store=STORE, commit=commit, sub=cand,
                                                       stored=f"{cand}-checkpoint.pt"))
        persist.persist_cnn(WORK, STORE, commit=commit, sub=cand, stored=f"{cand}-checkpoint.pt")


def _validation_auc(folder: Path, val) -> dict:
    from ovito_glassml.training.evaluate import evaluate_model

    m = evaluate_model(folder, val, strains=[LABEL_STRAIN], cache=CACHE)
    key = f"{LABEL_STRAIN:g}"
    top, paper = m["protocols"]["top5"]["strains"][key], m["protocols"]["paper"]["strains"][key]
    preps = {prep: {"top5_auc": row["model"]["auc_roc"], "n_pairs": row["model"]["n_pairs"],
                    "paper_accuracy": paper["by_preparation"][prep]["model"].get("accuracy")}
             for prep, row in top["by_preparation"].items()}
    return {"by_preparation": preps, "figure": sum(v["top5_auc"] for v in preps.values()) / len(preps)}


def stage_select() -> None:
    path = WORK / "selection.json"
    if path.exists():
        return print(f"select: decided before: {json.loads(path.read_text())['winner']}")
    missing = [c for c in CANDIDATES if not (WORK / c / "card.json").exists()]
    if missing:
        raise SystemExit(f"select: train the candidate(s) {', '.join(missing)} first (cnn stage)")
    val = _glasses("validation", (FAST, RELAXED))
    figures = {c: _validation_auc(WORK / c, val) for c in CANDIDATES}
    figures["shipped"] = _validation_auc(SHIPPED, val)
    best = max(CANDIDATES, key=lambda c: figures[c]["figure"])
    winner = best if figures[best]["figure"] > figures["shipped"]["figure"] else "shipped"
    summary = {"validation_glasses": [g.name for g in val], "strain": LABEL_STRAIN, "rule": (
        "the candidate with the higher mean top-5 % AUC at 4 % over the validation glass-loadings of both "
        "preparations (mean of the two preparations' means) replaces the shipped susceptibility_2d iff that "
        "figure is higher than the shipped model's on the same glass-loadings"),
        "figures": figures, "best_candidate": best, "winner": winner}
    for k, v in figures.items():
        preps = ", ".join(f"{p} {r['top5_auc']:.4f}" for p, r in v["by_preparation"].items())
        print(f"select: {k}: {v['figure']:.4f} ({preps})", flush=True)
    WORK.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=2, default=float) + "\n")
    _record("selection", summary)
    print(f"select: winner {winner}", flush=True)
    if winner != "shipped":
        keep = WORK / "replaced" / "susceptibility_2d"
        if not keep.exists():
            shutil.copytree(SHIPPED, keep)
        shutil.rmtree(SHIPPED)
        shutil.copytree(WORK / winner, SHIPPED, ignore=shutil.ignore_patterns(persist.CHECKPOINT + "*"))
        shutil.copy2(path, SHIPPED / "selection.json")
        print(f"select: models/susceptibility_2d replaced by candidate {winner} (the old one kept in {keep})",
              flush=True)


def stage_test() -> None:
    from ovito_glassml.training.evaluate import evaluate_model

    path = WORK / "selection.json"
    if not path.exists():
        raise SystemExit("test: run the select stage first: the test glasses are measured after the decision")
    decision = json.loads(path.read_text())
    test = _glasses("test", (FAST, RELAXED))
    svm = _radial_svm((FAST, RELAXED))
    folders = {c: WORK / c for c in CANDIDATES}
    folders["shipped"] = SHIPPED
    if decision["winner"] != "shipped":
        folders["replaced"] = WORK / "replaced" / "susceptibility_2d"
    out = {"test_glasses": [g.name for g in test], "winner": decision["winner"], "models": {}}
    for which, folder in folders.items():
        m = evaluate_model(folder, test, WORK / f"test_{which}", baselines={"radial_svm": svm}, cache=CACHE,
                           progress=lambda msg: print(f"  {which}: {msg}", flush=True))
        out["models"][which] = {"headline": _headline(m["protocols"]), "values": m["values"],
                                "protocols": m["protocols"]}
        out.setdefault("radial_svm", _headline(m["protocols"], "radial_svm"))
        for s, row in out["models"][which]["headline"].items():
            preps = ", ".join(f"{p} {r['paper_accuracy']:.3f}/{r['top5_auc']:.3f}"
                              for p, r in row["by_preparation"].items())
            print(f"test: {which} at {s}: papers' accuracy / top-5 % AUC {row['paper_accuracy']:.3f}/"
                  f"{row['top5_auc']:.3f} ({preps})", flush=True)
    (WORK / "test.json").write_text(json.dumps(out, indent=2, default=float) + "\n")
    _record("test", out)
    if decision["winner"] != "shipped":
        import evaluate_shipped

        evaluate_shipped.main(["--models", "susceptibility_2d"])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("stages", nargs="*", metavar="STAGE", help=f"stages: {', '.join(STAGES)} (default all)")
    ap.add_argument("--candidate", choices=list(CANDIDATES), help="cnn stage: train only this candidate")
    ap.add_argument("--plan", action="store_true", help="print the resolved glasses and stop")
    ap.add_argument("--persist-now", action="store_true", help="commit the running CNNs' progress now and stop")
    ap.add_argument("--no-commit", action="store_true", help="keep checkpoint copies but leave git alone")
    args = ap.parse_args(argv)
    bad = [s for s in args.stages if s not in STAGES]
    if bad:
        ap.error(f"unknown stage(s) {', '.join(bad)}; the stages are {', '.join(STAGES)}")
    if args.plan:
        from ovito_glassml.training.splits import SPLITS_2D

        print(json.dumps({"candidates": {c: list(v) for c, v in CANDIDATES.items()}, "splits": SPLITS_2D,
                          "recipe": RECIPE}, indent=2))
        return 0
    if args.persist_now:
        for cand in CANDIDATES:
            if (WORK / cand / "card.json").exists():
                persist.persist_cnn(WORK, STORE, commit=not args.no_commit, sub=cand, stored=f"{cand}-checkpoint.pt")
            else:
                persist.persist_checkpoint(WORK, STORE, commit=not args.no_commit, sub=cand,
                                           stored=f"{cand}-checkpoint.pt")
        return 0
    for stage in args.stages or STAGES:
        if stage == "cnn":
            stage_cnn(commit=not args.no_commit, only=args.candidate)
        else:
            {"shipped": stage_shipped, "select": stage_select, "test": stage_test}[stage]()
    return 0


if __name__ == "__main__":
    sys.exit(main())
