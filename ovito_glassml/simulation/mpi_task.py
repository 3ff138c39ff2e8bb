"""One campaign task on several MPI ranks (LAMMPS's own domain decomposition).

    mpiexec -n R python -m ovito_glassml.simulation.mpi_task WORKDIR/NAME/campaign.json WORKDIR TASK

``TASK`` is a task label as ``glassml generate --dry-run`` prints it (``g0101:shear:xy``,
``g0003:msd``, ``g0001:glass``).  Every rank runs the same code: LAMMPS splits the atoms over the
ranks, per-atom data are gathered collectively, and rank 0 alone writes checkpoints and results
(:mod:`.protocol`), so the files are the same as from one rank up to floating-point round-off.
``glassml generate --ranks R`` starts this for every task (``--jobs N`` of them side by side, N x R
cores); on a cluster, ``--mpiexec "srun"`` (or any launcher taking ``-n R``) replaces ``mpiexec``.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

__all__ = ["main", "parse_task_label"]


def parse_task_label(label: str):
    """``g0101:shear:xy`` -> Task(101, "shear", "xy")."""
    from .generate import Task  # noqa: PLC0415

    parts = label.split(":")
    if len(parts) not in (2, 3) or not parts[0].startswith("g") or not parts[0][1:].isdigit() \
            or parts[1] not in ("glass", "msd", "shear") or (parts[1] == "shear") != (len(parts) == 3):
        raise ValueError(f"not a task label: {label!r} (expected e.g. g0101:shear:xy, g0003:msd, g0001:glass)")
    return Task(int(parts[0][1:]), parts[1], parts[2] if len(parts) == 3 else None)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("config", help="the campaign's campaign.json (in WORKDIR/NAME/)")
    p.add_argument("workdir")
    p.add_argument("task", help="task label, e.g. g0101:shear:xy")
    a = p.parse_args(argv)
    from .generate import run_task  # noqa: PLC0415
    from .protocol import finalize_mpi, process_world  # noqa: PLC0415

    rank, ranks = process_world()
    logging.basicConfig(level=logging.INFO if rank == 0 else logging.WARNING,
                        format="%(asctime)s %(message)s")
    task = parse_task_label(a.task)
    run_task(json.loads(Path(a.config).read_text()), a.workdir, task)
    if rank == 0:
        logging.getLogger(__name__).info("%s done on %d MPI ranks", task.label, ranks)
    finalize_mpi()
    return 0


if __name__ == "__main__":
    sys.exit(main())
