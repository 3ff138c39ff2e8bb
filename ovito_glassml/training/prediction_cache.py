"""A disk cache of model predictions for evaluations that score the same atoms many times.

:class:`CachedPredictor` wraps a loaded model (or an ensemble's member) and stores each
prediction in ``<cache>/<key[:2]>/<key>.npy``, the key a SHA-256 of what determines the
prediction: the bytes of the model's files and its descriptor settings and output column, the
configuration (positions, types, cell, origin, periodicity, type names), the centre indices and,
for an orientation-aware model, the loading frame.  Two cards naming byte-identical files (the
CNN member of two ensembles) share their entries.  :func:`with_cache` wraps a model, an
ensemble's members instead of the ensemble (so the combination runs the runtime's own code).

Only evaluation uses it; the runtime never reads the cache.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..descriptors.geometry import frame_matrix

__all__ = ["CachedPredictor", "model_digest", "with_cache"]


def model_digest(model: Any) -> str:
    """SHA-256 of a loaded runtime model's files, descriptor settings and output column."""
    card = model.card
    h = hashlib.sha256()
    for path in card.file_paths():
        h.update(Path(path).read_bytes())
    h.update(json.dumps(card.settings.to_dict(), sort_keys=True, default=str).encode())
    h.update(json.dumps({"column": getattr(model, "column", None), "kind": card.kind}, sort_keys=True).encode())
    return h.hexdigest()


def _config_digest(config) -> str:
    h = hashlib.sha256()
    for a in (config.positions, config.types, config.cell, config.origin):
        h.update(np.ascontiguousarray(a).tobytes())
    h.update(repr((tuple(config.type_names), tuple(config.pbc), bool(config.is_2d))).encode())
    return h.hexdigest()


class CachedPredictor:
    """A model whose predictions are read from / written to a cache folder (module doc)."""

    def __init__(self, model: Any, cache_dir: str | Path):
        self.model = model
        self.cache_dir = Path(cache_dir)
        self.digest = model_digest(model)
        self.hits = self.misses = 0

    def __getattr__(self, name: str) -> Any:  # card, name, orientational, dimensions, check_configuration ...
        return getattr(self.model, name)

    def _key(self, config, idx: np.ndarray, frame: Any) -> str:
        h = hashlib.sha256(self.digest.encode())
        h.update(_config_digest(config).encode())
        h.update(np.ascontiguousarray(idx, dtype=np.int64).tobytes())
        if getattr(self.model, "orientational", False):
            rot = frame_matrix("xy" if frame is None else frame, config.dimensions)
            h.update(np.round(np.asarray(rot, dtype=np.float64), 12).tobytes())
        return h.hexdigest()

    def predict(self, config, centers=None, frame=None, batch_size=None, progress=None) -> np.ndarray:
        from ..descriptors.geometry import center_indices

        idx = center_indices(config, centers)
        key = self._key(config, idx, frame)
        path = self.cache_dir / key[:2] / f"{key}.npy"
        if path.exists():
            self.hits += 1
            return np.load(path)
        self.misses += 1
        values = np.asarray(self.model.predict(config, idx, frame=frame, batch_size=batch_size, progress=progress),
                            dtype=np.float64)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.stem + ".tmp.npy")
        np.save(tmp, values)
        os.replace(tmp, path)
        return values

    def _iter(self, config, idx, frame, batch_size, reorder):
        """One chunk with every centre (what an ensemble streams from its orientation-aware member)."""
        yield np.asarray(idx), self.predict(config, idx, frame=frame, batch_size=batch_size)

    def iter_predict(self, config, centers=None, frame=None, batch_size=None):
        from ..descriptors.geometry import center_indices

        idx = center_indices(config, centers)
        return self._iter(config, idx, frame, batch_size, True)


def with_cache(model: Any, cache_dir: str | Path | None) -> Any:
    """``model`` with cached predictions: an ensemble keeps its own combination and gets cached
    members; a plain runtime model is wrapped; anything else (an in-memory baseline) is returned as is."""
    if cache_dir is None:
        return model
    from ..inference.runtime import EnsembleModel, Model

    if isinstance(model, EnsembleModel):
        model.members = [m if isinstance(m, CachedPredictor) else CachedPredictor(m, cache_dir) for m in model.members]
        model._static_cache.clear()
        return model
    if isinstance(model, Model):
        return CachedPredictor(model, cache_dir)
    return model
