"""Each network runs once per frame and loading: shared sessions and a shared result cache.

Two model folders may hold byte-identical files: the shipped ``dfs`` and ``susceptibility``
ensembles hold the same CNN file (each reads its own output column) and the same
quench-in-softness boosters as ``qs``.  Models are recognised by the **SHA-256 of their files**
(plus the descriptor settings and the numeric variant: precision and execution provider), never
by folder or name, and

* :func:`shared_object` keeps one loaded ONNX Runtime session (or LightGBM booster) per file
  hash and options, so identical networks are loaded once;
* :data:`RESULTS` (:class:`ResultCache`) keeps each finished prediction of a model on a
  configuration, its centre atoms and (for an orientation-aware model) its loading frame, so a
  second model with the same network, or the same member of another ensemble, reads the values
  instead of running the network again.  A network with several outputs (one per label strain)
  is stored with every output column, so two cards that select different columns of the same
  file (``susceptibility`` at 5 % and ``dfs`` at 10 %) share one pass.  The cache holds at most
  ``GLASSML_RESULT_CACHE_MB`` MiB (default 256) and drops the least recently used entries first;
  ``GLASSML_RESULT_CACHE_MB=0`` turns it off.

Keys hash the configuration's positions, types, cell, origin, periodicity and type names (a
changed atom is a different configuration), so a cached value is only ever reused for the very
same input.
"""
from __future__ import annotations

import hashlib
import json
import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable, Hashable, Sequence

import numpy as np

from .cards import file_sha256  # one hash of a model file, shared with the card checks

__all__ = ["RESULTS", "ResultCache", "file_sha256", "files_digest", "config_digest", "frame_key",
           "shared_object", "clear_shared"]

CACHE_ENV = "GLASSML_RESULT_CACHE_MB"

_LOCK = threading.RLock()


def files_digest(paths: Sequence[str | Path], *extra: Any) -> str:
    """One SHA-256 over the files' hashes (in order) and JSON-able ``extra`` (settings, variant)."""
    h = hashlib.sha256()
    for p in paths:
        h.update(file_sha256(p).encode())
    h.update(json.dumps(extra, sort_keys=True, default=str).encode())
    return h.hexdigest()


def config_digest(config: Any, centers: np.ndarray | None = None) -> str:
    """Hash of a configuration (positions, types, cell, origin, periodicity, names) and centre indices."""
    h = hashlib.blake2b(digest_size=20)
    for a in (config.positions, config.types, config.cell, config.origin):
        h.update(np.ascontiguousarray(a).tobytes())
    h.update(repr((tuple(config.type_names), tuple(bool(b) for b in config.pbc), bool(config.is_2d))).encode())
    if centers is not None:
        h.update(np.ascontiguousarray(centers, dtype=np.int64).tobytes())
    return h.hexdigest()


def frame_key(rot: np.ndarray | None) -> bytes | None:
    """A loading frame as a key (rounded so that the same orientation always gives the same key)."""
    if rot is None:
        return None
    return np.round(np.asarray(rot, dtype=np.float64), 12).tobytes()


class ResultCache:
    """Least-recently-used store of finished predictions, bounded in bytes (read-only arrays)."""

    def __init__(self, max_bytes: int | None = None):
        self._entries: OrderedDict[Hashable, np.ndarray] = OrderedDict()
        self._bytes = 0
        self._max = max_bytes
        self.hits = self.misses = 0

    @property
    def max_bytes(self) -> int:
        if self._max is not None:
            return self._max
        try:
            return int(float(os.environ.get(CACHE_ENV, "256")) * 2**20)
        except ValueError:
            return 256 * 2**20

    def get(self, key: Hashable) -> np.ndarray | None:
        with _LOCK:
            value = self._entries.get(key)
            if value is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return value

    def put(self, key: Hashable, values: np.ndarray) -> None:
        limit = self.max_bytes
        values = np.array(values, dtype=np.float64, copy=True)
        if values.nbytes > limit:
            return
        values.setflags(write=False)
        with _LOCK:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old.nbytes
            self._entries[key] = values
            self._bytes += values.nbytes
            while self._bytes > limit and self._entries:
                _, dropped = self._entries.popitem(last=False)
                self._bytes -= dropped.nbytes

    def clear(self) -> None:
        with _LOCK:
            self._entries.clear()
            self._bytes = 0
            self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def nbytes(self) -> int:
        return self._bytes


#: the process-wide result cache of the runtime
RESULTS = ResultCache()

_OBJECTS: OrderedDict[Hashable, Any] = OrderedDict()
_MAX_OBJECTS = 16


def shared_object(key: Hashable, factory: Callable[[], Any]) -> Any:
    """The object built by ``factory`` for ``key`` (a file hash and options), built once and kept."""
    with _LOCK:
        obj = _OBJECTS.get(key)
        if obj is not None:
            _OBJECTS.move_to_end(key)
            return obj
    obj = factory()
    with _LOCK:
        obj = _OBJECTS.setdefault(key, obj)
        while len(_OBJECTS) > _MAX_OBJECTS:
            _OBJECTS.popitem(last=False)
    return obj


def clear_shared() -> None:
    """Forget every shared session and cached result (e.g. before timing a cold pass)."""
    with _LOCK:
        _OBJECTS.clear()
    RESULTS.clear()
