#!/usr/bin/env python
"""Retrain the Cu-Zr orientation-aware models on all six loadings: the pre-registered plan.

Pre-registered on 2026-12-02, committed while the ``zx`` and ``z-x`` shears were
still being simulated, so before any figure on those loadings existed.  The shipped ``dfs`` and
``susceptibility`` ensembles hold a CNN trained on ``xy`` and ``x-y`` only; once
``cuzr50_4k`` has all six loadings (xy, x-y, yz, y-z, zx, z-x; three times the labelled data),
this script trains one new CNN on them and decides, by a rule fixed here, whether it replaces the
shipped CNN inside each ensemble.

Glasses (``cuzr50_4k``; every decision below uses the validation glasses only):

* CNN training: g0001-g0007; early stopping on g0008 (every atom, all six loadings).
* Selection: g0009-g0012, all six loadings (no CNN member saw them; QS was trained on g0001-g0008,
  ``xy``; they chose the two-loading ``susceptibility`` on 2026-12-01, a bias in favour of the shipped
  models, not of the new one).
* Test: g0013-g0016, all six loadings: measured once, after the decision, reported whatever it is.

Stages (each is skipped when its output exists, so an interrupted run resumes; the CNN itself
resumes from its per-epoch checkpoint).  ``runs/`` does not survive a move to a fresh machine, so the
CNN's progress is also committed: its training checkpoint at most every 30 minutes,
and ``--persist-now`` at once, go to ``checkpoints/retrain6/`` (about 3 MB a copy), and the finished
CNN replaces it there; a run that finds ``runs/retrain6/cnn10`` without them copies them back first,
and the checkpoint's own fingerprint refuses it if the samples or settings differ.

1. ``cnn``: ``compact-fabric`` CNN, 16^3 x 2 SDMs (r_c 4.8 A), label top 5 % of D2min at 10 %
   strain per glass and loading, every negative kept and a fresh balanced draw each epoch, lr 3e-3,
   at most 24 epochs, seed 0: the shipped ``dfs`` CNN's recipe, on six loadings instead of two.  One
   CNN serves both ensembles: on 2026-12-01 the 10 %-label CNN + QS scored AUC 0.688 on the 5 % label
   against 0.690 for the 5 %-label CNN + QS (the two-loading selection, docs/models.md), and training
   one CNN on six loadings takes hours on two cores.
2. ``ensembles``: that CNN + the shipped QS, equal weights 0.5/0.5 on standardised logits
   (``glassml train ensemble``), calibrated on the label of each model: ``dfs`` (10 %) and
   ``susceptibility`` (5 %), written to ``runs/retrain6/``.
3. ``select``: each new ensemble and the shipped model of the same name, scored on the selection
   glasses in all six loadings with that model's label (top 5 % of D2min at 10 % for ``dfs``, at
   5 % for ``susceptibility``).  **Rule: the new ensemble replaces the shipped one if and only if its
   mean AUC over the 24 glass-loading pairs is higher.**  QS, SF and a radial linear SVM (fitted on
   g0001-g0007) are scored on the same atoms for context.  Written to ``selection.json``; the
   winner is copied into ``models/`` (the loser stays in ``runs/retrain6/``).
4. ``test``: the model shipped after the decision, measured on the test glasses in all six
   loadings (``glassml evaluate``; ``test_<model>/metrics.json``).
5. ``transfer``: ``scripts/orientation_transfer.py`` on the test glasses, all six loadings, for
   both models (``docs/orientation/<model>_transfer6.json``).

    python scripts/retrain_all_loadings.py --check        # which glass lacks which loading
    python scripts/retrain_all_loadings.py [STAGE ...]     # default: every stage, in order
    python scripts/retrain_all_loadings.py --persist-now  # commit the CNN's progress now (before a stop)
"""
from __future__ import annotations

import argparse
import json
import shutil
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "cuzr50_4k"
WORK = ROOT / "runs" / "retrain6"
MODELS = ROOT / "models"  # the shipped models: compared against, and replaced by a winner
TRANSFER_DIR = ROOT / "docs" / "orientation"
ORIENTATIONS = ["xy", "x-y", "yz", "y-z", "zx", "z-x"]
TRAIN = [f"cuzr50_4k_g{i:04d}" for i in range(1, 8)]
EARLY_STOP = ["cuzr50_4k_g0008"]
SELECT = [f"cuzr50_4k_g{i:04d}" for i in range(9, 13)]
TEST = [f"cuzr50_4k_g{i:04d}" for i in range(13, 17)]
LABELS = {"dfs": 0.10, "susceptibility": 0.05}  # label strain of each model; top 5 % of D2min
FRACTION = 0.05
CNN_STRAIN = 0.10
EPOCHS = 24
STAGES = ("cnn", "ensembles", "select", "test", "transfer")
STORE = ROOT / "checkpoints" / "retrain6"  # committed copies of the CNN's progress (runs/ is not in git)
CHECKPOINT = "training-checkpoint.pt"  # what `glassml train cnn` writes into its output folder each epoch
STORED_CHECKPOINT = "cnn10-checkpoint.pt"
PERSIST_EVERY_S = 1800.0
COMMIT = True  # --no-commit: keep the copies in checkpoints/ but leave git alone


# ----------------------------------------------------------------------------------------------
# the CNN's progress in git, so that a fresh clone resumes it
def _git_commit(paths: list[Path], message: str, repo: Path) -> bool:
    """Commit exactly ``paths`` (added with ``-f``; a path gone from disk is committed as removed)."""
    rel = []
    for p in paths:
        r = str(Path(p).resolve().relative_to(repo.resolve()))
        tracked = subprocess.run(["git", "ls-files", "--", r], cwd=repo, capture_output=True, text=True).stdout.strip()
        if Path(p).exists() or tracked:
            rel.append(r)
    if not rel:
        return True
    for _ in range(20):
        a = subprocess.run(["git", "add", "-f", "-A", "--", *rel], cwd=repo, capture_output=True, text=True)
        c = a if a.returncode else subprocess.run(["git", "commit", "-q", "-m", message, "--", *rel], cwd=repo,
                                                  capture_output=True, text=True)
        out = c.stdout + c.stderr
        if c.returncode == 0 or "nothing to commit" in out or "no changes added" in out:
            return True
        if "index.lock" not in out:
            break
        time.sleep(3)  # a data commit of the campaign is under way
    print(f"persist: git commit of {', '.join(rel)} failed ({out.strip()}); the copies stay on disk", flush=True)
    return False


def persist_checkpoint(work: Path = WORK, store: Path = STORE, repo: Path = ROOT, commit: bool = True,
                       sub: str = "cnn10", stored: str = STORED_CHECKPOINT) -> Path | None:
    """Copy the CNN's current training checkpoint (``work/sub``) into ``store/stored`` (and commit
    it); ``None`` if there is none."""
    src = work / sub / CHECKPOINT
    if not src.exists():
        return None
    dest = store / stored
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".tmp")
    shutil.copyfile(src, tmp)  # the trainer replaces its file by a rename, so this copy is never half old
    os.replace(tmp, dest)
    if commit:
        _git_commit([dest], f"{store.name}: CNN training checkpoint ({Path(sys.argv[0]).name})", repo)
    print(f"persist: {src} -> {dest}" + (" (committed)" if commit else ""), flush=True)
    return dest


def persist_cnn(work: Path = WORK, store: Path = STORE, repo: Path = ROOT, commit: bool = True,
                sub: str = "cnn10", stored: str = STORED_CHECKPOINT) -> Path:
    """Copy the finished CNN folder into ``store`` in place of its training checkpoint (and commit both)."""
    dest = store / sub
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(work / sub, dest, ignore=shutil.ignore_patterns(CHECKPOINT + "*"))
    stale = store / stored
    stale.unlink(missing_ok=True)
    if commit:
        _git_commit([dest, stale], f"{store.name}: the finished CNN ({Path(sys.argv[0]).name})", repo)
    print(f"persist: {work / sub} -> {dest}" + (" (committed)" if commit else ""), flush=True)
    return dest


def restore(work: Path = WORK, store: Path = STORE, sub: str = "cnn10", stored: str = STORED_CHECKPOINT) -> str | None:
    """Copy committed CNN progress into ``work`` where ``work`` lacks it: the finished CNN, else its checkpoint."""
    out = work / sub
    if (out / "card.json").exists():
        return None
    if (store / sub / "card.json").exists():
        shutil.copytree(store / sub, out, dirs_exist_ok=True)
        return f"the finished CNN from {store / sub}"
    if not (out / CHECKPOINT).exists() and (store / stored).exists():
        out.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(store / stored, out / CHECKPOINT)
        return f"the training checkpoint {store / stored}"
    return None


class CheckpointWatch:
    """Called every minute while the CNN trains: persists a new checkpoint at most every ``every_s`` seconds."""

    def __init__(self, every_s: float = PERSIST_EVERY_S, work: Path = WORK, store: Path = STORE,
                 repo: Path = ROOT, commit: bool = True, clock: Callable[[], float] = time.monotonic,
                 sub: str = "cnn10", stored: str = STORED_CHECKPOINT):
        self.every_s, self.work, self.store, self.repo, self.commit, self.clock = every_s, work, store, repo, commit, clock
        self.sub, self.stored = sub, stored
        self.last = clock()
        path = work / sub / CHECKPOINT
        self.seen = path.stat().st_mtime if path.exists() else 0.0

    def __call__(self) -> bool:
        path = self.work / self.sub / CHECKPOINT
        if not path.exists() or path.stat().st_mtime <= self.seen or self.clock() - self.last < self.every_s:
            return False
        self.seen = path.stat().st_mtime
        persist_checkpoint(self.work, self.store, self.repo, self.commit, self.sub, self.stored)
        self.last = self.clock()
        return True


def _files(names: list[str]) -> list[Path]:
    return [DATA / f"{n}.npz" for n in names]


def missing_loadings(names: list[str], strains: list[float]) -> dict[str, list[str]]:
    """Per glass, the loadings (of :data:`ORIENTATIONS`) without D2min at every one of ``strains``."""
    from ovito_glassml.training.samples import load_glasses

    out = {}
    for g in load_glasses(_files(names)):
        lack = [o for o in ORIENTATIONS if not all(g.has_d2min(o, s) for s in strains)]
        if lack:
            out[g.name] = lack
    return out


def _require_complete() -> None:
    lack = missing_loadings(TRAIN + EARLY_STOP + SELECT + TEST, sorted(set(LABELS.values())))
    if lack:
        text = "; ".join(f"{g}: {', '.join(o)}" for g, o in lack.items())
        raise SystemExit(f"not every glass has all six loadings yet ({text}); let scripts/run_campaign.sh finish "
                         "them first (this plan is for the complete data set)")


def _glassml(*args: str, log: Path, watch: Callable[[], object] | None = None) -> None:
    """``glassml ARGS`` with its output in ``log``; ``watch()`` is called every minute while it runs."""
    cmd = [sys.executable, "-m", "ovito_glassml.cli", *args]
    print("$ glassml " + " ".join(args), flush=True)
    with log.open("a", encoding="utf-8") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, cwd=ROOT)
        try:
            while True:
                try:
                    rc = proc.wait(timeout=60)
                    break
                except subprocess.TimeoutExpired:
                    if watch is not None:
                        watch()
        except BaseException:
            proc.terminate()
            proc.wait()
            raise
    if rc:
        raise subprocess.CalledProcessError(rc, cmd)


def stage_cnn() -> None:
    out = WORK / "cnn10"
    found = restore()
    if found:
        print(f"cnn: resuming from {found} (committed by an earlier run)", flush=True)
    if (out / "card.json").exists():
        return print(f"cnn: {out} exists")
    _glassml("train", "cnn", *map(str, _files(TRAIN + EARLY_STOP + TEST)), "-o", str(out),
             "--validation", EARLY_STOP[0], "--orientations", ",".join(ORIENTATIONS),
             "--strain", str(CNN_STRAIN), "--fraction", str(FRACTION), "--arch", "compact-fabric",
             "--negatives", "all", "--validation-negatives", "all", "--lr", "3e-3", "--epochs", str(EPOCHS),
             "--seed", "0", "--radial-baseline", "--baseline", f"qs={MODELS / 'qs'}", "--baseline", f"sf={MODELS / 'sf'}",
             log=WORK / "cnn10.log", watch=CheckpointWatch(commit=COMMIT))
    persist_cnn(commit=COMMIT)


def stage_ensembles() -> None:
    for model, strain in LABELS.items():
        out = WORK / model
        if (out / "card.json").exists():
            print(f"ensembles: {out} exists")
            continue
        _glassml("train", "ensemble", *map(str, _files(TRAIN + EARLY_STOP + TEST)), "-o", str(out),
                 "--name", model, "--member", f"cnn={WORK / 'cnn10'}", "--member", f"qs={MODELS / 'qs'}",
                 "--weights", "0.5,0.5", "--strain", str(strain), "--fraction", str(FRACTION),
                 "--radial-baseline", "--baseline", f"sf={MODELS / 'sf'}", log=WORK / f"{model}.log")


def stage_select() -> None:
    from ovito_glassml.training.evaluate import evaluate_model
    from ovito_glassml.training.linear import RadialSVMBaseline
    from ovito_glassml.training.samples import load_glasses

    path = WORK / "selection.json"
    if path.exists():
        return print(f"select: {path} exists")
    val = load_glasses(_files(SELECT))
    fit = load_glasses(_files(TRAIN))
    summary = {"selection_glasses": SELECT, "orientations": ORIENTATIONS, "f_thres": FRACTION,
               "rule": "the new ensemble replaces the shipped one iff its mean AUC over the glass-loading pairs "
                       "is higher", "models": {}}
    for model, strain in LABELS.items():
        radial = RadialSVMBaseline.fit(fit, strain, FRACTION, ORIENTATIONS, seed=0)
        baselines = {"shipped": MODELS / model, "qs": MODELS / "qs", "sf": MODELS / "sf", "radial_svm": radial}
        res = evaluate_model(WORK / model, val, WORK / f"select_{model}", strains=[strain], orientations=ORIENTATIONS,
                             baselines=baselines, progress=lambda m: print(m, flush=True))
        v = res["values"]
        auc = {"new": v["auc_roc"], **{k: v.get(f"baseline_{k}_auc_roc") for k in baselines}}
        crank = {"new": v["c_rank"], **{k: v.get(f"baseline_{k}_c_rank") for k in baselines}}
        summary["models"][model] = {"strain": strain, "auc_roc": auc, "c_rank": crank,
                                    "n_pairs": v.get("n_pairs"), "winner": "new" if auc["new"] > auc["shipped"]
                                    else "shipped"}
    path.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(summary, indent=2))
    for model, row in summary["models"].items():
        if row["winner"] == "new":
            dest = MODELS / model
            shutil.rmtree(dest)
            shutil.copytree(WORK / model, dest)
            shutil.copy2(path, dest / "selection.json")  # the decision that shipped it
            print(f"select: {model}: the new ensemble (AUC {row['auc_roc']['new']:.4f} against "
                  f"{row['auc_roc']['shipped']:.4f}) replaces models/{model}")
        else:
            print(f"select: {model}: the shipped model stays (AUC {row['auc_roc']['shipped']:.4f} against "
                  f"{row['auc_roc']['new']:.4f} for the new one)")


def stage_test() -> None:
    if not (WORK / "selection.json").exists():
        raise SystemExit("test: run the select stage first (the test glasses are measured after the decision)")
    for model, strain in LABELS.items():
        out = WORK / f"test_{model}"
        if (out / "metrics.json").exists():
            print(f"test: {out} exists")
            continue
        _glassml("evaluate", str(MODELS / model), *map(str, _files(TEST)), "-o", str(out),
                 "--strains", str(strain), "--orientations", ",".join(ORIENTATIONS),
                 "--baseline", f"qs={MODELS / 'qs'}", "--baseline", f"sf={MODELS / 'sf'}", log=WORK / f"test_{model}.log")


def stage_transfer() -> None:
    if not (WORK / "selection.json").exists():
        raise SystemExit("transfer: run the select stage first")
    for model in LABELS:
        out = TRANSFER_DIR / f"{model}_transfer6.json"
        if out.exists():
            print(f"transfer: {out} exists")
            continue
        cmd = [sys.executable, str(ROOT / "scripts" / "orientation_transfer.py"), *map(str, _files(TEST)),
               "--model", str(MODELS / model), "--orientations", ",".join(ORIENTATIONS), "-o", str(out)]
        print("$ " + " ".join(cmd[1:]), flush=True)
        subprocess.run(cmd, check=True, cwd=ROOT)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("stages", nargs="*", metavar="STAGE", help=f"stages to run: {', '.join(STAGES)} (default: all)")
    ap.add_argument("--check", action="store_true", help="list the glasses that lack a loading, and stop")
    ap.add_argument("--persist-now", action="store_true",
                    help=f"copy the CNN's progress (checkpoint, or the finished CNN) into {STORE.relative_to(ROOT)}/, "
                         "commit it, and stop: before the machine is given up")
    ap.add_argument("--no-commit", action="store_true", help=f"keep the copies in {STORE.relative_to(ROOT)}/ out of git")
    args = ap.parse_args(argv)
    global COMMIT
    COMMIT = not args.no_commit
    if args.persist_now:
        if (WORK / "cnn10" / "card.json").exists():
            persist_cnn(commit=COMMIT)
        elif persist_checkpoint(commit=COMMIT) is None:
            print(f"persist: no CNN progress in {WORK / 'cnn10'} yet")
        return 0
    unknown = [s for s in args.stages if s not in STAGES]
    if unknown:
        ap.error(f"unknown stage(s) {unknown}; the stages are {', '.join(STAGES)}")
    if args.check:
        lack = missing_loadings(TRAIN + EARLY_STOP + SELECT + TEST, sorted(set(LABELS.values())))
        for g, o in lack.items():
            print(f"{g}: lacks {', '.join(o)}")
        print("complete: every glass has all six loadings" if not lack else f"{len(lack)} glass(es) incomplete")
        return 0 if not lack else 1
    _require_complete()
    WORK.mkdir(parents=True, exist_ok=True)
    for stage in args.stages or STAGES:
        globals()[f"stage_{stage}"]()
    return 0


if __name__ == "__main__":
    sys.exit(main())
