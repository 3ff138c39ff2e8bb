"""Run every descriptor benchmark in one go and print their tables (atoms/s and ratios).

    python benchmarks/run_all.py

The systems are the bundled 2,000-atom Cu50Zr50 glass replicated to 32,000 atoms (radial and
interstice also time a plain per-atom reference loop).  Other jobs on the machine slow these
figures down: each script prints the load average.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = [["bench_sdm.py"], ["bench_interstice.py"], ["bench_radial.py", "--million"], ["bench_dfs.py", "--million"]]


def main() -> int:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]))
    status = 0
    for script in SCRIPTS:
        print(f"\n===== {' '.join(script)} =====", flush=True)
        status |= subprocess.call([sys.executable, str(HERE / script[0]), *script[1:]], env=env)
    return status


if __name__ == "__main__":
    sys.exit(main())
