"""Test metrics with confidence intervals, as the original: Wilson for accuracy, bootstrap for
AUROC; plus agreement with the weak labels. Pure functions, checked against scikit-learn."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata


def auroc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U with tied ranks); NaN if one class is absent."""
    labels = np.asarray(labels).astype(bool)
    n_pos = int(labels.sum())
    n_neg = len(labels) - n_pos
    if n_pos == 0 or n_neg == 0:
        return math.nan
    ranks = rankdata(scores)
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def bootstrap_auroc_interval(
    labels: np.ndarray, scores: np.ndarray, n_boot: int = 1000, level: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of the AUROC over resampled test examples (all resamples
    ranked at once: a run's metrics take milliseconds, which probe sweeps need)."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(labels), (n_boot, len(labels)))
    pos = np.asarray(labels).astype(bool)[idx]
    ranks = rankdata(np.asarray(scores)[idx], axis=1)
    n_pos = pos.sum(1)
    n_neg = pos.shape[1] - n_pos
    with np.errstate(divide="ignore", invalid="ignore"):
        stats = ((ranks * pos).sum(1) - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    stats = np.where((n_pos == 0) | (n_neg == 0), np.nan, stats)
    lo, hi = np.nanquantile(stats, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def wilson_interval(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion k/n."""
    from scipy.stats import norm

    z = float(norm.ppf((1 + level) / 2))
    p = k / n
    center = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return center - half, center + half


@dataclass(frozen=True)
class Metrics:
    accuracy: float
    accuracy_lo: float
    accuracy_hi: float
    auroc: float
    auroc_lo: float
    auroc_hi: float
    weak_agreement: float | None
    """Fraction of test inputs where the strong prediction equals the hardened weak label."""
    n_test: int


def evaluate(log_odds: np.ndarray, labels: np.ndarray, weak_probs: np.ndarray | None) -> Metrics:
    """Test metrics of log-odds predictions (a prediction is positive when log-odds > 0)."""
    predicted = log_odds > 0
    correct = int((predicted == labels.astype(bool)).sum())
    acc_lo, acc_hi = wilson_interval(correct, len(labels))
    auc_lo, auc_hi = bootstrap_auroc_interval(labels, log_odds)
    known = None if weak_probs is None else ~np.isnan(weak_probs)  # weak labels lacking for some
    agreement = (
        None
        if weak_probs is None or not known.any()
        else float((predicted == (weak_probs > 0.5))[known].mean())
    )
    return Metrics(
        accuracy=correct / len(labels),
        accuracy_lo=acc_lo,
        accuracy_hi=acc_hi,
        auroc=auroc(labels, log_odds),
        auroc_lo=auc_lo,
        auroc_hi=auc_hi,
        weak_agreement=agreement,
        n_test=len(labels),
    )


CALIBRATION_BINS = 10


def calibration_error(probs: np.ndarray, labels: np.ndarray, bins: int = CALIBRATION_BINS) -> float:
    """Expected calibration error of P(1): over `bins` equal-width bins of the predicted
    probability, the example-weighted mean |mean P(1) - share of 1s| (0: calibrated)."""
    probs, labels = np.asarray(probs, float), np.asarray(labels, float)
    which = np.minimum((probs * bins).astype(int), bins - 1)
    total = 0.0
    for b in np.unique(which):
        inside = which == b
        total += inside.sum() * abs(probs[inside].mean() - labels[inside].mean())
    return float(total / len(probs))


def label_quality(probs: np.ndarray | None, gold: np.ndarray, against: str, seed: int = 0) -> dict | None:
    """What a set of labels (P(1) per example, NaN where it has none) is worth against gold:
    accuracy with its Wilson interval, calibration (ECE, with a bootstrap interval over the
    examples), and the confusion matrix (rows: gold 0/1, columns: label 0/1), on the examples
    that have both. `against` says which gold (the test split, or the HQ labels bought)."""
    if probs is None:
        return None
    probs, gold = np.asarray(probs, float), np.asarray(gold).astype(int)
    known = ~np.isnan(probs)
    if not known.any():
        return None
    p, y = probs[known], gold[known]
    hard = (p > 0.5).astype(int)
    right = int((hard == y).sum())
    lo, hi = wilson_interval(right, len(y))
    rng = np.random.default_rng(seed)
    resampled = [calibration_error(p[i], y[i]) for i in rng.integers(0, len(y), (200, len(y)))]
    ece_lo, ece_hi = np.quantile(resampled, [0.025, 0.975])
    confusion = [[int(((y == g) & (hard == h)).sum()) for h in (0, 1)] for g in (0, 1)]
    return {
        "against": against,
        "n": int(len(y)),
        "accuracy": right / len(y),
        "accuracy_lo": lo,
        "accuracy_hi": hi,
        "ece": calibration_error(p, y),
        "ece_lo": float(ece_lo),
        "ece_hi": float(ece_hi),
        "mean_p1": float(p.mean()),
        "confusion": confusion,
    }
