"""Paper 003's test on our own glasses: does the density of fertile sites point at the shear band?

For every glass of the data sets given: the band is located from the glass's own D2min at its
largest snapshot strain (the top 5 % most strained atoms, `analysis.dfs.locate_shear_band`, in the
undeformed inherent structure, loading orientation xy); the DFS profiles along X and Y are
computed on the undeformed glass from each predictor's fertile sites; printed are the band
(axis, position, contrast), and per predictor the fertile fraction, Δ, the brittle verdict and the
figure of merit γ (1 = the band sits at the highest DFS; 0.5 = no relation).  Predictors:

* every model given with --model NAME (fertile: predicted value > 0.5, as paper 003 does with the
  CNN's class probability; QS is a class probability too);
* ``oracle``: the atoms in the top 5 % of D2min at --oracle-strain (5 %), i.e. what a perfect
  susceptibility predictor would mark; its γ is the ceiling for this glass and slab width.

    python scripts/shear_band_check.py data/cuzr50_16k --model qs --model dfs --model susceptibility
    python scripts/shear_band_check.py data/cuzr50_4k/cuzr50_4k_g0013.npz --model qs --slab-width 12

A mean γ over glasses near 0.5 means the predictor says nothing about where the band starts.
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
from ovito_glassml.training.dataset import load_dataset


def _files(paths: list[str]) -> list[Path]:
    out: list[Path] = []
    for p in map(Path, paths):
        out.extend(sorted(p.glob("*.npz")) if p.is_dir() else [p])
    return out


def score_band(config, d2min_band, d2min_oracle, models: dict, slab_width: float, band_width: float = 10.0,
               band_fraction: float = 0.05):
    """Locate the band from ``d2min_band`` and score every predictor against it: returns the band
    and {label: fertile_fraction, delta, brittle, gamma}; ``d2min_oracle`` (or None) adds the oracle
    (top 5 % of that D2min)."""
    band = locate_shear_band(config, d2min_band, fraction=band_fraction, slab_width=band_width)
    values = {}
    if d2min_oracle is not None:
        values["oracle"] = top_fraction_mask(d2min_oracle, 0.05).astype(float)
    for label, m in models.items():
        values[label] = np.asarray(m.predict(config), float).reshape(config.count, -1)[:, 0]
    scores = {}
    for label, v in values.items():
        res = dfs_analysis(config, v, axes="XY", slab_width=slab_width)
        scores[label] = {"fertile_fraction": float(np.mean(v > 0.5)), "delta": res.delta, "brittle": res.brittle,
                         "gamma": figure_of_merit(res, band.position, axis=band.axis)}
    return band, scores


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("datasets", nargs="+", help="data-set files or folders")
    p.add_argument("--model", action="append", default=[], metavar="[LABEL=]MODEL",
                   help="predictor: an installed model name or a model folder (repeatable)")
    p.add_argument("--orientation", default="xy")
    p.add_argument("--band-strain", type=float, default=None, help="default: the largest snapshot strain")
    p.add_argument("--band-fraction", type=float, default=0.05)
    p.add_argument("--band-width", type=float, default=10.0, help="slab width (Å) for locating the band")
    p.add_argument("--slab-width", type=float, default=19.0, help="DFS slab width ω (Å); paper 003: 19")
    p.add_argument("--oracle-strain", type=float, default=0.05)
    p.add_argument("-o", "--output", default=None, help="write the rows as JSON here")
    a = p.parse_args(argv)

    models = {}
    for spec in a.model:
        label, _, path = spec.rpartition("=")
        m = load_model(path)
        models[label or m.card.name] = m
    rows = []
    for f in _files(a.datasets):
        ds = load_dataset(f)
        o = ds.orientations.get(a.orientation)
        if o is None:
            print(f"{f.name}: no {a.orientation} shear; skipped", file=sys.stderr)
            continue
        if not np.allclose(o["rotation"], np.eye(len(o["rotation"]))):
            sys.exit(f"{f.name}: orientation {a.orientation} is not the sample frame; this script handles xy only")
        strains = np.asarray(o["snapshot_strains"], float)
        g_band = strains.max() if a.band_strain is None else a.band_strain
        kb = int(np.argmin(np.abs(strains - g_band)))
        config = ds.configuration()
        width = min(a.slab_width, float(min(config.widths[:2])))
        ko = np.flatnonzero(np.isclose(strains, a.oracle_strain))
        band, scores = score_band(config, o["d2min"][kb], o["d2min"][ko[0]] if len(ko) else None, models, width,
                                  a.band_width, a.band_fraction)
        row = {"glass": f.stem, "atoms": config.count, "box": [round(float(w), 2) for w in config.widths],
               "band_strain": float(strains[kb]), "band_axis": band.axis, "band_position": band.position,
               "band_contrast": band.contrast, "slab_width": width, "predictors": scores}
        rows.append(row)
        preds = "  ".join(f"{k}: Δ {v['delta']:.3f} γ {v['gamma']:.2f}" for k, v in row["predictors"].items())
        print(f"{f.stem}: band ⟂ {band.axis.upper()} at {band.position:.1f} Å (strain {strains[kb]:.2f}, "
              f"contrast {band.contrast:.1f}); ω {width:g} Å; {preds}", flush=True)
    if rows:
        print("\nmean γ over", len(rows), "glasses:",
              "  ".join(f"{k} {np.mean([r['predictors'][k]['gamma'] for r in rows]):.2f}"
                        for k in rows[0]["predictors"]))
    if a.output:
        Path(a.output).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
