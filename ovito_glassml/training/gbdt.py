"""Quench-in softness: LightGBM on the 80 interstice features (Wang & Jain 2019).

* Features: :func:`~ovito_glassml.descriptors.interstice.interstice_features` with the card's
  :class:`~ovito_glassml.descriptors.interstice.IntersticeSettings` (the runtime's code).
* Label: plastic = D2min > threshold after ``strain`` along one loading orientation (paper: 5 A^2
  at 4 % strain, 3.5-6 % plastic).  :func:`~.samples.choose_threshold` picks the threshold as the
  ``1 - target_fraction`` quantile of the training glasses' finite D2min (default 5 % plastic);
  the threshold and the realised plastic fraction are recorded in the card.
* Equal undersampling of the training atoms (all plastic atoms and as many random others).
* 5-fold cross-validation, grouped by glass when there are at least 5 training glasses, else by
  atom (recorded); a grid search over ``num_leaves x learning_rate x n_estimators`` scored by the
  mean held-out-fold AUC on the folds' full (not undersampled) atoms; the fold boosters of the best
  grid point are the model (QS = mean probability of the folds), saved as LightGBM text
  ``fold0.txt`` ... with the feature names :data:`INTERSTICE_FEATURE_NAMES`.
* Card metrics on the held-out test glasses (:func:`~.evaluate.evaluate_model`).
"""
from __future__ import annotations

import itertools
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ..analysis.metrics import roc_auc
from ..descriptors.geometry import ConfigurationError
from ..descriptors.interstice import INTERSTICE_FEATURE_NAMES, IntersticeSettings, interstice_features
from .samples import LabelledGlass, choose_threshold, species_of, provenance_summary, split_by_glass, threshold_labels

__all__ = ["fold_assignment", "DEFAULT_GRID", "QSResult", "train_qs"]

log = logging.getLogger(__name__)
Progress = Callable[[str], Any] | None

#: default hyperparameter grid (small: every point is a full k-fold CV)
DEFAULT_GRID: dict[str, tuple] = {"num_leaves": (15, 31), "learning_rate": (0.05, 0.1), "n_estimators": (100, 300)}



def fold_assignment(groups: np.ndarray, folds: int, seed: int = 0) -> tuple[np.ndarray, str]:
    """Fold index per sample: whole groups (glasses) per fold when there are >= ``folds`` groups,
    else random atoms (stratification is left to the undersampling).  Returns (folds, how)."""
    rng = np.random.default_rng(seed)
    groups = np.asarray(groups)
    unique = np.unique(groups)
    if len(unique) >= folds:
        perm = rng.permutation(len(unique))
        fold_of = {unique[k]: i % folds for i, k in enumerate(perm)}
        return np.array([fold_of[g] for g in groups], dtype=np.int64), f"grouped by glass ({len(unique)} glasses)"
    out = np.empty(len(groups), dtype=np.int64)
    out[rng.permutation(len(groups))] = np.arange(len(groups)) % folds
    return out, f"by atom (only {len(unique)} training glass(es) < {folds} folds)"


@dataclass
class QSResult:
    directory: Path
    card: Any
    metrics: dict[str, Any]
    search: list[dict[str, Any]]
    threshold: float
    boosters: list


def _features(glasses: Sequence[LabelledGlass], settings: IntersticeSettings, progress: Progress) -> list[np.ndarray]:
    out = []
    for g in glasses:
        t0 = time.perf_counter()
        out.append(interstice_features(g.config, settings))
        log.info("interstice features of %s: %.2f s", g.name, time.perf_counter() - t0)
        if progress is not None:
            progress(f"interstice features of {g.name} ({g.count} atoms)")
    return out


def _undersample(y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    k = min(len(pos), len(neg))
    return np.sort(np.concatenate([rng.choice(pos, k, replace=False), rng.choice(neg, k, replace=False)]))


def train_qs(glasses: Sequence[LabelledGlass], output: str | Path, *, name: str | None = None,
             strain: float = 0.04, orientation: str | Sequence[str] | None = None, threshold: float | None = None,
             target_fraction: float = 0.05, folds: int = 5, grid: dict[str, Sequence] | None = None,
             settings: IntersticeSettings | None = None, species: Sequence[str] | None = None,
             test: Any = "auto", seed: int = 0, min_data_in_leaf: int = 20, num_threads: int = 0,
             progress: Progress = None) -> QSResult:
    """Train and evaluate a QS model; writes ``fold*.txt``, ``card.json``, ``metrics.json``, plots.

    ``orientation``: one loading orientation, or several (a sequence or a comma list such as
    ``"xy,x-y"``): then every (glass, orientation) pair with D2min at ``strain`` is a set of samples
    (the same features, that loading's labels), the folds keep a glass's pairs together, and the
    score learnt is the probability of being plastic averaged over those loadings (QS is rotation
    invariant, so it cannot tell them apart).  Default: ``"xy"`` if every glass has it, else the
    first orientation of the first glass.  ``threshold`` default: :func:`~.samples.choose_threshold` on the
    training samples.
    """
    import lightgbm

    from .evaluate import finalize_model, software_versions

    glasses = list(glasses)
    if not glasses:
        raise ConfigurationError("no glasses to train on")
    if any(g.config.dimensions != 3 for g in glasses):
        raise ConfigurationError("interstice features (quench-in softness) are defined for 3D glasses only")
    if orientation is None:
        orientation = "xy" if all("xy" in g.d2min for g in glasses) else glasses[0].orientations[0]
    orients = [o.strip() for o in orientation.split(",")] if isinstance(orientation, str) else list(orientation)
    if not orients or len(set(orients)) != len(orients):
        raise ConfigurationError(f"orientations must be distinct names; got {orientation!r}")
    settings = settings or IntersticeSettings()
    split = split_by_glass(glasses, test=test, validation=0, seed=seed)
    train = list(split.train)
    if progress is not None:
        progress(f"split by glass: {split.names()}")
    pairs = [(k, o) for k, g in enumerate(train) for o in orients if g.has_d2min(o, strain)]
    if not pairs:
        raise ConfigurationError(f"no training glass has D2min at strain {strain:g} in {', '.join(orients)}")
    for k, g in enumerate(train):
        missing = [o for o in orients if (k, o) not in pairs]
        if missing:
            log.info("training glass %s has no D2min at strain %g in %s: those labels are left out",
                     g.name, strain, ", ".join(missing))
    d2 = [train[k].d2min_at(o, strain) for k, o in pairs]
    chosen = threshold is None
    if chosen:
        threshold = choose_threshold(np.concatenate(d2), target_fraction)
    y = np.concatenate([threshold_labels(d, threshold) for d in d2])
    used = sorted({k for k, _ in pairs})
    features = dict(zip(used, _features([train[k] for k in used], settings, progress)))
    x = np.concatenate([features[k] for k, _ in pairs])
    groups = np.concatenate([np.full(train[k].count, k) for k, _ in pairs])
    ok = y >= 0
    x, y, groups = x[ok], y[ok].astype(np.int64), groups[ok]
    plastic_fraction = float(y.mean())
    if y.sum() < folds or (len(y) - y.sum()) < folds:
        raise ConfigurationError(f"{int(y.sum())} plastic of {len(y)} training atoms at threshold {threshold:g}: "
                                 "too few for cross-validation; lower the threshold or add glasses")
    fold, fold_how = fold_assignment(groups, folds, seed)
    rng = np.random.default_rng(seed)
    grid = dict(grid or DEFAULT_GRID)
    keys = list(grid)
    names = list(INTERSTICE_FEATURE_NAMES)
    search, best, best_boosters = [], None, None
    for combo in itertools.product(*(grid[k] for k in keys)):
        hp = dict(zip(keys, combo))
        rounds = int(hp.get("n_estimators", 100))
        params = {"objective": "binary", "verbose": -1, "seed": seed, "deterministic": True,
                  "min_data_in_leaf": int(min_data_in_leaf), "num_threads": int(num_threads),
                  **{k: v for k, v in hp.items() if k != "n_estimators"}}
        aucs, boosters = [], []
        for k in range(folds):
            tr = np.flatnonzero(fold != k)
            te = np.flatnonzero(fold == k)
            sel = tr[_undersample(y[tr], np.random.default_rng(rng.integers(1 << 31)))]
            ds = lightgbm.Dataset(x[sel], label=y[sel], feature_name=names, free_raw_data=True)
            booster = lightgbm.train(params, ds, num_boost_round=rounds)
            boosters.append(booster)
            if len(np.unique(y[te])) == 2:
                aucs.append(roc_auc(y[te], booster.predict(x[te])))
        row = {**hp, "cv_auc_mean": float(np.mean(aucs)) if aucs else float("nan"),
               "cv_auc_std": float(np.std(aucs)) if aucs else float("nan"), "folds_scored": len(aucs)}
        search.append(row)
        if progress is not None:
            progress(f"QS grid point {hp}: CV AUC {row['cv_auc_mean']:.4f}")
        if best is None or row["cv_auc_mean"] > best["cv_auc_mean"]:
            best, best_boosters = row, boosters
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    files = []
    for k, booster in enumerate(best_boosters):
        fname = f"fold{k}.txt"
        booster.save_model(str(out / fname))
        files.append(fname)
    name = name or out.name
    card = {
        "schema_version": 1, "name": name, "kind": "lightgbm", "property": "Quench-in Softness",
        "description": (f"LightGBM on the 80 interstice features: probability that D2min after {strain:g} shear "
                        f"strain exceeds {threshold:.4g}, mean of {folds} fold models"),
        "dimensions": 3, "species": list(species or species_of(glasses)),
        "descriptor": {"name": "interstice", "settings": settings.to_dict()},
        "input": {"feature_names": names},
        "output": {"meaning": "quench-in softness: mean probability of 'plastic' over the fold models"},
        "files": {"folds": files},
        "training": {
            "data": {**provenance_summary(train), "split": split.names(), "training_atoms": int(len(y)),
                     "plastic_atoms": int(y.sum()), "orientation": ",".join(orients),
                     "glass_orientation_pairs": [f"{train[k].name}/{o}" for k, o in pairs]},
            "protocol": {"model": "LightGBM binary GBDT", "folds": folds, "cv": fold_how,
                         "undersampling": "equal: all plastic atoms and as many random non-plastic ones per fold",
                         "search": {"grid": {k: list(v) for k, v in grid.items()}, "score": "mean held-out-fold AUC",
                                    "results": search, "best": best},
                         "min_data_in_leaf": int(min_data_in_leaf), "seed": seed,
                         "split": "test glasses held out by glass"},
        },
        "label": {"definition": (f"plastic if D2min after {strain:g} simple-shear strain along "
                                 f"{' or '.join(orients)} (each loading a sample) exceeds {threshold:.6g} ("
                                 + (f"chosen so that {target_fraction:g} of the training samples are plastic"
                                    if chosen else "given") + ")"),
                  "strain": float(strain), "threshold": float(threshold), "orientation": orients[0],
                  "orientations": orients,
                  "threshold_chosen_for_fraction": float(target_fraction) if chosen else None,
                  "plastic_fraction_train": plastic_fraction, "quantity": "D2min"},
        "software": software_versions("lightgbm"), "demo": False,
        "notes": "Metrics measured on the test glasses only.",
    }
    final, metrics = finalize_model(out, card, split.test, progress=progress)
    return QSResult(out, final, metrics, search, float(threshold), best_boosters)
