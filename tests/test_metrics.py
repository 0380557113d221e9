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


@pytest.mark.parametrize("k", [3, 4])
def test_k_class_metrics_match_sklearn(k):
    """Accuracy, one-vs-rest macro AUROC (on the softmax, as scikit-learn), macro-F1 and the
    confusion matrix of (n, K) logits, against scikit-learn."""
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

    from labelbudget.labelspace import softmax

    rng = np.random.default_rng(k)
    labels = rng.integers(0, k, 400)
    logits = rng.normal(size=(400, k)) + 1.5 * np.eye(k)[labels]
    m = evaluate(logits, labels, None)
    guess = logits.argmax(1)
    assert m.accuracy == pytest.approx(accuracy_score(labels, guess))
    probs = softmax(logits)
    assert m.auroc == pytest.approx(
        roc_auc_score(labels, probs, multi_class="ovr", average="macro"), abs=1e-12
    )
    assert m.auroc_lo < m.auroc < m.auroc_hi
    assert m.macro_f1 == pytest.approx(
        f1_score(labels, guess, average="macro", labels=range(k), zero_division=0)
    )
    assert m.confusion == confusion_matrix(labels, guess, labels=range(k)).tolist()
    assert m.accuracy_lo < m.accuracy < m.accuracy_hi


def test_binary_metrics_of_logits_equal_those_of_their_log_odds():
    """Two classes are the paper's case: (n, 2) logits give the log-odds' accuracy, AUROC and its
    interval, bit for bit."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 300)
    logits = rng.normal(size=(300, 2)).astype(np.float32)
    logits[:, 1] += labels
    log_odds = logits[:, 1] - logits[:, 0]
    a, b = evaluate(logits, labels, None), evaluate(log_odds, labels, None)
    assert (a.accuracy, a.auroc, a.auroc_lo, a.auroc_hi) == (b.accuracy, b.auroc, b.auroc_lo, b.auroc_hi)
    assert a.auroc == pytest.approx(roc_auc_score(labels, log_odds), abs=1e-12)


def test_top_label_calibration_error_by_hand_and_k_class_label_quality():
    from labelbudget.metrics import calibration_error, label_quality

    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.3, 0.3, 0.4], [0.25, 0.5, 0.25]])
    labels = np.array([0, 2, 2, 1])
    # top-label confidences 0.7, 0.8, 0.4, 0.5, right 1, 0, 1, 1: each alone in its bin
    assert calibration_error(probs, labels) == pytest.approx(np.mean([0.3, 0.8, 0.6, 0.5]))
    q = label_quality(np.vstack([probs, np.full((1, 3), np.nan)]), np.append(labels, 0), "test split")
    assert q["n"] == 4 and q["confusion"] == [[1, 0, 0], [0, 1, 0], [0, 1, 1]]
    assert q["accuracy"] == 0.75 and q["mean_p"] == pytest.approx(probs.mean(0).tolist())


def test_macro_f1_counts_a_class_never_predicted_as_zero():
    from labelbudget.metrics import macro_f1

    assert macro_f1(np.array([0, 1, 2, 2]), np.array([0, 1, 1, 1]), 3) == pytest.approx((1 + 0.5 + 0) / 3)
