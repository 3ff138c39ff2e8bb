"""Tests of the interstice features (Wang & Jain 2019, amlearn conventions)."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy.spatial import ConvexHull

from ovito_glassml.descriptors.geometry import Configuration, ConfigurationError
from ovito_glassml.descriptors import interstice as I
from ovito_glassml.descriptors.interstice import (INTERSTICE_FEATURE_NAMES, IntersticeSettings,
                                                   cluster_interstices, interstice_features,
                                                   interstice_features_reference, voronoi_neighbors)
from ovito_glassml.descriptors.species import atomic_radii

TOL = 1e-10
FCC = np.array([[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])
BCC = np.array([[0, 0, 0], [0.5, 0.5, 0.5]])


def lattice(basis, cells, a, jitter=0.0, seed=0, types=("Cu",), fractions=None):
    rng = np.random.default_rng(seed)
    cells = np.broadcast_to(np.asarray(cells), (3,))
    grid = np.stack(np.meshgrid(*[np.arange(c) for c in cells], indexing="ij"), axis=-1).reshape(-1, 3)
    pos = (grid[:, None, :] + basis[None]).reshape(-1, 3) * a
    pos = pos + rng.normal(0.0, jitter, pos.shape) if jitter else pos
    t = rng.choice(len(types), len(pos), p=fractions) if len(types) > 1 else np.zeros(len(pos), int)
    return Configuration(pos, np.diag(cells * a).astype(float), t, tuple(types))


def glass(cells=3, seed=0, jitter=0.3):
    """A dense, disordered Cu64Zr36-like packing: jittered fcc with random species."""
    return lattice(FCC, cells, 4.05, jitter, seed, ("Cu", "Zr"), [0.64, 0.36])


@pytest.fixture(scope="module")
def small_glass():
    return glass()


@pytest.fixture(scope="module")
def small_glass_features(small_glass):
    return interstice_features(small_glass)


# -- names ------------------------------------------------------------------------------------
def test_names_and_order():
    names = INTERSTICE_FEATURE_NAMES
    assert len(names) == 80 and len(set(names)) == 80
    assert names[:4] == tuple(f"Dist_interstice_{s}_voro" for s in ("mean", "std", "min", "max"))
    assert names[4] == "Dist_interstice_mean_dist"
    assert names[8] == "Volume_interstice_mean_voro" and names[15] == "Area_interstice_max_voro"
    # MRO: statistics innermost, _voro features first (amlearn's medium_range_order.py)
    assert names[16:20] == tuple(f"MRO_{s}_Dist_interstice_mean_voro" for s in ("mean", "std", "min", "max"))
    assert names[63] == "MRO_max_Area_interstice_max_voro"
    assert names[64] == "MRO_mean_Dist_interstice_mean_dist"
    assert names[-1] == "MRO_max_Dist_interstice_max_dist"
    assert all(n.endswith("_voro") for n in names[16:64]) and all(n.endswith("_dist") for n in names[64:])


# -- known answers on single clusters -----------------------------------------------------------
def test_bcc_cluster_known_answer():
    r = 1.26
    a = 4 * r / math.sqrt(3)  # 8 touching neighbours
    nb = np.array(list(itertools.product((-0.5, 0.5), repeat=3))) * a + 10.0
    ci = cluster_interstices(np.full(3, 10.0), nb, r, np.full(8, r))
    np.testing.assert_allclose(ci.distance, 0.0, atol=1e-14)
    assert len(ci.area) == 12 and len(ci.volume) == 12
    np.testing.assert_allclose(ci.area, 1 - 3 * math.pi / 16, atol=1e-12)
    np.testing.assert_allclose(ci.volume, 1 - math.pi * math.sqrt(3) / 8, atol=1e-12)
    assert abs(ci.area[0] - 0.4110) < 1e-4 and abs(ci.volume[0] - 0.3198) < 1e-4
    st = ci.stats()
    np.testing.assert_allclose(st[[1, 5, 9]], 0.0, atol=1e-12)  # all std 0
    np.testing.assert_allclose(st[8], 1 - 3 * math.pi / 16, atol=1e-12)


def test_fcc_cluster_known_answer():
    r = 1.43
    a = 2 * math.sqrt(2) * r  # 12 touching neighbours
    nb = np.array([p for p in itertools.product((-0.5, 0.0, 0.5), repeat=3)
                   if sorted(np.abs(p)) == [0.0, 0.5, 0.5]]) * a
    assert len(nb) == 12
    ci = cluster_interstices(np.zeros(3), nb, r, np.full(12, r))
    np.testing.assert_allclose(ci.distance, 0.0, atol=1e-14)
    assert len(ci.area) == 20  # 8 triangles + 6 squares split in two
    tri = 1 - math.pi / (2 * math.sqrt(3))
    half_square = 1 - math.pi / 4
    assert np.sum(np.isclose(ci.area, tri, atol=1e-12)) == 8
    assert np.sum(np.isclose(ci.area, half_square, atol=1e-12)) == 12
    # O-ABC over a triangular facet is a regular tetrahedron of touching spheres: the solid angle
    # at each vertex is arccos(23/27)
    regular = 1 - 4 * math.acos(23 / 27) / 3 / (8 / (6 * math.sqrt(2)))
    assert np.sum(np.isclose(ci.volume, regular, atol=1e-12)) == 8


def _plain_cluster(center, nb, rc, rn):
    """amlearn's per-facet loops, written out with math only."""
    def sub(u, v):
        return [u[0] - v[0], u[1] - v[1], u[2] - v[2]]

    def dot(u, v):
        return u[0] * v[0] + u[1] * v[1] + u[2] * v[2]

    def cross(u, v):
        return [u[1] * v[2] - u[2] * v[1], u[2] * v[0] - u[0] * v[2], u[0] * v[1] - u[1] * v[0]]

    def norm(u):
        return math.sqrt(dot(u, u))

    def solid(c, p, q, s):
        a, b, d = sub(p, c), sub(q, c), sub(s, c)
        div = norm(a) * norm(b) * norm(d) + dot(a, b) * norm(d) + dot(a, d) * norm(b) + dot(b, d) * norm(a)
        return 2 * math.atan2(abs(dot(a, cross(b, d))), div)

    area, vol = [], []
    for f in ConvexHull(nb).simplices:
        p = [list(nb[k]) for k in f]
        packed = 0.0
        for k in range(3):
            u, v = sub(p[(k + 1) % 3], p[k]), sub(p[(k + 2) % 3], p[k])
            packed += rn[f[k]] ** 2 * math.acos(dot(u, v) / norm(u) / norm(v)) / 2
        tri = 0.5 * norm(cross(sub(p[0], p[2]), sub(p[1], p[2])))
        area.append(max(1 - packed / tri, 0.0))
        c = list(center)
        packed = rc ** 3 * solid(c, *p) / 3
        for k in range(3):
            packed += rn[f[k]] ** 3 * solid(p[k], c, p[(k + 1) % 3], p[(k + 2) % 3]) / 3
        v6 = abs(dot(sub(c, p[2]), cross(sub(p[0], p[2]), sub(p[1], p[2]))))
        vol.append(max(1 - packed / (v6 / 6), 0.0))
    return np.array(area), np.array(vol)


def test_cluster_matches_plain_loops():
    rng = np.random.default_rng(3)
    for n in (4, 9, 15):
        direction = rng.normal(size=(n, 3))
        nb = direction / np.linalg.norm(direction, axis=1)[:, None] * rng.uniform(2.4, 3.4, (n, 1)) + 5.0
        rn = rng.choice([1.26, 1.58], n)
        ci = cluster_interstices(np.full(3, 5.0), nb, 1.4, rn)
        area, vol = _plain_cluster(np.full(3, 5.0), nb, 1.4, rn)
        np.testing.assert_allclose(ci.area, area, atol=1e-13)
        np.testing.assert_allclose(ci.volume, vol, atol=1e-13)
        np.testing.assert_allclose(ci.distance, np.linalg.norm(nb - 5.0, axis=1) / (1.4 + rn) - 1, atol=1e-14)
        assert (ci.volume >= 0).all() and (ci.area >= 0).all() and (ci.volume > 0).any()


def test_fewer_than_four_neighbours_give_zero_area_and_volume():
    nb = np.array([[2.5, 0, 0], [0, 2.6, 0], [0, 0, 2.7]])
    ci = cluster_interstices(np.zeros(3), nb, 1.26, np.full(3, 1.26))
    assert len(ci.area) == 0 and len(ci.volume) == 0 and len(ci.distance) == 3
    st = ci.stats()
    assert st[0] > 0 and np.all(st[4:] == 0.0)  # distance stats kept (amlearn), hull stats 0
    # coplanar neighbours: no hull either
    flat = np.array([[2.5, 0, 0], [0, 2.5, 0], [-2.5, 0, 0], [0, -2.5, 0]])
    ci = cluster_interstices(np.zeros(3), flat, 1.26, np.full(4, 1.26))
    assert len(ci.area) == 0 and np.all(ci.stats()[4:] == 0.0)
    assert np.all(cluster_interstices(np.zeros(3), np.zeros((0, 3)), 1.26, np.zeros(0)).stats() == 0.0)


# -- Voronoi neighbours -------------------------------------------------------------------------
def test_jittered_bcc_has_14_voronoi_neighbours():
    cfg = lattice(BCC, 3, 3.0, jitter=0.03, seed=1)
    vn = voronoi_neighbors(cfg, 0.05)
    # truncated octahedron: 8 hexagons and 6 squares of area 0.52 x the mean: all kept
    assert np.all(vn.neighbors.counts() == 14)
    np.testing.assert_allclose(vn.volumes.sum(), cfg.volume, rtol=1e-5)
    vn = voronoi_neighbors(cfg, 0.9)  # now the squares go, the hexagons (1.36 x mean) stay
    assert np.all(vn.neighbors.counts() == 8)


def test_jittered_fcc_small_faces_are_dropped():
    cfg = lattice(FCC, 3, 3.6, jitter=0.02, seed=2)
    assert np.all(voronoi_neighbors(cfg, 0.05).neighbors.counts() == 12)
    # the 4-cell vertices of the rhombic dodecahedron split into tiny faces without the filter
    assert voronoi_neighbors(cfg, 0.0).neighbors.counts().max() > 12


def test_face_filter_uses_mean_over_all_faces(small_glass):
    full = voronoi_neighbors(small_glass, 0.0)
    nl = full.neighbors
    for frac in (0.05, 0.4):
        kept = voronoi_neighbors(small_glass, frac).neighbors
        for i in range(small_glass.count):
            a, b = nl.offsets[i], nl.offsets[i + 1]
            areas = full.face_areas[a:b]
            expect = sorted(map(tuple, np.round(nl.vectors[a:b][areas >= frac * areas.mean()], 9)))
            got = sorted(map(tuple, np.round(kept.vectors[kept.offsets[i]:kept.offsets[i + 1]], 9)))
            assert got == expect
    # the vectors are exact float64 periodic-image vectors
    d = small_glass.positions[nl.neighbor] - small_glass.positions[nl.center]
    frac_img = np.linalg.solve(small_glass.cell, (nl.vectors - d).T).T
    np.testing.assert_allclose(frac_img, np.rint(frac_img), atol=1e-12)


# -- fast path vs brute force ---------------------------------------------------------------------
def test_fast_hull_matches_qhull(small_glass):
    nl = voronoi_neighbors(small_glass, 0.05).neighbors
    for i in range(small_glass.count):
        pts = np.ascontiguousarray(nl.vectors[nl.offsets[i]:nl.offsets[i + 1]])
        facets = np.empty((2 * len(pts), 3), dtype=np.int64)
        nf = I._hull_facets(pts, len(pts), facets)
        assert nf > 0  # a glass is never degenerate: the compiled path is really used
        mine = sorted(tuple(sorted(f)) for f in facets[:nf])
        ref = sorted(tuple(sorted(f)) for f in ConvexHull(pts).simplices)
        assert mine == ref


def test_fast_path_matches_reference(small_glass, small_glass_features):
    ref = interstice_features_reference(small_glass)
    assert small_glass_features.shape == (small_glass.count, 80) and small_glass_features.dtype == np.float64
    np.testing.assert_allclose(small_glass_features, ref, rtol=0, atol=TOL)
    assert np.all(small_glass_features[:, 8] > 0) and np.all(small_glass_features[:, 12] > 0)


def test_fewer_than_four_voronoi_neighbours_and_no_cutoff_neighbour(small_glass):
    # four atoms in vacuum: each has 3 Voronoi neighbours, so no hull (area/volume stats 0)
    pos = np.array([[0, 0, 0], [2.6, 0, 0], [1.2, 2.4, 0.1], [1.3, 0.8, 2.3]]) + 7.0
    tet = Configuration(pos, np.eye(3) * 20, [0, 1, 0, 1], ("Cu", "Zr"), pbc=(False, False, False))
    assert np.all(voronoi_neighbors(tet).neighbors.counts() == 3)
    f = interstice_features(tet)
    np.testing.assert_allclose(f, interstice_features_reference(tet), rtol=0, atol=TOL)
    assert np.all(f[:, 8:16] == 0.0) and np.all(f[:, 0] != 0.0)
    assert np.all(f[:, 16 + 4 * 8:64] == 0.0)  # MRO of the zero hull features
    # a short cutoff leaves some atoms without cutoff neighbour: their distance stats and MRO are 0
    s = IntersticeSettings(distance_cutoff=2.3)
    fast = interstice_features(small_glass, s)
    np.testing.assert_allclose(fast, interstice_features_reference(small_glass, s), rtol=0, atol=TOL)
    lonely = np.flatnonzero(np.all(fast[:, 4:8] == 0.0, axis=1))
    assert 0 < len(lonely) < small_glass.count and np.all(fast[lonely, 64:] == 0.0)


def test_perfect_bcc_crystal_uses_qhull_for_degenerate_hulls():
    r = 1.26
    cfg = lattice(BCC, 3, 4 * r / math.sqrt(3))
    f = interstice_features(cfg)
    np.testing.assert_allclose(f, f[:1].repeat(len(f), 0), atol=1e-9)  # every atom alike
    second = 2 / math.sqrt(3) - 1  # 6 second neighbours
    np.testing.assert_allclose(f[0, :4], [6 * second / 14, math.sqrt(6 * 8) / 14 * second, 0, second], atol=1e-6)
    nl = voronoi_neighbors(cfg).neighbors
    pts = np.ascontiguousarray(nl.vectors[:14])
    assert I._hull_facets(pts, 14, np.empty((28, 3), np.int64)) == -1  # rhombic faces: coplanar


def test_centers_subset(small_glass, small_glass_features):
    idx = np.array([5, 0, 77, 5])
    np.testing.assert_array_equal(interstice_features(small_glass, centers=idx), small_glass_features[idx])
    assert interstice_features(small_glass, centers=np.zeros(0, int)).shape == (0, 80)
    with pytest.raises(ConfigurationError):
        interstice_features(small_glass, centers=[small_glass.count])


# -- invariances -----------------------------------------------------------------------------------
def test_translation_invariance(small_glass, small_glass_features):
    f = interstice_features(small_glass.translated([3.7, -12.1, 0.55]))
    np.testing.assert_allclose(f, small_glass_features, rtol=0, atol=TOL)


def test_permutation_invariance(small_glass, small_glass_features):
    perm = np.random.default_rng(5).permutation(small_glass.count)
    f = interstice_features(small_glass.subset(perm))
    np.testing.assert_allclose(f, small_glass_features[perm], rtol=0, atol=TOL)


def test_periodic_image_invariance(small_glass, small_glass_features):
    rng = np.random.default_rng(6)
    shifts = rng.integers(-2, 3, (small_glass.count, 3)) @ small_glass.cell.T
    f = interstice_features(small_glass.replace(positions=small_glass.positions + shifts))
    np.testing.assert_allclose(f, small_glass_features, rtol=0, atol=TOL)


def test_triclinic_and_rotated_cell(small_glass, small_glass_features):
    # the same periodic system described by a sheared cell (a, a + b, b + c), then rotated
    cell = small_glass.cell @ np.array([[1, 1, 0], [0, 1, 1], [0, 0, 1]])
    tri = small_glass.replace(cell=cell)
    np.testing.assert_allclose(interstice_features(tri), small_glass_features, rtol=0, atol=TOL)
    q, _ = np.linalg.qr(np.random.default_rng(7).normal(size=(3, 3)))
    rotated = tri.rotated(q if np.linalg.det(q) > 0 else -q)
    np.testing.assert_allclose(interstice_features(rotated), small_glass_features, rtol=0, atol=TOL)


def test_small_cell_equals_supercell():
    # a 2-atom bcc cell (2.9 A, thinner than the 4 A cutoff and the Voronoi shell) against a 3x3x3
    # supercell of the same periodic structure
    rng = np.random.default_rng(8)
    a = 2.9
    pos = BCC * a + rng.normal(0, 0.05, (2, 3))
    small = Configuration(pos, np.eye(3) * a, [0, 1], ("Fe", "Cu"))
    grid = np.array(list(itertools.product(range(3), repeat=3)), float) * a
    big = Configuration((pos[None] + grid[:, None]).reshape(-1, 3), np.eye(3) * 3 * a, np.tile([0, 1], 27), ("Fe", "Cu"))
    assert np.all(voronoi_neighbors(small).neighbors.counts() == 14)
    f_small = interstice_features(small)
    f_big = interstice_features(big)
    np.testing.assert_allclose(f_big, np.tile(f_small, (27, 1)), rtol=0, atol=TOL)
    # one atom in a 2.5 A simple cubic cell: its 6 neighbours are images of itself
    one = Configuration([[0.1, 0.2, 0.3]], np.eye(3) * 2.5, [0], ("Cu",))
    vn = voronoi_neighbors(one)
    assert np.all(vn.neighbors.neighbor == 0) and vn.neighbors.counts()[0] == 6
    assert np.isfinite(interstice_features(one)).all()


def test_too_thin_cell_is_refused():
    cfg = Configuration([[0, 0, 0], [1, 1, 0]], np.diag([3.0, 3.0, 1e-5]), [0, 0], ("Cu",))
    with pytest.raises(ConfigurationError, match="too thin"):
        voronoi_neighbors(cfg)


# -- free surfaces -------------------------------------------------------------------------------
def test_non_periodic_direction_interior_matches_bulk():
    bulk = lattice(FCC, (3, 3, 7), 4.05, 0.3, 9, ("Cu", "Zr"), [0.64, 0.36])
    slab = bulk.replace(pbc=(True, True, False))
    z = bulk.positions[:, 2]
    interior = np.flatnonzero((z > 12.0) & (z < 16.5))
    assert len(interior) > 20
    f_bulk = interstice_features(bulk, centers=interior)
    f_slab = interstice_features(slab)
    np.testing.assert_allclose(f_slab[interior], f_bulk, rtol=0, atol=TOL)
    # the cell length along a non-periodic direction does not matter
    taller = slab.replace(cell=np.diag([bulk.cell[0, 0], bulk.cell[1, 1], 99.0]), origin=[0, 0, -20.0])
    np.testing.assert_allclose(interstice_features(taller), f_slab, rtol=0, atol=TOL)
    # surface atoms see neighbours on one side only: none across the vacuum
    vn = voronoi_neighbors(slab).neighbors
    top = z[vn.center] > z.max() - 1.0
    assert np.all(vn.vectors[top, 2] < 3.0) and np.all(np.abs(vn.vectors[:, 2]) < 8.0)
    # a cluster in vacuum (no periodic direction) works too
    cluster = bulk.replace(pbc=(False, False, False))
    assert np.isfinite(interstice_features(cluster)).all()


# -- errors and settings ---------------------------------------------------------------------------
def test_unknown_element_and_radius_override(small_glass, small_glass_features):
    odd = small_glass.replace(type_names=("Cu", "Xx"))
    with pytest.raises(ConfigurationError, match="Xx"):
        interstice_features(odd)
    s = IntersticeSettings(radii={"Xx": 1.58})
    np.testing.assert_allclose(interstice_features(odd, s), small_glass_features, rtol=0, atol=TOL)
    bigger = interstice_features(small_glass, IntersticeSettings(radii={"Cu": 1.30}))
    assert np.all(bigger[small_glass.types == 0, 0] < small_glass_features[small_glass.types == 0, 0])


def test_invalid_input_is_refused():
    with pytest.raises(ConfigurationError, match="non-finite"):
        Configuration([[0, 0, np.nan]], np.eye(3) * 5, [0], ("Cu",))
    flat = Configuration([[0, 0, 0], [1, 1, 0]], np.eye(3) * 5, [0, 0], ("Cu",), is_2d=True)
    with pytest.raises(ConfigurationError, match="three-dimensional"):
        interstice_features(flat)
    for bad in ({"distance_cutoff": 0}, {"face_area_fraction": 1.0}, {"radii": {"Cu": -1}}):
        with pytest.raises(ConfigurationError):
            IntersticeSettings(**bad)
    with pytest.raises(ConfigurationError, match="unknown"):
        IntersticeSettings.from_dict({"cutoff": 4.0})


def test_settings_round_trip():
    s = IntersticeSettings(distance_cutoff=3.8, face_area_fraction=0.04, radii={"Zr": 1.6, "Cu": 1.27})
    d = s.to_dict()
    assert d == {"distance_cutoff": 3.8, "face_area_fraction": 0.04, "radii": {"Cu": 1.27, "Zr": 1.6},
                 "surface_gap": 10.0}
    assert IntersticeSettings.from_dict(d) == s and hash(s) == hash(IntersticeSettings.from_dict(d))
    assert IntersticeSettings().to_dict()["distance_cutoff"] == 4.0


def test_empty_configuration():
    cfg = Configuration(np.zeros((0, 3)), np.eye(3) * 5, np.zeros(0, int), ("Cu",))
    assert interstice_features(cfg).shape == (0, 80)


def test_radii_are_miracle(small_glass):
    r = atomic_radii(small_glass)
    assert set(np.unique(r)) == {1.26, 1.58}
