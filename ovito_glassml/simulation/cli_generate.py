"""``glassml generate``: make (or resume) a labelled training-data campaign with LAMMPS.

    glassml generate --name cuzr4k --system CuZr --atoms 4000 --glasses 16 --jobs 1 \\
        --workdir runs --data-dir data --git-commit

Run the same command again to resume: finished tasks are skipped and interrupted ones continue
from their last checkpoint.  The data-set files under --data-dir count as checkpoints too: on a
fresh clone (empty --workdir) the stages they hold are restored, not simulated again.
``--status`` runs nothing and prints the tasks done, the tasks under way (from their
checkpoints) and the core-hours left at the speed the finished tasks ran.
``--ranks R`` runs each task on R MPI ranks (``mpiexec -n R``; ``--mpiexec 'srun'`` on a cluster).
"""
from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["add_parser", "build_config", "main"]


def _floats(text: str) -> tuple[float, ...]:
    return tuple(float(x) for x in text.split(",") if x.strip())


def _windows(text: str | None) -> tuple[tuple[float, float, float], ...]:
    """``"1100:850:1e12,850:650:1e11"`` -> ((1100, 850, 1e12), (850, 650, 1e11))."""
    if not text:
        return ()
    out = []
    for part in text.split(","):
        fields = part.strip().split(":")
        try:
            if len(fields) != 3:
                raise ValueError
            out.append(tuple(float(f) for f in fields))
        except ValueError:
            raise ValueError(f"--window {part.strip()!r}: give T_FROM:T_TO:RATE, e.g. 850:650:1e11") from None
    return tuple(out)


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("generate", help="generate labelled glasses with LAMMPS (resumable)",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_arguments(p)
    p.set_defaults(func=run)
    return p


def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="JSON campaign config (e.g. <workdir>/<name>/campaign.json); "
                                    "other options are ignored except --workdir/--data-dir/--jobs/--git-commit")
    p.add_argument("--name", default="cuzr", help="campaign name: work directory and data-set prefix")
    p.add_argument("--system", default="CuZr", choices=["CuZr", "FeP", "LJ2D"])
    p.add_argument("--cu-fraction", type=float, default=0.5, help="Cu number fraction (CuZr)")
    p.add_argument("--p-fraction", type=float, default=0.2, help="P number fraction (FeP)")
    p.add_argument("--atoms", type=int, default=4000)
    p.add_argument("--glasses", type=int, default=16)
    p.add_argument("--first-seed", type=int, default=1)
    p.add_argument("--test-glasses", type=int, default=None,
                   help="the last N glasses are marked split=test (default 4, or every glass when fewer)")
    p.add_argument("--quench-rate", type=float, default=None,
                   help="K/s (metal; default 1e13) or T/tau (LJ; default 1e-3)")
    p.add_argument("--preparation", default="quench", choices=["quench", "window"],
                   help="how each glass is cooled: quench (one rate, --quench-rate, all the way) or window "
                        "(slower inside temperature windows around the glass transition; default windows for "
                        "metal units 1100:850:1e12,850:700:1e11, docs/relaxed-glasses.md)")
    p.add_argument("--window", default=None,
                   help="windows of the window preparation, hot to cold: T_FROM:T_TO:RATE[,...] (K, K, K/s; "
                        "LJ: temperature and 1/tau units)")
    p.add_argument("--melt-time", type=float, default=None, help="ps (default 10) or tau (default 50)")
    p.add_argument("--orientations", default=None,
                   help="comma-separated cube orientations (default xy,x-y,yz,y-z,zx,z-x: the three shear "
                        "planes in both senses) or 2D protocols; none: make the glasses only, no shear")
    p.add_argument("--max-strain", type=float, default=0.10)
    p.add_argument("--strain-step", type=float, default=1e-3)
    p.add_argument("--snapshots", type=_floats, default=None,
                   help="D2min strains (default 0.02,0.04,0.05,0.10, those up to --max-strain)")
    p.add_argument("--min-ftol", type=float, default=1e-8, help="CG force tolerance after each AQS step")
    p.add_argument("--min-etol", type=float, default=0.0, help="CG relative energy tolerance after each AQS step")
    p.add_argument("--msd-seeds", type=int, default=20,
                   help="velocity seeds averaged for the MSD (20; Fan, Ding & Ma (2020) used 100); raising it later "
                        "adds seeds to finished glasses; 0: no MSD stage")
    p.add_argument("--msd-temperature", type=float, default=None, help="default 50 K (metal) / 0.01 (LJ)")
    p.add_argument("--msd-duration", type=float, default=2.0)
    p.add_argument("--workdir", default="runs", help="checkpoints and LAMMPS scratch (keep out of git)")
    p.add_argument("--data-dir", default="data", help="where the per-glass npz files go")
    p.add_argument("--jobs", type=int, default=1, help="tasks run side by side (each a LAMMPS process)")
    p.add_argument("--ranks", type=int, default=1,
                   help="MPI ranks per task (LAMMPS's own domain decomposition, through mpiexec): for one long "
                        "task on several cores, or a cluster node; uses --jobs x --ranks cores. On these "
                        "machines one rank per core and independent tasks (--jobs) is the efficient default")
    p.add_argument("--mpiexec", default=None,
                   help="MPI launcher taking -n R (default: the mpich wheel's mpiexec), e.g. 'srun' on a cluster")
    p.add_argument("--max-tasks", type=int, default=None, help="stop after this many tasks")
    p.add_argument("--first-glasses", default="",
                   help="comma-separated glass seeds whose tasks run before all others (e.g. 15,16 to "
                        "finish two test glasses first); does not change the campaign")
    p.add_argument("--pack-minutes", type=float, default=0.0,
                   help="every M minutes, pack the checkpoint of each running glass preparation and shear run "
                        "into DATA_DIR/NAME/partial/ (committed with --git-commit), so that a long run "
                        "survives the loss of --workdir (a new machine, a fresh clone); 0: off")
    p.add_argument("--git-commit", action="store_true",
                   help="git add + commit each data-set file as soon as it is written")
    p.add_argument("--pack-now", action="store_true",
                   help="pack the checkpoint of every unfinished glass preparation and shear run of the work directory into "
                        "DATA_DIR/NAME/partial/ (committed with --git-commit) and exit: before a machine goes away")
    p.add_argument("--status", action="store_true", help="print progress (tasks done, tasks under way, core-hours left at the measured speed) and exit")
    p.add_argument("--dry-run", action="store_true", help="print the task plan and exit")


DEFAULT_SNAPSHOTS = (0.02, 0.04, 0.05, 0.10)


def build_config(args):
    from .generate import CampaignConfig  # noqa: PLC0415
    from .protocol import GlassParams, MsdParams, ShearParams  # noqa: PLC0415

    if args.config:
        return CampaignConfig.from_dict(json.loads(Path(args.config).read_text()))
    kwargs = {}
    if args.system == "CuZr":
        kwargs = {"cu_fraction": args.cu_fraction}
    elif args.system == "FeP":
        kwargs = {"p_fraction": args.p_fraction}
    glass = GlassParams(n_atoms=args.atoms, quench_rate=args.quench_rate, preparation=args.preparation,
                        window=_windows(args.window))
    if args.melt_time is not None:
        glass.melt_time = args.melt_time
    shear = ShearParams(max_strain=args.max_strain, strain_step=args.strain_step,
                        snapshot_strains=tuple(args.snapshots) if args.snapshots is not None else
                        tuple(s for s in DEFAULT_SNAPSHOTS if s <= args.max_strain + 1e-12),
                        min_ftol=args.min_ftol, min_etol=args.min_etol)
    msd = None
    if args.msd_seeds > 0:
        t = args.msd_temperature if args.msd_temperature is not None else (0.01 if args.system == "LJ2D" else 50.0)
        msd = MsdParams(temperature=t, n_seeds=args.msd_seeds, duration=args.msd_duration)
    if args.orientations is None:
        orients = None
    elif args.orientations.strip().lower() == "none":
        orients = ()  # glasses only
    else:
        orients = tuple(o.strip() for o in args.orientations.split(",") if o.strip())
    return CampaignConfig(name=args.name, system=args.system, system_kwargs=kwargs, n_glasses=args.glasses,
                          first_seed=args.first_seed, orientations=orients,
                          n_test=min(4, args.glasses) if args.test_glasses is None else args.test_glasses,
                          glass=glass, shear=shear, msd=msd)


def _git_commit(path: Path) -> None:
    if not path.exists() and subprocess.run(["git", "ls-files", "--error-unmatch", str(path)],
                                            capture_output=True).returncode != 0:
        return  # removed before it was ever committed: nothing to record
    for attempt in range(20):
        a = subprocess.run(["git", "add", str(path)], capture_output=True, text=True)
        what = "data" if path.exists() else "data: remove"
        c = subprocess.run(["git", "commit", "-q", "-m", f"{what}: {path.name} (glassml generate)", "--", str(path)],
                           capture_output=True, text=True) if a.returncode == 0 else a
        if c.returncode == 0 or "nothing to commit" in (c.stdout + c.stderr) \
                or "no changes added" in (c.stdout + c.stderr):
            return
        if "index.lock" in c.stderr:
            time.sleep(3)
            continue
        print(f"git commit of {path} failed: {c.stderr.strip()}", file=sys.stderr, flush=True)
        return


def status_lines(st: dict, jobs: int) -> list[str]:
    """The tasks under way and the time left, as ``--status`` prints them under the counts."""
    lines = []
    running = st.get("running") or []
    if st["under_way"]:
        lines.append("under way: " + ", ".join(f"{k} {100 * v:.0f} %" for k, v in st["under_way"].items()))
    if running:
        lines.append(f"running now: {', '.join(running)} (claimed by {'a live process' if len(running) == 1 else 'live processes'})")
    n_open, unknown = len(st["pending"]), st["unestimated"]
    if n_open > len(unknown):
        hours = st["remaining_core_s"] / 3600.0
        cores = max(jobs, len(running), 1)
        lines.append(f"left: about {hours:.1f} core-hours at the speed of the finished tasks of each kind "
                     f"(median), so at least {hours / cores:.1f} h on {cores} core(s)"
                     + (f", plus the {len(unknown)} task(s) below" if unknown else ""))
    borrowed = st.get("borrowed") or {}
    if borrowed:
        hours = sum(b["core_s"] for b in borrowed.values()) / 3600.0
        sources = sorted({b["from"] for b in borrowed.values()})
        lines.append(f"the {len(borrowed)} task(s) of a kind not finished in this campaign yet: about {hours:.1f} core-hours "
                     f"at the speed of the same work in {', '.join(sources)} (glasses scaled by the atom count)")
        unknown = [u for u in unknown if u not in borrowed]
    if unknown:
        shown = ", ".join(unknown[:6]) + (f" and {len(unknown) - 6} more" if len(unknown) > 6 else "")
        lines.append(f"not estimated (no task of their kind has finished yet): {shown}")
    return lines


def run(args) -> int:
    from .generate import campaign_status, plan_tasks, run_campaign  # noqa: PLC0415

    if args.jobs < 1 or args.ranks < 1:
        raise SystemExit(f"glassml generate: --jobs and --ranks must be at least 1; got {args.jobs} and {args.ranks}")
    try:
        cfg = build_config(args)
    except (ValueError, OSError) as e:
        raise SystemExit(f"glassml generate: {e}")
    except (KeyError, TypeError) as e:  # a JSON file that is not a campaign config
        raise SystemExit(f"glassml generate: --config {args.config} is not a campaign config written by "
                         f"glassml generate (<workdir>/<name>/campaign.json): {e!r}")
    try:
        first_seeds = [int(x) for x in args.first_glasses.split(",") if x.strip()]
    except ValueError:
        raise SystemExit(f"--first-glasses {args.first_glasses!r}: give comma-separated glass seeds, e.g. 15,16")
    try:
        plan = plan_tasks(cfg, first_seeds)
    except ValueError as e:
        raise SystemExit(f"--first-glasses: {e}")
    if args.dry_run:
        for t in plan:
            print(t.label)
        return 0
    if args.pack_now:
        from .generate import partial_shear_files, save_partial_glass, save_partial_shear  # noqa: PLC0415

        for seed in cfg.seeds():
            packed = save_partial_glass(cfg, args.workdir, args.data_dir, seed)
            if packed is not None:
                print(f"packed g{seed:04d}:glass into {packed}", flush=True)
                if args.git_commit:
                    _git_commit(packed)
            for orientation in cfg.resolved_orientations():
                packed = save_partial_shear(cfg, args.workdir, args.data_dir, seed, orientation)
                if packed is not None:
                    print(f"packed g{seed:04d}:shear:{orientation} into {packed}", flush=True)
                    if args.git_commit:
                        for f in partial_shear_files(args.data_dir, cfg, seed, orientation):
                            _git_commit(f)
        return 0
    if args.status:
        st = campaign_status(cfg, args.workdir, first_seeds, args.data_dir)
        print(f"{cfg.name}: {st['done']}/{st['total']} tasks done; glasses {st['glasses_made']}, "
              f"msd {st['msd_done']}, shear {st['shear_done']}; next: {', '.join(st['pending'][:3])}")
        for line in status_lines(st, args.jobs):
            print("  " + line)
        return 0
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    def progress(msg: str) -> None:
        print(time.strftime("%Y-%m-%d %H:%M:%S"), msg, flush=True)

    def on_dataset(path: Path) -> None:
        progress(f"wrote {path}" if path.exists() else f"removed {path} (its task is done)")
        if args.git_commit:
            _git_commit(path)

    print(f"campaign {cfg.name}: {json.dumps(cfg.to_dict())}", flush=True)
    st = run_campaign(cfg, workdir=args.workdir, data_dir=args.data_dir, jobs=args.jobs, progress=progress,
                      on_dataset=on_dataset, max_tasks=args.max_tasks, first_seeds=first_seeds,
                      pack_every_s=60.0 * args.pack_minutes or None, ranks=args.ranks, mpiexec=args.mpiexec)
    progress(f"finished: {st['done']}/{st['total']} tasks done")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="glassml")
    sub = parser.add_subparsers(dest="command", required=True)
    add_parser(sub)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
