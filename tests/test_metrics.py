import numpy as np
import pytest

from ovito_glassml.analysis.metrics import (balanced_accuracy, cumulative_rank_correlation, overlap_ratio, pearson,
                                            recall, roc_auc, top_fraction_mask)


def test_crank_perfect_reversed_and_random():
    n, f = 20000, 0.005
    truth = np.random.default_rng(0).random(n)
    # perfect: the top 100 atoms have CDF values (n-99)/n .. n/n -> mean 1 - 99/(2n); C = 1 - 99/n
    assert cumulative_rank_correlation(truth, truth, f) == pytest.approx(1 - 99 / n, abs=1e-12)
    # reversed: CDF values 1/n .. 100/n -> mean 101/(2n); C = 101/n - 1
    assert cumulative_rank_correlation(-truth, truth, f) == pytest.approx(101 / n - 1, abs=1e-12)
    noise = np.random.default_rng(1).random(n)
    assert abs(cumulative_rank_correlation(noise, truth, f)) < 0.15


def test_auc_known_rankings():
    y = np.array([0, 0, 1, 1])
    assert roc_auc(y, [0.1, 0.2, 0.3, 0.4]) == 1.0
    assert roc_auc(y, [0.4, 0.3, 0.2, 0.1]) == 0.0
    assert roc_auc(y, [0.1, 0.3, 0.2, 0.4]) == 0.75  # pairs (pos > neg): 0.2>0.1, 0.4>0.1, 0.4>0.3 of 4
    assert roc_auc(y, [0.5, 0.5, 0.5, 0.5]) == 0.5  # all ties count 1/2
    assert roc_auc([1, 0, 1], [2.0, 1.0, 1.0]) == 0.75


def test_balanced_accuracy_recall_overlap_pearson():
    y = np.array([1, 1, 0, 0, 0, 0])
    p = np.array([0.9, 0.2, 0.8, 0.1, 0.1, 0.1])
    assert balanced_accuracy(y, p) == pytest.approx(0.5 * (0.5 + 0.75))
    assert recall(y, p) == 0.5
    truth = np.arange(10.0)
    assert overlap_ratio(truth, truth, 0.2) == 1.0
    assert overlap_ratio(-truth, truth, 0.2) == 0.0
    assert overlap_ratio([0, 0, 0, 9, 0, 0, 0, 0, 0, 0], truth, 0.2) == 0.0
    assert overlap_ratio([0, 0, 0, 0, 0, 0, 0, 0, 0, 9], truth, 0.2) == 0.5
    assert pearson([1, 2, 3], [2, 4, 6]) == pytest.approx(1.0)
    assert pearson([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert top_fraction_mask([3, 1, 2], 0.34).tolist() == [True, False, False]
    assert top_fraction_mask([3, 1, 2], 0.67).tolist() == [True, False, True]


def test_metric_errors():
    with pytest.raises(ValueError, match="both classes"):
        roc_auc([1, 1], [0.2, 0.3])
    with pytest.raises(ValueError, match="NaN"):
        pearson([1, np.nan], [1, 2])
    with pytest.raises(ValueError, match="different lengths"):
        recall([1, 0], [0.3])
