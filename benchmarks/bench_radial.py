"""Radial structure functions: atoms/s of the compiled kernel vs a plain per-atom numpy loop.

    python benchmarks/bench_radial.py [--atoms 32000] [--million]
"""
from __future__ import annotations

import argparse

import numpy as np

from common import Timer, cu_zr_glass, peak_memory_mib, print_table
from ovito_glassml.descriptors.geometry import neighbor_list
from ovito_glassml.descriptors.radial import RadialSettings, first_peak_positions, radial_features


def reference(config, settings, centers):
    """Plain loop: one neighbour query and one dense Gaussian matrix per atom."""
    scale = settings.scale_matrix(list(config.type_names))
    cutoff = settings.search_cutoff(list(config.type_names))
    grid = settings.grid
    out = np.zeros((len(centers), settings.n_features))
    out[:, -1] = 1
    nl = neighbor_list(config, cutoff, centers)
    for m in range(len(centers)):
        sl = slice(nl.offsets[m], nl.offsets[m + 1])
        j, d = nl.neighbor[sl], nl.distances[sl]
        for b, name in enumerate(settings.species):
            sel = config.types[j] == config.type_names.index(name)
            rb = d[sel] * scale[config.types[centers[m]], b]
            rb = rb[rb <= settings.r_max]
            out[m, b * len(grid):(b + 1) * len(grid)] = np.exp(
                -(grid[None, :] - rb[:, None]) ** 2 / (2 * settings.sigma ** 2)).sum(0)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--atoms", type=int, default=32000)
    parser.add_argument("--million", action="store_true", help="also time a 1,000,000-atom glass")
    args = parser.parse_args()
    config = cu_zr_glass(args.atoms)
    peaks = first_peak_positions([cu_zr_glass(2000)], ["Cu", "Zr"])
    settings = RadialSettings(["Cu", "Zr"], peak_positions=peaks)
    radial_features(cu_zr_glass(2000), settings)  # compile
    with Timer() as fast:
        feats = radial_features(config, settings, dtype=np.float64)
    n_ref = 500
    centers = np.arange(n_ref)
    with Timer() as slow:
        ref = reference(config, settings, centers)
    err = np.abs(feats[centers] - ref).max() / ref.max()
    rows = [
        {"method": "compiled kernel (cell list, truncated Gaussians)", "atoms": config.count,
         "atoms/s": f"{config.count / fast.seconds:,.0f}", "ratio": f"{(config.count / fast.seconds) / (n_ref / slow.seconds):.1f}x",
         "max rel. error": f"{err:.1e}"},
        {"method": "per-atom numpy loop (reference)", "atoms": n_ref, "atoms/s": f"{n_ref / slow.seconds:,.0f}",
         "ratio": "1.0x", "max rel. error": "0"},
    ]
    if args.million:
        big = cu_zr_glass(1_000_000)
        with Timer() as t:
            out = radial_features(big, settings)
        rows.append({"method": f"compiled kernel, {big.count:,} atoms (float32 out)", "atoms": big.count,
                     "atoms/s": f"{big.count / t.seconds:,.0f}", "ratio": "", "max rel. error": ""})
        del out
    print_table(rows, f"Radial structure functions, Cu-Zr glass, {settings.n_features} features, r_p = {peaks}")
    print(f"peak memory {peak_memory_mib():,.0f} MiB")


if __name__ == "__main__":
    main()
