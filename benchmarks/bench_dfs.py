"""Density of fertile sites: atoms/s of the DFS profiles alone and with the noise reference of Δ.

    python benchmarks/bench_dfs.py [--atoms 32000] [--permutations 100] [--million]

The fertile sites are a random 10 % of the atoms (values uniform in [0, 1], threshold 0.9); the
noise reference shuffles them K times (``dfs_analysis(..., permutations=K)``), so its cost grows
with K: the table gives the ratio to the plain analysis.
"""
from __future__ import annotations

import argparse
import os

import numpy as np

from common import Timer, cu_zr_glass, peak_memory_mib, print_table
from ovito_glassml.analysis.dfs import dfs_analysis


def time_one(config, values, permutations: int) -> float:
    with Timer() as t:
        dfs_analysis(config, values, axes="XY", threshold=0.9, permutations=permutations)
    return t.seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--atoms", type=int, default=32000)
    parser.add_argument("--permutations", type=int, default=100)
    parser.add_argument("--million", action="store_true", help="also time a 1,000,000-atom glass")
    args = parser.parse_args()
    sizes = [args.atoms] + ([1_000_000] if args.million else [])
    rows = []
    for n in sizes:
        config = cu_zr_glass(n)
        values = np.random.default_rng(0).random(config.count)
        plain = time_one(config, values, 0)
        noisy = time_one(config, values, args.permutations)
        rows.append({"atoms": f"{config.count:,}", "DFS atoms/s": f"{config.count / plain:,.0f}",
                     f"with {args.permutations} permutations, atoms/s": f"{config.count / noisy:,.0f}",
                     "cost ratio": f"{noisy / plain:.0f}x", "seconds": f"{noisy:.2f}"})
    print_table(rows, "DFS along X and Y (ω = 19 Å, automatic spacing), Cu-Zr glass")
    print(f"load average {os.getloadavg()[0]:.2f}; peak memory {peak_memory_mib():,.0f} MiB")


if __name__ == "__main__":
    main()
