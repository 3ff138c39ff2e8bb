"""Spatial density map throughput: the numba kernel vs the dense numpy reference (docs/speed.md).

    python benchmarks/bench_sdm.py [--atoms 32000] [--centers 4000] [--ref-centers 24] [--threads N]

Builds a random Cu50Zr50-like packing (number density 0.058 / A^3, pairs pushed apart to about
2.2 A), times the fast kernel on ``--centers`` atoms at the 3D defaults (32^3 x 2; after a
warm-up call for the numba compilation) and the untruncated float64 reference on a few dozen,
and prints atoms/s (wall clock and per CPU-second), the speed ratio and the maximum relative
error (max |fast - reference| / max |reference| per image, worst image).
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np
from scipy.spatial import cKDTree

from ovito_glassml.descriptors.geometry import Configuration, loading_frame
from ovito_glassml.descriptors.sdm import (SDMSettings, _spatial_density_map_reference, iter_spatial_density_maps,
                                           spatial_density_map)


def random_packing(n_atoms: int, density: float = 0.058, d_min: float = 2.2, seed: int = 0,
                   is_2d: bool = False) -> Configuration:
    """Uniform random positions, overlapping pairs pushed apart for a few sweeps (cheap, glass-like density)."""
    rng = np.random.default_rng(seed)
    dims = 2 if is_2d else 3
    side = (n_atoms / density) ** (1.0 / dims)
    pos = rng.uniform(0.0, side, (n_atoms, dims))
    for _ in range(40):
        tree = cKDTree(pos, boxsize=side)
        pairs = tree.query_pairs(d_min, output_type="ndarray")
        if len(pairs) == 0:
            break
        d = pos[pairs[:, 1]] - pos[pairs[:, 0]]
        d -= side * np.round(d / side)
        r = np.linalg.norm(d, axis=1, keepdims=True)
        push = 0.55 * (d_min - r) * d / np.maximum(r, 1e-9)
        np.add.at(pos, pairs[:, 1], push)
        np.subtract.at(pos, pairs[:, 0], push)
        pos %= side
    if is_2d:
        pos = np.column_stack([pos, np.zeros(n_atoms)])
        cell = np.diag([side, side, 1.0])
    else:
        cell = np.eye(3) * side
    types = rng.permutation(np.arange(n_atoms) % 2)
    return Configuration(pos, cell, types, ("Cu", "Zr"), is_2d=is_2d)


def min_distance(config: Configuration) -> float:
    from ovito_glassml.descriptors.geometry import neighbor_list  # noqa: PLC0415

    return float(neighbor_list(config, 3.5).distances.min())


def time_fast(config, settings, frame, centers, batch_size, reuse, order, repeats=2):
    """Best of ``repeats`` runs: (atoms per wall second, atoms per CPU second of this process)."""
    best = (0.0, 0.0)
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        for idx, images in iter_spatial_density_maps(config, settings, frame, centers, batch_size=batch_size,
                                                     reuse_buffer=reuse, order=order):
            pass  # a consumer (the CNN) would take the batch here
        speed = (len(centers) / (time.perf_counter() - wall), len(centers) / (time.process_time() - cpu))
        best = max(best, speed)
    return best


def bench(config, settings, frame, n_centers, n_ref, batch_size, label):
    rng = np.random.default_rng(1)
    centers = rng.choice(config.count, size=min(n_centers, config.count), replace=False)
    spatial_density_map(config, settings, frame, centers[:4])  # warm-up: numba compile / cache load
    rows = []
    ref_centers = centers[:n_ref]
    wall, cpu = time.perf_counter(), time.process_time()
    ref = _spatial_density_map_reference(config, settings, frame, ref_centers)
    ref_wall, ref_cpu = n_ref / (time.perf_counter() - wall), n_ref / (time.process_time() - cpu)
    fast = spatial_density_map(config, settings, frame, ref_centers)
    err = max(float(np.abs(fast[k] - ref[k]).max() / np.abs(ref[k]).max()) for k in range(n_ref))
    import numba

    threads = numba.get_num_threads()
    for reuse, order, n_threads in ((True, "spatial", threads), (True, "input", threads), (False, "input", threads),
                                    (True, "spatial", 1)):
        numba.set_num_threads(n_threads)
        speed, speed_cpu = time_fast(config, settings, frame, centers, batch_size, reuse, order)
        numba.set_num_threads(threads)
        rows.append({"case": label, "method": f"numba {n_threads} thr, {'reused' if reuse else 'fresh'} buffer, "
                                              f"{order} order",
                     "centres": len(centers), "atoms/s": f"{speed:,.0f}", "atoms/CPU-s": f"{speed_cpu:,.0f}",
                     "ratio": f"{speed / ref_wall:,.1f}", "max rel err": f"{err:.1e}"})
    rows.append({"case": label, "method": "numpy dense reference", "centres": n_ref, "atoms/s": f"{ref_wall:,.1f}",
                 "atoms/CPU-s": f"{ref_cpu:,.1f}", "ratio": "1.0", "max rel err": "0 (reference)"})
    return rows


def print_table(rows):
    keys = list(rows[0])
    widths = [max(len(k), *(len(str(r[k])) for r in rows)) for k in keys]
    print("  ".join(k.ljust(w) for k, w in zip(keys, widths)))
    for r in rows:
        print("  ".join(str(r[k]).ljust(w) for k, w in zip(keys, widths)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--atoms", type=int, default=32000)
    parser.add_argument("--centers", type=int, default=4000)
    parser.add_argument("--ref-centers", type=int, default=24)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--threads", type=int, default=None, help="numba threads (default: all cores)")
    parser.add_argument("--no-2d", action="store_true", help="skip the 2D (50^2 x 2) case")
    parser.add_argument("--system", choices=["example", "packing"], default="example",
                        help="the bundled Cu-Zr glass replicated (default) or a random packing")
    args = parser.parse_args()
    import numba

    if args.threads:
        numba.set_num_threads(args.threads)
    t0 = time.perf_counter()
    if args.system == "example":
        from common import cu_zr_glass  # noqa: PLC0415

        config = cu_zr_glass(args.atoms)
    else:
        config = random_packing(args.atoms)
    print(f"3D system: {config.count} atoms, box {config.cell[0, 0]:.2f} A, density "
          f"{config.count / config.volume:.4f} / A^3, min distance {min_distance(config):.2f} A "
          f"(built in {time.perf_counter() - t0:.1f} s)")
    print(f"numba threads: {numba.get_num_threads()}, cores: {os.cpu_count()}, load average before: "
          f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    frame = loading_frame([1.0, 1.0, 0.0], [-1.0, 1.0, 1.0])  # a generic (non-cube) loading frame
    rows = bench(config, SDMSettings(), frame, args.centers, args.ref_centers, args.batch_size,
                 "3D 32^3x2, r_c 9.6, D 0.6")
    if not args.no_2d:
        config2 = random_packing(10000, density=0.95, d_min=0.8, is_2d=True)
        frame2 = loading_frame([1.0, 1.0], [-1.0, 1.0], dimensions=2)
        rows += bench(config2, SDMSettings.defaults(2), frame2, args.centers, args.ref_centers, args.batch_size,
                      "2D 50^2x2, r_c 5, D 0.2")
    print()
    print_table(rows)
    print(f"\nload average after: {', '.join(f'{x:.2f}' for x in os.getloadavg())} (other jobs share the cores)")


if __name__ == "__main__":
    main()
