"""Frames per second of ``glassml predict`` on a 20-frame trajectory, 1 and 2 jobs.

    python benchmarks/bench_frames.py [--frames 20] [--jobs 1,2] [--json out.json]

The trajectory is the bundled 2,000-atom Cu50Zr50 glass, each frame shifted rigidly (so every
frame is a new input for the caches); every installed model runs (susceptibility, dfs, qs, sf)
with the DFS analysis and its noise reference, pictures off.  ``--jobs 1`` is the serial run;
``--jobs N`` runs frames in N processes (``inference.frames``).  Prints frames/s and the ratio
to one job; the summaries of the runs are checked to agree.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from common import EXAMPLE  # noqa: E402


def _random_dump(path: Path, n: int) -> None:
    """A random packing of n Cu/Zr atoms at the glass's number density (a quick stand-in, same code paths)."""
    import numpy as np

    rng = np.random.default_rng(0)
    side = (n / 0.0585) ** (1 / 3)
    pos = rng.random((n, 3)) * side
    types = rng.integers(1, 3, n)
    lines = ["ITEM: TIMESTEP", "0", "ITEM: NUMBER OF ATOMS", str(n), "ITEM: BOX BOUNDS pp pp pp",
             *[f"0 {side:.8f}"] * 3, "ITEM: ATOMS id type x y z"]
    lines += [f"{i + 1} {t} {x:.6f} {y:.6f} {z:.6f}" for i, (t, (x, y, z)) in enumerate(zip(types, pos))]
    path.write_text("\n".join(lines) + "\n")


def trajectory(path: Path, frames: int, random_atoms: int = 0) -> Path:
    from ovito.io import export_file, import_file

    if random_atoms:
        _random_dump(path, random_atoms)
    else:
        export_file(import_file(str(EXAMPLE)), str(path), "lammps/dump",
                    columns=["Particle Identifier", "Particle Type", "Position.X", "Position.Y", "Position.Z"])
    lines = path.read_text().splitlines()
    out = []
    for k in range(frames):
        shift = 0.37 * k
        body = [" ".join(l.split()[:2] + [f"{float(x) + shift:.6f}" for x in l.split()[2:]]) for l in lines[9:]]
        head = list(lines[:9])
        head[1] = str(k)
        out += head + body
    path.write_text("\n".join(out) + "\n")
    return path


def run(traj: Path, out: Path, jobs: int, names: str, extra=()) -> float:
    from ovito_glassml.cli import main

    t = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        code = main(["predict", str(traj), "-o", str(out), "--type-names", names, "--no-pictures",
                     "--jobs", str(jobs), *extra])
    if code:
        raise SystemExit(f"glassml predict --jobs {jobs} failed ({code})")
    return time.perf_counter() - t


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--jobs", default="1,2")
    parser.add_argument("--random", type=int, default=0, metavar="N",
                        help="a random packing of N atoms instead of the 2,000-atom glass (DFS off: too small a box)")
    parser.add_argument("--json")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp())
    traj = trajectory(tmp / "traj.dump", args.frames, args.random)
    extra = ["--no-dfs"] if args.random else []
    rows, summaries = [], {}
    for jobs in [int(j) for j in args.jobs.split(",")]:
        out = tmp / f"jobs{jobs}"
        seconds = run(traj, out, jobs, "1=Cu,2=Zr", extra)
        summaries[jobs] = json.loads((out / "summary.json").read_text())
        rows.append({"jobs": jobs, "frames": args.frames, "seconds": seconds, "frames/s": args.frames / seconds})
        print(f"{jobs} job(s): {args.frames} frames in {seconds:.1f} s = {args.frames / seconds:.3f} frames/s",
              flush=True)
    for r in rows:
        r["ratio"] = r["frames/s"] / rows[0]["frames/s"]
    strip = [[{k: v for k, v in e.items() if k not in ("seconds", "outputs")} for e in s["inputs"]]
             for s in summaries.values()]
    agree = all(s == strip[0] for s in strip)
    print(f"summaries agree: {agree}; atoms per frame: {summaries[rows[0]['jobs']]['inputs'][0]['atoms']}; "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "agree": agree, "cpus": os.cpu_count(),
                                               "system": f"random packing of {args.random} atoms, DFS off"
                                               if args.random else "the bundled Cu50Zr50 glass",
                                               "atoms": summaries[rows[0]["jobs"]]["inputs"][0]["atoms"]},
                                              indent=2) + "\n")
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
