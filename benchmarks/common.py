"""Test systems for the benchmarks: the bundled Cu-Zr glass replicated, or a random dense packing."""
from __future__ import annotations

import resource
import time
from pathlib import Path

import numpy as np

from ovito_glassml.descriptors.geometry import Configuration

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "data" / "CuZr_example.data"


def load_example() -> Configuration:
    from ovito.io import import_file

    from ovito_glassml.modifiers.convert import configuration_from_data

    return configuration_from_data(import_file(str(EXAMPLE)).compute())


def replicate(config: Configuration, reps: tuple[int, int, int]) -> Configuration:
    """Periodic replica of a configuration, reps[k] copies along cell vector k."""
    shifts = np.array([[i, j, k] for i in range(reps[0]) for j in range(reps[1]) for k in range(reps[2])], float)
    pos = (config.positions[None, :, :] + (shifts @ config.cell.T)[:, None, :]).reshape(-1, 3)
    types = np.tile(config.types, len(shifts))
    return config.replace(positions=pos, types=types, cell=config.cell * np.array(reps)[None, :])


def cu_zr_glass(n_atoms: int) -> Configuration:
    """The example glass (2,000 atoms) replicated to at least ``n_atoms`` atoms."""
    base = load_example()
    factor = int(np.ceil(n_atoms / base.count))
    # the most cubic (a, b, c) with the smallest product >= factor
    best = min(((a, b, c) for a in range(1, factor + 1) for b in range(a, factor + 1)
                for c in range(b, factor + 1) if a * b * c >= factor and a * b <= factor),
               key=lambda t: (t[0] * t[1] * t[2], t[2] - t[0]))
    return replicate(base, best)


def peak_memory_mib() -> float:
    """Peak resident memory of this process (MiB): VmHWM, which starts afresh at exec (ru_maxrss
    would carry the peak of the parent that started this process)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


class Timer:
    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start


def print_table(rows: list[dict], title: str) -> None:
    print(f"\n{title}")
    keys = list(rows[0])
    widths = [max(len(k), *(len(str(r[k])) for r in rows)) for k in keys]
    print("  ".join(k.ljust(w) for k, w in zip(keys, widths)))
    for r in rows:
        print("  ".join(str(r[k]).ljust(w) for k, w in zip(keys, widths)))


def images_per_second(session, images: np.ndarray, batch: int, reps: int = 3) -> float:
    """Best of ``reps`` passes of an ONNX Runtime ``session`` over ``images`` in batches of
    ``batch`` (after one warm-up batch), as images per second."""
    name = session.get_inputs()[0].name
    session.run(None, {name: images[:batch]})
    best = 0.0
    for _ in range(reps):
        t = time.perf_counter()
        for s in range(0, len(images), batch):
            session.run(None, {name: images[s:s + batch]})
        best = max(best, len(images) / (time.perf_counter() - t))
    return best
