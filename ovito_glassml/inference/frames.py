"""Many frames and files: ``glassml predict --jobs N`` (local processes) and ``--scheduler`` (Dask).

Every frame of every input file is one task: a worker runs the ordinary ``glassml predict`` on
that frame alone into a private folder, and the main process moves the files it wrote into the
output folder and gathers its entry of ``summary.json``, in input order.  A worker keeps its
loaded models between tasks (:func:`~ovito_glassml.inference.runtime.cached_model`), so a
trajectory pays the model loading once per worker.  The per-frame results are those of a serial
run (same code, same inputs, same numbers; ``tests/test_parallel_frames.py`` checks it).

* ``--jobs N``: N local processes (spawned, so OVITO starts clean in each); the cores are shared
  out: each worker's ONNX Runtime and numba get ``cores // N`` threads (at least one).
* ``--scheduler ADDRESS``: the tasks go to a running Dask distributed scheduler
  (``pip install ovito-glassml[cluster]``); on Slurm or PBS start one with dask-jobqueue, e.g.::

      from dask_jobqueue import SLURMCluster
      cluster = SLURMCluster(cores=8, memory="16GB", walltime="02:00:00")
      cluster.scale(jobs=4)
      print(cluster.scheduler_address)   # -> glassml predict ... --scheduler tcp://...

  The workers must see the input files and the output folder (a shared file system) and have
  ovito-glassml installed.  ``--scheduler local`` starts a local Dask cluster of ``--jobs``
  processes (for trying the path on one machine).
"""
from __future__ import annotations

import copy
import io
import json
import os
import shutil
import sys
import time
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any, Sequence

__all__ = ["predict_parallel", "run_frame_task", "worker_threads"]

_PARTS = ".glassml-parts"


def worker_threads(jobs: int) -> int:
    """Threads per worker so that ``jobs`` workers share the machine's cores."""
    return max(1, (os.cpu_count() or 1) // max(1, int(jobs)))


_THREAD_VARS = ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "GLASSML_THREADS")


def _init_worker(threads: int) -> None:
    """Runs first in a worker: its share of the cores for ONNX Runtime (and numba where not yet imported)."""
    for key in _THREAD_VARS:
        os.environ[key] = str(threads)
    if "numba" in sys.modules:
        try:
            sys.modules["numba"].set_num_threads(threads)
        except (ValueError, AttributeError):
            pass


def run_frame_task(args: Any, file: str, frame: int, part: str, threads: int | None = None) -> dict:
    """Predict one frame of one file (the ``glassml predict`` options ``args``) into folder ``part``.

    Returns ``{"entry": <summary entry>, "part": part, "log": <captured output>}``.
    """
    if threads:
        _init_worker(threads)
    from ..cli import cmd_predict

    task = copy.copy(args)
    task.output = part
    task.jobs = 1
    task.scheduler = None
    task.only_frames = {(file, int(frame))}
    task.files = [file]
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = cmd_predict(task)
    if code:
        raise RuntimeError(f"{file} frame {frame}: glassml predict ended with status {code}: {err.getvalue()[-2000:]}")
    summary = json.loads((Path(part) / "summary.json").read_text(encoding="utf-8"))
    entries = [e for e in summary["inputs"] if e["file"] == file and e["frame"] == frame]
    if len(entries) != 1:
        raise RuntimeError(f"{file} frame {frame}: the worker wrote {len(entries)} entries")
    return {"entry": entries[0], "part": part, "summary": summary, "log": err.getvalue()}


def _tasks(frames: Sequence[tuple[str, int]]) -> list[tuple[str, int]]:
    return [(file, k) for file, n in frames for k in range(n)]


def _executor(args: Any):
    """``(submit, results_in_order, close)`` for the local pool or the Dask scheduler."""
    jobs = max(1, int(getattr(args, "jobs", 1) or 1))
    address = getattr(args, "scheduler", None)
    if address:
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError as exc:
            from ..descriptors.geometry import ConfigurationError

            raise ConfigurationError("--scheduler needs Dask distributed: pip install 'ovito-glassml[cluster]' "
                                     "(dask[distributed], dask-jobqueue)") from exc
        cluster = None
        if address == "local":
            cluster = LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True, dashboard_address=None)
            client = Client(cluster)
        else:
            client = Client(address)

        def submit(fn, *a):
            return client.submit(fn, *a, pure=False)

        def close():
            client.close()
            if cluster is not None:
                cluster.close()

        return submit, lambda f: f.result(), close, (worker_threads(jobs) if address == "local" else None)
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    threads = worker_threads(jobs)
    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context("spawn"), initializer=_init_worker,
                               initargs=(threads,))
    return (lambda fn, *a: pool.submit(fn, *a)), (lambda f: f.result()), (lambda: pool.shutdown()), None


def predict_parallel(args: Any, frames: Sequence[tuple[str, int]], cards: dict) -> int:
    """Run ``glassml predict`` frame by frame in workers and write the usual outputs and summary."""
    from .. import __version__

    out_dir = Path(args.output)
    parts = out_dir / _PARTS
    parts.mkdir(parents=True, exist_ok=True)
    tasks = _tasks(frames)
    plain = copy.copy(args)
    plain.func = None  # the namespace travels to the workers; the function is looked up there
    local = not getattr(args, "scheduler", None) or args.scheduler == "local"
    saved = {key: os.environ.get(key) for key in _THREAD_VARS}
    if local:  # spawned workers inherit these before they import numba or ONNX Runtime
        os.environ.update({key: str(worker_threads(getattr(args, "jobs", 1) or 1)) for key in _THREAD_VARS})
    submit, result, close, threads = _executor(args)
    remote = bool(getattr(args, "scheduler", None)) and args.scheduler != "local"
    if remote:  # workers elsewhere: absolute paths on the shared file system
        parts = parts.resolve()
        if getattr(plain, "models", None):
            plain.models = str(Path(plain.models).resolve())
    t0 = time.perf_counter()
    entries, summary_head = [], None
    try:
        futures = [submit(run_frame_task, plain, str(Path(file).resolve()) if remote else file, frame,
                          str(parts / f"task{k:06d}"), threads)
                   for k, (file, frame) in enumerate(tasks)]
        for k, future in enumerate(futures):
            got = result(future)
            entry = got["entry"]
            entry["file"] = tasks[k][0]
            entry["outputs"] = [_move(p, Path(got["part"]), out_dir) for p in entry["outputs"]]
            entries.append(entry)
            if summary_head is None:
                summary_head = {key: v for key, v in got["summary"].items() if key not in ("inputs", "warnings")}
            for line in got["log"].splitlines():
                if line.startswith("warning:"):
                    print(line, file=sys.stderr)
            sys.stderr.write(f"[{k + 1}/{len(tasks)}] {entry['file']} frame {entry['frame']}: done\n")
            shutil.rmtree(got["part"], ignore_errors=True)
    finally:
        close()
        shutil.rmtree(parts, ignore_errors=True)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    seconds = time.perf_counter() - t0
    summary = dict(summary_head or {"version": __version__})
    summary["inputs"] = entries
    summary["warnings"] = [{"file": e["file"], "frame": e["frame"], "warning": w}
                           for e in entries for w in e.get("warnings", [])]
    summary["parallel"] = {"jobs": int(getattr(args, "jobs", 1) or 1), "scheduler": getattr(args, "scheduler", None),
                           "frames": len(tasks), "seconds": round(seconds, 3),
                           "frames_per_second": round(len(tasks) / seconds, 4) if seconds > 0 else None}
    with open(out_dir / "summary.json", "w") as fh:
        json.dump(summary, fh, indent=2)
    for entry in entries:
        line = f"{entry['file']} frame {entry['frame']}: {entry['atoms']} atoms"
        stats = entry.get("fertile", entry.get("susceptibility"))
        if stats and "fraction_above_threshold" in stats:
            line += f", {100 * stats['fraction_above_threshold']:.1f} % fertile"
        if "dfs" in entry:
            line += (f", DFS delta {100 * entry['dfs']['delta']:.1f} % -> "
                     f"{'brittle' if entry['dfs']['brittle'] else 'ductile'}")
        if entry.get("warnings"):
            line += f"; {len(entry['warnings'])} WARNING(S): see summary.json"
        print(line)
    demo = [c.name for c in cards.values() if c.demo]
    if demo:
        print(f"NOTE: model(s) {demo} are untrained DEMO models: the numbers above are meaningless.")
    print(f"{len(tasks)} frame(s) in {seconds:.1f} s ({len(tasks) / max(seconds, 1e-9):.3f} frames/s, "
          f"{summary['parallel']['jobs']} job(s){', Dask' if summary['parallel']['scheduler'] else ''})")
    print(f"wrote {out_dir / 'summary.json'}")
    return 0


def _move(path: str, part: Path, out_dir: Path) -> str:
    src = Path(path)
    try:
        rel = src.resolve().relative_to(part.resolve())
    except ValueError:
        return path
    dst = out_dir / rel
    dst.parent.mkdir(parents=True, exist_ok=True)
    os.replace(src, dst)
    return str(dst)
