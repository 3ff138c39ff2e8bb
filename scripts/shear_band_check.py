"""Fan, Ma & Falk's test on our own glasses: does the density of fertile sites point at the shear band?

For every glass of the data sets given and every loading orientation it was sheared in: the band is
located from the glass's own D2min at its largest snapshot strain (as Fan, Ma & Falk (2022) do: the top 1 %
most strained atoms in slabs of omega_SB = 19 A; `--band-fraction`, `--band-width`; the defaults of
`analysis.dfs.locate_shear_band` are 5 % and 10 A), on the undeformed inherent structure mapped into
the loading frame (X = shear direction, Y = shear-plane normal, as the paper maps every one of its
24 loadings); the DFS profiles along X and Y are computed on the same positions from each
predictor's fertile sites (orientation-aware models predict in that loading's frame); printed are
the band (axis, position, contrast), and per predictor the fertile fraction, Δ, the brittle verdict
and the figure of merit γ (1 = the band sits at the highest DFS; 0.5 = no relation; Fan, Ma & Falk (2022):
mean 0.712 for its CNN over 20 glasses x 24 loadings of 32,000 atoms).  Predictors:

* every model given with --model NAME (fertile: predicted value > 0.5, as Fan, Ma & Falk (2022) do with the
  CNN's class probability; QS is a class probability too; `--top sf=0.2`: the top 20 % of a
  model's values, as Fan, Ma & Falk (2022) do with v_flex);
* ``oracle``: the atoms in the top 5 % of D2min at --oracle-strain (5 %), i.e. what a perfect
  susceptibility predictor would mark; its γ is the ceiling for this glass and slab width.

    python scripts/shear_band_check.py data/cuzr50_16k --model qs --model dfs --model susceptibility
    python scripts/shear_band_check.py data/cuzr50_4k --orientation xy --orientation x-y --model qs -o rows.json

A mean γ over glasses near 0.5 means the predictor says nothing about where the band starts.

``--record LABEL=FOLDER`` writes that predictor's summary into the model card in FOLDER
(``metrics.shear_band``, one entry per set of glasses: the glasses and their preparation, mean γ
± s.e.m. beside the oracle's, median Δ beside its noise reference, the date and the command), so
that ``glassml predict`` and ``glassml models -v`` can say what the DFS verdict was validated on;
``--from-rows FILE`` takes the rows of an earlier ``-o`` run instead of scoring again:

    python scripts/shear_band_check.py data/cuzr50_16k --from-rows docs/shear_band/cuzr50_16k.json \
        --record dfs=models/dfs
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from ovito_glassml.analysis.dfs import dfs_analysis, figure_of_merit, locate_shear_band
from ovito_glassml.analysis.metrics import top_fraction_mask
from ovito_glassml.inference.runtime import load_model
from ovito_glassml.simulation.dataset import load_dataset


def _files(paths: list[str]) -> list[Path]:
    out: list[Path] = []
    for p in map(Path, paths):
        out.extend(sorted(p.glob("*.npz")) if p.is_dir() else [p])
    return out


def score_band(config, d2min_band, d2min_oracle, models: dict, slab_width: float, band_width: float = 19.0,
               band_fraction: float = 0.01, rotation=None, top: dict | None = None, slabs=None,
               permutations: int = 200):
    """Locate the band from ``d2min_band`` and score every predictor against it: returns the band
    and {label: fertile_fraction, delta, brittle, gamma, delta_noise, delta_p_value} (the Δ of
    ``permutations`` random placements of the same fertile sites); ``d2min_oracle`` (or None) adds the oracle
    (top 5 % of that D2min).  ``rotation`` (default: the sample frame, i.e. loading xy) is the
    loading frame: models predict in it (on ``config``) and the slabs are cut along its X and Y on
    ``slabs``, the same atoms in that frame (``GlassDataset.configuration(orientation)``; default
    ``config``, right for the sample frame only).  Fertile sites are
    the atoms predicted above 0.5, or for a label in ``top`` ({label: fraction}) the top fraction of
    its predictions (Fan, Ma & Falk (2022) take the top 20 % of v_flex)."""
    frame = np.eye(3) if rotation is None else np.asarray(rotation, float)
    if slabs is None:
        if not np.allclose(frame, np.eye(3)):
            raise ValueError("give the configuration in the loading frame (slabs=) for a rotated loading")
        slabs = config
    band = locate_shear_band(slabs, d2min_band, fraction=band_fraction, slab_width=band_width)
    values = {}
    if d2min_oracle is not None:
        values["oracle"] = top_fraction_mask(d2min_oracle, 0.05).astype(float)
    for label, m in models.items():
        v = np.asarray(m.predict(config, frame=frame), float).reshape(config.count, -1)[:, 0]
        values[label] = top_fraction_mask(v, top[label]).astype(float) if label in (top or {}) else v
    scores = {}
    for label, v in values.items():
        res = dfs_analysis(slabs, v, axes="XY", slab_width=slab_width, permutations=permutations)
        fertile = float(np.mean(v > 0.5))
        # with no fertile site (or only fertile sites) every location ties and γ would be 1: undefined
        gamma = figure_of_merit(res, band.position, axis=band.axis) if 0.0 < fertile < 1.0 else float("nan")
        scores[label] = {"fertile_fraction": fertile, "delta": res.delta, "brittle": res.brittle, "gamma": gamma,
                         "delta_noise": res.delta_noise, "delta_p_value": res.delta_p_value}
    return band, scores


def mean_gamma(rows: list[dict]) -> dict:
    """Per predictor: mean γ over the rows where it is defined, its standard error, and n."""
    out = {}
    for k in (rows[0]["predictors"] if rows else {}):
        g = np.array([r["predictors"][k]["gamma"] for r in rows], float)
        g = g[np.isfinite(g)]  # γ is undefined where a predictor marked no (or every) atom fertile
        out[k] = {"mean": float(g.mean()) if len(g) else float("nan"),
                  "sem": float(g.std(ddof=1) / np.sqrt(len(g))) if len(g) > 1 else float("nan"), "n": len(g)}
    return out


def delta_summary(rows: list[dict]) -> dict:
    """Per predictor: median Δ, median Δ of random placements, and in how many rows Δ is brittle
    (> 6 %) and beyond the noise (p < 0.05)."""
    out = {}
    for k in (rows[0]["predictors"] if rows else {}):
        v = [r["predictors"][k] for r in rows]
        out[k] = {"median_delta": float(np.median([x["delta"] for x in v])),
                  "median_delta_noise": float(np.median([x["delta_noise"] for x in v])),
                  "brittle": int(sum(x["brittle"] for x in v)),
                  "p_below_0.05": int(sum(x["delta_p_value"] < 0.05 for x in v)), "n": len(v)}
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("datasets", nargs="+", help="data-set files or folders")
    p.add_argument("--model", action="append", default=[], metavar="[LABEL=]MODEL",
                   help="predictor: an installed model name or a model folder (repeatable)")
    p.add_argument("--top", action="append", default=[], metavar="LABEL=FRACTION",
                   help="fertile sites of that predictor: its top FRACTION, not values > 0.5 (for SF: sf=0.2, "
                        "as Fan, Ma & Falk (2022) do with v_flex)")
    p.add_argument("--orientation", action="append", default=None,
                   help="loading orientation to check (repeatable; default: every one the file has)")
    p.add_argument("--band-strain", type=float, default=None, help="default: the largest snapshot strain")
    p.add_argument("--band-fraction", type=float, default=0.01,
                   help="the most strained fraction that marks the band; Fan, Ma & Falk (2022): 0.01")
    p.add_argument("--band-width", type=float, default=19.0, help="slab width ω_SB (Å) for locating the band; "
                   "Fan, Ma & Falk (2022): 19")
    p.add_argument("--slab-width", type=float, default=19.0, help="DFS slab width ω (Å); Fan, Ma & Falk (2022): 19")
    p.add_argument("--oracle-strain", type=float, default=0.05)
    p.add_argument("-o", "--output", default=None, help="write the rows as JSON here")
    p.add_argument("--record", action="append", default=[], metavar="LABEL=FOLDER",
                   help="write this predictor's summary into the card in FOLDER (metrics.shear_band; repeatable)")
    p.add_argument("--from-rows", default=None, metavar="FILE",
                   help="the rows of an earlier -o run (with --record): no model is run")
    a = p.parse_args(argv)
    records = []
    for spec in a.record:
        label, sep, folder = spec.partition("=")
        if not sep or not Path(folder, "card.json").is_file():
            p.error(f"--record {spec}: give LABEL=FOLDER with a model card in FOLDER")
        records.append((label, Path(folder)))
    if a.from_rows:
        if not records:
            p.error("--from-rows only serves --record")
        saved = json.loads(Path(a.from_rows).read_text())
        for label, folder in records:
            entry = record_entry(saved["rows"], label, _files(a.datasets), saved.get("command", ""),
                                 measured=_rows_date(Path(a.from_rows)))
            write_record(folder, entry)
        return 0

    models = {}
    for spec in a.model:
        label, _, path = spec.rpartition("=")
        m = load_model(path)
        models[label or m.card.name] = m
    top = {}
    for spec in a.top:
        label, _, frac = spec.partition("=")
        if label not in models:
            p.error(f"--top {spec}: no predictor labelled {label!r} (labels: {', '.join(models) or 'none'})")
        top[label] = float(frac)
    rows = []
    for f in _files(a.datasets):
        ds = load_dataset(f)
        config = ds.configuration()
        for name in a.orientation or list(ds.orientations):
            o = ds.orientations.get(name)
            if o is None:
                print(f"{f.name}: no {name} shear; skipped", file=sys.stderr)
                continue
            strains = np.asarray(o["snapshot_strains"], float)
            g_band = strains.max() if a.band_strain is None else a.band_strain
            kb = int(np.argmin(np.abs(strains - g_band)))
            lengths = np.abs(np.asarray(o["rotation"], float)) @ np.asarray(config.widths, float)  # loading frame
            width = min(a.slab_width, float(min(lengths[:2])))
            ko = np.flatnonzero(np.isclose(strains, a.oracle_strain))
            band, scores = score_band(config, o["d2min"][kb], o["d2min"][ko[0]] if len(ko) else None, models, width,
                                      a.band_width, a.band_fraction, rotation=o["rotation"], top=top,
                                      slabs=ds.configuration(name))
            row = {"glass": f.stem, "orientation": name, "atoms": config.count,
                   "box": [round(float(w), 2) for w in config.widths], "band_strain": float(strains[kb]),
                   "band_fraction": a.band_fraction, "band_width": a.band_width, "band_axis": band.axis,
                   "band_position": band.position, "band_contrast": band.contrast, "slab_width": width,
                   "fertile_top_fraction": top, "predictors": scores}
            rows.append(row)
            preds = "  ".join(f"{k}: Δ {v['delta']:.3f} (random sites {v['delta_noise']:.3f}, p {v['delta_p_value']:.2g}) "
                              f"γ {v['gamma']:.2f}" for k, v in row["predictors"].items())
            print(f"{f.stem} {name}: band ⟂ {band.axis.upper()} at {band.position:.1f} Å (strain {strains[kb]:.2f}, "
                  f"contrast {band.contrast:.1f}); ω {width:g} Å; {preds}", flush=True)
    mean = mean_gamma(rows)
    deltas = delta_summary(rows)
    if rows:
        print("Δ over", len(rows), "glass-loadings (median; random sites; brittle; p < 0.05):",
              "  ".join(f"{k} {v['median_delta']:.3f}; {v['median_delta_noise']:.3f}; {v['brittle']}; {v['p_below_0.05']}"
                        for k, v in deltas.items()))
        print("\nmean γ over", len(rows), "glass-loadings:",
              "  ".join(f"{k} {v['mean']:.2f}" + (f" ± {v['sem']:.2f}" if v["n"] > 1 else "")
                        for k, v in mean.items()))
    command = " ".join(["python scripts/shear_band_check.py", *(sys.argv[1:] if argv is None else argv)])
    if a.output:
        Path(a.output).write_text(json.dumps({"command": command, "mean_gamma": mean, "delta": deltas, "rows": rows},
                                             indent=1))
    for label, folder in records:
        write_record(folder, record_entry(rows, label, _files(a.datasets), command))
    return 0


def _rows_date(path: Path) -> str:
    """When a rows file was written: its last commit date, else its modification date."""
    import datetime
    import subprocess

    try:
        out = subprocess.run(["git", "log", "-1", "--format=%cs", "--", str(path)], capture_output=True, text=True,
                             cwd=Path(path).resolve().parent, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        out = ""
    return out or datetime.date.fromtimestamp(Path(path).stat().st_mtime).isoformat()


def record_entry(rows: list[dict], label: str, files: list[Path], command: str, measured: str | None = None) -> dict:
    """The card's summary of one predictor over ``rows``: glasses, their preparation (read from
    the data-set files' provenance), mean γ ± s.e.m. and the oracle's, median Δ and its noise."""
    import datetime

    from ovito_glassml.training.samples import preparation_record

    mine = [r for r in rows if label in r["predictors"]]
    if not mine:
        raise SystemExit(f"no row holds the predictor {label!r}; labels: "
                         f"{sorted({k for r in rows for k in r['predictors']})}")
    glasses = sorted({r["glass"] for r in mine})
    by_stem = {f.stem: f for f in files}
    missing = [g for g in glasses if g not in by_stem]
    if missing:
        raise SystemExit(f"the rows name glasses whose data-set files were not given: {missing}; give their files "
                         "or folders as DATASETS, to read their preparation")

    class _Prov:  # what preparation_record reads
        def __init__(self, provenance):
            self.provenance = provenance

    preps = sorted({preparation_record(_Prov(load_dataset(by_stem[g]).provenance))["preparation"] for g in glasses})
    mean = mean_gamma(mine)
    delta = delta_summary(mine)
    oracle = mean.get("oracle", {})
    entry = {"glasses_key": f"{glasses[0]}..{glasses[-1]}" if len(glasses) > 1 else glasses[0],
            "glasses": glasses, "n": len(mine), "atoms": sorted({r["atoms"] for r in mine}),
            "preparations": preps, "gamma_mean": mean[label]["mean"], "gamma_sem": mean[label].get("sem"),
            "oracle_gamma_mean": oracle.get("mean"), "oracle_gamma_sem": oracle.get("sem"),
            "median_delta": delta[label]["median_delta"], "median_delta_noise": delta[label]["median_delta_noise"],
            "fertile_rule": (f"top {mine[0]['fertile_top_fraction'][label]:g} of the values"
                             if label in mine[0].get("fertile_top_fraction", {}) else "value > 0.5"),
            "band": "; ".join(sorted({f"top {100 * r['band_fraction']:g} % of D2min at {100 * r['band_strain']:g} % "
                                      f"strain, {r['band_width']:g} A slabs" for r in mine})),
            "measured": measured or datetime.date.today().isoformat(), "command": command}
    return {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in entry.items()}


def write_record(folder: Path, entry: dict) -> None:
    """Put ``entry`` into ``metrics.shear_band`` of the card in ``folder`` and save the card, sealed
    again.  It replaces an entry of the same glasses, and an entry of fewer of them with the same
    band definition (an early read on the first glasses of a set, grown as more land)."""
    from ovito_glassml.inference.cards import CARD_FILE, ModelCard

    path = Path(folder) / CARD_FILE
    data = json.loads(path.read_text(encoding="utf-8"))

    def superseded(e: dict) -> bool:
        if e.get("glasses_key") == entry["glasses_key"]:
            return True
        return e.get("band") == entry["band"] and set(e.get("glasses") or ()) < set(entry["glasses"])

    kept = [e for e in data.setdefault("metrics", {}).get("shear_band", []) if not superseded(e)]
    data["metrics"]["shear_band"] = kept + [entry]
    card = ModelCard.from_dict(data, directory=path.parent, source=path)
    card.save(path.parent)
    print(f"{path}: shear-band test of {card.name!r}: {card.shear_band_text()}")


if __name__ == "__main__":
    raise SystemExit(main())
