"""Benchmark of the 80 interstice features on a 32,000-atom Cu-Zr-like dense packing.

The configuration is an fcc lattice (20^3 cells, a = 4.05 A, 0.060 atoms/A^3) with Gaussian jitter
of 0.35 A per coordinate and random Cu/Zr (64/36): a dense, disordered packing made in
milliseconds.  Timed: the fast path (tessellation, cutoff neighbours, compiled hulls, MRO) on all
atoms, and the brute-force reference (scipy ConvexHull per atom, numpy statistics, plain loops) on
a few hundred atoms, from its SRO loop alone (its tessellation is shared and not counted).

    python benchmarks/bench_interstice.py [--cells 20] [--reference-atoms 300] [--repeat 2]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from ovito_glassml.descriptors.geometry import Configuration, neighbor_list
from ovito_glassml.descriptors.interstice import (IntersticeSettings, _stats, cluster_interstices,
                                                   interstice_features, voronoi_neighbors)
from ovito_glassml.descriptors.species import atomic_radii


def make_glass(cells: int = 20, a: float = 4.05, jitter: float = 0.35, seed: int = 0) -> Configuration:
    rng = np.random.default_rng(seed)
    base = np.array([[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])
    grid = np.stack(np.meshgrid(*[np.arange(cells)] * 3, indexing="ij"), axis=-1).reshape(-1, 3)
    pos = ((grid[:, None, :] + base[None]).reshape(-1, 3) * a + rng.normal(0.0, jitter, (len(grid) * 4, 3)))
    types = (rng.random(len(pos)) < 0.36).astype(np.int64)
    return Configuration(pos, np.eye(3) * a * cells, types, ("Cu", "Zr"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cells", type=int, default=20)
    ap.add_argument("--reference-atoms", type=int, default=300)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--system", choices=["example", "packing"], default="example",
                    help="the bundled Cu-Zr glass replicated to 32,000 atoms (default) or a jittered fcc packing")
    args = ap.parse_args()
    if args.system == "example":
        from common import cu_zr_glass  # noqa: PLC0415

        cfg = cu_zr_glass(32000)
    else:
        cfg = make_glass(args.cells)
    n = cfg.count
    settings = IntersticeSettings()
    interstice_features(make_glass(2))  # load / compile the kernels

    best = np.inf
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        feats = interstice_features(cfg, settings)
        best = min(best, time.perf_counter() - t0)
    assert feats.shape == (n, 80) and np.isfinite(feats).all()

    # stage timings of the fast path
    t0 = time.perf_counter()
    voro = voronoi_neighbors(cfg, settings.face_area_fraction, settings.surface_gap)
    t_voro = time.perf_counter() - t0
    t0 = time.perf_counter()
    dist_nl = neighbor_list(cfg, settings.distance_cutoff)
    t_dist = time.perf_counter() - t0

    # brute-force reference: per-atom qhull + numpy, plain loops (SRO of the first atoms)
    radii = atomic_radii(cfg)
    vnl = voro.neighbors
    m = min(args.reference_atoms, n)
    t0 = time.perf_counter()
    ref = np.zeros((m, 16))
    for i in range(m):
        a, b = vnl.offsets[i], vnl.offsets[i + 1]
        ci = cluster_interstices(np.zeros(3), vnl.vectors[a:b], radii[i], radii[vnl.neighbor[a:b]])
        da, db = dist_nl.offsets[i], dist_nl.offsets[i + 1]
        dv = dist_nl.distances[da:db] / (radii[i] + radii[dist_nl.neighbor[da:db]]) - 1.0
        ref[i] = np.concatenate([_stats(ci.distance), _stats(dv), _stats(ci.volume), _stats(ci.area)])
    t_ref = time.perf_counter() - t0
    err = float(np.abs(ref - feats[:m, :16]).max())

    fast_rate = n / best
    ref_rate = m / t_ref
    counts = vnl.counts()
    print(f"configuration: {n} atoms, Cu/Zr = {np.bincount(cfg.types).tolist()}, "
          f"Voronoi neighbours {counts.mean():.2f} +- {counts.std():.2f} (min {counts.min()}, max {counts.max()}), "
          f"cutoff neighbours {dist_nl.counts().mean():.1f}")
    print(f"fast path stages: tessellation {t_voro:.2f} s, cutoff neighbours {t_dist:.2f} s, "
          f"total {best:.2f} s (best of {args.repeat})")
    print(f"max |fast - reference| over {m} atoms' SRO features: {err:.2e}")
    print()
    print(f"{'method':58s} {'atoms/s':>10s} {'ratio':>8s}")
    print(f"{'fast path, all 80 features, ' + str(n) + ' atoms':58s} {fast_rate:10.0f} {fast_rate / ref_rate:8.1f}")
    print(f"{'brute-force reference, 16 SRO features, ' + str(m) + ' atoms':58s} {ref_rate:10.0f} {1.0:8.1f}")
    print(f"{'amlearn (reference figure: 2,048 atoms in 72 s)':58s} {2048 / 72:10.0f} {2048 / 72 / ref_rate:8.2f}")


if __name__ == "__main__":
    main()
