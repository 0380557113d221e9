"""Metrics are pure functions, checked against scikit-learn and textbook values."""

import math

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from labelbudget.metrics import auroc, bootstrap_auroc_interval, evaluate, wilson_interval


@pytest.mark.parametrize("seed", range(5))
def test_auroc_matches_sklearn_with_ties(seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, 300)
    scores = np.round(rng.normal(size=300) + labels * 0.7, 1)  # rounding makes ties
    assert auroc(labels, scores) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)


def test_auroc_is_nan_for_one_class():
    assert math.isnan(auroc(np.ones(5), np.arange(5.0)))


def test_wilson_interval_known_value():
    # 8 of 10 at 95%: the textbook Wilson interval is (0.490, 0.943)
    lo, hi = wilson_interval(8, 10)
    assert lo == pytest.approx(0.4902, abs=1e-4) and hi == pytest.approx(0.9433, abs=1e-4)


def test_bootstrap_interval_brackets_the_estimate_and_shrinks_with_n():
    rng = np.random.default_rng(0)
    widths = []
    for n in (100, 1600):
        labels = rng.integers(0, 2, n)
        scores = rng.normal(size=n) + labels
        lo, hi = bootstrap_auroc_interval(labels, scores)
        assert lo < auroc(labels, scores) < hi
        widths.append(hi - lo)
    assert widths[1] < widths[0] / 2


def test_evaluate_accuracy_and_weak_agreement():
    log_odds = np.array([2.0, -1.0, 0.5, -0.1])
    labels = np.array([1, 0, 0, 0])
    weak = np.array([0.9, 0.6, 0.7, 0.2])
    m = evaluate(log_odds, labels, weak)
    assert m.accuracy == 0.75 and m.n_test == 4
    assert m.weak_agreement == 0.75  # predictions [1,0,1,0] vs weak [1,1,1,0]
    assert m.auroc == 1.0
