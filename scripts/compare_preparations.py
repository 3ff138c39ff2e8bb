"""The measurements behind the choice of the relaxed-glass preparation (docs/relaxed-glasses.md).

    python scripts/compare_preparations.py schedule NAME N SEED '[[2000,700,1e13],[700,1000,null],[700,50,1e13]]'
    python scripts/compare_preparations.py swap T EVERY FRACTION KAPPA N_STEPS
    python scripts/compare_preparations.py schedule2d NAME N SEED '[[1.0,0.6,1e-3],[0.6,0.2,1e-4],[0.2,0.025,1e-3]]' [OUT.npz]
    python scripts/compare_preparations.py order2d FILE.npz [FILE.npz ...]

``schedule``: a random Cu50Zr50 alloy of N atoms, melted 10 ps at 2000 K, then the NPT schedule
given as [[T_from, T_to, rate K/s], ...] (rate null: hold T_from for T_to ps), then CG to the
inherent structure (box relaxation, then fixed box); prints the potential energy per atom after
every 50 ps and E_IS at the end, one JSON object per line.

``swap``: hybrid MD + Monte Carlo type changes with LAMMPS's ``fix sgcmc`` (variance-constrained
semi-grand canonical, Sadigh et al. 2012, target c_Zr = 0.5) on the 4,000-atom glass
``data/cuzr50_4k/cuzr50_4k_g0001.npz`` at temperature T under NPT; prints, every 500 MD steps,
the number of atoms whose type changed and the Zr count.

``schedule2d``: the 2D Falk-Langer LJ mixture (:func:`~ovito_glassml.simulation.systems.lj2d`) of N
particles at fixed density, melted 50 tau at T = 1, then the NVT schedule [[T_from, T_to,
rate per tau], ...] in steps of 0.025; prints the potential energy per particle after every step
and E_IS (CG at fixed box) at the end; OUT.npz keeps the inherent structure.

``order2d``: local order of 2D glasses (a data-set file or an OUT.npz of ``schedule2d``): the
Voronoi coordination of each species and the fraction of large particles with |psi_6| > 0.8
(hexagonal, crystal-like) and of small ones with |psi_5| > 0.8 (pentagonal, the 2D counterpart of
the icosahedron; Falk & Langer 1998), with freud.
"""
from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ovito_glassml.simulation.protocol import _head, _interaction, _new_lammps, write_lammps_data  # noqa: E402
from ovito_glassml.simulation.systems import cuzr, lj2d  # noqa: E402

DT_PS = 0.002


def schedule(name: str, n: int, seed: int, sched: list) -> None:
    s = cuzr(0.5)
    lmp = _new_lammps()
    _head(lmp, s)
    side = (n / s.number_density) ** (1 / 3)
    lmp.command(f"region box block 0 {side} 0 {side} 0 {side}")
    lmp.command("create_box 2 box")
    for i, c in enumerate(s.counts(n)):
        lmp.command(f"create_atoms {i + 1} random {c} {seed * 1000 + 11 + 12 * i} box overlap 2.0 maxtry 1000")
    _interaction(lmp, s)
    lmp.command("minimize 1e-6 1e-8 1000 10000")
    lmp.command("reset_timestep 0")
    lmp.command(f"timestep {DT_PS}")
    lmp.command(f"velocity all create 2000 {seed * 1000 + 37} dist gaussian mom yes rot yes")
    t0 = time.time()

    def ramp(ta, tb, steps):
        lmp.command(f"fix md all npt temp {ta} {tb} 0.1 iso 0 0 1.0")
        lmp.command(f"run {steps}")
        lmp.command("unfix md")

    ramp(2000, 2000, 5000)
    for ta, tb, rate in sched:
        steps = int(round(abs(ta - tb) / rate / (DT_PS * 1e-12))) if rate else int(round(tb / DT_PS))
        if not rate:
            tb = ta
        n_chunks = max(1, steps // 25000)
        for k in range(n_chunks):
            a, b = ta + (tb - ta) * k / n_chunks, ta + (tb - ta) * (k + 1) / n_chunks
            ramp(a, b, steps // n_chunks)
            print(json.dumps({"T": b, "pe": lmp.get_thermo("pe") / n, "wall": time.time() - t0}), flush=True)
    lmp.command("velocity all set 0 0 0")
    lmp.command("min_style cg")
    lmp.command("fix relax all box/relax iso 0 vmax 0.001")
    lmp.command("min_modify line quadratic")
    lmp.command("minimize 0 1e-6 10000 100000")
    lmp.command("unfix relax")
    lmp.command("min_modify line backtrack")
    lmp.command("minimize 0 1e-8 10000 100000")
    print(json.dumps({"name": name, "N": n, "seed": seed, "E_IS": lmp.get_thermo("pe") / n,
                      "wall": time.time() - t0, "sched": sched}), flush=True)


def swap(temperature: float, every: int, fraction: float, kappa: float, n_steps: int) -> None:
    s = cuzr(0.5)
    z = np.load(ROOT / "data" / "cuzr50_4k" / "cuzr50_4k_g0001.npz")
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "in.data"
        write_lammps_data(data, s, z["positions"].astype(float), z["types"], z["cell"], z["origin"])
        # fix sgcmc needs an orthogonal box: drop the (zero) tilt line
        data.write_text("\n".join(line for line in data.read_text().split("\n") if not line.endswith("xy xz yz")))
        lmp = _new_lammps()
        _head(lmp, s)
        lmp.command(f"read_data {data}")
    _interaction(lmp, s)
    n = int(lmp.get_natoms())
    lmp.command(f"timestep {DT_PS}")
    lmp.command(f"velocity all create {temperature} 5 dist gaussian mom yes rot yes")
    lmp.command(f"fix md all npt temp {temperature} {temperature} 0.1 iso 0 0 1.0")
    lmp.command(f"fix mc all sgcmc {every} {fraction} {temperature} 0 randseed 77 variance {kappa} 0.5")

    def types():
        ids = lmp.numpy.extract_atom("id")[:n]
        return np.array(lmp.numpy.extract_atom("type")[:n])[np.argsort(ids)].copy()

    before, changed, t0 = types(), 0, time.time()
    for k in range(n_steps // 500):
        lmp.command("run 500")
        now = types()
        changed += int((now != before).sum())
        before = now
        print(json.dumps({"step": (k + 1) * 500, "wall": round(time.time() - t0, 1), "pe": lmp.get_thermo("pe") / n,
                          "n_zr": int((now == 2).sum()), "type_changes": changed,
                          "trials": (k + 1) * 500 // every * int(fraction * n)}), flush=True)


def schedule2d(name: str, n: int, seed: int, sched: list, out: str | None = None, d_t: float = 0.025) -> None:
    s = lj2d()
    lmp = _new_lammps(md=True)
    _head(lmp, s)
    side = (n / s.number_density) ** 0.5
    lmp.command(f"region box block 0 {side} 0 {side} -0.5 0.5")
    lmp.command("create_box 2 box")
    for i, c in enumerate(s.counts(n)):
        lmp.command(f"create_atoms {i + 1} random {c} {seed * 1000 + 11 + 12 * i} box overlap {s.overlap} maxtry 1000")
    _interaction(lmp, s)
    lmp.command("minimize 1e-6 1e-8 1000 10000")
    lmp.command("reset_timestep 0")
    lmp.command(f"timestep {s.timestep}")
    lmp.command(f"velocity all create {s.t_melt} {seed * 1000 + 37} dist gaussian mom yes rot yes")
    t0 = time.time()

    def ramp(ta, tb, steps):
        lmp.command(f"fix md all nvt temp {ta} {tb} 0.5")
        lmp.command(f"run {steps}")
        lmp.command("unfix md")

    ramp(s.t_melt, s.t_melt, int(round(50 / s.timestep)))
    for ta, tb, rate in sched:
        n_steps = max(1, int(round(abs(ta - tb) / d_t)))
        for k in range(n_steps):
            a, b = ta + (tb - ta) * k / n_steps, ta + (tb - ta) * (k + 1) / n_steps
            ramp(a, b, int(round(abs(b - a) / rate / s.timestep)))
            print(json.dumps({"T": round(b, 4), "pe": lmp.get_thermo("pe") / n, "wall": round(time.time() - t0, 1)}),
                  flush=True)
    lmp.command("velocity all set 0 0 0")
    lmp.command("min_style cg")
    lmp.command("minimize 0 1e-8 10000 100000")
    e_is = lmp.get_thermo("pe") / n
    print(json.dumps({"name": name, "N": n, "seed": seed, "E_IS": e_is, "wall": time.time() - t0, "sched": sched}),
          flush=True)
    if out:
        x = np.array(lmp.gather_atoms("x", 1, 3)).reshape(-1, 3)
        t = np.array(lmp.gather_atoms("type", 0, 1)) - 1
        np.savez(out, positions=x, types=t, cell=np.diag([side, side, 1.0]), origin=np.array([0.0, 0.0, -0.5]),
                 E_IS=e_is)


def order2d(paths: list[str]) -> None:
    import freud

    for path in paths:
        z = np.load(path, allow_pickle=True)
        cell, origin = np.asarray(z["cell"], dtype=float), np.asarray(z["origin"], dtype=float)
        lx, ly = cell[0, 0], cell[1, 1]
        types = np.asarray(z["types"])
        pos = np.asarray(z["positions"], dtype=float) - origin
        box = freud.box.Box.from_box([lx, ly])
        pts = box.wrap(np.c_[pos[:, 0] - lx / 2, pos[:, 1] - ly / 2, np.zeros(len(pos))])
        vor = freud.locality.Voronoi()
        vor.compute((box, pts))
        cn = np.bincount(vor.nlist.query_point_indices, minlength=len(pts))
        psi = {}
        for k in (5, 6):
            h = freud.order.Hexatic(k=k)
            h.compute((box, pts), neighbors=vor.nlist)
            psi[k] = np.abs(h.particle_order)
        row = {"file": str(path), "coordination": {}}
        for t, name in ((0, "L"), (1, "S")):
            vals, counts = np.unique(cn[types == t], return_counts=True)
            row["coordination"][name] = {int(v): round(float(c) / (types == t).sum(), 3) for v, c in zip(vals, counts)}
        row["L_psi6_above_0.8"] = round(float(np.mean(psi[6][types == 0] > 0.8)), 3)
        row["S_psi5_above_0.8"] = round(float(np.mean(psi[5][types == 1] > 0.8)), 3)
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in ("schedule", "swap", "schedule2d", "order2d"):
        raise SystemExit(__doc__)
    if sys.argv[1] == "schedule":
        schedule(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), json.loads(sys.argv[5]))
    elif sys.argv[1] == "schedule2d":
        schedule2d(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), json.loads(sys.argv[5]),
                   sys.argv[6] if len(sys.argv) > 6 else None)
    elif sys.argv[1] == "order2d":
        order2d(sys.argv[2:])
    else:
        swap(float(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6]))
