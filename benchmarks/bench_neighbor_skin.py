"""AQS shear with the minimisation neighbour skin against the MD skin: seconds per strain step.

    python benchmarks/bench_neighbor_skin.py [--glass data/cuzr50_4k_relaxed/cuzr50_4k_relaxed_g0201.npz]
                                             [--steps 5] [--repeats 3]

Shears the inherent structure of a committed Cu-Zr glass in xy for a few 0.1 % steps with
:func:`~ovito_glassml.simulation.protocol.shear_aqs` (CG after each step, as the campaign does),
alternately with ``EAM_SKIN_MD`` and ``EAM_SKIN_MINIMISATION``, and prints the median wall
seconds per step of each, their ratio, and the largest difference of the energies along the two
paths (the skin changes no force, so it must be round-off).  Run it with the other cores idle.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def shear_once(glass: str, steps: int, skin: float) -> tuple[float, np.ndarray]:
    from ovito_glassml.simulation import protocol as P
    from ovito_glassml.simulation.dataset import load_dataset
    from ovito_glassml.simulation.generate import CampaignConfig

    ds = load_dataset(glass)
    inherent = {"positions": ds.positions.astype(float), "types": ds.types, "cell": ds.cell, "origin": ds.origin}
    system = CampaignConfig.from_dict(ds.provenance["campaign_config"]).spec()
    params = P.ShearParams(max_strain=steps * 1e-3, strain_step=1e-3, snapshot_strains=())
    saved = P.EAM_SKIN_MINIMISATION
    P.EAM_SKIN_MINIMISATION = skin
    try:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            result = P.shear_aqs(system, inherent, "xy", params, Path(tmp) / "shear")
            wall = time.perf_counter() - t0
    finally:
        P.EAM_SKIN_MINIMISATION = saved
    return wall / steps, np.asarray(result["energy"], float)


def main(argv=None) -> int:
    from ovito_glassml.simulation import protocol as P

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--glass", default=str(ROOT / "data" / "cuzr50_4k_relaxed" / "cuzr50_4k_relaxed_g0201.npz"))
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    skins = (P.EAM_SKIN_MD, P.EAM_SKIN_MINIMISATION)
    times: dict[float, list[float]] = {s: [] for s in skins}
    energies: dict[float, np.ndarray] = {}
    for _ in range(args.repeats):
        for s in skins:   # alternated, so a drift of the machine's speed touches both
            t, e = shear_once(args.glass, args.steps, s)
            times[s].append(t)
            energies[s] = e
    med = {s: statistics.median(v) for s, v in times.items()}
    for s in skins:
        print(f"skin {s:g} A: {med[s]:.2f} s per 0.1 % step (median of {args.repeats}: "
              + ", ".join(f"{t:.2f}" for t in times[s]) + ")")
    print(f"ratio (skin {skins[1]:g} / skin {skins[0]:g}): {med[skins[1]] / med[skins[0]]:.3f}")
    print(f"largest energy difference along the path: {np.max(np.abs(energies[skins[0]] - energies[skins[1]])):.3g} eV")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
