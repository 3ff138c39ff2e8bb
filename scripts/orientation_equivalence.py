"""Which cube loading orientations give different D2min labels?  A measurement on one glass.

Simple shear along s on the plane with normal n has the deformation gradient F = I + g s n^T.
(s, n) and (-s, -n) give the same F, so the same labels exactly.  The conjugate (n, s) has the same
symmetric (small) strain and differs only by a rotation plus a stretch of order g^2 (0.25 % at
5 % strain); the opposite sense (s, -n) has the opposite strain.  This script shears one glass of a
campaign in the orientations given (AQS, the campaign's protocol, up to --max-strain) and prints,
against the campaign's own xy labels at every common snapshot strain, the Pearson correlation of
ln D2min, the Spearman correlation, and the overlap of the top 5 % of D2min.

    python scripts/orientation_equivalence.py runs/cuzr50_4k g0001 yx x-y --max-strain 0.05

Results go to runs/exp/orientation/<campaign>/<glass>/shear_<orientation>/ (resumable).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from ovito_glassml.analysis.metrics import overlap_ratio
from ovito_glassml.simulation.generate import CampaignConfig
from ovito_glassml.simulation.protocol import _load_glass, shear_aqs


def compare(ref: dict, other: dict) -> list[dict]:
    rows = []
    for i, g in enumerate(ref["snapshot_strains"]):
        j = np.flatnonzero(np.isclose(other["snapshot_strains"], g))
        if not len(j):
            continue
        a, b = ref["d2min"][i], other["d2min"][j[0]]
        la, lb = np.log(a + 1e-6), np.log(b + 1e-6)
        rows.append({"strain": float(g), "pearson_ln_d2min": float(np.corrcoef(la, lb)[0, 1]),
                     "spearman": float(spearmanr(a, b).statistic), "top5_overlap": overlap_ratio(b, a, 0.05)})
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("campaign", help="campaign work directory, e.g. runs/cuzr50_4k")
    p.add_argument("glass", help="glass folder name, e.g. g0001")
    p.add_argument("orientations", nargs="+", help="orientations to shear and compare with xy")
    p.add_argument("--reference", default="xy")
    p.add_argument("--max-strain", type=float, default=0.05)
    p.add_argument("--workdir", default="runs/exp/orientation")
    a = p.parse_args(argv)
    camp = Path(a.campaign)
    cfg = CampaignConfig.from_dict(json.loads((camp / "campaign.json").read_text()))
    system = cfg.spec()
    shear = dataclasses.replace(cfg.shear, max_strain=a.max_strain,
                                snapshot_strains=tuple(g for g in cfg.shear.snapshot_strains if g <= a.max_strain))
    inherent = _load_glass(camp / a.glass / "glass_is.npz")
    ref_path = camp / a.glass / f"shear_{a.reference}" / "result.npz"
    if not ref_path.exists():
        sys.exit(f"{ref_path} is missing: run the campaign's {a.reference} shear of {a.glass} first")
    ref = dict(np.load(ref_path))
    out = Path(a.workdir) / camp.name / a.glass
    results = {}
    for o in a.orientations:
        r = shear_aqs(system, inherent, o, shear, out / f"shear_{o}",
                      progress=lambda m: print(m, flush=True))
        results[o] = compare(ref, r)
    print(f"\n{camp.name}/{a.glass}: D2min of each orientation against {a.reference} "
          f"({len(ref['d2min'][0])} atoms; top-5 % overlap of unrelated labels is 0.05)")
    print(f"{'orientation':>12} {'strain':>7} {'pearson ln':>11} {'spearman':>9} {'top5 overlap':>13}")
    for o, rows in results.items():
        for r in rows:
            print(f"{o:>12} {r['strain']:7.3f} {r['pearson_ln_d2min']:11.3f} {r['spearman']:9.3f} "
                  f"{r['top5_overlap']:13.3f}")
    (out / "comparison.json").write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
