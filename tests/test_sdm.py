"""Spatial density map: fast kernel vs brute force, symmetries, errors, batching."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from ovito_glassml.descriptors.geometry import (PROTOCOLS_2D, Configuration, ConfigurationError, loading_frame,
                                                orientation_frame)
from ovito_glassml.descriptors.sdm import (SDMSettings, _spatial_density_map_reference, iter_spatial_density_maps,
                                           mean_spatial_density_map, mirror_images, sdm_mirror_operations,
                                           spatial_density_map)

SMALL = SDMSettings(cutoff=3.0, spacing=0.375, species=("Cu", "Zr"))  # 16^3 x 2
GENERIC_FRAME = loading_frame([1.0, 2.0, 0.5], [2.0, -1.0, 0.0])


def random_config(cell, n=None, density=0.058, seed=0, pbc=(True, True, True), names=("Cu", "Zr"), is_2d=False):
    rng = np.random.default_rng(seed)
    cell = np.asarray(cell, dtype=float)
    vol = abs(np.linalg.det(cell[:2, :2])) if is_2d else abs(np.linalg.det(cell))
    n = n or max(4, int(round(density * vol)))
    frac = rng.uniform(0, 1, (n, 3))
    if is_2d:
        frac[:, 2] = 0
    pos = frac @ cell.T
    types = rng.integers(0, len(names), n)
    types[:len(names)] = np.arange(len(names))
    return Configuration(pos, cell, types, names, pbc=pbc, is_2d=is_2d)


def explicit_sdm(config, settings, frame, centers):
    """Brute force over explicit lattice translations (independent of periodic_images/neighbor_list)."""
    d = settings.dimensions
    g = settings.coordinates()
    pos = config.positions
    span = [int(math.ceil(settings.search_radius / w)) + 1 if config.pbc[k] else 0
            for k, w in enumerate(config.widths)]
    shifts = np.array(list(itertools.product(*[range(-m, m + 1) for m in span]))) @ config.cell.T
    names = [config.type_names[t] for t in config.types]
    out = np.zeros((len(centers),) + settings.shape)
    for b, i in enumerate(centers):
        for j in range(config.count):
            c = settings.species.index(names[j])
            v = (pos[j] - pos[i] + shifts)[:, :d] @ np.asarray(frame).T
            v = v[np.all(np.abs(v) < settings.cutoff, axis=1)]
            for w in v:
                e = [np.exp(-(w[k] - g) ** 2 / (2 * settings.spacing ** 2)) for k in range(d)]
                if d == 3:
                    out[b, c] += e[2][:, None, None] * e[1][None, :, None] * e[0][None, None, :]
                else:
                    out[b, c] += e[1][:, None] * e[0][None, :]
    return out


def rel_err(a, ref):
    return float(np.abs(np.asarray(a, float) - ref).max() / np.abs(ref).max())


def boundary_centers(config, k=6):
    """Atoms closest to a cell face (their neighbourhoods cross the periodic boundary)."""
    s = config.fractional()
    dist = np.minimum(s, 1 - s)[:, :config.dimensions].min(axis=1)
    return np.argsort(dist)[:k]


# ---------------------------------------------------------------------------------------------
def test_fast_matches_reference_orthogonal_box_across_boundary():
    cfg = random_config(np.diag([12.0, 11.0, 13.0]), seed=1)
    centers = boundary_centers(cfg)
    fast = spatial_density_map(cfg, SMALL, GENERIC_FRAME, centers)
    ref = _spatial_density_map_reference(cfg, SMALL, GENERIC_FRAME, centers)
    assert fast.dtype == np.float32 and fast.shape == (len(centers), 2, 16, 16, 16)
    assert rel_err(fast, ref) < 1e-4
    # the reference itself agrees with the explicit lattice sum
    assert rel_err(ref[:2], explicit_sdm(cfg, SMALL, GENERIC_FRAME, centers[:2])) < 1e-12


def test_fast_matches_explicit_triclinic_and_thin_cells():
    # triclinic, and thinner than 2 r_c = 6 along a (several images of one atom in the cube)
    cell = np.array([[4.0, 1.5, -1.0], [0.0, 10.0, 2.0], [0.0, 0.0, 9.0]])
    cfg = random_config(cell, seed=2)
    centers = np.arange(4)
    fast = spatial_density_map(cfg, SMALL, GENERIC_FRAME, centers)
    ref = explicit_sdm(cfg, SMALL, GENERIC_FRAME, centers)
    assert rel_err(fast, ref) < 1e-4
    # very thin slab (2.2 A, below the Gaussian truncation radius), one periodic direction open
    cfg = random_config(np.diag([2.2, 9.0, 9.0]), seed=3, pbc=(True, True, False))
    fast = spatial_density_map(cfg, SMALL, GENERIC_FRAME, [0, 1, 2])
    ref = explicit_sdm(cfg, SMALL, GENERIC_FRAME, [0, 1, 2])
    assert rel_err(fast, ref) < 1e-4


def test_default_3d_error_and_truncation_is_measurable():
    cfg = random_config(np.eye(3) * 20.0, seed=4)
    settings = SDMSettings()
    assert settings.shape == (2, 32, 32, 32)
    centers = [0, 7, 100]
    ref = _spatial_density_map_reference(cfg, settings, GENERIC_FRAME, centers)
    err = rel_err(spatial_density_map(cfg, settings, GENERIC_FRAME, centers), ref)
    assert err < 1e-4
    # the comparison is sensitive: a harsh truncation is caught
    coarse = SDMSettings(truncation=3.0)
    assert rel_err(spatial_density_map(cfg, coarse, GENERIC_FRAME, centers), ref) > 1e-3


def test_single_atom_hand_values():
    # two atoms in an open box: centre Cu at the middle, a Zr at +1.05 along s
    cell = np.eye(3) * 30.0
    pos = np.array([[15.0, 15.0, 15.0], [16.05, 15.0, 15.0]])
    cfg = Configuration(pos, cell, [0, 1], ("Cu", "Zr"), pbc=(False, False, False))
    img = spatial_density_map(cfg, SMALL, np.eye(3), [0])[0]
    g = SMALL.coordinates()
    gz, gy, gx = np.meshgrid(g, g, g, indexing="ij")
    expect_cu = np.exp(-(gx ** 2 + gy ** 2 + gz ** 2) / (2 * 0.375 ** 2))
    expect_zr = np.exp(-((gx - 1.05) ** 2 + gy ** 2 + gz ** 2) / (2 * 0.375 ** 2))
    assert np.allclose(img[0], expect_cu, atol=1e-5)
    assert np.allclose(img[1], expect_zr, atol=1e-5)
    # the Zr image peaks at x = +1.05 (the X axis is the last image axis)
    kz, ky, kx = np.unravel_index(np.argmax(img[1]), img[1].shape)
    assert g[kx] > 0.8 and abs(g[ky]) < 0.2 and abs(g[kz]) < 0.2
    # outside the cube (|x| >= r_c) an atom does not count even when close to a grid point
    far = Configuration(np.array([[15.0, 15, 15], [18.01, 15, 15]]), cell, [0, 1], ("Cu", "Zr"),
                        pbc=(False,) * 3)
    assert spatial_density_map(far, SMALL, np.eye(3), [0])[0, 1].max() == 0.0


def test_rotation_invariance_generic_and_cube_orientation():
    cfg = random_config(np.diag([11.0, 12.0, 10.0]), seed=5)
    centers = boundary_centers(cfg, 4)
    base = spatial_density_map(cfg, SMALL, GENERIC_FRAME, centers)
    q = loading_frame([0.3, -1.0, 2.0], [1.0, 0.3, 0.0])  # some proper rotation
    rotated = cfg.rotated(q)
    assert np.allclose(spatial_density_map(rotated, SMALL, GENERIC_FRAME @ q.T, centers), base, atol=2e-6)
    # cube orientation: rotate the glass by Q, load along the orientation whose frame is Q^T
    ident = spatial_density_map(cfg, SMALL, "xy", centers)
    for name in ("-zx", "y-z", "x-y"):
        q = orientation_frame(name).T
        out = spatial_density_map(cfg.rotated(q), SMALL, name, centers)
        assert np.allclose(out, ident, atol=2e-6), name
    # and the loading orientation matters
    assert not np.allclose(spatial_density_map(cfg, SMALL, "zx", centers), ident, atol=1e-2)


@pytest.mark.parametrize("dims", [3, 2])
def test_mirror_operations_equal_mirrored_configurations(dims):
    # truncation 7 (no truncation on a 16 grid): the swap of X and Y then holds to float32 rounding,
    # with the default truncation it holds to the truncation error (checked at the end)
    if dims == 3:
        settings, frame = SDMSettings(cutoff=3.0, spacing=0.375, truncation=7.0), GENERIC_FRAME
        cfg = random_config(np.diag([11.0, 12.0, 10.0]), seed=6)
    else:
        settings = SDMSettings(cutoff=2.0, spacing=0.2, species=("Cu", "Zr"), dimensions=2, truncation=10.0)
        frame = loading_frame([1.0, 0.4], [-0.4, 1.0], dimensions=2)
        cfg = random_config(np.diag([9.0, 8.0, 1.0]), density=0.9, seed=6, is_2d=True)
    centers = [0, 1, 2]
    base = spatial_density_map(cfg, settings, frame, centers)
    ops = sdm_mirror_operations(dims)
    assert len(ops) == (8 if dims == 3 else 4)
    seen = []
    for k, op in enumerate(ops):
        m_lab = np.eye(3)
        m_lab[:dims, :dims] = frame.T @ op.matrix @ frame  # the mirror, expressed in the lab frame
        mirrored = cfg.rotated(m_lab)
        expect = spatial_density_map(mirrored, settings, frame, centers)
        got = mirror_images(base, k)
        assert np.allclose(got, expect, atol=2e-6), op.name
        assert np.array_equal(mirror_images(got, k), base)  # involution
        seen.append(got)
    # all operations differ on a generic image; none but the 180 degree one is a pair of axis flips
    for a, b in itertools.combinations(range(len(ops)), 2):
        assert not np.allclose(seen[a], seen[b], atol=1e-3)
    assert not np.allclose(mirror_images(base, 1), np.flip(base, axis=-1), atol=1e-3)
    assert not np.allclose(mirror_images(base, 1), np.flip(base, axis=-2), atol=1e-3)
    # zeta = (s + n)/sqrt2 is fixed by op 1 (swap) and reversed by op 2 (anti-swap)
    zeta = np.zeros(dims)
    zeta[:2] = 1 / math.sqrt(2)
    assert np.allclose(ops[1].matrix @ zeta, zeta) and np.allclose(ops[2].matrix @ zeta, -zeta)
    default = SDMSettings.defaults(dims, ("Cu", "Zr"), cutoff=settings.cutoff, spacing=settings.spacing)
    base = spatial_density_map(cfg, default, frame, centers)
    for k, op in enumerate(ops):
        m_lab = np.eye(3)
        m_lab[:dims, :dims] = frame.T @ op.matrix @ frame
        expect = spatial_density_map(cfg.rotated(m_lab), default, frame, centers)
        assert rel_err(mirror_images(base, k), expect) < 1e-4


def test_translation_and_atom_order_invariance():
    cfg = random_config(np.array([[10.0, 2.0, 0.0], [0.0, 11.0, 1.0], [0.0, 0.0, 12.0]]), seed=7)
    centers = np.array([0, 3, 9])
    base = spatial_density_map(cfg, SMALL, GENERIC_FRAME, centers)
    moved = cfg.translated([3.7, -25.1, 8.3])  # atoms leave the cell: wrapped internally
    assert np.allclose(spatial_density_map(moved, SMALL, GENERIC_FRAME, centers), base, atol=2e-6)
    perm = np.random.default_rng(0).permutation(cfg.count)
    inverse = np.argsort(perm)  # new index of old atom i
    shuffled = cfg.subset(perm)
    assert np.allclose(spatial_density_map(shuffled, SMALL, GENERIC_FRAME, inverse[centers]), base, atol=2e-6)


def test_channel_order_follows_species_order():
    cfg = random_config(np.eye(3) * 10.0, seed=8)
    a = spatial_density_map(cfg, SMALL, "xy", [0, 1])
    swapped = SDMSettings(cutoff=3.0, spacing=0.375, species=("Zr", "Cu"))
    b = spatial_density_map(cfg, swapped, "xy", [0, 1])
    assert np.array_equal(a[:, 0], b[:, 1]) and np.array_equal(a[:, 1], b[:, 0])
    # a species not present gives an empty channel; a type not among the species is refused
    three = SDMSettings(cutoff=3.0, spacing=0.375, species=("Cu", "Al", "Zr"))
    c = spatial_density_map(cfg, three, "xy", [0])
    assert c[0, 1].max() == 0 and np.array_equal(c[0, 2], a[0, 1])


def test_2d_defaults_against_brute_force():
    settings = SDMSettings.defaults(2, ("S", "L"))
    assert settings.shape == (2, 50, 50)
    cfg = random_config(np.diag([13.0, 12.0, 1.0]), density=0.95, seed=9, names=("S", "L"), is_2d=True)
    for proto in ("positive_simple_shear", "negative_simple_shear", "positive_pure_shear"):
        frame = orientation_frame(proto, dimensions=2)
        centers = boundary_centers(cfg, 3)
        fast = spatial_density_map(cfg, settings, frame, centers)
        assert fast.shape == (3, 2, 50, 50)
        assert rel_err(fast, _spatial_density_map_reference(cfg, settings, frame, centers)) < 1e-4
    frame = loading_frame(*PROTOCOLS_2D["negative_pure_shear"], dimensions=2)
    assert rel_err(spatial_density_map(cfg, settings, frame, [5]), explicit_sdm(cfg, settings, frame, [5])) < 1e-4


def test_small_grid_below_window_width():
    settings = SDMSettings(cutoff=2.0, spacing=0.5, species=("Cu", "Zr"))  # 8^3: window clamps to the grid
    cfg = random_config(np.eye(3) * 9.0, seed=10)
    fast = spatial_density_map(cfg, settings, GENERIC_FRAME, [0, 1, 2])
    assert rel_err(fast, _spatial_density_map_reference(cfg, settings, GENERIC_FRAME, [0, 1, 2])) < 1e-4


def test_errors_are_clear():
    cfg3 = random_config(np.eye(3) * 8.0, seed=11)
    cfg2 = random_config(np.diag([8.0, 8.0, 1.0]), density=0.9, seed=11, is_2d=True)
    s2 = SDMSettings.defaults(2)
    with pytest.raises(ConfigurationError, match="2D but the SDM settings are 3D"):
        spatial_density_map(cfg2, SMALL, np.eye(2), [0])
    with pytest.raises(ConfigurationError, match="3D but the SDM settings are 2D"):
        spatial_density_map(cfg3, s2, np.eye(3), [0])
    with pytest.raises(ConfigurationError, match="3x3 loading frame"):
        spatial_density_map(cfg3, SMALL, np.eye(2), [0])
    with pytest.raises(ConfigurationError, match="orthonormal"):
        spatial_density_map(cfg3, SMALL, np.eye(3) * 2, [0])
    with pytest.raises(ConfigurationError, match="no centre atoms"):
        spatial_density_map(cfg3, SMALL, np.eye(3), [])
    with pytest.raises(ConfigurationError, match="out of range"):
        spatial_density_map(cfg3, SMALL, np.eye(3), [0, cfg3.count])
    with pytest.raises(ConfigurationError, match="out of range"):
        iter_spatial_density_maps(cfg3, SMALL, np.eye(3), [-1])
    with pytest.raises(ConfigurationError, match=r"\['Zr'\] are not among the species"):
        spatial_density_map(cfg3, SDMSettings(cutoff=3.0, spacing=0.375, species=("Cu",)), np.eye(3), [0])
    with pytest.raises(ConfigurationError, match="whole number of pixels"):
        SDMSettings(cutoff=3.0, spacing=0.7)
    with pytest.raises(ConfigurationError, match="positive"):
        SDMSettings(cutoff=-1.0)
    with pytest.raises(ConfigurationError, match="twice"):
        SDMSettings(species=("Cu", "Cu"))
    with pytest.raises(ConfigurationError, match="iter_spatial_density_maps"):
        spatial_density_map(cfg3, SMALL, np.eye(3), np.arange(cfg3.count), max_bytes=1 << 16)
    with pytest.raises(ConfigurationError, match="0..7"):
        mirror_images(np.zeros((1, 2, 4, 4, 4)), 8)
    with pytest.raises(ConfigurationError, match="dimensions"):
        mirror_images(np.zeros((2, 4, 4)), 1)


def test_iterator_batches_cover_all_centres_once():
    cfg = random_config(np.eye(3) * 9.0, seed=12)
    centers = np.random.default_rng(1).permutation(cfg.count)[:23]
    full = spatial_density_map(cfg, SMALL, GENERIC_FRAME, centers)
    seen, buffers = [], set()
    for idx, images in iter_spatial_density_maps(cfg, SMALL, GENERIC_FRAME, centers, batch_size=5):
        assert 1 <= len(idx) <= 5 and images.shape == (len(idx),) + SMALL.shape
        assert np.array_equal(images, full[len(seen):len(seen) + len(idx)])
        buffers.add(images.__array_interface__["data"][0])
        seen.extend(idx.tolist())
    assert seen == centers.tolist()
    assert len(buffers) == 1  # one reused buffer
    batches = list(iter_spatial_density_maps(cfg, SMALL, GENERIC_FRAME, centers, batch_size=5, reuse_buffer=False))
    assert np.array_equal(np.concatenate([b for _, b in batches]), full)
    assert [len(i) for i, _ in batches] == [5, 5, 5, 5, 3]
    spatial = list(iter_spatial_density_maps(cfg, SMALL, GENERIC_FRAME, centers, batch_size=7, order="spatial",
                                             reuse_buffer=False))
    got = np.concatenate([i for i, _ in spatial])
    assert sorted(got.tolist()) == sorted(centers.tolist()) and max(len(i) for i, _ in spatial) <= 7
    where = {c: k for k, c in enumerate(centers.tolist())}
    for i, images in spatial:
        assert np.array_equal(images, full[[where[c] for c in i.tolist()]])
    mean = mean_spatial_density_map(cfg, SMALL, GENERIC_FRAME, centers, batch_size=4)
    assert mean.shape == SMALL.shape and np.allclose(mean, full.astype(np.float64).mean(axis=0), atol=1e-6)


def test_settings_round_trip():
    s = SDMSettings(cutoff=4.8, spacing=0.6, species=["Cu", "Zr", "Al"], truncation=6)
    assert s.species == ("Cu", "Zr", "Al") and s.grid_size == 16 and s.shape == (3, 16, 16, 16)
    d = s.to_dict()
    assert SDMSettings.from_dict(d) == s
    d["grid_size"] = 17
    with pytest.raises(ConfigurationError, match="grid size"):
        SDMSettings.from_dict(d)
    assert SDMSettings.defaults(2).shape == (2, 50, 50)
    g = SDMSettings().coordinates()
    assert len(g) == 32 and np.isclose(g[0], -9.3) and np.isclose(g[-1], 9.3)
