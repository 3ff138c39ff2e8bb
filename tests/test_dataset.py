"""Data-set files: round trip, and refusal of truncated, incomplete or malformed files."""
from __future__ import annotations

import json

import numpy as np
import pytest

from ovito_glassml.simulation.dataset import (DatasetError, GlassDataset, load_dataset, read_provenance,
                                            save_dataset, validate_dataset)


def _synthetic(n=50, orientations=("xy", "yz"), msd=True) -> GlassDataset:
    rng = np.random.default_rng(0)
    orients = {}
    for o in orientations:
        orients[o] = {"rotation": np.eye(3), "strain": np.linspace(0, 0.002, 3), "stress": rng.normal(size=3),
                      "energy": rng.normal(size=3), "snapshot_strains": np.array([0.001, 0.002]),
                      "d2min": rng.random((2, n)), "snapshot_cells": np.stack([np.eye(3) * 10] * 2)}
    prov = {"system": {"name": "Cu50Zr50", "dimensions": 3}, "glass": {"n_atoms": n}, "lammps_version": 20250722,
            "stages": {"glass": True, "msd": msd, "shear": list(orientations)},
            "orientations_done": list(orientations), "complete": False}
    kw = {}
    if msd:
        runs = rng.random((4, n))
        kw = dict(msd=runs.mean(0), msd_runs=runs, msd_temperature=np.full(4, 50.0), v_flex=runs.mean(0) * 2.5)
    return GlassDataset(positions=rng.random((n, 3)) * 10, types=rng.integers(0, 2, n), type_names=("Cu", "Zr"),
                        cell=np.eye(3) * 10, origin=np.zeros(3), pbc=(True, True, True), provenance=prov,
                        voronoi_volume=rng.random(n) + 10, orientations=orients, **kw)


def test_round_trip(tmp_path):
    ds = _synthetic()
    p = save_dataset(tmp_path / "g.npz", ds)
    back = load_dataset(p)
    assert back.count == 50 and back.type_names == ("Cu", "Zr")
    assert back.positions.dtype == np.float32
    np.testing.assert_allclose(back.positions, ds.positions, rtol=1e-6)
    np.testing.assert_allclose(back.d2min("yz", 0.002), ds.orientations["yz"]["d2min"][1], rtol=1e-6)
    assert set(back.orientations) == {"xy", "yz"}
    assert back.msd_runs.shape == (4, 50)
    assert back.configuration().count == 50
    with pytest.raises(KeyError):
        back.d2min("zx", 0.002)
    with pytest.raises(KeyError):
        back.d2min("xy", 0.05)


def test_partial_dataset_without_msd_or_orientations(tmp_path):
    back = load_dataset(save_dataset(tmp_path / "g.npz", _synthetic(orientations=(), msd=False)))
    assert back.orientations == {} and back.msd is None and not back.complete


def test_truncated_file_is_refused(tmp_path):
    p = save_dataset(tmp_path / "g.npz", _synthetic())
    raw = p.read_bytes()
    for cut in (len(raw) // 2, len(raw) - 30, 100):
        bad = tmp_path / f"cut{cut}.npz"
        bad.write_bytes(raw[:cut])
        with pytest.raises(DatasetError, match="truncated or corrupt"):
            load_dataset(bad)


def test_missing_file_and_garbage(tmp_path):
    g = tmp_path / "garbage.npz"
    g.write_bytes(b"not a zip file at all" * 10)
    for read, bad in ((load_dataset, "truncated or corrupt"), (read_provenance, "no readable provenance")):
        with pytest.raises(DatasetError, match="no such"):
            read(tmp_path / "nothing.npz")
        with pytest.raises(DatasetError, match=rf"garbage\.npz: (the file is )?{bad}"):
            read(g)


def test_read_provenance_alone_matches_the_full_load(tmp_path):
    p = save_dataset(tmp_path / "g.npz", _synthetic())
    assert read_provenance(p) == load_dataset(p).provenance
    assert read_provenance(p)["orientations_done"] == ["xy", "yz"]
    np.savez(tmp_path / "other.npz", positions=np.zeros((2, 3)))  # an npz that is not a data set
    with pytest.raises(DatasetError, match="no readable provenance"):
        read_provenance(tmp_path / "other.npz")


def _arrays(tmp_path):
    p = save_dataset(tmp_path / "g.npz", _synthetic())
    with np.load(p) as z:
        return p, {k: z[k] for k in z.files}


def test_missing_key_is_refused(tmp_path):
    p, a = _arrays(tmp_path)
    del a["voronoi_volume"]
    with pytest.raises(DatasetError, match="missing"):
        validate_dataset(p, a)


def test_wrong_shape_is_refused(tmp_path):
    p, a = _arrays(tmp_path)
    a["orient/xy/d2min"] = a["orient/xy/d2min"][:, :-1]
    with pytest.raises(DatasetError, match="d2min has shape"):
        validate_dataset(p, a)
    p, a = _arrays(tmp_path)
    a["msd"] = a["msd"][:10]
    with pytest.raises(DatasetError, match="msd has shape"):
        validate_dataset(p, a)


def test_listed_orientation_missing_field_is_refused(tmp_path):
    p, a = _arrays(tmp_path)
    del a["orient/yz/stress"]
    with pytest.raises(DatasetError, match="'yz' is listed as done"):
        validate_dataset(p, a)


def test_provenance_must_agree(tmp_path):
    p, a = _arrays(tmp_path)
    prov = json.loads(str(a["provenance"]))
    prov["orientations_done"] = ["xy"]
    a["provenance"] = np.array(json.dumps(prov))
    with pytest.raises(DatasetError, match="disagree"):
        validate_dataset(p, a)
    p, a = _arrays(tmp_path)
    a["provenance"] = np.array("{not json")
    with pytest.raises(DatasetError, match="not valid JSON"):
        validate_dataset(p, a)


def test_save_refuses_inconsistent_dataset(tmp_path):
    ds = _synthetic()
    ds.voronoi_volume = ds.voronoi_volume[:-1]
    with pytest.raises(DatasetError):
        save_dataset(tmp_path / "g.npz", ds)
    assert not (tmp_path / "g.npz").exists()


def test_configuration_in_a_loading_frame():
    """configuration("yz"): the same atoms in order, r' = R r with rows s = y, n = z, s x n = x: the
    coordinates (y, z, x) in the box (12, 14, 10)."""
    from ovito_glassml.descriptors.geometry import orientation_frame

    ds = _synthetic(orientations=("xy", "yz"))
    ds.cell = np.diag([10.0, 12.0, 14.0])
    ds.positions = ds.positions * [1.0, 1.2, 1.4]
    ds.orientations["yz"]["rotation"] = orientation_frame("yz")
    c = ds.configuration("yz")
    np.testing.assert_allclose(np.diag(c.cell), [12.0, 14.0, 10.0])
    np.testing.assert_allclose(c.positions, ds.positions[:, [1, 2, 0]], atol=1e-12)
    np.testing.assert_array_equal(c.types, ds.types)
    np.testing.assert_allclose(ds.configuration("xy").positions, ds.positions)  # identity rotation
    with pytest.raises(KeyError, match="zx"):
        ds.configuration("zx")
