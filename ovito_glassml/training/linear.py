"""Structural flexibility: a linear model per centre species on radial features (Fan, Ding & Ma 2020).

y = ln(v_flex), x = reduced radial structure functions with the bias entry 1
(:func:`~ovito_glassml.descriptors.radial.radial_features`, the runtime's code).  Per centre
species: ``sklearn.svm.LinearSVR(loss="squared_epsilon_insensitive", epsilon=0,
fit_intercept=False)``, i.e. liblinear's L2-regularised L2-loss SVR

    min_w  1/2 |w|^2 + C sum_i (w . x_i - y_i)^2,

with the intercept carried by the bias feature (so it is regularised like the other weights, as
liblinear does with its bias term) and the exported weights are exactly ``coef_``: prediction
``w . x`` equals sklearn's ``predict`` (intercept 0).  C is chosen from a grid by k-fold
cross-validation (grouped by glass when there are >= k training glasses, else by atom), scored by
the mean held-out Pearson correlation with ln(v_flex); the final weights are refitted on all
training atoms.

**r_p.**  The reduced distance uses r_p, the first-peak position of each partial g(r).  Fan, Ding & Ma (2020)
took r_p from the g(r) of the most rigid atoms (lowest 1 % of v_flex); here r_p is the first peak
of the partial g(r) of **all** atoms of the training glasses
(:func:`~ovito_glassml.descriptors.radial.first_peak_positions`), which a user can reproduce from
any glass without flexibility labels; the values are stored in the card.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ..analysis.metrics import pearson
from ..descriptors.geometry import ConfigurationError
from ..descriptors.radial import RadialSettings, first_peak_positions, radial_feature_names, radial_features
from .gbdt import fold_assignment
from .samples import (LabelledGlass, balanced_indices, provenance_summary, species_of, split_by_glass,
                      top_fraction_labels)

__all__ = ["DEFAULT_C_GRID", "fit_svr", "SFResult", "train_sf", "RadialSVMBaseline"]

log = logging.getLogger(__name__)
Progress = Callable[[str], Any] | None
DEFAULT_C_GRID = (1e-4, 1e-3, 1e-2, 1e-1, 1.0)


def fit_svr(x: np.ndarray, y: np.ndarray, c: float, max_iter: int = 20000, tol: float = 1e-6):
    """L2-regularised L2-loss linear SVR without its own intercept (the bias feature is in ``x``)."""
    from sklearn.svm import LinearSVR

    model = LinearSVR(loss="squared_epsilon_insensitive", epsilon=0.0, C=float(c), fit_intercept=False,
                      dual=False, max_iter=max_iter, tol=tol)
    return model.fit(x, y)


@dataclass
class SFResult:
    directory: Path
    card: Any
    metrics: dict[str, Any]
    weights: dict[str, np.ndarray]
    models: dict[str, Any]          # the fitted sklearn LinearSVR per species
    search: dict[str, list[dict[str, float]]]
    settings: RadialSettings


def train_sf(glasses: Sequence[LabelledGlass], output: str | Path, *, name: str | None = None,
             c_grid: Sequence[float] = DEFAULT_C_GRID, folds: int = 5, species: Sequence[str] | None = None,
             peak_positions: Mapping[str, float] | None = None, r_min: float = 0.6, r_max: float = 3.0,
             sigma: float = 0.05, test: Any = "auto", seed: int = 0, progress: Progress = None) -> SFResult:
    """Train and evaluate the SF model; writes ``weights.json``, ``card.json``, ``metrics.json``, plots."""
    from .evaluate import finalize_model, software_versions

    glasses = list(glasses)
    if not glasses:
        raise ConfigurationError("no glasses to train on")
    missing = [g.name for g in glasses if g.v_flex is None]
    if missing:
        raise ConfigurationError(f"glasses without v_flex cannot train structural flexibility: {missing}")
    split = split_by_glass(glasses, test=test, validation=0, seed=seed)
    train = list(split.train)
    species = tuple(species or species_of(glasses))
    dims = glasses[0].config.dimensions
    peaks_given = peak_positions is not None
    peaks = dict(peak_positions) if peaks_given else first_peak_positions([g.config for g in train], species)
    settings = RadialSettings(species=species, r_min=r_min, r_max=r_max, sigma=sigma, peak_positions=peaks)
    feats = [radial_features(g.config, settings, dtype=np.float64) for g in train]
    x_all = np.concatenate(feats)
    v = np.concatenate([g.v_flex for g in train])
    centre = np.concatenate([np.asarray(g.config.type_names)[g.config.types] for g in train])
    groups = np.concatenate([np.full(g.count, k) for k, g in enumerate(train)])
    ok = np.isfinite(v) & (v > 0)
    weights, models, search, counts = {}, {}, {}, {}
    cv_how = ""
    for sp in species:
        sel = ok & (centre == sp)
        if sel.sum() < 2 * folds:
            log.warning("species %s: %d training atoms, no weights", sp, int(sel.sum()))
            continue
        x, y = x_all[sel], np.log(v[sel])
        fold, cv_how = fold_assignment(groups[sel], folds, seed)
        rows = []
        for c in c_grid:
            scores = []
            for k in range(folds):
                tr, te = fold != k, fold == k
                m = fit_svr(x[tr], y[tr], c)
                pred = m.predict(x[te])
                if np.ptp(pred) > 0 and np.ptp(y[te]) > 0:
                    scores.append(pearson(pred, y[te]))
            rows.append({"C": float(c), "cv_pearson_mean": float(np.mean(scores)) if scores else float("nan"),
                         "cv_pearson_std": float(np.std(scores)) if scores else float("nan")})
        best = max(rows, key=lambda r: -np.inf if np.isnan(r["cv_pearson_mean"]) else r["cv_pearson_mean"])
        model = fit_svr(x, y, best["C"])
        models[sp] = model
        weights[sp] = np.asarray(model.coef_, dtype=np.float64).copy()
        search[sp] = rows
        counts[sp] = int(sel.sum())
        if progress is not None:
            progress(f"SF {sp}: C = {best['C']:g}, CV Pearson {best['cv_pearson_mean']:.4f}")
    if not weights:
        raise ConfigurationError("no species had enough training atoms with v_flex")
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    names = radial_feature_names(settings)
    (out / "weights.json").write_text(json.dumps({"feature_names": names, "weights": {
        sp: [float(w) for w in ws] for sp, ws in weights.items()}}) + "\n", encoding="utf-8")
    name = name or out.name
    card = {
        "schema_version": 1, "name": name, "kind": "linear", "property": "Structural Flexibility",
        "description": "Linear model per centre species on reduced radial structure functions: estimate of ln(v_flex)",
        "dimensions": dims, "species": list(species),
        "descriptor": {"name": "radial", "settings": settings.to_dict()},
        "input": {"feature_names": names},
        "output": {"meaning": "w_species . x, an estimate of ln(v_flex)"},
        "files": {"weights": "weights.json"},
        "training": {
            "data": {**provenance_summary(train), "split": split.names(), "training_atoms": counts},
            "protocol": {"model": "sklearn LinearSVR(loss='squared_epsilon_insensitive', epsilon=0, "
                                  "fit_intercept=False): L2-regularised L2-loss SVR, intercept = bias feature",
                         "C_search": {"grid": [float(c) for c in c_grid], "folds": folds, "cv": cv_how,
                                      "score": "mean held-out Pearson rho with ln(v_flex)", "results": search},
                         "C": {sp: max(r, key=lambda q: np.nan_to_num(q["cv_pearson_mean"], nan=-np.inf))["C"]
                               for sp, r in search.items()},
                         "peak_positions": {"values": peaks, "source": "given" if peaks_given else
                                            "first peak of the partial g(r) of all atoms of the training glasses "
                                            "(Fan, Ding & Ma 2020: g(r) of the lowest-1% v_flex atoms)"},
                         "seed": seed, "split": "test glasses held out by glass"},
        },
        "label": {"definition": "ln(v_flex), v_flex = vibrational MSD at 50 K x Voronoi volume^(1/3)",
                  "quantity": "ln(v_flex)"},
        "software": software_versions("scikit-learn"), "demo": False,
        "notes": "Metrics measured on the test glasses only.",
    }
    final, metrics = finalize_model(out, card, split.test, progress=progress)
    return SFResult(out, final, metrics, weights, models, search, settings)


class RadialSVMBaseline:
    """Fan & Ma's rotation-invariant baseline: a linear SVM on the radial features.

    Fitted (:meth:`fit`) on the same labels as the CNN (top f_thres of D2min at ``strain``, balanced
    per glass and orientation, pooled over orientations: the features cannot tell orientations
    apart), standardised features, ``sklearn.svm.LinearSVC``.  :meth:`predict` returns the decision
    function, a score for AUC / C_rank (used as a baseline by :func:`~.evaluate.evaluate_model`).
    """

    name = "radial_svm"

    def __init__(self, settings: RadialSettings, pipeline: Any):
        self.settings = settings
        self.pipeline = pipeline

    @classmethod
    def fit(cls, glasses: Sequence[LabelledGlass], strain: float, fraction: float,
            orientations: Sequence[str] | None = None, settings: RadialSettings | None = None, c: float = 1.0,
            seed: int = 0) -> "RadialSVMBaseline":
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
        from sklearn.svm import LinearSVC

        glasses = list(glasses)
        species = tuple(species_of(glasses))
        if settings is None:
            settings = RadialSettings(species=species,
                                      peak_positions=first_peak_positions([g.config for g in glasses], species))
        rng = np.random.default_rng(seed)
        xs, ys = [], []
        for g in glasses:
            x = radial_features(g.config, settings, dtype=np.float64)
            for o in (orientations or g.orientations):
                if not g.has_d2min(o, strain):
                    continue
                y = top_fraction_labels(g.d2min_at(o, strain), fraction)
                idx = balanced_indices(y, rng)
                xs.append(x[idx])
                ys.append(y[idx])
        if not xs or len(np.unique(np.concatenate(ys))) < 2:
            raise ConfigurationError("the radial SVM baseline needs labelled atoms of both classes")
        pipe = make_pipeline(StandardScaler(), LinearSVC(C=float(c), dual="auto", max_iter=20000))
        pipe.fit(np.concatenate(xs), np.concatenate(ys))
        return cls(settings, pipe)

    def predict(self, config, centers=None, frame=None) -> np.ndarray:
        """Decision-function score of ``centers`` (default all); ``frame`` is ignored (rotation invariant)."""
        x = radial_features(config, self.settings, centers, dtype=np.float64)
        return np.asarray(self.pipeline.decision_function(x), dtype=np.float64)
