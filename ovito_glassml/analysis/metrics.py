"""Metrics of the papers for model cards and ``glassml evaluate`` (docs/design.md); pure numpy.

* balanced accuracy = (TPR + TNR) / 2 at a probability threshold (0.5);
* AUC-ROC by the Mann-Whitney statistic with average ranks for ties;
* C_rank (Fan & Ma 2021) = 2 mean_i CDF(rho_i) - 1, the mean over the atoms with the top-f true
  values (e.g. D2min), CDF the empirical distribution of the predictions rho over all atoms
  (fraction of atoms with rho_j <= rho_i): about 1 - f for a perfect predictor, -(1 - f) for a
  reversed one, 0 for no correlation;
* overlap ratio (Fan & Ma 2021) = |top-f predicted  and  top-f true| / |top-f true|;
* Pearson rho; recall;
* the papers' protocol (Fan & Ma 2021): labels = top 0.5 % of D2min, a balanced set of all
  positives plus as many negatives drawn at random, accuracy of the model's own decision.
  :func:`paper_protocol_accuracy` is its expectation over the random draws, computed exactly
  (= the balanced accuracy), :func:`balanced_draw_sd` the spread of one draw, and
  :func:`balanced_draw_accuracies` the draws themselves (what the expectation averages);
  :func:`balanced_split_accuracy` is the same protocol for a score without a decision of its
  own (the upper half of the balanced set called positive).
"""
from __future__ import annotations

import numpy as np

__all__ = ["top_fraction_mask", "balanced_accuracy", "roc_auc", "cumulative_rank_correlation", "overlap_ratio",
           "pearson", "recall", "paper_protocol_accuracy", "balanced_draw_sd", "balanced_draw_accuracies",
           "balanced_split_accuracy"]


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


# ----------------------------------------------------------------------------------------------
# the papers' protocol: balanced sets of all positives plus as many random negatives
def paper_protocol_accuracy(labels, probabilities, threshold: float = 0.5) -> float:
    """Expected accuracy of the decision ``probability > threshold`` on a balanced set made of all
    P positives and P negatives drawn at random (without replacement) from the N negatives.

    Over the draws E[TN] = P * TNR, so the expectation is (TP + P TNR) / (2P) = (TPR + TNR) / 2:
    exactly :func:`balanced_accuracy`, computed without drawing (no sampling noise).  Needs P <= N."""
    y, _ = _vectors(labels, probabilities)
    if (y == 1).sum() > (y == 0).sum():
        raise ValueError("a balanced set of all positives needs at least as many negatives as positives")
    return balanced_accuracy(labels, probabilities, threshold)


def balanced_draw_sd(labels, probabilities, threshold: float = 0.5) -> float:
    """Standard deviation of the accuracy of one balanced draw (:func:`paper_protocol_accuracy`):
    the true negatives among P negatives drawn from N are hypergeometric, var = P q (1 - q) (N - P) / (N - 1)
    with q = TNR, and accuracy = (TP + TN) / (2P)."""
    y, p = _vectors(labels, probabilities)
    pos, neg = y == 1, y == 0
    n_pos, n_neg = int(pos.sum()), int(neg.sum())
    if n_pos == 0 or n_neg < n_pos:
        raise ValueError("a balanced draw needs positives and at least as many negatives")
    q = float((p[neg] <= threshold).mean())
    var = n_pos * q * (1 - q) * ((n_neg - n_pos) / (n_neg - 1) if n_neg > 1 else 0.0)
    return float(np.sqrt(var) / (2 * n_pos))


def balanced_draw_accuracies(labels, probabilities, draws: int = 100, threshold: float = 0.5,
                             rng=None) -> np.ndarray:
    """The accuracies of ``draws`` balanced sets (all positives + as many random negatives), each
    scored with the decision ``probability > threshold``: the quantity whose mean
    :func:`paper_protocol_accuracy` gives exactly."""
    y, p = _vectors(labels, probabilities)
    rng = np.random.default_rng(rng)
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    if len(pos) == 0 or len(neg) < len(pos):
        raise ValueError("a balanced draw needs positives and at least as many negatives")
    tp = int((p[pos] > threshold).sum())
    out = np.empty(int(draws))
    for k in range(int(draws)):
        chosen = rng.choice(neg, len(pos), replace=False)
        out[k] = (tp + int((p[chosen] <= threshold).sum())) / (2 * len(pos))
    return out


def balanced_split_accuracy(labels, scores) -> float:
    """Expected accuracy, on balanced sets as in :func:`paper_protocol_accuracy`, of calling the
    upper half of each set positive: for a score without a decision of its own (a volume, v_flex,
    a rank).  For large sets that threshold t satisfies TPR(t) + FPR(t) = 1 and the accuracy is
    (TPR + 1 - FPR) / 2 = TPR(t): the point where the ROC curve crosses the anti-diagonal
    (linear between the ROC vertices, i.e. ties split at random).  1 for a perfect ranking, 1/2
    for a constant or random score, 0 for a reversed one."""
    y, s = _vectors(labels, scores)
    pos = y == 1
    n_pos, n_neg = int(pos.sum()), int((y == 0).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError("the balanced-split accuracy needs both classes among the labels")
    order = np.argsort(-s, kind="mergesort")
    ys, ss = y[order], s[order]
    last = np.r_[np.flatnonzero(np.diff(ss)), len(ss) - 1]  # ties grouped
    tpr = np.r_[0.0, np.cumsum(ys)[last] / n_pos]
    fpr = np.r_[0.0, ((last + 1) - np.cumsum(ys)[last]) / n_neg]
    total = tpr + fpr  # non-decreasing from 0 to 2: find where it reaches 1
    k = int(np.searchsorted(total, 1.0, side="left"))
    if total[k] == 1.0 or k == 0:
        return float(tpr[k])
    w = (1.0 - total[k - 1]) / (total[k] - total[k - 1])
    return float(tpr[k - 1] + w * (tpr[k] - tpr[k - 1]))
