#!/usr/bin/env python
"""Structural flexibility (SF) on the relaxed glasses: the plan, fixed before any relaxed test
glass is scored by it.

    python scripts/train_flexibility.py --check     # which glasses still lack their MSD (v_flex)
    python scripts/train_flexibility.py             # every stage not done yet

SF (Fan, Ding & Ma 2020) estimates ln v_flex, v_flex = MSD at 50 K x Voronoi volume^(1/3) (A^3),
from reduced radial structure functions, with one linear model per species.  The glasses are the
splits of :mod:`ovito_glassml.training.splits`: ``cuzr50_4k`` (1e13 K/s) and ``cuzr50_4k_relaxed``
(the window preparation), 8 train, 4 validation and 4 test glasses each.

Candidates, both with the recipe of the shipped ``models/sf`` (``glassml train sf``: per-species
L2-loss linear SVR on the reduced radial features, C by 5-fold CV grouped by glass, first-peak
positions from the training glasses):

- (i) ``relaxed``: trained on the relaxed training glasses g0201-g0208;
- (ii) ``both``: trained on the training glasses of both preparations (g0001-g0008, g0201-g0208).

**Rule.**  The figure of a model is the mean over the two preparations of the mean over Cu and Zr
of Pearson's rho between its SF and ln v_flex, pooled over the atoms of that species in the
preparation's validation glasses (g0009-g0012, g0209-g0212).  The candidate with the higher
figure replaces ``models/sf`` if and only if its figure is higher than the shipped model's.
Then, whatever the decision, the shipped model and both candidates are measured on the test
glasses of both preparations (g0013-g0016, g0213-g0216).  Nothing is copied into ``models/``:
read ``runs/sf_v2/selection.json`` and ``test.json``, then ship the chosen folder.

Stages (each skipped when its output exists): ``train`` (``runs/sf_v2/<candidate>/``, the card's
figures on the validation glasses), ``select`` (``selection.json``), ``test`` (``test.json``).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
CAMPAIGNS = ("cuzr50_4k", "cuzr50_4k_relaxed")
CANDIDATES = {"relaxed": ("cuzr50_4k_relaxed",), "both": CAMPAIGNS}
SPECIES = ("Cu", "Zr")


def _files(part: str, campaigns) -> tuple[list[Path], list[str]]:
    from ovito_glassml.training.splits import split_files

    return split_files(DATA, part, list(campaigns))


def lacking() -> list[str]:
    """Glasses of the plan without a file or without v_flex (their MSD stage not done yet)."""
    from ovito_glassml.simulation.dataset import read_provenance

    out = []
    for part in ("train", "validation", "test"):
        files, missing = _files(part, CAMPAIGNS)
        out += [f"{part}: no file for {name}" for name in missing]
        out += [f"{part}: {f.stem} has no MSD yet" for f in files if not read_provenance(f)["stages"].get("msd")]
    return out


def held_glasses(part: str) -> dict:
    """The glasses of ``part`` (validation or test) of each preparation, loaded once for every model."""
    from ovito_glassml.training.samples import load_glasses

    return {campaign: load_glasses(_files(part, (campaign,))[0]) for campaign in CAMPAIGNS}


def figure(model: Path | str, glasses: dict) -> dict:
    """Pearson rho of SF with ln v_flex per preparation and species on ``glasses`` (see
    :func:`held_glasses`), with the rule's mean (the preparations' means over species, averaged)."""
    from ovito_glassml.training.evaluate import evaluate_model

    rows = {}
    for campaign, held in glasses.items():
        m = evaluate_model(model, held)
        rows[campaign] = {"glasses": [g.name for g in held],
                          **{sp: m["per_species"][sp]["pearson_ln_vflex"] for sp in SPECIES}}
        rows[campaign]["mean"] = sum(rows[campaign][sp] for sp in SPECIES) / len(SPECIES)
    return {"preparations": rows, "figure": sum(r["mean"] for r in rows.values()) / len(rows)}


def stage_train(work: Path) -> None:
    from ovito_glassml.training.linear import train_sf
    from ovito_glassml.training.samples import load_glasses

    for name, campaigns in CANDIDATES.items():
        out = work / name
        if (out / "card.json").exists():
            continue
        train, _ = _files("train", campaigns)
        held, _ = _files("validation", CAMPAIGNS)
        glasses = load_glasses(train + held)
        print(f"train {name}: {len(train)} training glasses, figures on {len(held)} validation glasses", flush=True)
        train_sf(glasses, out, name="sf", test=[f.stem for f in held], progress=lambda m: print("  " + m, flush=True))


def stage_select(work: Path) -> None:
    path = work / "selection.json"
    if path.exists():
        return
    held = held_glasses("validation")
    shipped = figure(ROOT / "models" / "sf", held)
    cands = {name: figure(work / name, held) for name in CANDIDATES}
    decision = {**decide(shipped, cands), "decided": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    path.write_text(json.dumps(decision, indent=1) + "\n")
    print(f"select: shipped {shipped['figure']:.4f}; " + ", ".join(f"{k} {v['figure']:.4f}" for k, v in cands.items())
          + f" -> {'replace models/sf by ' + decision['best'] if decision['replace'] else 'keep models/sf'}", flush=True)


def decide(shipped: dict, candidates: dict) -> dict:
    """The rule: the candidate with the higher figure replaces the shipped model iff its figure is higher."""
    best = max(candidates, key=lambda k: candidates[k]["figure"])
    return {"rule": "mean over preparations of the mean over Cu and Zr of Pearson rho(SF, ln v_flex) on the "
                    "validation glasses; the better candidate replaces models/sf iff its figure is higher",
            "shipped": shipped, "candidates": candidates, "best": best,
            "replace": bool(candidates[best]["figure"] > shipped["figure"])}


def stage_test(work: Path) -> None:
    path = work / "test.json"
    if path.exists():
        return
    if not (work / "selection.json").exists():
        raise SystemExit("test: the decision comes first (stage select)")
    held = held_glasses("test")
    scores = {"shipped": figure(ROOT / "models" / "sf", held),
              **{name: figure(work / name, held) for name in CANDIDATES}}
    path.write_text(json.dumps({"measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), **scores},
                               indent=1) + "\n")
    for k, v in scores.items():
        print(f"test {k}: " + "; ".join(f"{c} Cu {r['Cu']:.3f} Zr {r['Zr']:.3f}" for c, r in v["preparations"].items()),
              flush=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("stages", nargs="*", help="stages to run: train, select, test (default: all, in order)")
    ap.add_argument("--check", action="store_true", help="list what the data still lacks and exit (1 if anything)")
    ap.add_argument("--work", default=str(ROOT / "runs" / "sf_v2"), help="the run's folder")
    args = ap.parse_args(argv)
    missing = lacking()
    if args.check or missing:
        print("\n".join(missing) if missing else "every glass of the plan has its MSD")
        return 1 if missing else 0
    stages = {"train": stage_train, "select": stage_select, "test": stage_test}
    unknown = [s for s in args.stages if s not in stages]
    if unknown:
        ap.error(f"unknown stage(s) {', '.join(unknown)}: give train, select or test")
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    for stage in args.stages or list(stages):
        stages[stage](work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
