import itertools

import numpy as np
import pytest

from conftest import random_glass
from ovito_glassml.descriptors.geometry import (PROTOCOLS_2D, Configuration, ConfigurationError, cube_orientations,
                                                 iter_neighbor_batches, loading_frame, neighbor_list,
                                                 orientation_frame, orientation_name, periodic_images)
from ovito_glassml.descriptors.species import atomic_radii, species_channels


def brute_force_distances(config, i, cutoff, reach=3):
    ranges = [range(-reach, reach + 1) if p else range(1) for p in config.pbc]
    out = []
    for shift in itertools.product(*ranges):
        t = config.cell @ np.array(shift, dtype=float)
        d = np.linalg.norm(config.positions + t - config.positions[i], axis=1)
        for j in np.flatnonzero(d < cutoff):
            if not (j == i and not any(shift)):
                out.append(d[j])
    return np.sort(out)


@pytest.mark.parametrize("pbc", [(True, True, True), (True, False, True), (False, False, False)])
def test_neighbor_list_matches_brute_force_in_thin_triclinic_cell(pbc):
    cfg = random_glass(40, density=0.05, seed=3, triclinic=True).replace(pbc=pbc)
    cutoff = 1.4 * cfg.widths.min()  # thinner than twice the cutoff: several images per atom
    nl = neighbor_list(cfg, cutoff)
    for i in range(cfg.count):
        got = nl.distances[nl.offsets[i]:nl.offsets[i + 1]]
        np.testing.assert_allclose(got, brute_force_distances(cfg, i, cutoff), atol=1e-10)
    # vectors agree with distances and with positions modulo the lattice
    np.testing.assert_allclose(np.linalg.norm(nl.vectors, axis=1), nl.distances)
    frac = np.linalg.solve(cfg.cell, (nl.vectors - (cfg.positions[nl.neighbor] - cfg.positions[nl.center])).T).T
    np.testing.assert_allclose(frac, np.round(frac), atol=1e-9)


def test_neighbor_batches_equal_full_list():
    cfg = random_glass(120, seed=1)
    full = neighbor_list(cfg, 5.0)
    parts = list(iter_neighbor_batches(cfg, 5.0, batch_size=17))
    assert sum(len(p.centers) for p in parts) == cfg.count
    np.testing.assert_array_equal(np.concatenate([p.neighbor for p in parts]), full.neighbor)
    np.testing.assert_allclose(np.concatenate([p.distances for p in parts]), full.distances)


def test_periodic_images_first_rows_are_wrapped_particles():
    cfg = random_glass(50, seed=2, triclinic=True).translated([30.0, -40.0, 7.0])
    images, index = periodic_images(cfg, 3.0)
    np.testing.assert_array_equal(index[:cfg.count], np.arange(cfg.count))
    frac = cfg.fractional(images[:cfg.count])
    assert frac.min() >= 0 and frac.max() < 1


def test_configuration_refuses_bad_input():
    with pytest.raises(ConfigurationError, match="non-finite"):
        Configuration([[0, 0, np.nan]], np.eye(3), [0], ("Cu",))
    with pytest.raises(ConfigurationError, match="singular"):
        Configuration([[0, 0, 0]], np.zeros((3, 3)), [0], ("Cu",))
    with pytest.raises(ConfigurationError, match="type indices"):
        Configuration([[0, 0, 0]], np.eye(3), [1], ("Cu",))


def test_configuration_copies_user_arrays():
    pos = np.zeros((2, 3))
    cfg = Configuration(pos, np.eye(3) * 5, [0, 0], ("Cu",))
    pos[0, 0] = 1.0
    assert cfg.positions[0, 0] == 0.0
    with pytest.raises(ValueError):
        cfg.positions[0, 0] = 2.0


def test_cube_orientations_are_the_24_proper_rotations():
    frames = [orientation_frame(name) for name, _, _ in cube_orientations()]
    assert len(frames) == 24
    for (name, s, n), rot in zip(cube_orientations(), frames):
        np.testing.assert_allclose(rot @ rot.T, np.eye(3), atol=1e-12)
        assert np.isclose(np.linalg.det(rot), 1.0)
        np.testing.assert_allclose(rot @ s, [1, 0, 0], atol=1e-12)  # shear direction -> X
        np.testing.assert_allclose(rot @ n, [0, 1, 0], atol=1e-12)  # plane normal -> Y
        assert orientation_name(rot) == name
    # closed under composition: a group
    keys = {tuple(np.round(f).astype(int).ravel()) for f in frames}
    assert len(keys) == 24
    for a, b in itertools.product(frames[:6], frames):
        assert tuple(np.round(a @ b).astype(int).ravel()) in keys


def test_2d_protocols():
    for name, (s, n) in PROTOCOLS_2D.items():
        rot = orientation_frame(name, dimensions=2)
        np.testing.assert_allclose(rot @ rot.T, np.eye(2), atol=1e-12)
    # positive pure shear: elongation (s + n)/sqrt2 along y, compression (s - n)/sqrt2 along x
    s, n = PROTOCOLS_2D["positive_pure_shear"]
    np.testing.assert_allclose((s + n) / np.sqrt(2), [0, 1], atol=1e-12)
    np.testing.assert_allclose(np.abs((s - n) / np.sqrt(2)), [1, 0], atol=1e-12)
    s, n = PROTOCOLS_2D["negative_pure_shear"]
    np.testing.assert_allclose((s + n) / np.sqrt(2), [1, 0], atol=1e-12)
    assert np.isclose(np.linalg.det(orientation_frame("negative_simple_shear", 2)), -1.0)


def test_loading_frame_errors():
    with pytest.raises(ConfigurationError, match="not perpendicular"):
        loading_frame([1, 0, 0], [1, 1, 0])
    with pytest.raises(ConfigurationError, match="xy plane"):
        loading_frame([1, 0, 0], [0, 0, 1], dimensions=2)
    with pytest.raises(ConfigurationError, match="non-zero"):
        loading_frame([0, 0, 0], [0, 1, 0])
    with pytest.raises(ConfigurationError, match="unknown loading orientation"):
        orientation_frame("xx")
    with pytest.raises(ConfigurationError, match="2D protocol but the system is 3D"):
        orientation_frame("positive_pure_shear", dimensions=3)
    rot = loading_frame([2, 0, 0], [0, 0, -3])
    np.testing.assert_allclose(rot, [[1, 0, 0], [0, 0, -1], [0, 1, 0]], atol=1e-12)


def test_species_matching_by_name():
    cfg = Configuration(np.zeros((3, 3)), np.eye(3) * 5, [1, 0, 1], ("Zr", "Cu"))
    np.testing.assert_array_equal(species_channels(cfg, ["Cu", "Zr"]), [0, 1, 0])
    with pytest.raises(ConfigurationError, match=r"\['Zr'\] are not among the species"):
        species_channels(cfg, ["Cu"])
    np.testing.assert_allclose(atomic_radii(cfg), [1.26, 1.58, 1.26])
    np.testing.assert_allclose(atomic_radii(cfg, {"Cu": 1.3}), [1.3, 1.58, 1.3])
    odd = Configuration(np.zeros((1, 3)), np.eye(3) * 5, [0], ("Xx",))
    with pytest.raises(ConfigurationError, match="no atomic radius is known for particle type 'Xx'"):
        atomic_radii(odd)
