"""Write the table of shipped models (from their cards) into models/README.md and docs/models.md.

    python scripts/models_report.py [--check]

Every figure comes from a card's ``metrics`` (measured on held-out glasses by ``glassml train`` /
``glassml evaluate --update-card``); nothing is typed in by hand.  The table sits between the
markers ``<!-- models-table:start -->`` and ``<!-- models-table:end -->`` of both files.

Where the cards carry ``metrics.protocols`` (``scripts/evaluate_shipped.py``), the tables of both
protocols (the papers' balanced-set accuracy at 2, 3, 4, 5 and 10 % strain, and the top-5 % AUC and
C_rank), per preparation of the test glasses, with the baselines measured on the same atoms, go
between ``<!-- protocols-table:start -->`` and ``<!-- protocols-table:end -->`` of the files that
have those markers (models/README.md, docs/models-evaluation.md).
``--check`` exits 1 when a file's table differs from the cards (used by the tests).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
START, END = "<!-- models-table:start -->", "<!-- models-table:end -->"

TARGETS = {  # the project's targets, quoted beside the measured figures
    "Plastic Susceptibility": "balanced accuracy >= 0.85, C_rank >= 0.9 at 5 %",
    "Quench-in Softness": "AUC >= 0.75",
    "Structural Flexibility": "Pearson rho >= 0.8",
}


def _f(x, digits=3) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def _cards(models_dir: Path) -> list[dict]:
    out = []
    for card_path in sorted(models_dir.glob("*/card.json")):
        card = json.loads(card_path.read_text())
        if card.get("demo"):
            continue
        card["_dir"] = card_path.parent.name
        out.append(card)
    order = {"susceptibility": 0, "dfs": 1, "qs": 2, "sf": 3, "susceptibility_2d": 4}
    return sorted(out, key=lambda c: (order.get(c["_dir"], 9), c["_dir"]))


def _data(card: dict) -> str:
    d = card["training"]["data"]
    common = d.get("common", {})
    system = common.get("system") or {}
    name = system.get("name") if isinstance(system, dict) else system
    glass = common.get("glass") or (common.get("campaign_config") or {}).get("glass") or {}
    rate = glass.get("quench_rate")
    if rate is None:  # the glasses' protocols differ elsewhere (e.g. orientations): one rate for all?
        rates = {(g.get("glass") or {}).get("quench_rate") for g in (d.get("per_glass") or {}).values()}
        rate = rates.pop() if len(rates) == 1 else None
    rate_text = f", quench {rate:.0e} K/s" if rate and card.get("dimensions") == 3 else ""
    return (f"{name or common.get('campaign', '?')}: {d.get('n_glasses', '?')} glasses, "
            f"{d.get('n_atoms', 0):,} atoms{rate_text}")


def _measured(card: dict) -> tuple[str, str]:
    v = card["metrics"]["values"]
    prop = card["property"]
    if prop == "Plastic Susceptibility":
        s = card["label"]["strain"]
        main = (f"at {100 * s:g} %: balanced accuracy {_f(v.get('balanced_accuracy'))}, AUC {_f(v.get('auc_roc'))}, "
                f"C_rank {_f(v.get('c_rank'))}, overlap {_f(v.get('overlap_ratio'))}")
        if v.get("auc_roc_other_orientation_labels") is not None:
            main += f"; against the other loadings' labels (mean): AUC {_f(v['auc_roc_other_orientation_labels'])}"
        names = [k[len("baseline_"):-len("_c_rank")] for k in v
                 if k.startswith("baseline_") and k.endswith("_c_rank") and "@" not in k]
        base = [f"{n} AUC {_f(v.get(f'baseline_{n}_auc_roc'))}, C_rank {_f(v[f'baseline_{n}_c_rank'])}"
                for n in names]
    elif prop == "Quench-in Softness":
        main = (f"AUC {_f(v.get('auc_roc'))}, balanced accuracy {_f(v.get('balanced_accuracy'))}, "
                f"C_rank {_f(v.get('c_rank'))} ({v.get('n_plastic', 0):.0f} plastic atoms)")
        base = [f"{k[len('baseline_'):-len('_auc_roc')]} AUC {_f(x)}" for k, x in v.items()
                if k.startswith("baseline_") and k.endswith("_auc_roc")]
        extra = [f"{k[len('transfer_'):-len('_auc_roc')]} AUC {_f(x)}" for k, x in v.items()
                 if k.startswith("transfer_") and k.endswith("_auc_roc")]
        if extra:
            main += "; transfer: " + ", ".join(extra)
    else:
        rhos = {k[len("pearson_ln_vflex_"):]: x for k, x in v.items() if k.startswith("pearson_ln_vflex_")
                and not k.startswith("pearson_ln_vflex_noise_free")}
        main = "Pearson rho (ln v_flex) " + ", ".join(f"{sp} {_f(x)}" for sp, x in sorted(rhos.items()))
        rel = {sp: v.get(f"label_reliability_{sp}") for sp in sorted(rhos)}
        if all(x is not None for x in rel.values()):
            free = ", ".join(f"{sp} {_f(v.get(f'pearson_ln_vflex_noise_free_estimate_{sp}'), 2)}" for sp in rel)
            main += (f" (label reliability {', '.join(f'{sp} {_f(x, 2)}' for sp, x in rel.items())}: "
                     f"rho / sqrt(R) = {free})")
        base = [f"{k.split('_pearson_ln_vflex_')[0][len('baseline_'):]} rho {k.rsplit('_', 1)[1]} {_f(x)}"
                for k, x in v.items() if k.startswith("baseline_") and "_pearson_ln_vflex_" in k]
    return main, "; ".join(base) or "–"


def table(models_dir: Path) -> str:
    cards = _cards(models_dir)
    if not cards:
        return "**No trained model ships yet.**\n"
    lines = ["| model | property | trained on | label | held-out test set | measured (held-out glasses) | "
             "baselines, same atoms | target |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for c in cards:
        v = c["metrics"]["values"]
        label = c["label"]
        if c["property"] == "Plastic Susceptibility":
            lab = f"top {100 * label['f_thres']:g} % D2min at {100 * label['strain']:g} %"
            own = label.get("lead_member_label")
            if own:
                lab += f" (CNN member trained on top {100 * own['f_thres']:g} % at {100 * own['strain']:g} %)"
        elif c["property"] == "Quench-in Softness":
            loadings = label.get("orientations") or [label.get("orientation", "xy")]
            where = loadings[0] if len(loadings) == 1 else f"{len(loadings)} loadings"
            lab = f"D2min > {label['threshold']:.2f} Å² at {100 * label['strain']:g} % ({where})"
        else:
            lab = "ln v_flex = ln(MSD Ω^(1/3))"
        n = int(v.get("n_glasses", 0))
        test = f"{n} glass{'es' if n != 1 else ''}, {v.get('n_atoms', 0):,.0f} atoms"
        main, base = _measured(c)
        dims = f"{c['dimensions']}D " if c["dimensions"] == 2 else ""
        prop = c["property"]
        if c["kind"] == "ensemble":
            prop += f" (ensemble: {' + '.join(c['descriptor']['settings']['members'])})"
        lines.append(f"| `{c['_dir']}` | {dims}{prop} | {_data(c)} | {lab} | {test} | {main} | {base} | "
                     f"{TARGETS.get(c['property'], '–')} |")
    return "\n".join(lines) + "\n"


PSTART, PEND = "<!-- protocols-table:start -->", "<!-- protocols-table:end -->"
PROTOCOL_FILES = ("models/README.md", "docs/models-evaluation.md")
SHIPPED = ("susceptibility", "dfs", "qs", "sf")
#: baselines read from the first shipped card that has them (all are scored on the same atoms)
REFERENCES = {"cnn": "CNN member alone", "radial_svm": "radial SVM", "voronoi_volume": "Voronoi volume",
              "v_flex": "simulated v_flex (MD, a reference)"}


def _pct(key: str) -> str:
    return f"{100 * float(key):g} %"


def _cell(row: dict | None, protocol: str) -> str:
    if not row:
        return "–"
    if protocol == "paper":
        if "accuracy" in row:
            return f"{row['accuracy']:.3f} ({row.get('auc_roc', float('nan')):.3f})"
        return f"{row.get('balanced_split_accuracy', float('nan')):.3f}* ({row.get('auc_roc', float('nan')):.3f})"
    return f"{row.get('auc_roc', float('nan')):.3f} / {row.get('c_rank', float('nan')):.3f}"


def protocols_table(models_dir: Path) -> str:
    """Both protocols per preparation: the shipped models (each from its own card) and the
    baselines (from the first card that scored them), at every strain any card evaluated."""
    blocks = {}
    for name in SHIPPED:
        path = models_dir / name / "card.json"
        if path.is_file():
            block = json.loads(path.read_text()).get("metrics", {}).get("protocols")
            if block:
                blocks[name] = block
    if not blocks:
        return "**Not measured in both protocols yet** (`python scripts/evaluate_shipped.py`).\n"
    first = next(iter(blocks.values()))
    strains = sorted({s for b in blocks.values() for s in b.get("strains_requested", [])}, key=float)
    preps = sorted({p for b in blocks.values() for p in b.get("preparations", {})})
    lines = [f"Measured on {first['evaluated_on']}; loadings {', '.join(first.get('loadings', []))}. "
             "Strains a glass lacks are left out (–), never interpolated."]
    for protocol, title, what in (
            ("paper", "Papers' protocol (Fan & Ma 2021)",
             "accuracy of the model's own decision (p > 0.5; radial SVM: its decision function > 0) on balanced "
             "sets of all top-0.5 % atoms plus as many random others, the exact mean over the draws; * a score "
             "without a decision of its own: the upper half of each balanced set called plastic. In brackets: "
             "AUC for the top-0.5 % label"),
            ("top5", "Project's figures", "AUC / C_rank for the top 5 % of D2min, mean over the glass-loadings")):
        for prep in preps:
            glasses = sorted({g for b in blocks.values() for g in b.get("preparations", {}).get(prep, {})
                              .get("glasses", [])})
            lines += ["", f"**{title}, preparation {prep}** ({len(glasses)} test glasses): {what}.", "",
                      "| predictor | " + " | ".join(_pct(s) for s in strains) + " |",
                      "| --- |" + " --- |" * len(strains)]

            def row_of(block, key, s):
                b = block.get(protocol, {}).get("strains", {}).get(s)
                return (b or {}).get("by_preparation", {}).get(prep, {}).get(key) if b else None

            for name, block in blocks.items():
                lines.append(f"| `{name}` | " + " | ".join(_cell(row_of(block, "model", s), protocol)
                                                          for s in strains) + " |")
            for key, label in REFERENCES.items():
                src = next((b for b in blocks.values() if any(row_of(b, key, s) for s in strains)), None)
                if src is not None:
                    lines.append(f"| {label} | " + " | ".join(_cell(row_of(src, key, s), protocol)
                                                             for s in strains) + " |")
    loadings = blocks.get("susceptibility", first)
    s5 = next((s for s in loadings.get("strains_evaluated", []) if abs(float(s) - 0.05) < 1e-9), None)
    if s5 is not None:
        per = loadings["paper"]["strains"][s5]["by_loading"]
        model = "susceptibility" if "susceptibility" in blocks else next(iter(blocks))
        lines += ["", f"**Papers' protocol by loading**, `{model}` at 5 % (all preparations): "
                  + ", ".join(f"{o} {_cell(r.get('model'), 'paper')}" for o, r in sorted(per.items())) + "."]
    lines += _own_system_tables(models_dir)
    return "\n".join(lines) + "\n"


#: models measured on glasses of their own system (not the Cu-Zr test glasses): (folder, title)
OWN_SYSTEM = (("susceptibility_2d", "2D Lennard-Jones (Falk-Langer mixture)"),)


def _own_system_tables(models_dir: Path) -> list[str]:
    """Both protocols for each model of :data:`OWN_SYSTEM` that carries ``metrics.protocols``, with
    the baselines its card scored on the same atoms."""
    lines = []
    for name, title in OWN_SYSTEM:
        path = models_dir / name / "card.json"
        block = json.loads(path.read_text()).get("metrics", {}).get("protocols") if path.is_file() else None
        if not block:
            continue
        strains = [s for s in block.get("strains_requested", []) if s in block.get("strains_evaluated", [])]
        lines += ["", f"**{title}: `{name}`**, measured on {block['evaluated_on']}; loadings "
                  f"{', '.join(block.get('loadings', []))}; papers' protocol (accuracy, in brackets AUC for the "
                  "top-0.5 % label) and project's figures (AUC / C_rank for the top 5 %). QS, SF and v_flex "
                  "are Cu-Zr quantities and have no 2D counterpart here.", "",
                  "| predictor | protocol | " + " | ".join(_pct(s) for s in strains) + " |",
                  "| --- | --- |" + " --- |" * len(strains)]
        for key, label in (("model", f"`{name}`"), ("radial_svm", "radial SVM"), ("voronoi_volume", "Voronoi volume")):
            for protocol, what in (("paper", "papers'"), ("top5", "top 5 %")):
                cells = [_cell(block.get(protocol, {}).get("strains", {}).get(s, {}).get("all", {}).get(key), protocol)
                         for s in strains]
                if any(c != "–" for c in cells):
                    lines.append(f"| {label} | {what} | " + " | ".join(cells) + " |")
    return lines


def _replace(text: str, block: str, path: Path, start: str = START, end: str = END) -> str:
    if start not in text or end not in text:
        raise SystemExit(f"{path}: markers {start} / {end} are missing")
    a, b = text.index(start) + len(start), text.index(end)
    return text[:a] + "\n" + block + text[b:]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args(argv)
    block = table(ROOT / "models")
    stale = []
    for path in (ROOT / "models" / "README.md", ROOT / "docs" / "models.md"):
        text = path.read_text(encoding="utf-8")
        new = _replace(text, block, path)
        if new != text:
            stale.append(str(path.relative_to(ROOT)))
            if not args.check:
                path.write_text(new, encoding="utf-8")
    pblock = protocols_table(ROOT / "models")
    for rel in PROTOCOL_FILES:
        path = ROOT / rel
        text = path.read_text(encoding="utf-8") if path.is_file() else ""
        if PSTART not in text:
            continue
        new = _replace(text, pblock, path, PSTART, PEND)
        if new != text:
            stale.append(rel)
            if not args.check:
                path.write_text(new, encoding="utf-8")
    if args.check and stale:
        print("the model table is out of date in " + ", ".join(stale) + ": run python scripts/models_report.py")
        return 1
    print(block)
    return 0


if __name__ == "__main__":
    sys.exit(main())
