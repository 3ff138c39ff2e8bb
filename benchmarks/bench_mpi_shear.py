"""AQS shear on 1 and on R MPI ranks: seconds per strain step and the speed-up.

    python benchmarks/bench_mpi_shear.py [--glass data/cuzr50_4k/cuzr50_4k_g0001.npz] [--steps 5] [--ranks 1,2]

Shears the inherent structure of a committed Cu-Zr glass in xy for a few 0.1 % steps (CG
minimisation after each, as the campaign does) through ``mpiexec -n R``, the path
``glassml generate --ranks R`` takes, and prints wall seconds per step, CG iterations and the
speed-up over one rank.  Run it with the other cores idle.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def worker(glass: str, steps: int, out: str) -> None:
    from ovito_glassml.simulation.dataset import load_dataset
    from ovito_glassml.simulation.generate import CampaignConfig
    from ovito_glassml.simulation.protocol import ShearParams, finalize_mpi, process_world, shear_aqs

    ds = load_dataset(glass)
    inherent = {"positions": ds.positions.astype(float), "types": ds.types, "cell": ds.cell, "origin": ds.origin}
    params = ShearParams(max_strain=steps * 1e-3, strain_step=1e-3, snapshot_strains=())
    t0 = time.perf_counter()
    system = CampaignConfig.from_dict(ds.provenance["campaign_config"]).spec()
    result = shear_aqs(system, inherent, "xy", params, Path(out) / "shear")
    wall = time.perf_counter() - t0
    rank, ranks = process_world()
    if rank == 0:
        Path(out, "timing.json").write_text(json.dumps({
            "ranks": ranks, "atoms": len(ds.positions), "steps": steps, "wall_s": wall,
            "cg_iterations": int(sum(result["min_iterations"]))}))
    finalize_mpi()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--glass", default=str(ROOT / "data" / "cuzr50_4k" / "cuzr50_4k_g0001.npz"))
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--ranks", default="1,2")
    p.add_argument("--worker", nargs=3, metavar=("GLASS", "STEPS", "OUT"), help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.worker:
        worker(a.worker[0], int(a.worker[1]), a.worker[2])
        return
    from ovito_glassml.simulation.generate import mpi_launcher

    rows = []
    for r in (int(x) for x in a.ranks.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run([*mpi_launcher(), "-n", str(r), sys.executable, __file__, "--worker", a.glass,
                            str(a.steps), tmp], check=True)
            rows.append(json.loads(Path(tmp, "timing.json").read_text()))
    base = rows[0]["wall_s"] / rows[0]["steps"]
    print(f"{'ranks':>5} {'atoms':>6} {'s/step':>8} {'CG iterations':>14} {'speed-up':>9}")
    for row in rows:
        per = row["wall_s"] / row["steps"]
        print(f"{row['ranks']:>5} {row['atoms']:>6} {per:>8.2f} {row['cg_iterations']:>14} {base / per:>9.2f}")


if __name__ == "__main__":
    main()
