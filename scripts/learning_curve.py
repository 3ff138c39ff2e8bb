"""Held-out score against the number of training glasses: is a model limited by data?

    python scripts/learning_curve.py [qs] [sf] [--data data/cuzr50_4k] [--repeats 3]
                                     [--figure models/learning_curve.png]

For k = 1 .. K training glasses (K = every non-test glass with the labels), ``--repeats`` random
subsets of k glasses (all K once) are trained with the shipped card's settings: QS with its
LightGBM hyperparameters, strain and target fraction (no grid search, 5-fold models averaged);
SF with its C.  Each is scored on **all** the test glasses (the campaign's held-out glasses, never
trained on): QS by AUC-ROC, SF by Pearson rho of ln v_flex per species.  Prints a table (mean and
range over the subsets) and draws the figure.  Uses the same trainers as ``glassml train``.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ovito_glassml.training.samples import load_glasses  # noqa: E402


def _split(glasses, need):
    test = [g for g in glasses if g.provenance.get("split") == "test" and need(g)]
    train = [g for g in glasses if g.provenance.get("split") != "test" and need(g)]
    return sorted(train, key=lambda g: g.name), sorted(test, key=lambda g: g.name)


def _subsets(n: int, k: int, repeats: int, rng) -> list[list[int]]:
    if k == n:
        return [list(range(n))]
    seen, out = set(), []
    for _ in range(repeats * 20):
        s = tuple(sorted(rng.choice(n, k, replace=False).tolist()))
        if s not in seen:
            seen.add(s)
            out.append(list(s))
        if len(out) == repeats:
            break
    return out


def curve_qs(glasses, repeats: int, rng, card_dir: Path) -> dict:
    from ovito_glassml.training.gbdt import train_qs

    card = json.loads((card_dir / "card.json").read_text())
    label = card["label"]
    best = {k: v for k, v in card["training"]["protocol"]["search"]["best"].items()
            if k not in ("cv_auc_mean", "cv_auc_std", "folds_scored")}
    min_leaf = int(card["training"]["protocol"].get("min_data_in_leaf", 20))
    strain, orientation = float(label["strain"]), label.get("orientation", "xy")
    frac = float(label.get("target_fraction", 0.05))
    train, test = _split(glasses, lambda g: g.has_d2min(orientation, strain))
    grid = {k: [v] for k, v in best.items()}
    rows = []
    for k in range(1, len(train) + 1):
        for sub in _subsets(len(train), k, repeats, rng):
            chosen = [train[i] for i in sub]
            with tempfile.TemporaryDirectory() as tmp:
                r = train_qs(chosen + test, Path(tmp) / "m", strain=strain, orientation=orientation,
                             target_fraction=frac, grid=grid, min_data_in_leaf=min_leaf,
                             test=[g.name for g in test])
                v = json.loads((r.directory / "card.json").read_text())["metrics"]["values"]
            rows.append({"k": k, "glasses": [g.name for g in chosen], "auc_roc": v["auc_roc"]})
            print(f"qs  k={k} {','.join(g.name[-5:] for g in chosen)}: AUC {v['auc_roc']:.3f}", flush=True)
    return {"model": "qs", "test": [g.name for g in test], "n_test_atoms": sum(g.count for g in test),
            "label": {"strain": strain, "orientation": orientation, "target_fraction": frac}, "rows": rows}


def curve_sf(glasses, repeats: int, rng, card_dir: Path) -> dict:
    from ovito_glassml.training.linear import train_sf

    card = json.loads((card_dir / "card.json").read_text())
    c_grid = tuple(sorted(set(card["training"]["protocol"]["C"].values())))   # the card's chosen C
    train, test = _split(glasses, lambda g: g.v_flex is not None)
    rows = []
    for k in range(1, len(train) + 1):
        for sub in _subsets(len(train), k, repeats, rng):
            chosen = [train[i] for i in sub]
            with tempfile.TemporaryDirectory() as tmp:
                r = train_sf(chosen + test, Path(tmp) / "m", c_grid=c_grid, folds=min(5, max(2, k)),
                             test=[g.name for g in test])
                v = json.loads((r.directory / "card.json").read_text())["metrics"]["values"]
            rho = {sp: v[f"pearson_ln_vflex_{sp}"] for sp in ("Cu", "Zr") if f"pearson_ln_vflex_{sp}" in v}
            rows.append({"k": k, "glasses": [g.name for g in chosen], **{f"rho_{sp}": x for sp, x in rho.items()}})
            print(f"sf  k={k} {','.join(g.name[-5:] for g in chosen)}: "
                  + ", ".join(f"rho {sp} {x:.3f}" for sp, x in rho.items()), flush=True)
    return {"model": "sf", "test": [g.name for g in test], "n_test_atoms": sum(g.count for g in test), "rows": rows}


def _summary(result: dict, key: str) -> list[tuple[int, float, float, float, int]]:
    out = []
    for k in sorted({r["k"] for r in result["rows"]}):
        x = np.array([r[key] for r in result["rows"] if r["k"] == k])
        out.append((k, float(x.mean()), float(x.min()), float(x.max()), len(x)))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="*", default=["qs", "sf"], choices=["qs", "sf"])
    ap.add_argument("--data", default=str(ROOT / "data" / "cuzr50_4k"))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--figure", default=str(ROOT / "models" / "learning_curve.png"))
    ap.add_argument("--json", default=None, help="also write the raw rows here")
    args = ap.parse_args(argv)
    glasses = load_glasses([args.data])
    rng = np.random.default_rng(args.seed)
    results = []
    for m in args.models:
        fn = curve_qs if m == "qs" else curve_sf
        results.append(fn(glasses, args.repeats, rng, ROOT / "models" / m))
    panels = []
    for res in results:
        keys = ["auc_roc"] if res["model"] == "qs" else [k for k in ("rho_Cu", "rho_Zr") if k in res["rows"][0]]
        print(f"\n{res['model']}: held-out {', '.join(res['test'])} ({res['n_test_atoms']:,} atoms)")
        print("| training glasses | " + " | ".join(keys) + " |")
        print("| --- |" + " --- |" * len(keys))
        sums = {key: _summary(res, key) for key in keys}
        for i, (k, *_rest) in enumerate(sums[keys[0]]):
            cells = [f"{s[i][1]:.3f} ({s[i][2]:.3f}-{s[i][3]:.3f}, {s[i][4]} subsets)" if s[i][4] > 1
                     else f"{s[i][1]:.3f}" for s in sums.values()]
            print(f"| {k} | " + " | ".join(cells) + " |")
        panels.append((res, sums))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    if args.figure:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.4), dpi=120, squeeze=False)
        for ax, (res, sums) in zip(axes[0], panels):
            for key, s in sums.items():
                k = [r[0] for r in s]
                ax.plot(k, [r[1] for r in s], "o-", label=key.replace("_", " "))
                ax.fill_between(k, [r[2] for r in s], [r[3] for r in s], alpha=0.2)
            ax.set_xlabel("training glasses (4,000 atoms each)")
            ax.set_ylabel("AUC-ROC" if res["model"] == "qs" else "Pearson rho, ln v_flex")
            ax.set_title(f"{res['model']}: held-out {len(res['test'])} glasses", fontsize=9)
            ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(args.figure)
        print(f"\nwrote {args.figure}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
