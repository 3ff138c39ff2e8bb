#!/usr/bin/env python
"""Train one susceptibility network for every strain, QS on every loading, and the ensembles: the plan.

The plan and its replacement rules are fixed here, before any test glass is scored by it.

Glasses: the splits of :mod:`ovito_glassml.training.splits` of the campaigns named by
``--campaigns`` (default ``cuzr50_4k``; add ``cuzr50_4k_relaxed`` once it is simulated):
training glasses train, validation glasses stop the CNN early, choose the ensemble weights and
decide the replacements; test glasses are measured after the decision, whatever the result.  The
test glasses are those of ``--test-campaigns`` (default: every campaign of the splits, both
preparations), so a run trained on one preparation reports its transfer to the other in the
per-preparation breakdown of both protocols.

Stages (each skipped when its output exists, so an interrupted run resumes; the CNN resumes from
its per-epoch checkpoint, which is also copied to ``checkpoints/<run>/`` at most every 30 minutes
and committed, so a fresh clone resumes it too):

1. ``cnn``: a ``compact-fabric`` CNN with one output per label 'top 5 % of D2min at s' for s in
   2, 3, 5 and 10 % (the strains the training glasses hold); SDM half-width ``--cutoff`` (4.8,
   7.2 or 9.6 A at 0.6 A voxels) and ``--stem`` (none, pool, stride); every negative kept (at most
   ``--max-negatives`` per glass-loading) and a fresh balanced draw each epoch, mirror
   augmentation, RMSprop lr 3e-3 divided by sqrt(10) after 3 epochs without gain, early stopping
   on every atom of the validation glasses (mean balanced accuracy over the outputs), patience 8,
   at most 200 epochs, the best epoch's weights kept.  ``glassml train cnn --targets ...``.
2. ``outputs``: ``cnn_<s>`` for each output: the same ONNX file, a card selecting that output,
   measured on the test glasses for it.
3. ``qs``: QS (LightGBM on interstice features) on every loading of every training glass, label
   D2min above the threshold that makes 5 % of the training samples plastic at 5 % strain, 5-fold
   CV grouped by glass.
4. ``weights``: for ``susceptibility`` (label top 5 % at 5 %) and ``dfs`` (top 5 % at 10 %): the
   members CNN (the output at the model's strain), QS (this run's) and SF (shipped), standardised
   on every atom of the training glasses; weights on the simplex in steps of 0.1 chosen by the
   mean top-5 % AUC over the validation glass-loadings (:func:`~ovito_glassml.training.ensemble.choose_weights`).
5. ``ensembles``: the two ensembles with those weights (``glassml train ensemble``).
6. ``select``: **Rules.**  The validation glasses here are those of ``--select-campaigns``
   (default ``--campaigns``), every one with all six loadings.  (a) Each new ensemble replaces
   the shipped model of the same name if and only if its mean top-5 % AUC at the model's label
   strain over the validation glass-loadings is higher than the shipped model's on the same pairs.  (b) The new QS replaces ``models/qs`` if
   and only if its mean top-5 % AUC at 5 % strain over the validation glass-loadings is higher
   than the shipped QS's.  The papers' protocol accuracy at every strain is recorded beside each
   decision but decides nothing.  A replaced model is kept in ``runs/<run>/replaced/<name>`` and
   its figures stay beside the new ones (``selection.json``, ``test.json``).  (c) Receptive
   field: the runs ``--cutoff 4.8`` with ``--stem`` none, pool and stride and ``--cutoff 7.2
   --stem pool`` are the candidates (``--cutoff 9.6 --stem pool`` is trained as a measurement
   only: its SDM alone runs at 526 atoms/s on 2 cores, docs/speed.md); the one whose (a)
   figure is highest among those reaching 1,000 atoms/s SDM + CNN in fp32 in one
   ``benchmarks/run_all.py`` run is the one rules (a) and (b) are applied to; a slower one higher
   by more than 0.01 ships only as an int8 network that reaches 1,000 atoms/s and passes the
   int8 accuracy rule (docs/speed.md).
7. ``test``: the models shipped after the decision, and the ones they replaced, measured on the
   test glasses in both protocols (``test.json``); the shipped cards get ``metrics.protocols``.

    python scripts/train_susceptibility.py --plan                  # resolved glasses, strains, stages
    python scripts/train_susceptibility.py [STAGE ...] [--cutoff 7.2 --stem pool] [--campaigns ...]
    python scripts/train_susceptibility.py --persist-now           # commit the CNN's progress now
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
CACHE = ROOT / "runs" / "prediction-cache"
STAGES = ("cnn", "outputs", "qs", "weights", "ensembles", "select", "test")
STRAINS = (0.02, 0.03, 0.05, 0.10)      # outputs of the network, those the training glasses hold
FRACTION = 0.05                         # top 5 % of D2min per glass and loading
LABELS = {"susceptibility": 0.05, "dfs": 0.10}
QS_STRAIN = 0.05
ORIENTATIONS = ["xy", "x-y", "yz", "y-z", "zx", "z-x"]
EPOCHS, PATIENCE, LR, LR_PATIENCE = 200, 8, 3e-3, 3
WEIGHT_STEP = 0.1


def run_name(args) -> str:
    camp = "+".join("relaxed" if c.endswith("relaxed") else "1e13" for c in args.campaigns)
    return args.run or f"multi_{camp}_r{args.cutoff:g}" + ("" if args.stem == "none" else f"_{args.stem}")


def output_key(strain: float) -> str:
    from ovito_glassml.training.cnn import output_name

    return output_name(strain, FRACTION)


class Plan:
    """The resolved glasses, targets and folders of one run."""

    def __init__(self, args):
        from ovito_glassml.training.splits import split_files

        self.args = args
        self.name = run_name(args)
        self.work = ROOT / "runs" / self.name
        self.store = ROOT / "checkpoints" / self.name
        self.files, self.missing = {}, {}
        for part in ("train", "validation"):
            self.files[part], self.missing[part] = split_files(DATA, part, args.campaigns)
        self.files["test"], self.missing["test"] = split_files(DATA, "test", args.test_campaigns)
        self.files["select"], self.missing["select"] = split_files(DATA, "validation",
                                                                   args.select_campaigns or args.campaigns)

    def glasses(self, part: str):
        from ovito_glassml.training.samples import load_glasses

        return load_glasses(self.files[part]) if self.files[part] else []

    def targets(self) -> list[tuple[float, float]]:
        train = self.glasses("train")
        held = [s for s in STRAINS if any(g.has_d2min(o, s) for g in train for o in g.orientations)]
        return [(s, FRACTION) for s in held]

    def lacking(self) -> list[str]:
        """What keeps the plan from running on complete data: glasses without a file, or without all
        six loadings."""
        from ovito_glassml.simulation.dataset import read_provenance

        out = [f"{part}: no file for {', '.join(map(str, names))}" for part, names in self.missing.items() if names]
        for part in ("train", "validation", "select", "test"):
            for f in self.files[part]:
                done = read_provenance(f).get("orientations_done", [])
                absent = [o for o in ORIENTATIONS if o not in done]
                if absent:
                    out.append(f"{part}: {Path(f).stem} lacks {', '.join(absent)}")
        return list(dict.fromkeys(out))

    def describe(self) -> dict:
        return {"run": self.name, "campaigns": self.args.campaigns, "test_campaigns": self.args.test_campaigns,
                "cutoff": self.args.cutoff, "stem": self.args.stem,
                "glasses": {k: [Path(f).stem for f in v] for k, v in self.files.items()},
                "missing": self.missing, "targets": [output_key(s) for s, _ in self.targets()]}


def _names(files) -> list[str]:
    return [Path(f).stem for f in files]


def stage_cnn(plan: Plan) -> None:
    out = plan.work / "cnn"
    found = persist.restore(plan.work, plan.store, sub="cnn", stored="cnn-checkpoint.pt")
    if found:
        print(f"cnn: resuming from {found}", flush=True)
    if (out / "card.json").exists():
        return print(f"cnn: {out} exists")
    targets = ",".join(f"{s:g}:{f:g}" for s, f in plan.targets())
    files = plan.files["train"] + plan.files["validation"] + plan.files["test"]
    args = ["train", "cnn", *map(str, files), "-o", str(out), "--validation", ",".join(_names(plan.files["validation"])),
            "--test", ",".join(_names(plan.files["test"])), "--orientations", ",".join(ORIENTATIONS),
            "--targets", targets, "--arch", "compact-fabric", "--sdm-cutoff", str(plan.args.cutoff),
            "--stem", plan.args.stem, "--negatives", "all", "--validation-negatives", "all", "--lr", str(LR),
            "--lr-patience", str(LR_PATIENCE), "--stop-patience", str(PATIENCE), "--epochs", str(EPOCHS),
            "--seed", "0", "--cache", str(CACHE)]
    if plan.args.baselines:
        args += ["--radial-baseline", "--baseline", f"qs={MODELS / 'qs'}", "--baseline", f"sf={MODELS / 'sf'}"]
    if plan.args.epochs != EPOCHS:
        args[args.index("--epochs") + 1] = str(plan.args.epochs)
    if plan.args.eval_max_atoms:
        args += ["--eval-max-atoms", str(plan.args.eval_max_atoms)]
    if plan.args.max_negatives:
        args += ["--max-negatives", str(plan.args.max_negatives)]
    if plan.args.device:
        args += ["--device", plan.args.device]
    plan.work.mkdir(parents=True, exist_ok=True)
    persist._glassml(*args, log=plan.work / "cnn.log",
                     watch=persist.CheckpointWatch(work=plan.work, store=plan.store, commit=plan.args.commit,
                                                   sub="cnn", stored="cnn-checkpoint.pt"))
    persist.persist_cnn(plan.work, plan.store, commit=plan.args.commit, sub="cnn", stored="cnn-checkpoint.pt")


def stage_outputs(plan: Plan) -> None:
    from ovito_glassml.inference.cards import load_card
    from ovito_glassml.training.cnn import derive_output_model

    card = load_card(plan.work / "cnn")
    test = plan.glasses("test")
    for o in card.output["outputs"]:
        out = plan.work / f"cnn_{o['label']['strain']:g}"
        if (out / "card.json").exists():
            print(f"outputs: {out} exists")
            continue
        derive_output_model(plan.work / "cnn", out, o["name"], test, orientations=ORIENTATIONS, cache=CACHE,
                            progress=lambda m: print(f"  {o['name']}: {m}", flush=True))
        print(f"outputs: {out} ({o['name']})", flush=True)


def stage_qs(plan: Plan) -> None:
    out = plan.work / "qs"
    if (out / "card.json").exists():
        return print(f"qs: {out} exists")
    files = plan.files["train"] + plan.files["test"]
    persist._glassml("train", "qs", *map(str, files), "-o", str(out), "--name", "qs",
                     "--test", ",".join(_names(plan.files["test"])), "--orientations", ",".join(ORIENTATIONS),
                     "--strain", str(QS_STRAIN), "--fraction", str(FRACTION), "--seed", "0",
                     log=plan.work / "qs.log")


def _member_scores(models: dict, glasses, strain: float, cache: Path):
    """Per glass-loading: (members, atoms) raw predictions and the top-5 % labels at ``strain``."""
    from ovito_glassml.training.prediction_cache import with_cache
    from ovito_glassml.training.samples import top_fraction_labels

    loaded = {k: with_cache(m, cache) for k, m in models.items()}
    raw, labels = [], []
    for g in glasses:
        static = {k: m.predict(g.config) for k, m in loaded.items() if not m.orientational}
        for o in ORIENTATIONS:
            if not g.has_d2min(o, strain):
                continue
            raw.append([static[k] if k in static else m.predict(g.config, frame=o) for k, m in loaded.items()])
            labels.append(top_fraction_labels(g.d2min_at(o, strain), FRACTION))
    return raw, labels


def stage_weights(plan: Plan) -> None:
    import numpy as np

    from ovito_glassml.inference.runtime import load_model
    from ovito_glassml.training.ensemble import _transformed, choose_weights, member_transform

    path = plan.work / "weights.json"
    if path.exists():
        return print(f"weights: {path} exists")
    train, val = plan.glasses("train"), plan.glasses("validation")
    result = {"validation_glasses": [g.name for g in val], "step": WEIGHT_STEP, "models": {}}
    for model, strain in LABELS.items():
        members = {"cnn": load_model(plan.work / f"cnn_{strain:g}"), "qs": load_model(plan.work / "qs"),
                   "sf": load_model(MODELS / "sf")}
        transforms = {k: member_transform(m) for k, m in members.items()}
        raw_train, _ = _member_scores(members, train, strain, CACHE)
        stats = {}
        for i, k in enumerate(members):
            g = _transformed(np.concatenate([r[i] for r in raw_train]), transforms[k])
            stats[k] = (float(g.mean()), float(g.std()))
        raw_val, labels = _member_scores(members, val, strain, CACHE)
        z = [np.stack([(_transformed(r[i], transforms[k]) - stats[k][0]) / stats[k][1]
                       for i, k in enumerate(members)]) for r in raw_val]
        chosen = choose_weights(z, labels, list(members), WEIGHT_STEP)
        chosen.pop("grid")
        result["models"][model] = {"strain": strain, **chosen, "standardisation": stats}
        print(f"weights: {model}: {chosen['weights']} (validation mean AUC {chosen['mean_auc']:.4f}; alone "
              f"{chosen['members_alone']})", flush=True)
    path.write_text(json.dumps(result, indent=2) + "\n")


def stage_ensembles(plan: Plan) -> None:
    chosen = json.loads((plan.work / "weights.json").read_text())
    files = plan.files["train"] + plan.files["test"]
    for model, strain in LABELS.items():
        out = plan.work / model
        if (out / "card.json").exists():
            print(f"ensembles: {out} exists")
            continue
        w = chosen["models"][model]["weights"]
        members = [f"cnn={plan.work / f'cnn_{strain:g}'}", f"qs={plan.work / 'qs'}", f"sf={MODELS / 'sf'}"]
        keep = [(m, w[m.split('=')[0]]) for m in members if w[m.split("=")[0]] > 0]
        args = ["train", "ensemble", *map(str, files), "-o", str(out), "--name", model,
                "--test", ",".join(_names(plan.files["test"])), "--strain", str(strain), "--fraction", str(FRACTION),
                "--weights", ",".join(f"{x:g}" for _, x in keep), "--cache", str(CACHE), "--radial-baseline",
                "--weights-chosen", (f"chosen on the validation glasses {', '.join(chosen['validation_glasses'])}: "
                                     f"best mean top-5 % AUC over their glass-loadings on a simplex grid of step "
                                     f"{chosen['step']:g} ({plan.work.name}/weights.json)")]
        for m, _ in keep:
            args += ["--member", m]
        if len(keep) == 1:  # one member alone: the CNN output (or QS) is the model itself
            src = keep[0][0].split("=", 1)[1]
            shutil.copytree(src, out)
            continue
        persist._glassml(*args, log=plan.work / f"{model}.log")


def _validation_auc(folder: Path, glasses, strain: float) -> dict:
    from ovito_glassml.training.evaluate import evaluate_model

    m = evaluate_model(folder, glasses, strains=[strain], orientations=ORIENTATIONS, cache=CACHE)
    p = m["protocols"]
    key = f"{round(strain, 6):g}"
    return {"top5_auc_roc": p["top5"]["strains"][key]["all"]["model"]["auc_roc"],
            "paper_accuracy": p["paper"]["strains"][key]["all"]["model"].get("accuracy"),
            "n_pairs": p["top5"]["strains"][key]["all"]["model"]["n_pairs"]}


def stage_select(plan: Plan) -> None:
    """Decide, by the rules of the module doc, for every model this run has trained and not yet decided."""
    path = plan.work / "selection.json"
    if plan.missing["select"]:
        raise SystemExit(f"select: validation glasses {', '.join(plan.missing['select'])} are not in data/ yet; the "
                         "rule is applied on all of them (let scripts/run_campaign.sh finish them first)")
    val = plan.glasses("select")
    lack = {g.name: [o for o in ORIENTATIONS if not all(g.has_d2min(o, s) for s in sorted(set(LABELS.values())))]
            for g in val}
    lack = {k: v for k, v in lack.items() if v}
    if lack:
        raise SystemExit("select: validation glasses without every loading yet: "
                         + "; ".join(f"{k}: {', '.join(v)}" for k, v in lack.items()))
    summary = json.loads(path.read_text()) if path.exists() else {
        "validation_glasses": [g.name for g in val], "rule": (
            "a new model replaces the shipped one of the same name iff its mean top-5 % AUC over the validation "
            "glass-loadings at the model's label strain is higher (ensembles: their label strain; QS: 5 %)"),
        "models": {}}
    decided = []
    for model, strain in {**LABELS, "qs": QS_STRAIN}.items():
        if model in summary["models"]:
            print(f"select: {model} decided before: {summary['models'][model]['winner']}")
            continue
        if not (plan.work / model / "card.json").exists():
            print(f"select: {model} not trained in this run yet")
            continue
        new, old = _validation_auc(plan.work / model, val, strain), _validation_auc(MODELS / model, val, strain)
        winner = "new" if new["top5_auc_roc"] > old["top5_auc_roc"] else "shipped"
        summary["models"][model] = {"strain": strain, "new": new, "shipped": old, "winner": winner}
        decided.append(model)
        print(f"select: {model}: new {new['top5_auc_roc']:.4f}, shipped {old['top5_auc_roc']:.4f} -> {winner}",
              flush=True)
    path.write_text(json.dumps(summary, indent=2) + "\n")
    for model in decided:
        if summary["models"][model]["winner"] == "new":
            keep = plan.work / "replaced" / model
            if not keep.exists():
                shutil.copytree(MODELS / model, keep)
            shutil.rmtree(MODELS / model)
            shutil.copytree(plan.work / model, MODELS / model)
            shutil.copy2(path, MODELS / model / "selection.json")
            print(f"select: models/{model} replaced (the old one kept in {keep})", flush=True)


def stage_test(plan: Plan) -> None:
    """The models this run decided, the shipped one and the one it replaced, on the test glasses in both
    protocols (``test.json``); the cards of the models replaced in ``models/`` are rewritten, with every
    baseline on the same atoms, by ``scripts/evaluate_shipped.py``."""
    from ovito_glassml.training.evaluate import evaluate_model

    import evaluate_shipped

    path = plan.work / "selection.json"
    decided = json.loads(path.read_text())["models"] if path.exists() else {}
    pending = [m for m in (*LABELS, "qs") if (plan.work / m / "card.json").exists() and m not in decided]
    if pending:
        raise SystemExit(f"test: decide {pending} first (select stage): the test glasses are measured after the "
                         "decision")
    test = plan.glasses("test")
    out = {"test_glasses": [g.name for g in test], "decisions": decided, "models": {}}
    for model in decided:
        for which, folder in (("shipped", MODELS / model), ("replaced", plan.work / "replaced" / model)):
            if not (folder / "card.json").exists():
                continue
            m = evaluate_model(folder, test, plan.work / f"test_{model}_{which}", cache=CACHE,
                               orientations=None if model == "qs" else ORIENTATIONS)
            out["models"].setdefault(model, {})[which] = {"values": m["values"], "protocols": m["protocols"]}
    (plan.work / "test.json").write_text(json.dumps(out, indent=2, default=float) + "\n")
    replaced = [m for m, d in decided.items() if d["winner"] == "new"]
    if replaced:
        evaluate_shipped.main(["--models", ",".join(replaced)])


def main(argv=None) -> int:
    from ovito_glassml.training.splits import SPLITS

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("stages", nargs="*", metavar="STAGE", help=f"stages: {', '.join(STAGES)} (default all)")
    ap.add_argument("--campaigns", default="cuzr50_4k", type=lambda t: [c.strip() for c in t.split(",") if c.strip()])
    ap.add_argument("--test-campaigns", default=",".join(SPLITS), type=lambda t: [c.strip() for c in t.split(",") if c.strip()],
                    help="campaigns whose test glasses are measured (default: all, both preparations)")
    ap.add_argument("--select-campaigns", type=lambda t: [c.strip() for c in t.split(",") if c.strip()],
                    help="campaigns whose validation glasses decide the select stage (default: --campaigns; the "
                         "relaxed plan uses cuzr50_4k,cuzr50_4k_relaxed for every run)")
    ap.add_argument("--cutoff", type=float, default=4.8, choices=[4.8, 7.2, 9.6], help="SDM half-width (A)")
    ap.add_argument("--stem", default="none", choices=["none", "pool", "stride"])
    ap.add_argument("--max-negatives", type=int, help="negatives kept per glass-loading (memory for large maps)")
    ap.add_argument("--device", help="torch device of the CNN (default cuda if available)")
    ap.add_argument("--no-baselines", dest="baselines", action="store_false",
                    help="cnn: no QS, SF and radial-SVM baselines in its card (they need LightGBM and freud; "
                         "`glassml evaluate` adds them later)")
    ap.add_argument("--epochs", type=int, default=EPOCHS, help=f"cnn: epoch cap ({EPOCHS}; early stopping decides)")
    ap.add_argument("--eval-max-atoms", type=int, help="cnn: test atoms per glass in its card (a quick check only)")
    ap.add_argument("--run", help="run name (default from the campaigns and the receptive field)")
    ap.add_argument("--plan", action="store_true", help="print the resolved plan and stop")
    ap.add_argument("--check", action="store_true",
                    help="exit 0 if every glass of the plan (training, validation, selection, test) holds all six "
                         "loadings, else name what is missing and exit 1")
    ap.add_argument("--persist-now", action="store_true", help="commit the CNN's progress now and stop")
    ap.add_argument("--no-commit", dest="commit", action="store_false")
    args = ap.parse_args(argv)
    unknown = sorted(set(args.campaigns + args.test_campaigns + (args.select_campaigns or [])) - set(SPLITS))
    if unknown:
        ap.error(f"no fixed split for campaign(s) {unknown}; the campaigns with one are {', '.join(SPLITS)}")
    plan = Plan(args)
    if args.plan:
        print(json.dumps(plan.describe(), indent=2))
        return 0
    if args.check:
        lacking = plan.lacking()
        print("ready" if not lacking else "not ready: " + "; ".join(lacking))
        return 0 if not lacking else 1
    if args.persist_now:
        if (plan.work / "cnn" / "card.json").exists():
            persist.persist_cnn(plan.work, plan.store, commit=args.commit, sub="cnn", stored="cnn-checkpoint.pt")
        elif persist.persist_checkpoint(plan.work, plan.store, commit=args.commit, sub="cnn",
                                        stored="cnn-checkpoint.pt") is None:
            print(f"persist: no CNN progress in {plan.work / 'cnn'} yet")
        return 0
    unknown = [s for s in args.stages if s not in STAGES]
    if unknown:
        ap.error(f"unknown stage(s) {unknown}; the stages are {', '.join(STAGES)}")
    if not plan.files["train"] or not plan.files["validation"] or not plan.files["test"]:
        raise SystemExit(f"a campaign lacks training, validation or test glasses: {plan.missing}")
    plan.work.mkdir(parents=True, exist_ok=True)
    (plan.work / "plan.json").write_text(json.dumps(plan.describe(), indent=2) + "\n")
    for stage in args.stages or STAGES:
        globals()[f"stage_{stage}"](plan)
    return 0


if __name__ == "__main__":
    sys.exit(main())
