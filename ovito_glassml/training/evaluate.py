"""Evaluate a model on held-out glasses (docs/design.md) and put the figures in its card.

:func:`evaluate_model` runs the model **through the runtime** (:func:`~ovito_glassml.inference.load_model`,
i.e. the exported file and the card's descriptor settings, exactly what users get) on the given
glasses only, and measures:

* ``onnx-cnn`` and Plastic Susceptibility ``ensemble``: per strain s available in the glasses, per (glass, orientation)
  with the card's f = ``label.f_thres``: labels = top f of D2min(s) among the evaluated atoms;
  balanced accuracy at p > 0.5 (the mean of TPR and TNR: the expected accuracy on a balanced
  subset), AUC-ROC, C_rank = 2 mean CDF(p) over the top-f atoms - 1 and the overlap ratio of the
  top-f predicted and true atoms; each figure is the mean over the (glass, orientation) pairs,
  with the numbers of glasses, pairs and atoms behind it.  Headline values are at the card's strain.
* ``lightgbm`` (quench-in softness): labels D2min > ``label.threshold`` at ``label.strain`` in
  each of ``label.orientations`` (older cards: ``label.orientation``), pooled over the glasses and
  loadings: AUC-ROC, balanced accuracy and recall at 0.5; with several loadings also the AUC on
  each loading's labels alone.  ``n_atoms`` counts (atom, loading) samples, ``n_pairs`` the
  (glass, loading) pairs.
* ``linear`` (structural flexibility): Pearson rho per centre species between the prediction and
  ln(v_flex), and between exp(prediction) and v_flex.

Baselines on the same atoms: the Voronoi atomic volume (AUC / C_rank for the classifiers, Pearson
for SF), the simulated v_flex where the glasses carry it (an MD quantity, a reference, not a
model), and any further models given in ``baselines`` (e.g. ``{"qs": path, "sf": path,
"radial_svm": fitted}``), scored the same way (an orientation-aware baseline is run in each
loading's frame).

**Both protocols** (:mod:`.scoring`), for every model kind and every predictor above: the papers'
protocol (top 0.5 % of D2min, balanced sets, accuracy of the own decision) and the project's
top-5 % AUC and C_rank, at 2, 3, 4, 5 and 10 % strain (those the glasses hold; the others are
listed as absent), pooled and broken down by preparation (read from each glass's provenance) and
by loading: ``result["protocols"]``, flat headline numbers in ``values`` (:func:`~.scoring.protocol_values`).
QS and SF are scored in every loading of each glass (their prediction does not depend on it).

With ``output_dir`` the metrics are written to ``metrics.json`` and plots to PNG files (ROC
curves; C_rank vs strain; the papers' accuracy vs strain; SF scatter), with matplotlib's Agg
backend.  ``cache``: a folder where model predictions are kept (:mod:`.prediction_cache`), so a
second evaluation of the same models on the same atoms costs no inference.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import math
import time
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ..analysis import metrics as M
from ..descriptors.geometry import ConfigurationError
from ..inference.cards import CARD_FILE, ModelCard, software_versions
from ..simulation.labels import vflex_reliability
from .samples import LabelledGlass, choose_threshold, same_strain, threshold_labels, top_fraction_labels
from .scoring import PAPER_STRAINS, PairScores, preparation_of, preparation_record, protocol_values, \
    score_both_protocols

__all__ = ["evaluate_model", "update_card_metrics", "finalize_model", "software_versions", "roc_curve",
           "METRICS_FILE"]

log = logging.getLogger(__name__)
METRICS_FILE = "metrics.json"
Progress = Callable[[str], Any] | None


def roc_curve(labels, scores) -> tuple[np.ndarray, np.ndarray]:
    """False- and true-positive rates over all thresholds (ties grouped), starting at (0, 0)."""
    y = np.asarray(labels, dtype=np.float64).reshape(-1)
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    order = np.argsort(-s, kind="mergesort")
    y, s = y[order], s[order]
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]
    tp = np.cumsum(y)[last]
    fp = (last + 1) - tp
    p, n = max(y.sum(), 1.0), max(len(y) - y.sum(), 1.0)
    return np.r_[0.0, fp / n], np.r_[0.0, tp / p]


def _note(progress: Progress, msg: str) -> None:
    log.info(msg)
    if progress is not None:
        progress(msg)


def _load(model: Any, cache: str | Path | None = None):
    from ..inference.runtime import Model, load_model
    from .prediction_cache import with_cache

    if isinstance(model, Model) or (not isinstance(model, (str, Path, ModelCard)) and hasattr(model, "predict")):
        return with_cache(model, cache)  # a loaded model, or an in-memory baseline with predict(config, centers)
    return with_cache(load_model(model), cache)


def decision_of(model: Any) -> str | None:
    """How a predictor decides (:data:`~.scoring.DECISIONS`): its ``decision`` attribute if it has one
    (the radial SVM: ``"sign"``), ``"probability"`` for Plastic Susceptibility and Quench-in Softness
    models, else None (SF, volumes: a score without a decision of its own)."""
    if hasattr(model, "decision") and not hasattr(model, "card"):
        return model.decision
    if type(model).__name__ == "RadialSVMBaseline":
        return "sign"
    card = getattr(model, "card", None)
    if card is not None and card.property in ("Plastic Susceptibility", "2D Plastic Susceptibility",
                                              "Quench-in Softness"):
        return "probability"
    return None


def _reference_scores(glass: LabelledGlass, idx: np.ndarray) -> dict[str, np.ndarray]:
    """The per-atom references every evaluation scores beside the model: Voronoi volume and the simulated v_flex."""
    out = {}
    vol = _voronoi_volume(glass)
    if vol is not None:
        out["voronoi_volume"] = np.asarray(vol)[idx]
    if glass.v_flex is not None:
        out["v_flex"] = np.asarray(glass.v_flex)[idx]
    return out


def _pair(glass: LabelledGlass, orientation: str, idx: np.ndarray, scores: dict[str, np.ndarray]) -> PairScores:
    return PairScores(glass.name, preparation_of(glass), orientation,
                      {s: v[idx] for s, v in glass.d2min.get(orientation, {}).items()}, dict(scores))


def _protocols(pairs: list[PairScores], decisions: dict[str, str | None], glasses: Sequence[LabelledGlass],
               strains: Sequence[float] | None, model_name: str) -> dict[str, Any]:
    block = score_both_protocols(pairs, decisions, strains=strains if strains else PAPER_STRAINS,
                                 records={g.name: preparation_record(g) for g in glasses})
    block["model"] = model_name
    return block


def _centers(glass: LabelledGlass, max_atoms: int | None, seed: int) -> np.ndarray:
    n = glass.count
    if max_atoms is None or max_atoms >= n:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, int(max_atoms), replace=False))


def _voronoi_volume(glass: LabelledGlass) -> np.ndarray | None:
    if glass.voronoi_volume is not None:
        return glass.voronoi_volume
    if glass.config.dimensions != 3:
        return None
    from ..descriptors.interstice import voronoi_neighbors

    return voronoi_neighbors(glass.config, face_fraction=0.0).volumes


def _mean(rows: list[dict], key: str) -> float:
    vals = [r[key] for r in rows if key in r and math.isfinite(r[key])]
    return float(np.mean(vals)) if vals else math.nan


def _safe(fn, *args, **kw) -> float:
    try:
        return float(fn(*args, **kw))
    except ValueError:  # one class only, constant predictions
        return math.nan


def _finite_values(values: Mapping[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in values.items()
            if isinstance(v, (int, float, np.floating, np.integer)) and not isinstance(v, bool) and math.isfinite(v)}


def _evaluated_on(glasses: Sequence[LabelledGlass], n_atoms: int) -> str:
    return (f"{len(glasses)} held-out glass(es) never used in training: {', '.join(g.name for g in glasses)} "
            f"({n_atoms} atoms evaluated)")


# ----------------------------------------------------------------------------------------------
def evaluate_model(model: Any, glasses: Sequence[LabelledGlass], output_dir: str | Path | None = None, *,
                   strains: Sequence[float] | None = None, orientations: Sequence[str] | None = None,
                   baselines: Mapping[str, Any] | None = None, max_atoms: int | None = None, seed: int = 0,
                   threshold: float | None = None, plastic_fraction: float | None = None,
                   progress: Progress = None, cache: str | Path | None = None) -> dict[str, Any]:
    """Metrics of ``model`` (name, path, card or loaded model) on ``glasses`` (module docstring).

    ``strains`` (CNN): strains to evaluate (default: every strain of the glasses); ``orientations``:
    loading orientations (default: those the CNN was trained on, as listed in its card, else each
    glass's; QS: the card's); ``max_atoms``: a random subset of
    atoms per glass (seeded) to bound the cost.  QS only: ``threshold`` replaces the card's D2min
    threshold, or ``plastic_fraction`` labels the top fraction of the evaluated atoms plastic (for
    another system, whose D2min scale differs: Wang & Jain's transfer test).  ``baselines``: further
    predictors scored on the same atoms (every model kind).  ``cache``: a folder for the model
    predictions (module doc).  Returns a JSON-ready dict with ``values`` (flat numbers for the
    card), ``protocols`` (both protocols, by preparation and loading), details, and the written
    files under ``files``.
    """
    glasses = list(glasses)
    if not glasses:
        raise ConfigurationError("evaluation needs at least one held-out glass")
    t0 = time.perf_counter()
    mdl = _load(model, cache)
    extra = {name: _load(m, cache) for name, m in (baselines or {}).items()}
    kind = mdl.card.kind
    if kind == "onnx-cnn" or (kind == "ensemble" and mdl.card.property == "Plastic Susceptibility"):
        result = _evaluate_cnn(mdl, glasses, strains, orientations, extra, max_atoms, seed, progress)
    elif kind == "ensemble":
        raise ConfigurationError(f"evaluation of a {mdl.card.property} ensemble is not implemented; only Plastic "
                                 "Susceptibility ensembles are")
    elif kind == "lightgbm":
        result = _evaluate_qs(mdl, glasses, orientations, max_atoms, seed, progress, threshold, plastic_fraction)
    else:
        result = _evaluate_sf(mdl, glasses, max_atoms, seed, progress)
    if "protocols" not in result:  # QS and SF: every loading of each glass, the same prediction in each
        result["protocols"] = _static_protocols(mdl, glasses, orientations, extra, max_atoms, seed, strains,
                                                result.get("_predicted", {}))
    if result["protocols"].get("strains_evaluated"):
        result["values"].update(protocol_values(result["protocols"]))
    result = {"model": mdl.card.name, "kind": kind, "property": mdl.card.property,
              "glasses": [g.name for g in glasses], **result}
    result["values"] = _finite_values(result["values"])
    result["seconds"] = round(time.perf_counter() - t0, 3)
    result["files"] = []
    if output_dir is not None:
        out = Path(output_dir)
        out.mkdir(parents=True, exist_ok=True)
        result["files"] = _plots(result, out)
        (out / METRICS_FILE).write_text(json.dumps(_jsonable(result), indent=2) + "\n", encoding="utf-8")
        result["files"].append(str(out / METRICS_FILE))
    return result


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items() if not str(k).startswith("_")}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    return obj


def _score_rows(scores: np.ndarray, d2: np.ndarray, labels: np.ndarray, f: float,
                probabilities: bool) -> dict[str, float]:
    ok = (labels >= 0) & np.isfinite(scores)
    s, d, y = scores[ok], d2[ok], labels[ok]
    row = {"auc_roc": _safe(M.roc_auc, y, s), "c_rank": _safe(M.cumulative_rank_correlation, s, d, f),
           "overlap_ratio": _safe(M.overlap_ratio, s, d, f), "atoms": int(ok.sum()), "positives": int(y.sum())}
    if probabilities:
        row["balanced_accuracy"] = _safe(M.balanced_accuracy, y, s)
    return row


def _evaluate_cnn(model, glasses, strains, orientations, baselines, max_atoms, seed, progress) -> dict[str, Any]:
    card = model.card
    f = float(card.label["f_thres"])
    card_strain = float(card.label["strain"])
    extra = dict(baselines or {})
    if orientations is None:  # the loadings it was trained on, so the card's figures stay put as data grow
        trained = (card.training.get("data") or {}).get("orientations")
        orientations = list(trained) if isinstance(trained, list) else None
    all_strains = sorted({s for g in glasses for o in g.orientations for s in g.strains(o)})
    wanted = sorted(float(s) for s in strains) if strains else all_strains
    rows: dict[float, list[dict]] = {s: [] for s in wanted}
    base_rows: dict[str, dict[float, list[dict]]] = {}
    pooled: dict[str, list] = {"labels": [], "model": []}
    swapped: list[float] = []
    pairs: list[PairScores] = []
    for g in glasses:
        idx = _centers(g, max_atoms, seed)
        static = _reference_scores(g, idx)
        turning = {}  # orientation-aware baselines (e.g. an ensemble's CNN member): predicted per loading
        for name, m in extra.items():
            if getattr(m, "orientational", False):
                turning[name] = m
            else:
                static[name] = m.predict(g.config, idx)
        predicted: dict[str, np.ndarray] = {}
        for o in (orientations or g.orientations):
            if o not in g.d2min:
                continue
            p = predicted[o] = model.predict(g.config, idx, frame=o)
            current = {**static, **{name: m.predict(g.config, idx, frame=o) for name, m in turning.items()}}
            pairs.append(_pair(g, o, idx, {"model": p, **current}))
            _note(progress, f"evaluated {g.name} / {o} ({len(idx)} atoms)")
            for s in wanted:
                if not g.has_d2min(o, s):
                    continue
                d = g.d2min_at(o, s)[idx]
                labels = top_fraction_labels(d, f)
                row = {"glass": g.name, "orientation": o, **_score_rows(p, d, labels, f, True)}
                rows[s].append(row)
                if same_strain(s, card_strain):
                    ok = labels >= 0
                    pooled["labels"].append(labels[ok])
                    pooled["model"].append(p[ok])
                    for name, v in current.items():
                        pooled.setdefault(name, []).append(v[ok])
                for name, v in current.items():
                    base_rows.setdefault(name, {}).setdefault(s, []).append(_score_rows(v, d, labels, f, False))
        # orientation control: the prediction made in frame o scored against the labels of another
        # loading o' of the same glass (an orientation-blind model scores the same as on its own labels)
        for o, p in predicted.items():
            for o2 in predicted:
                if o2 != o and g.has_d2min(o2, card_strain):
                    labels = top_fraction_labels(g.d2min_at(o2, card_strain)[idx], f)
                    ok = labels >= 0
                    swapped.append(_safe(M.roc_auc, labels[ok], p[ok]))
    per_strain = {}
    for s, rs in rows.items():
        if not rs:
            continue
        per_strain[f"{s:g}"] = {
            "strain": s, **{k: _mean(rs, k) for k in ("balanced_accuracy", "auc_roc", "c_rank", "overlap_ratio")},
            "n_glasses": len({r["glass"] for r in rs}), "n_pairs": len(rs), "n_atoms": int(sum(r["atoms"] for r in rs)),
            "n_positives": int(sum(r["positives"] for r in rs)),
            "baselines": {name: {k: _mean(b.get(s, []), k) for k in ("auc_roc", "c_rank", "overlap_ratio")}
                          for name, b in base_rows.items()},
        }
    if not per_strain:
        raise ConfigurationError(f"none of the glasses has D2min at the strains {wanted}")
    key = f"{card_strain:g}"
    head = per_strain.get(key) or per_strain[min(per_strain, key=lambda k: abs(float(k) - card_strain))]
    values = {k: head[k] for k in ("balanced_accuracy", "auc_roc", "c_rank", "overlap_ratio")}
    values.update(strain=head["strain"], f_thres=f, n_glasses=head["n_glasses"], n_atoms=head["n_atoms"],
                  n_pairs=head["n_pairs"])
    for s, row in per_strain.items():
        for k in ("balanced_accuracy", "auc_roc", "c_rank", "overlap_ratio"):
            values[f"{k}@strain={s}"] = row[k]
    for name, b in head["baselines"].items():
        for k, v in b.items():
            values[f"baseline_{name}_{k}"] = v
    swapped_ok = [v for v in swapped if math.isfinite(v)]
    if swapped_ok:  # at the card's strain, over (glass, o, o') with o' != o
        values["auc_roc_other_orientation_labels"] = float(np.mean(swapped_ok))
        values["n_orientation_swaps"] = len(swapped_ok)
    n_atoms = int(head["n_atoms"])
    decisions = {"model": "probability", "voronoi_volume": None, "v_flex": None,
                 **{name: decision_of(m) for name, m in extra.items()}}
    protocols = _protocols(pairs, decisions, glasses, strains, model.card.name)
    return {"evaluated_on": _evaluated_on(glasses, n_atoms), "values": values, "per_strain": per_strain,
            "protocols": protocols,
            "label": {"f_thres": f, "strain": card_strain}, "per_pair": {f"{s:g}": r for s, r in rows.items() if r},
            "_roc": {k: np.concatenate(v) for k, v in pooled.items() if v}}


def _evaluate_qs(model, glasses, orientations, max_atoms, seed, progress, threshold=None,
                 plastic_fraction=None) -> dict[str, Any]:
    label = model.card.label
    strain = float(label["strain"])
    rule = "the card's threshold"
    if threshold is not None and plastic_fraction is not None:
        raise ConfigurationError("give a D2min threshold or a plastic fraction, not both")
    if plastic_fraction is not None:
        d_all = [g.d2min_at(o, strain)[_centers(g, max_atoms, seed)] for g in glasses
                 for o in (orientations or label.get("orientations") or [label.get("orientation")]) if o in g.d2min]
        if not d_all:
            raise ConfigurationError(f"no glass has D2min in orientation {label.get('orientation')!r} at strain "
                                     f"{strain}")
        threshold = choose_threshold(np.concatenate(d_all), plastic_fraction)
        rule = f"chosen so that {plastic_fraction:g} of the evaluated atoms are plastic"
    elif threshold is not None:
        rule = "given"
    threshold = float(label["threshold"]) if threshold is None else float(threshold)
    pooled: dict[str, list] = {"labels": [], "model": [], "d2min": []}
    per_orientation: dict[str, list] = {}
    n_glasses = 0
    predicted: dict[str, np.ndarray] = {}
    for g in glasses:
        idx = _centers(g, max_atoms, seed)
        p = predicted[g.name] = model.predict(g.config, idx)
        vol = _voronoi_volume(g)
        used = False
        for o in (orientations or label.get("orientations") or [label.get("orientation")]):
            if o not in g.d2min:
                continue
            d = g.d2min_at(o, strain)[idx]
            y = threshold_labels(d, threshold)
            ok = y >= 0
            pooled["labels"].append(y[ok])
            pooled["model"].append(p[ok])
            pooled["d2min"].append(d[ok])
            per_orientation.setdefault(o, []).append((y[ok], p[ok]))
            if vol is not None:
                pooled.setdefault("voronoi_volume", []).append(vol[idx][ok])
            used = True
        n_glasses += used
        _note(progress, f"evaluated {g.name} ({len(idx)} atoms)")
    if not pooled["labels"]:
        raise ConfigurationError(f"no glass has D2min in orientation {label.get('orientation')!r} at strain {strain}")
    cat = {k: np.concatenate(v) for k, v in pooled.items()}
    y, p = cat["labels"], cat["model"]
    frac = float(y.mean())
    values = {"auc_roc": _safe(M.roc_auc, y, p), "balanced_accuracy": _safe(M.balanced_accuracy, y, p),
              "recall": _safe(M.recall, y, p), "plastic_fraction": frac, "strain": strain, "threshold": threshold,
              "n_glasses": n_glasses, "n_atoms": len(y), "n_plastic": int(y.sum()),
              "c_rank": _safe(M.cumulative_rank_correlation, p, cat["d2min"], max(frac, 1e-9)),
              "n_pairs": len(pooled["labels"])}
    if len(per_orientation) > 1:  # each loading's labels alone (the headline pools them)
        for o, parts in per_orientation.items():
            values[f"auc_roc@orientation={o}"] = _safe(M.roc_auc, np.concatenate([a for a, _ in parts]),
                                                       np.concatenate([b for _, b in parts]))
    baselines = {}
    if "voronoi_volume" in cat:
        v = cat["voronoi_volume"]
        baselines["voronoi_volume"] = {"auc_roc": _safe(M.roc_auc, y, v),
                                       "c_rank": _safe(M.cumulative_rank_correlation, v, cat["d2min"], max(frac, 1e-9))}
        for k, val in baselines["voronoi_volume"].items():
            values[f"baseline_voronoi_volume_{k}"] = val
    roc = {k: cat[k] for k in ("labels", "model", "voronoi_volume") if k in cat}
    return {"evaluated_on": _evaluated_on(glasses, len(y)), "values": values, "baselines": baselines,
            "label": {"strain": strain, "threshold": threshold, "threshold_rule": rule}, "_roc": roc,
            "_predicted": predicted}


def _evaluate_sf(model, glasses, max_atoms, seed, progress) -> dict[str, Any]:
    per: dict[str, dict[str, list]] = {}
    predicted: dict[str, np.ndarray] = {}
    dims = glasses[0].config.dimensions if glasses else 3
    for g in glasses:
        if g.v_flex is None:
            raise ConfigurationError(f"glass {g.name!r} has no v_flex: structural flexibility cannot be evaluated")
        idx = _centers(g, max_atoms, seed)
        p = predicted[g.name] = model.predict(g.config, idx)
        vol = _voronoi_volume(g)
        names = np.asarray(g.config.type_names)[g.config.types[idx]]
        v = g.v_flex[idx]
        ok = np.isfinite(p) & np.isfinite(v) & (v > 0)
        has_runs = g.msd_runs is not None and g.voronoi_volume is not None   # for the label's reliability
        for sp in np.unique(names[ok]):
            sel = ok & (names == sp)
            d = per.setdefault(str(sp), {"pred": [], "v": [], "vol": [], "glasses": set(), "runs": [], "omega": []})
            d["pred"].append(p[sel])
            d["v"].append(v[sel])
            if not has_runs:
                d["runs"] = None
            elif d["runs"] is not None:
                d["runs"].append(g.msd_runs[:, idx][:, sel])
                d["omega"].append(g.voronoi_volume[idx][sel])
            if vol is not None:
                d["vol"].append(vol[idx][sel])
            d["glasses"].add(g.name)
        _note(progress, f"evaluated {g.name} ({len(idx)} atoms)")
    values: dict[str, Any] = {}
    per_species: dict[str, Any] = {}
    scatter = {}
    total = 0
    for sp, d in per.items():
        pred, v = np.concatenate(d["pred"]), np.concatenate(d["v"])
        row = {"pearson_ln_vflex": _safe(M.pearson, pred, np.log(v)),
               "pearson_vflex": _safe(M.pearson, np.exp(pred), v),
               "n_atoms": len(v), "n_glasses": len(d["glasses"])}
        if d["runs"] and len({len(r) for r in d["runs"]}) == 1:
            # label noise: Spearman-Brown reliability R of the seed mean, and rho / sqrt(R), the
            # correlation the same prediction would have with a noise-free ln v_flex (an estimate)
            rel = vflex_reliability(np.concatenate(d["runs"], axis=1), np.concatenate(d["omega"]), dims)
            if np.isfinite(rel):
                row["label_reliability"] = rel
                if rel > 0:
                    row["pearson_ln_vflex_noise_free_estimate"] = row["pearson_ln_vflex"] / np.sqrt(rel)
        if d["vol"]:
            vol = np.concatenate(d["vol"])
            row["baseline_voronoi_volume_pearson_vflex"] = _safe(M.pearson, vol, v)
            row["baseline_voronoi_volume_pearson_ln_vflex"] = _safe(M.pearson, vol, np.log(v))
        per_species[sp] = row
        for k, val in row.items():
            values[f"{k}_{sp}"] = val
        scatter[sp] = (pred, np.log(v))
        total += len(v)
    values.update(n_glasses=len(glasses), n_atoms=total)
    return {"evaluated_on": _evaluated_on(glasses, total), "values": values, "per_species": per_species,
            "_scatter": scatter, "_predicted": predicted}


def _static_protocols(model, glasses, orientations, extra, max_atoms, seed, strains,
                      predicted: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """Both protocols for an orientation-blind model (QS, SF): its prediction (made once per glass)
    scored against the labels of every loading of each glass (``orientations`` to restrict them)."""
    pairs = []
    for g in glasses:
        if not g.d2min:
            continue
        idx = _centers(g, max_atoms, seed)
        p = predicted[g.name] if g.name in predicted else model.predict(g.config, idx)
        static = _reference_scores(g, idx)
        turning = {}
        for name, m in extra.items():
            if getattr(m, "orientational", False):
                turning[name] = m
            else:
                static[name] = m.predict(g.config, idx)
        for o in (orientations or g.orientations):
            if o in g.d2min:
                pairs.append(_pair(g, o, idx, {"model": p, **static,
                                               **{n: m.predict(g.config, idx, frame=o) for n, m in turning.items()}}))
    decisions = {"model": decision_of(model), "voronoi_volume": None, "v_flex": None,
                 **{name: decision_of(m) for name, m in extra.items()}}
    if not pairs:
        return {"strains_evaluated": [], "note": "no glass carries D2min"}
    return _protocols(pairs, decisions, glasses, strains, model.card.name)


# ----------------------------------------------------------------------------------------------
# plots
def _plots(result: dict[str, Any], out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    def save(fig, file_name: str) -> str:
        fig.tight_layout()
        fig.savefig(out / file_name)
        plt.close(fig)
        return str(out / file_name)

    files = []
    name = result["model"]
    roc = result.get("_roc")
    if roc and len(np.unique(roc["labels"])) == 2:
        fig, ax = plt.subplots(figsize=(4.2, 4.0), dpi=120)
        for key, scores in roc.items():
            if key == "labels":
                continue
            fpr, tpr = roc_curve(roc["labels"], scores)
            auc = M.roc_auc(roc["labels"], scores)
            ax.plot(fpr, tpr, label=f"{name if key == 'model' else key} (AUC {auc:.3f})",
                    lw=2 if key == "model" else 1)
        ax.plot([0, 1], [0, 1], "k:", lw=0.8)
        ax.set_xlabel("false positive rate")
        ax.set_ylabel("true positive rate")
        ax.set_title(f"ROC, held-out glasses ({result['values'].get('n_atoms', 0):.0f} atoms)", fontsize=9)
        ax.legend(fontsize=7, loc="lower right")
        files.append(save(fig, "roc.png"))
    per_strain = result.get("per_strain")
    if per_strain:
        strains = sorted(per_strain, key=float)
        fig, ax = plt.subplots(figsize=(4.4, 3.6), dpi=120)
        x = [100 * float(s) for s in strains]
        ax.plot(x, [per_strain[s]["c_rank"] for s in strains], "o-", label=name)
        for b in per_strain[strains[0]]["baselines"]:
            ax.plot(x, [per_strain[s]["baselines"].get(b, {}).get("c_rank", math.nan) for s in strains], "s--",
                    label=b, lw=1)
        ax.axhline(0, color="k", lw=0.5)
        ax.set_xlabel("shear strain (%)")
        ax.set_ylabel("C_rank")
        ax.set_title(f"C_rank vs strain (top {result['label']['f_thres']:g} of D2min)", fontsize=9)
        ax.legend(fontsize=7)
        files.append(save(fig, "c_rank_vs_strain.png"))
    protocols = result.get("protocols") or {}
    paper = (protocols.get("paper") or {}).get("strains") or {}
    if paper:
        strains = sorted(paper, key=float)
        x = [100 * float(s) for s in strains]
        fig, ax = plt.subplots(figsize=(4.6, 3.6), dpi=120)
        names = sorted({n for s in strains for n in paper[s].get("all", {})}, key=lambda n: (n != "model", n))
        for n in names:
            rows = [paper[s]["all"].get(n, {}) for s in strains]
            key = "accuracy" if any("accuracy" in r for r in rows) else "balanced_split_accuracy"
            ax.plot(x, [r.get(key, math.nan) for r in rows], "o-" if n == "model" else "s--",
                    lw=2 if n == "model" else 1, label=f"{name if n == 'model' else n}"
                    + ("" if key == "accuracy" else " (balanced split)"))
        ax.axhline(0.5, color="k", lw=0.5)
        ax.set_xlabel("shear strain (%)")
        ax.set_ylabel("accuracy, balanced sets")
        ax.set_title(f"papers' protocol: top {100 * protocols['paper']['fraction']:g} % of D2min", fontsize=9)
        ax.legend(fontsize=6)
        files.append(save(fig, "paper_protocol.png"))
    scatter = result.get("_scatter")
    if scatter:
        fig, axes = plt.subplots(1, len(scatter), figsize=(3.6 * len(scatter), 3.4), dpi=120, squeeze=False)
        for ax, (sp, (pred, truth)) in zip(axes[0], sorted(scatter.items())):
            ax.plot(truth, pred, ".", ms=2, alpha=0.5)
            lo, hi = float(min(truth.min(), pred.min())), float(max(truth.max(), pred.max()))
            ax.plot([lo, hi], [lo, hi], "k:", lw=0.8)
            ax.set_xlabel("ln v_flex (simulated)")
            ax.set_ylabel("predicted")
            ax.set_title(f"{sp}: rho = {result['per_species'][sp]['pearson_ln_vflex']:.3f}", fontsize=9)
        files.append(save(fig, "sf_scatter.png"))
    return files


# ----------------------------------------------------------------------------------------------
# cards
def _card_metrics(metrics: Mapping[str, Any]) -> dict[str, Any]:
    out = {"evaluated_on": metrics["evaluated_on"], "values": _finite_values(metrics["values"]),
           "glasses": list(metrics.get("glasses", []))}
    for key in ("per_strain", "per_species", "baselines", "protocols"):
        if metrics.get(key):
            out[key] = _jsonable(metrics[key])
    return out


def update_card_metrics(model_dir: str | Path, metrics: Mapping[str, Any], transfer: str | None = None) -> ModelCard:
    """Replace the ``metrics`` of the card in ``model_dir`` with ``metrics`` (from :func:`evaluate_model`);
    the card is validated before it is written.  With ``transfer=NAME`` the metrics are a transfer
    test on another system instead: they go to ``metrics.transfer[NAME]`` (and the headline values
    to ``metrics.values["transfer_NAME_<metric>"]``), the held-out figures stay."""
    path = Path(model_dir) / CARD_FILE if Path(model_dir).is_dir() else Path(model_dir)
    data = json.loads(path.read_text(encoding="utf-8"))
    if transfer:
        if not data.get("metrics", {}).get("values"):
            raise ConfigurationError("the card has no held-out metrics yet: evaluate on its own test glasses first")
        entry = _card_metrics(metrics)
        entry["label"] = _jsonable(metrics.get("label", {}))
        data["metrics"].setdefault("transfer", {})[transfer] = entry
        values = {k: v for k, v in data["metrics"]["values"].items() if not k.startswith(f"transfer_{transfer}_")}
        for key in ("auc_roc", "balanced_accuracy", "c_rank", "n_atoms", "n_glasses"):
            if key in entry["values"]:
                values[f"transfer_{transfer}_{key}"] = entry["values"][key]
        data["metrics"]["values"] = values
    else:
        old = data.get("metrics", {})
        data["metrics"] = _card_metrics(metrics)
        if old.get("transfer"):  # a re-evaluation on the own test glasses keeps the transfer tests
            data["metrics"]["transfer"] = old["transfer"]
            data["metrics"]["values"].update({k: v for k, v in old.get("values", {}).items()
                                              if k.startswith("transfer_")})
    card = ModelCard.from_dict(data, directory=path.parent, source=path)
    card.save(path.parent)
    return card


def protocols_entry(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """The both-protocol block of an evaluation as it goes into a card: where it was measured,
    the flat headline numbers (:func:`~.scoring.protocol_values`) and the full breakdown."""
    block = metrics.get("protocols") or {}
    if not block.get("strains_evaluated"):
        raise ConfigurationError("the evaluation holds no both-protocol figures (no glass has D2min at the strains)")
    return _jsonable({"evaluated_on": metrics["evaluated_on"], "glasses": list(metrics.get("glasses", [])),
                      "values": _finite_values(protocol_values(block)), **block})


def update_card_protocols(model_dir: str | Path, metrics: Mapping[str, Any]) -> dict[str, Any]:
    """Set ``metrics.protocols`` of the card in ``model_dir`` (and of its ``metrics.json``, if any)
    to the both-protocol figures of ``metrics`` (from :func:`evaluate_model`), leaving every other
    field as it is in the files (read just before writing); the card is validated first.  Returns
    the entry written."""
    folder = Path(model_dir)
    entry = protocols_entry(metrics)
    path = folder / CARD_FILE
    data = json.loads(path.read_text(encoding="utf-8"))
    data.setdefault("metrics", {})["protocols"] = entry
    ModelCard.from_dict(data, directory=folder, source=path)  # refuses a card that would not load
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    saved = folder / METRICS_FILE
    if saved.is_file():
        recorded = json.loads(saved.read_text(encoding="utf-8"))
        recorded["protocols"] = entry
        saved.write_text(json.dumps(recorded, indent=2) + "\n", encoding="utf-8")
    return entry


def finalize_model(directory: str | Path, card_data: dict[str, Any], test_glasses: Sequence[LabelledGlass],
                   **evaluate_kw: Any) -> tuple[ModelCard, dict[str, Any]]:
    """Evaluate a freshly written model (files in ``directory``, card not yet written) on the test
    glasses through the runtime, then write the card with the measured metrics (and ``metrics.json``,
    plots).  Returns ``(card, metrics)``."""
    directory = Path(directory)
    if not test_glasses:
        raise ConfigurationError("a card needs metrics measured on held-out glasses: give test glasses")
    draft = ModelCard.from_dict({**card_data, "metrics": {"evaluated_on": None, "values": {}}, "demo": True},
                                directory=directory)
    draft = dataclasses.replace(draft, demo=False)  # in memory only: evaluated before the card is written
    from ..inference.runtime import load_model

    metrics = evaluate_model(load_model(draft), test_glasses, output_dir=directory, **evaluate_kw)
    card = ModelCard.from_dict({**card_data, "metrics": _card_metrics(metrics)}, directory=directory)
    card.save(directory)
    return card, metrics
