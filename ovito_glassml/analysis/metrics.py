"""Metrics of the papers for model cards and ``glassml evaluate`` (docs/design.md); pure numpy.

* balanced accuracy = (TPR + TNR) / 2 at a probability threshold (0.5);
* AUC-ROC by the Mann-Whitney statistic with average ranks for ties;
* C_rank (Fan & Ma 2021) = 2 mean_i CDF(rho_i) - 1, the mean over the atoms with the top-f true
  values (e.g. D2min), CDF the empirical distribution of the predictions rho over all atoms
  (fraction of atoms with rho_j <= rho_i): about 1 - f for a perfect predictor, -(1 - f) for a
  reversed one, 0 for no correlation;
* overlap ratio (Fan & Ma 2021) = |top-f predicted  and  top-f true| / |top-f true|;
* Pearson rho; recall.
"""
from __future__ import annotations

import numpy as np

__all__ = ["top_fraction_mask", "balanced_accuracy", "roc_auc", "cumulative_rank_correlation", "overlap_ratio",
           "pearson", "recall"]


def _vectors(*arrays) -> list[np.ndarray]:
    out = [np.asarray(a, dtype=np.float64).reshape(-1) for a in arrays]
    n = len(out[0])
    if any(len(a) != n for a in out):
        raise ValueError(f"arrays of different lengths: {[len(a) for a in out]}")
    if n == 0:
        raise ValueError("metrics need at least one value")
    if any(not np.all(np.isfinite(a)) for a in out):
        raise ValueError("metrics got NaN or infinite values; drop the atoms without a prediction first")
    return out


def top_fraction_mask(values, fraction: float) -> np.ndarray:
    """Boolean mask of the ``max(1, round(fraction N))`` largest values (ties broken by index)."""
    (v,) = _vectors(values)
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1]; got {fraction}")
    k = max(1, int(round(fraction * len(v))))
    order = np.argsort(-v, kind="stable")
    mask = np.zeros(len(v), dtype=bool)
    mask[order[:k]] = True
    return mask


def balanced_accuracy(labels, probabilities, threshold: float = 0.5) -> float:
    """(TPR + TNR) / 2 with prediction = probability > threshold; labels are 0/1."""
    y, p = _vectors(labels, probabilities)
    pred = p > threshold
    pos, neg = y == 1, y == 0
    if not pos.any() or not neg.any():
        raise ValueError("balanced accuracy needs both classes among the labels")
    return float(0.5 * (pred[pos].mean() + (~pred[neg]).mean()))


def _average_ranks(x: np.ndarray) -> np.ndarray:
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(len(x))
    sx = x[order]
    # average rank (1-based) over runs of ties
    boundaries = np.flatnonzero(np.diff(sx)) + 1
    starts = np.concatenate([[0], boundaries])
    ends = np.concatenate([boundaries, [len(x)]])
    avg = 0.5 * (starts + ends + 1)  # mean of (start+1 .. end)
    ranks[order] = np.repeat(avg, ends - starts)
    return ranks


def roc_auc(labels, scores) -> float:
    """Area under the ROC curve = P(score of a random positive > score of a random negative), ties 1/2."""
    y, s = _vectors(labels, scores)
    pos = y == 1
    n_pos, n_neg = int(pos.sum()), int((y == 0).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError("AUC needs both classes among the labels")
    ranks = _average_ranks(s)
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def cumulative_rank_correlation(predictions, truth, fraction: float = 0.005) -> float:
    """C_rank = 2 mean(CDF(rho_i) over the top-``fraction`` atoms of ``truth``) - 1 (Fan & Ma 2021)."""
    rho, t = _vectors(predictions, truth)
    top = top_fraction_mask(t, fraction)
    cdf = np.searchsorted(np.sort(rho), rho, side="right") / len(rho)
    return float(2.0 * cdf[top].mean() - 1.0)


def overlap_ratio(predictions, truth, fraction: float = 0.005) -> float:
    """|top-f predicted and top-f true| / |top-f true| (Fan & Ma 2021)."""
    rho, t = _vectors(predictions, truth)
    a, b = top_fraction_mask(rho, fraction), top_fraction_mask(t, fraction)
    return float((a & b).sum() / b.sum())


def pearson(x, y) -> float:
    """Pearson correlation coefficient."""
    a, b = _vectors(x, y)
    a, b = a - a.mean(), b - b.mean()
    denom = np.sqrt((a * a).sum() * (b * b).sum())
    if denom == 0:
        raise ValueError("Pearson correlation of a constant array is undefined")
    return float((a * b).sum() / denom)


def recall(labels, probabilities, threshold: float = 0.5) -> float:
    """Fraction of the positives predicted positive (probability > threshold)."""
    y, p = _vectors(labels, probabilities)
    pos = y == 1
    if not pos.any():
        raise ValueError("recall needs positive labels")
    return float((p[pos] > threshold).mean())
