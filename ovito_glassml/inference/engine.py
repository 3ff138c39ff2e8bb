"""How the CNN runs on a CPU or GPU: session options, precision, SDM generation overlapped with inference.

:class:`EngineOptions` gathers the knobs ``benchmarks/bench_inference.py`` measures against a
plain fp32 ONNX Runtime session (``docs/speed.md`` has the figures):

* ``threads``: ONNX Runtime intra-op threads (``None``: ONNX Runtime's default, one per core);
* ``spin``: let idle ONNX Runtime threads spin-wait for work (ONNX Runtime's default).  Off by
  default here: the SDM producer and other processes need those cores, and spinning threads
  take them (measured in ``docs/speed.md``);
* ``opt_level``: graph optimisation level, ``"all"`` (default), ``"extended"``, ``"basic"`` or
  ``"disable"``;
* ``overlap``: generate the next SDM batches in a producer thread while the network runs on the
  current one (a bounded queue of ``queue_depth`` batches, so memory stays a few batches
  whatever the system size); the values are the same as without it;
* ``precision``: ``"fp32"`` (the shipped ``model.onnx``) or ``"int8"`` (``model.int8.onnx``
  beside it, made by :mod:`~ovito_glassml.inference.quantize`).

Defaults come from the environment (``GLASSML_THREADS``, ``GLASSML_SPIN``, ``GLASSML_OPT_LEVEL``, ``GLASSML_OVERLAP``
= 0/1, ``GLASSML_PRECISION``) so a batch job can set them without code; :func:`set_engine_options`
changes them for the process.
"""
from __future__ import annotations

import dataclasses
import os
import queue
import threading
from dataclasses import dataclass
from typing import Any, Iterator

__all__ = ["EngineOptions", "engine_options", "set_engine_options", "session_options", "overlapped",
           "OPT_LEVELS", "PRECISIONS"]

OPT_LEVELS = ("disable", "basic", "extended", "all")
PRECISIONS = ("fp32", "int8")


@dataclass(frozen=True)
class EngineOptions:
    threads: int | None = None
    spin: bool = False
    opt_level: str = "all"
    overlap: bool = True
    queue_depth: int = 2
    precision: str = "fp32"

    def __post_init__(self) -> None:
        from ..descriptors.geometry import ConfigurationError

        if self.opt_level not in OPT_LEVELS:
            raise ConfigurationError(f"graph optimisation level {self.opt_level!r}; use one of {list(OPT_LEVELS)}")
        if self.precision not in PRECISIONS:
            raise ConfigurationError(f"precision {self.precision!r}; use one of {list(PRECISIONS)}")
        if self.threads is not None and int(self.threads) < 1:
            raise ConfigurationError(f"threads must be >= 1 (or None for one per core); got {self.threads}")
        if int(self.queue_depth) < 1:
            raise ConfigurationError(f"queue_depth must be >= 1; got {self.queue_depth}")

    @classmethod
    def from_environment(cls) -> "EngineOptions":
        env = os.environ
        threads = env.get("GLASSML_THREADS", "").strip()
        return cls(threads=int(threads) if threads else None,
                   spin=env.get("GLASSML_SPIN", "0").strip() in ("1", "true", "yes", "on"),
                   opt_level=env.get("GLASSML_OPT_LEVEL", "all").strip() or "all",
                   overlap=env.get("GLASSML_OVERLAP", "1").strip() not in ("0", "false", "no", "off"),
                   precision=env.get("GLASSML_PRECISION", "fp32").strip() or "fp32")


_OPTIONS: EngineOptions | None = None


def engine_options() -> EngineOptions:
    """The process-wide options (from the environment until :func:`set_engine_options` is called)."""
    global _OPTIONS
    if _OPTIONS is None:
        _OPTIONS = EngineOptions.from_environment()
    return _OPTIONS


def set_engine_options(**changes: Any) -> EngineOptions:
    """Change the process-wide options (models loaded afterwards use them); returns the new options."""
    global _OPTIONS
    _OPTIONS = dataclasses.replace(engine_options(), **changes)
    return _OPTIONS


def session_options(options: EngineOptions):
    """ONNX Runtime ``SessionOptions`` for ``options``."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.graph_optimization_level = {
        "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
        "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
    }[options.opt_level]
    if options.threads:
        so.intra_op_num_threads = int(options.threads)
        so.inter_op_num_threads = 1
    if not options.spin:
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        so.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return so


_DONE = object()


def overlapped(batches: Iterator[tuple[Any, Any]], depth: int = 2) -> Iterator[tuple[Any, Any]]:
    """Yield the ``(index, images)`` batches of ``batches``, generated ahead in a producer thread.

    The producer copies each batch into one of at most ``depth + 2`` pooled buffers (one being
    filled, up to ``depth`` waiting in the queue, one with the consumer), so memory stays a few
    batches whatever the number of batches; ``batches`` may reuse one buffer.  A buffer yielded
    here is valid until the next batch is asked for.  An exception in the producer is raised
    here; closing this generator early stops the producer.
    """
    import numpy as np

    depth = max(1, int(depth))
    q: queue.Queue = queue.Queue(maxsize=depth)
    free: queue.Queue = queue.Queue()
    stop = threading.Event()
    failure: list[BaseException] = []
    allocated = [0]

    def wait_put(target: queue.Queue, item: Any) -> bool:
        while not stop.is_set():
            try:
                target.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def take_buffer(like):
        while not stop.is_set():
            try:
                buf = free.get_nowait()
            except queue.Empty:
                if allocated[0] < depth + 2:
                    allocated[0] += 1
                    return np.empty_like(like)
                try:
                    buf = free.get(timeout=0.1)
                except queue.Empty:
                    continue
            if buf.shape[1:] == like.shape[1:] and len(buf) >= len(like):
                return buf
            return np.empty_like(like)
        return None

    def produce() -> None:
        try:
            for index, images in batches:
                buf = take_buffer(images)
                if buf is None:
                    return
                view = buf[:len(images)]
                np.copyto(view, images)
                if not wait_put(q, (index, view, buf)):
                    return
        except BaseException as exc:  # re-raised in the consumer
            failure.append(exc)
        finally:
            wait_put(q, _DONE)

    worker = threading.Thread(target=produce, name="glassml-sdm-producer", daemon=True)
    worker.start()
    held = None
    try:
        while True:
            item = q.get()
            if held is not None:
                free.put(held)
                held = None
            if item is _DONE:
                break
            index, view, held = item
            yield index, view
        if failure:
            raise failure[0]
    finally:
        stop.set()
        worker.join()
        close = getattr(batches, "close", None)
        if close is not None:
            close()
