"""Preview of paper 003's check on an unfinished 16k shear, from its work-directory snapshots.

    python scripts/preview_shear_band.py [SEED] [BAND_STEP]     (defaults: 0101 100, i.e. 10 % strain)

Needs runs/cuzr50_16k/gSEED/shear_xy/snap_BAND_STEP.npz and snap_00050.npz (a running or packed
AQS run).  Computes D2min (OVITO, cutoff 5 A) of both snapshots against the inherent structure,
locates the band (as paper 003: the top 1 % of D2min at BAND_STEP, 19 A slabs), and prints Delta
and the figure of merit gamma of the shipped qs, dfs and susceptibility models, of sf (its top
20 %, paper 003's v_flex rule) and of the oracle (top 5 % of D2min at 5 %).  Session 9 used it on
g0101 at 10 % before the run had finished (then with the top 5 % in 10 A slabs); once the glass
is complete, scripts/shear_band_check.py does the same from the committed data-set file.
"""
import sys
from pathlib import Path

import numpy as np

from ovito_glassml.descriptors.geometry import orientation_frame
from ovito_glassml.inference.runtime import load_model
from ovito_glassml.training import labels
from ovito_glassml.training.dataset import load_dataset
from ovito_glassml.training.generate import CampaignConfig
from ovito_glassml.training.protocol import rotate_to_loading_frame

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from shear_band_check import score_band  # noqa: E402

seed = sys.argv[1] if len(sys.argv) > 1 else "0101"
band_step = int(sys.argv[2]) if len(sys.argv) > 2 else 100
ds = load_dataset(ROOT / "data" / "cuzr50_16k" / f"cuzr50_16k_g{seed}.npz")
system = CampaignConfig.from_dict(ds.provenance["campaign_config"]).spec()
work = ROOT / "runs" / "cuzr50_16k" / f"g{seed}"
with np.load(work / "glass_is.npz") as z:
    inh = {k: z[k] for k in ("positions", "cell", "origin")}
# the reference and D2min exactly as protocol.shear_aqs makes them at the end of the run
ref_pos, ref_cell = rotate_to_loading_frame(inh["positions"], inh["cell"], inh["origin"], orientation_frame("xy"))


def d2min_at(step: int) -> np.ndarray:
    with np.load(work / "shear_xy" / f"snap_{step:05d}.npz") as s:
        return labels.d2min(ref_pos, ref_cell, s["positions"], s["cell"], system.d2min_cutoff, origin=np.zeros(3),
                            cur_origin=s["origin"], is_2d=False)


config = ds.configuration()
models = {name: load_model(name) for name in ("qs", "dfs", "susceptibility", "sf")}
band, scores = score_band(config, d2min_at(band_step), d2min_at(50), models, slab_width=19.0, top={"sf": 0.2})
print(f"band at step {band_step}: perpendicular to {band.axis.upper()} at {band.position:.1f} A, "
      f"contrast {band.contrast:.2f} (19 A slabs)")
for label, v in scores.items():
    print(f"{label}: fertile {v['fertile_fraction']:.3f}  delta {v['delta']:.3f}  brittle {v['brittle']}  "
          f"gamma {v['gamma']:.2f}")
