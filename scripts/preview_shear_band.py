"""Preview of paper 003's check on an unfinished 16k shear, from its work-directory snapshots.

    python scripts/preview_shear_band.py [SEED] [BAND_STEP]     (defaults: 0101 100, i.e. 10 % strain)

Needs runs/cuzr50_16k/gSEED/shear_xy/snap_BAND_STEP.npz and snap_00050.npz (a running or packed
AQS run).  Computes D2min (OVITO, cutoff 5 A) of both snapshots against the inherent structure,
locates the band (top 5 % of D2min at BAND_STEP), and prints Delta and the figure of merit gamma
of the shipped qs, dfs and susceptibility models and of the oracle (top 5 % of D2min at 5 %).
Session 9 used it on g0101 at 10 % before the run had finished; once the glass is complete,
scripts/shear_band_check.py does the same from the committed data-set file.
"""
import sys
from pathlib import Path

import numpy as np
from ovito_glassml.training.dataset import load_dataset
from ovito_glassml.training.protocol import rotate_to_loading_frame
from ovito_glassml.training import labels
from ovito_glassml.descriptors.geometry import orientation_frame
from ovito_glassml.analysis.dfs import dfs_analysis, figure_of_merit, locate_shear_band
from ovito_glassml.analysis.metrics import top_fraction_mask
from ovito_glassml.inference.runtime import load_model

ROOT = Path(__file__).resolve().parents[1]

seed = sys.argv[1] if len(sys.argv) > 1 else "0101"
band_step = int(sys.argv[2]) if len(sys.argv) > 2 else 100
ds = load_dataset(f"{ROOT}/data/cuzr50_16k/cuzr50_16k_g{seed}.npz")
w = Path(f"{ROOT}/runs/cuzr50_16k/g{seed}/shear_xy")
with np.load(f"{ROOT}/runs/cuzr50_16k/g{seed}/glass_is.npz") as z:
    inh = {k: z[k] for k in ("positions", "cell", "origin")}
R = orientation_frame("xy", dimensions=3)
ref_pos, ref_cell = rotate_to_loading_frame(inh["positions"], inh["cell"], inh["origin"], R)
def d2(step):
    with np.load(w / f"snap_{step:05d}.npz") as s:
        return labels.d2min(ref_pos, ref_cell, s["positions"], s["cell"], 5.0, origin=np.zeros(3), cur_origin=s["origin"], is_2d=False)
config = ds.configuration()
d_band, d_or = d2(band_step), d2(50)
for bw in (10.0, 19.0):
    band = locate_shear_band(config, d_band, fraction=0.05, slab_width=bw)
    print(f"band (slab {bw} A): axis {band.axis} at {band.position:.1f} A contrast {band.contrast:.2f}")
band = locate_shear_band(config, d_band, fraction=0.05, slab_width=10.0)
values = {"oracle(5%)": top_fraction_mask(d_or, 0.05).astype(float)}
for name in ("qs", "dfs", "susceptibility"):
    values[name] = np.asarray(load_model(name).predict(config), float).reshape(config.count, -1)[:, 0]
for k, v in values.items():
    res = dfs_analysis(config, v, axes="XY", slab_width=19.0)
    print(f"{k}: fertile {np.mean(v > 0.5):.3f} delta {res.delta:.3f} brittle {res.brittle} gamma {figure_of_merit(res, band.position, axis=band.axis):.2f}")
