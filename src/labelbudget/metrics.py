"""Test metrics with confidence intervals, as the original: Wilson for accuracy, bootstrap for
AUROC; plus macro-F1, the top-label calibration error, the confusion matrix and agreement with the
weak labels. Pure functions of (n, K) logits (or binary log-odds) and labels, checked against
scikit-learn.

Two classes are the paper's case: the AUROC of the log-odds, and the calibration of P(1). With K
classes the AUROC is one-vs-rest, the macro mean over classes of each class's probability against
the rest (scikit-learn's `roc_auc_score(multi_class="ovr", average="macro")`), and the calibration
error is the top-label one (the predicted class's probability against being right).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata

from labelbudget.labelspace import as_logits, log_odds, predicted, softmax


def _binary_auroc(positive: np.ndarray, scores: np.ndarray) -> float:
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        return math.nan
    ranks = rankdata(scores)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def auroc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U with tied ranks). Binary log-odds (n,) or (n, 2)
    logits: of class 1; (n, K) logits: the one-vs-rest macro mean over the classes present (NaN
    where fewer than two classes occur)."""
    labels = np.asarray(labels)
    scores = np.asarray(scores)
    if scores.ndim == 1:
        return _binary_auroc(labels.astype(bool), scores)
    if scores.shape[1] == 2:
        return _binary_auroc(labels == 1, log_odds(scores))
    probs = softmax(scores)
    per_class = [_binary_auroc(labels == c, probs[:, c]) for c in range(scores.shape[1])]
    present = [a for a in per_class if not math.isnan(a)]
    return float(np.mean(present)) if len(present) >= 2 else math.nan


def _resampled_binary(positive: np.ndarray, scores: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """The binary AUROC of every resample (rows of `idx`), ranked at once."""
    pos = positive[idx]
    ranks = rankdata(scores[idx], axis=1)
    n_pos = pos.sum(1)
    n_neg = pos.shape[1] - n_pos
    with np.errstate(divide="ignore", invalid="ignore"):
        stats = ((ranks * pos).sum(1) - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    return np.where((n_pos == 0) | (n_neg == 0), np.nan, stats)


def bootstrap_auroc_interval(
    labels: np.ndarray, scores: np.ndarray, n_boot: int = 1000, level: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of the AUROC (as `auroc` defines it) over resampled test
    examples (all resamples ranked at once: a run's metrics take milliseconds, which probe sweeps
    need)."""
    rng = np.random.default_rng(seed)
    labels, scores = np.asarray(labels), np.asarray(scores)
    idx = rng.integers(0, len(labels), (n_boot, len(labels)))
    if scores.ndim == 1 or scores.shape[1] == 2:
        binary = scores if scores.ndim == 1 else log_odds(scores)
        positive = labels.astype(bool) if scores.ndim == 1 else labels == 1
        stats = _resampled_binary(positive, binary, idx)
    else:
        probs = softmax(scores)
        per_class = np.stack(
            [_resampled_binary(labels == c, probs[:, c], idx) for c in range(scores.shape[1])]
        )
        with np.errstate(invalid="ignore"):
            stats = np.where(np.isfinite(per_class).sum(0) >= 2, np.nanmean(per_class, axis=0), np.nan)
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


def confusion(labels: np.ndarray, guesses: np.ndarray, k: int) -> list[list[int]]:
    """Rows: the gold class; columns: the class given."""
    counts = np.zeros((k, k), dtype=np.int64)
    np.add.at(counts, (np.asarray(labels, np.int64), np.asarray(guesses, np.int64)), 1)
    return counts.tolist()


def macro_f1(labels: np.ndarray, guesses: np.ndarray, k: int) -> float:
    """The mean over the K classes of each one's F1 (a class never given nor present counts 0, as
    scikit-learn's `f1_score(average="macro", labels=range(K), zero_division=0)`)."""
    table = np.asarray(confusion(labels, guesses, k), float)
    tp = np.diag(table)
    denominator = table.sum(0) + table.sum(1)
    return float(np.mean(np.divide(2 * tp, denominator, out=np.zeros(k), where=denominator > 0)))


CALIBRATION_BINS = 10


def calibration_error(probs: np.ndarray, labels: np.ndarray, bins: int = CALIBRATION_BINS) -> float:
    """Expected calibration error over `bins` equal-width bins of the predicted probability, the
    example-weighted mean |mean probability - share right| (0: calibrated). Binary P(1) (n,) or
    (n, 2): of P(1) against the share of 1s (the paper's case, as a reliability diagram of the
    positive class); (n, K): top-label, the predicted class's probability against being right."""
    probs, labels = np.asarray(probs, float), np.asarray(labels)
    if probs.ndim == 2 and probs.shape[1] == 2:
        probs = probs[:, 1]
    if probs.ndim == 1:
        confidence, hit = probs, labels.astype(float)
    else:
        confidence, hit = probs.max(1), (probs.argmax(1) == labels).astype(float)
    which = np.minimum((confidence * bins).astype(int), bins - 1)
    total = 0.0
    for b in np.unique(which):
        inside = which == b
        total += inside.sum() * abs(confidence[inside].mean() - hit[inside].mean())
    return float(total / len(confidence))


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
    macro_f1: float
    calibration_error: float
    """Of the strong model's probabilities (`calibration_error`)."""
    confusion: list[list[int]]
    """Rows: gold class; columns: predicted class."""


def evaluate(logits: np.ndarray, labels: np.ndarray, weak_probs: np.ndarray | None) -> Metrics:
    """Test metrics of (n, K) logits, or binary log-odds (n,) (a prediction is the class with the
    highest logit: positive when the log-odds > 0); `weak_probs` (n, K) with NaN rows where the
    weak labels lack a text."""
    logits = as_logits(logits)
    k = logits.shape[1]
    guess = predicted(logits)
    labels = np.asarray(labels, dtype=np.int64)
    correct = int((guess == labels).sum())
    acc_lo, acc_hi = wilson_interval(correct, len(labels))
    auc_lo, auc_hi = bootstrap_auroc_interval(labels, logits)
    agreement = None
    if weak_probs is not None:
        weak_probs = np.asarray(weak_probs)
        known = ~np.isnan(weak_probs).any(axis=-1) if weak_probs.ndim == 2 else ~np.isnan(weak_probs)
        if known.any():
            weak = weak_probs.argmax(-1) if weak_probs.ndim == 2 else (weak_probs > 0.5).astype(int)
            agreement = float((guess == weak)[known].mean())
    return Metrics(
        accuracy=correct / len(labels),
        accuracy_lo=acc_lo,
        accuracy_hi=acc_hi,
        auroc=auroc(labels, logits),
        auroc_lo=auc_lo,
        auroc_hi=auc_hi,
        weak_agreement=agreement,
        n_test=len(labels),
        macro_f1=macro_f1(labels, guess, k),
        calibration_error=calibration_error(softmax(logits), labels),
        confusion=confusion(labels, guess, k),
    )


def label_quality(probs: np.ndarray | None, gold: np.ndarray, against: str, seed: int = 0) -> dict | None:
    """What a set of labels ((n, K) class probabilities, or binary P(1) (n,); NaN rows where it has
    none) is worth against gold: accuracy with its Wilson interval, calibration error (with a
    bootstrap interval over the examples), the mean probability of each class, and the confusion
    matrix (rows: gold, columns: the label given), on the examples that have both. `against`
    says which gold (the test split, or the HQ labels bought)."""
    if probs is None:
        return None
    probs, gold = np.asarray(probs, float), np.asarray(gold).astype(int)
    if probs.ndim == 1:
        probs = np.stack([1 - probs, probs], axis=-1)
    known = ~np.isnan(probs).any(axis=-1)
    if not known.any():
        return None
    p, y = probs[known], gold[known]
    k = p.shape[1]
    given = p.argmax(1)
    right = int((given == y).sum())
    lo, hi = wilson_interval(right, len(y))
    rng = np.random.default_rng(seed)
    resampled = [calibration_error(p[i], y[i]) for i in rng.integers(0, len(y), (200, len(y)))]
    ece_lo, ece_hi = np.quantile(resampled, [0.025, 0.975])
    out = {
        "against": against,
        "n": int(len(y)),
        "accuracy": right / len(y),
        "accuracy_lo": lo,
        "accuracy_hi": hi,
        "ece": calibration_error(p, y),
        "ece_lo": float(ece_lo),
        "ece_hi": float(ece_hi),
        "confusion": confusion(y, given, k),
    }
    if k == 2:
        out["mean_p1"] = float(p[:, 1].mean())
    else:
        out["mean_p"] = [float(x) for x in p.mean(0)]
    return out
