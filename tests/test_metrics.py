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


def test_label_quality_counts_the_confusion_matrix_and_calibration():
    """Weak labels against gold: 8 examples, P(1) given; NaN rows are left out and counted out."""
    from labelbudget.metrics import calibration_error, label_quality

    gold = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1])
    probs = np.array([0.1, 0.2, 0.7, 0.4, 0.9, 0.8, 0.3, 0.6, np.nan])
    q = label_quality(probs, gold, "test split")
    assert q["n"] == 8 and q["against"] == "test split"
    assert q["confusion"] == [[3, 1], [1, 3]]  # rows gold 0/1, columns labeled 0/1
    assert q["accuracy"] == 0.75 and q["accuracy_lo"] < 0.75 < q["accuracy_hi"]
    # ECE by hand over 10 bins: each example alone in its bin here, |p - y| averaged
    by_hand = np.mean(np.abs(probs[:8] - gold[:8]))
    assert calibration_error(probs[:8], gold[:8]) == pytest.approx(by_hand)
    assert q["ece"] == pytest.approx(by_hand) and q["ece_lo"] <= q["ece"] <= q["ece_hi"]
    # a calibrated labeler: in each bin the share of 1s is the mean P(1)
    rng = np.random.default_rng(0)
    p = rng.uniform(size=20000)
    assert calibration_error(p, rng.uniform(size=20000) < p) < 0.02
    assert label_quality(None, gold, "test split") is None
    assert label_quality(np.full(9, np.nan), gold, "test split") is None
