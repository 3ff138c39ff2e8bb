"""Plastic-susceptibility figures in both protocols, by preparation and by loading (docs/design.md).

Every predictor of plasticity (a susceptibility model, QS, SF, the radial SVM, the Voronoi volume,
the simulated v_flex) is scored here on the same atoms, from per-(glass, loading) records
(:class:`PairScores`), by one function (:func:`score_both_protocols`):

* **paper** (Fan & Ma 2021): label 1 for the top 0.5 % of D2min at the strain, per glass and
  loading; the pairs of a group are pooled; a balanced set of all positives plus as many negatives
  drawn at random; the accuracy of the predictor's own decision, as its exact expectation over the
  draws (:func:`~ovito_glassml.analysis.metrics.paper_protocol_accuracy`) with the spread of one
  draw (``accuracy_draw_sd``).  A predictor's decision is ``probability > 0.5`` (a susceptibility
  model, QS), ``score > 0`` (the radial SVM's decision function) or, for a score without one
  (SF, Voronoi volume, v_flex), none: then only the balanced-split accuracy (the upper half of the
  balanced set called plastic,
  :func:`~ovito_glassml.analysis.metrics.balanced_split_accuracy`) is given, which every predictor
  also gets.  The pooled AUC for this label is given too.
* **top5** (the project's figures): label 1 for the top 5 % of D2min per glass and loading;
  AUC-ROC, C_rank and the overlap ratio per pair, averaged over the pairs of a group (and the
  balanced accuracy at p > 0.5 for probability outputs).

Groups: every pair (``all``), each preparation (``by_preparation``: :func:`preparation_of` reads it
from the glass's provenance) and each loading (``by_loading``).  Strains: those requested
(default :data:`PAPER_STRAINS`) that at least one pair holds; a requested strain that no pair
holds is listed under ``strains_absent`` and never interpolated.  Predictors absent from a pair
(e.g. v_flex of a glass whose MSD stage has not run) are scored on the pairs that have them, with
their own counts.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from ..analysis import metrics as M
from .samples import LabelledGlass, preparation_of, preparation_record, same_strain, top_fraction_labels

__all__ = ["PAPER_FRACTION", "PROJECT_FRACTION", "PAPER_STRAINS", "DECISIONS", "PairScores", "preparation_of",
           "preparation_record", "score_both_protocols", "protocol_values", "strain_key"]

PAPER_FRACTION = 0.005
PROJECT_FRACTION = 0.05
PAPER_STRAINS = (0.02, 0.03, 0.04, 0.05, 0.10)
#: how a predictor decides: "probability" (> 0.5), "sign" (> 0) or None (no decision of its own)
DECISIONS = ("probability", "sign", None)


def strain_key(strain: float) -> str:
    """The key of a strain in the figures: ``f"{strain:g}"`` of the strain rounded to 1e-6 (0.1, 0.05)."""
    return f"{round(float(strain), 6):g}"


@dataclass
class PairScores:
    """One glass in one loading: D2min of the evaluated atoms at each stored strain, and each
    predictor's score of the same atoms (NaN where a predictor has none)."""

    glass: str
    preparation: str
    orientation: str
    d2min: Mapping[float, np.ndarray]
    scores: dict[str, np.ndarray] = field(default_factory=dict)

    def d2min_at(self, strain: float) -> np.ndarray | None:
        for s, v in self.d2min.items():
            if same_strain(s, strain):
                return v
        return None


def _safe(fn, *args, **kw) -> float:
    try:
        return float(fn(*args, **kw))
    except ValueError:
        return math.nan


def _threshold(decision: str | None) -> float | None:
    return {"probability": 0.5, "sign": 0.0}.get(decision) if decision else None


def _paper_row(labels: list[np.ndarray], scores: list[np.ndarray], decision: str | None, n_pairs: int,
               n_glasses: int) -> dict[str, Any]:
    y, s = np.concatenate(labels), np.concatenate(scores)
    row: dict[str, Any] = {"n_pairs": n_pairs, "n_glasses": n_glasses, "n_atoms": int(len(y)),
                           "n_positives": int(y.sum()),
                           "balanced_split_accuracy": _safe(M.balanced_split_accuracy, y, s),
                           "auc_roc": _safe(M.roc_auc, y, s)}
    t = _threshold(decision)
    if t is not None:
        row["accuracy"] = _safe(M.paper_protocol_accuracy, y, s, t)
        row["accuracy_draw_sd"] = _safe(M.balanced_draw_sd, y, s, t)
    return row


def _top_row(rows: list[dict[str, float]], n_glasses: int) -> dict[str, Any]:
    out: dict[str, Any] = {"n_pairs": len(rows), "n_glasses": n_glasses,
                           "n_atoms": int(sum(r["atoms"] for r in rows)),
                           "n_positives": int(sum(r["positives"] for r in rows))}
    for k in ("auc_roc", "c_rank", "overlap_ratio", "balanced_accuracy"):
        vals = [r[k] for r in rows if k in r and math.isfinite(r[k])]
        if vals:
            out[k] = float(np.mean(vals))
    return out


def _pair_top(y: np.ndarray, s: np.ndarray, d: np.ndarray, f: float, decision: str | None) -> dict[str, float]:
    row = {"auc_roc": _safe(M.roc_auc, y, s), "c_rank": _safe(M.cumulative_rank_correlation, s, d, f),
           "overlap_ratio": _safe(M.overlap_ratio, s, d, f), "atoms": int(len(y)), "positives": int(y.sum())}
    t = _threshold(decision)
    if t is not None:
        row["balanced_accuracy"] = _safe(M.balanced_accuracy, y, s, t)
    return row


def score_both_protocols(pairs: Sequence[PairScores], decisions: Mapping[str, str | None],
                         strains: Sequence[float] | None = None, paper_fraction: float = PAPER_FRACTION,
                         project_fraction: float = PROJECT_FRACTION,
                         records: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """Both protocols for every predictor of ``decisions`` (name -> decision) over ``pairs`` (module doc).

    ``records``: glass name -> :func:`preparation_record`, reported per preparation.  Pairs are
    taken in (glass, loading) order, so the figures do not depend on the order they were given in."""
    for name, d in decisions.items():
        if d not in DECISIONS:
            raise ValueError(f"predictor {name!r}: decision {d!r} is not one of {DECISIONS}")
    pairs = sorted(pairs, key=lambda p: (p.glass, p.orientation))
    wanted = [float(s) for s in (strains if strains is not None else PAPER_STRAINS)]
    out: dict[str, Any] = {
        "paper": {"definition": (f"label 1 for the top {100 * paper_fraction:g} % of D2min at the strain, per glass and "
                                 "loading; pairs pooled; balanced set of all positives plus as many random negatives; "
                                 "accuracy = expected accuracy over the draws of the predictor's own decision "
                                 "(probability > 0.5; radial SVM: decision function > 0); balanced_split_accuracy: "
                                 "the upper half of the balanced set called plastic (for every predictor); auc_roc "
                                 "on the pooled atoms"),
                  "fraction": paper_fraction, "strains": {}},
        "top5": {"definition": (f"label 1 for the top {100 * project_fraction:g} % of D2min at the strain, per glass "
                                "and loading; AUC-ROC, C_rank, overlap ratio (and balanced accuracy at p > 0.5 for "
                                "probabilities) per pair, averaged over the pairs"),
                 "fraction": project_fraction, "strains": {}},
        "predictors": {k: {"decision": v} for k, v in decisions.items()},
        "strains_requested": [strain_key(s) for s in wanted], "strains_evaluated": [], "strains_absent": {},
        "preparations": {}, "loadings": sorted({p.orientation for p in pairs}),
    }
    for p in pairs:
        entry = out["preparations"].setdefault(p.preparation, {"glasses": [], "records": {}})
        if p.glass not in entry["glasses"]:
            entry["glasses"].append(p.glass)
            if records and p.glass in records:
                entry["records"][p.glass] = dict(records[p.glass])
    for entry in out["preparations"].values():
        if not entry["records"]:
            entry.pop("records")
    for s in wanted:
        key = strain_key(s)
        held = [p for p in pairs if p.d2min_at(s) is not None]
        if not held:
            out["strains_absent"][key] = "no evaluated glass-loading has D2min at this strain"
            continue
        out["strains_evaluated"].append(key)
        groups: dict[str, dict[str, list[PairScores]]] = {"all": {"all": held}, "by_preparation": {},
                                                          "by_loading": {}}
        for p in held:
            groups["by_preparation"].setdefault(p.preparation, []).append(p)
            groups["by_loading"].setdefault(p.orientation, []).append(p)
        lacking = {prep: sorted({p.glass for p in pairs if p.preparation == prep and p.d2min_at(s) is None})
                   for prep in out["preparations"]}
        lacking = {k: v for k, v in lacking.items() if v}
        # per pair: labels and the per-pair top-5 rows, computed once per predictor
        cache: dict[tuple[int, str], tuple] = {}
        for i, p in enumerate(held):
            d = p.d2min_at(s)
            lp, lt = top_fraction_labels(d, paper_fraction), top_fraction_labels(d, project_fraction)
            for name in decisions:
                v = p.scores.get(name)
                if v is None:
                    continue
                ok = (lt >= 0) & np.isfinite(v)
                if not ok.any():
                    continue
                cache[(i, name)] = (lp[ok], v[ok], _pair_top(lt[ok], v[ok], d[ok], project_fraction, decisions[name]))
        index = {id(p): i for i, p in enumerate(held)}
        for protocol in ("paper", "top5"):
            block: dict[str, Any] = {}
            for gkey, members in groups.items():
                gblock = {}
                for gname, ps in members.items():
                    row = {}
                    for name, decision in decisions.items():
                        got = [cache[(index[id(p)], name)] for p in ps if (index[id(p)], name) in cache]
                        if not got:
                            continue
                        glasses = len({p.glass for p in ps if (index[id(p)], name) in cache})
                        if protocol == "paper":
                            row[name] = _paper_row([g[0] for g in got], [g[1] for g in got], decision, len(got),
                                                   glasses)
                        else:
                            row[name] = _top_row([g[2] for g in got], glasses)
                    gblock[gname] = row
                block[gkey] = gblock["all"] if gkey == "all" else gblock
            if lacking:
                block["preparations_lacking_this_strain"] = lacking
            out[protocol]["strains"][key] = block
    return _finite(out)


def _finite(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()
                if not (isinstance(v, float) and not math.isfinite(v))}
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    return obj


def protocol_values(block: Mapping[str, Any], model: str = "model") -> dict[str, float]:
    """Flat card values from a :func:`score_both_protocols` block.

    The model (predictor ``model``): ``paper_accuracy@strain=S`` (own decision),
    ``paper_balanced_split_accuracy@strain=S``, ``paper_auc_roc@strain=S``, ``top5_auc_roc@strain=S``,
    ``top5_c_rank@strain=S``, each also per preparation (``...@strain=S@preparation=P``), and
    ``paper_n_positives@strain=S``.  Other predictors, pooled over preparations:
    ``baseline_<name>_<same keys>@strain=S``."""
    out: dict[str, float] = {}
    keys = {"paper": ("accuracy", "balanced_split_accuracy", "auc_roc", "n_positives"),
            "top5": ("auc_roc", "c_rank")}
    for protocol, metrics in keys.items():
        for s, b in block.get(protocol, {}).get("strains", {}).items():
            for name, row in b.get("all", {}).items():
                prefix = f"{protocol}_" if name == model else f"baseline_{name}_{protocol}_"
                for m in metrics:
                    if m in row and not (m == "n_positives" and name != model):
                        out[f"{prefix}{m}@strain={s}"] = float(row[m])
            for prep, rows in b.get("by_preparation", {}).items():
                row = rows.get(model)
                if row:
                    for m in metrics:
                        if m in row and m != "n_positives":
                            out[f"{protocol}_{m}@strain={s}@preparation={prep}"] = float(row[m])
    return out
