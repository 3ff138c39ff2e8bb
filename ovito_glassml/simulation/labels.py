"""Per-atom labels: D2min (OVITO's AtomicStrainModifier), Voronoi volume, v_flex, and the
between-seed quality figures of the vibrational MSD."""
from __future__ import annotations

import numpy as np

__all__ = ["d2min", "voronoi_volume", "v_flex", "msd_quality", "icosahedral_fraction"]


def _data_collection(positions, cell, origin, pbc, is_2d):
    from ovito.data import DataCollection  # noqa: PLC0415

    dc = DataCollection()
    m = np.zeros((3, 4))
    m[:, :3] = np.asarray(cell, float)
    m[:, 3] = np.zeros(3) if origin is None else np.asarray(origin, float)
    c = dc.create_cell(m, pbc=tuple(bool(p) for p in pbc))
    c.is2D = bool(is_2d)
    parts = dc.create_particles(count=len(positions))
    parts.create_property("Position", data=np.asarray(positions, float))
    return dc


def d2min(ref_positions, ref_cell, cur_positions, cur_cell, cutoff: float, origin=None, cur_origin=None,
          pbc=(True, True, True), is_2d: bool = False) -> np.ndarray:
    """Per-atom D2min of the current configuration against the reference (same atom order).

    Computed by OVITO's ``AtomicStrainModifier`` (``output_nonaffine_squared_displacements``,
    affine mapping off, minimum image in the respective cell): the Falk-Langer sum over the
    neighbours within ``cutoff`` in the reference configuration of the squared residual of the
    best local affine map -- a sum, not a mean.  Atoms with too few neighbours to fit a
    deformation gradient get NaN.
    """
    from ovito.modifiers import AtomicStrainModifier  # noqa: PLC0415
    from ovito.pipeline import Pipeline, StaticSource  # noqa: PLC0415

    if len(ref_positions) != len(cur_positions):
        raise ValueError("reference and current configurations have different numbers of atoms")
    pbc = (pbc[0], pbc[1], False) if is_2d else pbc
    ref = _data_collection(ref_positions, ref_cell, origin, pbc, is_2d)
    cur = _data_collection(cur_positions, cur_cell, cur_origin if cur_origin is not None else origin, pbc, is_2d)
    mod = AtomicStrainModifier(cutoff=float(cutoff), output_nonaffine_squared_displacements=True,
                               select_invalid_particles=True)
    mod.reference = StaticSource(data=ref)
    pipe = Pipeline(source=StaticSource(data=cur))
    pipe.modifiers.append(mod)
    data = pipe.compute()
    out = np.array(data.particles["Nonaffine Squared Displacement"], dtype=np.float64)
    if "Selection" in data.particles:
        out[np.asarray(data.particles["Selection"]) != 0] = np.nan
    return out


def voronoi_volume(positions, cell, origin=None, pbc=(True, True, True), is_2d: bool = False) -> np.ndarray:
    """Per-atom Voronoi volume: OVITO's ``VoronoiAnalysisModifier`` without radii (3D); in 2D
    (which that modifier does not support) the Voronoi area of the periodic xy tiling (scipy)."""
    if is_2d:
        return _voronoi_area_2d(positions, cell, origin)
    from ovito.modifiers import VoronoiAnalysisModifier  # noqa: PLC0415
    from ovito.pipeline import Pipeline, StaticSource  # noqa: PLC0415

    dc = _data_collection(positions, cell, origin, pbc, is_2d)
    pipe = Pipeline(source=StaticSource(data=dc))
    pipe.modifiers.append(VoronoiAnalysisModifier(compute_indices=False, use_radii=False))
    return np.array(pipe.compute().particles["Atomic Volume"], dtype=np.float64)


def icosahedral_fraction(positions, types, cell, origin=None, centre_type: int = 0,
                         pbc=(True, True, True)) -> float:
    """Fraction of the atoms of type ``centre_type`` (0-based; Cu in Cu-Zr) whose Voronoi
    polyhedron has the index <0,0,12,0>: a full icosahedron, the topological order that slow
    cooling builds in Cu-Zr glasses (Cheng & Ma 2011, Prog. Mater. Sci. 56, 379).  Plain Voronoi
    (OVITO's ``VoronoiAnalysisModifier``, no radii, no face threshold)."""
    from ovito.modifiers import VoronoiAnalysisModifier  # noqa: PLC0415
    from ovito.pipeline import Pipeline, StaticSource  # noqa: PLC0415

    types = np.asarray(types)
    centres = types == centre_type
    if not centres.any():
        raise ValueError(f"no atom of type {centre_type} to count icosahedra around")
    dc = _data_collection(positions, cell, origin, pbc, False)
    pipe = Pipeline(source=StaticSource(data=dc))
    pipe.modifiers.append(VoronoiAnalysisModifier(compute_indices=True, use_radii=False))
    index = np.asarray(pipe.compute().particles["Voronoi Index"])
    # OVITO's column k counts the faces with k + 1 edges: <n3, n4, n5, n6> = columns 2..5
    if index.shape[1] <= 4:  # no polyhedron has a pentagonal face
        return 0.0
    n5 = index[:, 4]
    ico = (n5 == 12) & (index.sum(axis=1) == 12)
    return float(ico[centres].mean())


def _voronoi_area_2d(positions, cell, origin=None) -> np.ndarray:
    from scipy.spatial import Voronoi  # noqa: PLC0415

    cell = np.asarray(cell, float)[:2, :2]
    org = np.zeros(2) if origin is None else np.asarray(origin, float)[:2]
    pts = np.asarray(positions, float)[:, :2] - org
    frac = np.linalg.solve(cell, pts.T).T
    pts = (frac - np.floor(frac)) @ cell.T
    n = len(pts)
    shifts = [(i, j) for i in (0, -1, 1) for j in (0, -1, 1)]  # (0, 0) first: the originals
    tiled = np.concatenate([pts + i * cell[:, 0] + j * cell[:, 1] for i, j in shifts])
    vor = Voronoi(tiled)
    out = np.empty(n)
    for k in range(n):
        region = vor.regions[vor.point_region[k]]
        if -1 in region or not region:
            raise RuntimeError("open Voronoi cell in the periodic tiling; the box is too small")
        poly = vor.vertices[region]
        c = poly.mean(axis=0)
        ang = np.arctan2(poly[:, 1] - c[1], poly[:, 0] - c[0])
        poly = poly[np.argsort(ang)]
        x, y = poly[:, 0], poly[:, 1]
        out[k] = 0.5 * abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))
    return out


def v_flex(msd, omega, dimensions: int = 3) -> np.ndarray:
    """Structural flexibility v_flex = MSD * Omega^(1/d) (d = 3; 2 for areas in 2D)."""
    return np.asarray(msd, float) * np.asarray(omega, float) ** (1.0 / dimensions)


def vflex_reliability(runs, omega, dimensions: int = 3) -> float:
    """Reliability of ln(v_flex) from the mean of S seeds, R = var(true) / var(measured).

    The seeds are split into two halves of h = S // 2 runs; with r_h the Pearson correlation (over
    atoms) of ln(v_flex) from the two half-means, the Spearman-Brown formula for k = S / h times
    as many runs gives R = k r_h / (1 + (k - 1) r_h).  A predictor's correlation with the measured
    label is at most sqrt(R) times its correlation with the noise-free one.  NaN below 4 seeds.
    """
    runs = np.asarray(runs, float)
    s = len(runs)
    if runs.ndim != 2 or s < 4:
        return float("nan")
    h = s // 2
    a = np.log(v_flex(runs[:h].mean(0), omega, dimensions))
    b = np.log(v_flex(runs[h:2 * h].mean(0), omega, dimensions))
    r = float(np.corrcoef(a, b)[0, 1])
    k = s / h
    return float(k * r / (1 + (k - 1) * r))


def msd_quality(runs) -> dict:
    """Between-seed agreement of per-atom MSD runs (S, N): the mean Pearson correlation between
    pairs of single runs, and the correlation between the means of two halves of the seeds."""
    runs = np.asarray(runs, float)
    s = len(runs)
    out = {"n_seeds": int(s)}
    if s >= 2:
        c = np.corrcoef(runs)
        iu = np.triu_indices(s, 1)
        out["pairwise_pearson_mean"] = float(np.mean(c[iu]))
        out["pairwise_pearson_min"] = float(np.min(c[iu]))
        out["pairwise_pearson_max"] = float(np.max(c[iu]))
    if s >= 4:
        h = s // 2
        out["split_half_pearson"] = float(np.corrcoef(runs[:h].mean(0), runs[h:2 * h].mean(0))[0, 1])
        r = out["split_half_pearson"]
        out["spearman_brown_full"] = float(2 * r / (1 + r))
    return out
