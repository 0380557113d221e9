"""The test set's shared error: every run on a task is scored on the same test examples.

An allocation's accuracy on that test set differs from its expected accuracy (over the task's
population of examples) by an error that every seed of the allocation shares, and that is
correlated between allocations that get the same examples wrong. No number of seeds removes it;
comparing two allocations on the same examples (a paired comparison, as McNemar's) removes most
of it. `shared_test_cov` estimates its covariance from the records' per-example predictions;
`SharedTest` makes it a fixed part of the accuracy surface's covariance of runs
(`analysis.surface`), so that the surface's f is the expected accuracy, not the test set's.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.gaussian_process.kernels import Kernel


class SharedTest(Kernel):
    """The covariance of the test-set errors of runs, by their allocations (rows of x matched to
    `keys`): a fixed part of the GP's covariance of the runs (fitted with it, no hyperparameters),
    left out of f's posterior (module docstring). Rows that match no key (the anchor, new
    allocations) share nothing."""

    def __init__(self, keys: np.ndarray, cov: np.ndarray):
        self.keys = keys
        """(G, k) features of the measured allocations."""
        self.cov = cov
        """(G, G) covariance of their test-set errors, in the GP's normalised units."""

    def index(self, x: np.ndarray) -> np.ndarray:
        """Each row's allocation in `keys`, -1 where none."""
        where = {
            tuple(np.round(k, 9)): i for i, k in enumerate(np.asarray(self.keys).reshape(len(self.keys), -1))
        }
        return np.array([where.get(tuple(np.round(row, 9)), -1) for row in np.atleast_2d(x)], dtype=int)

    def table(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        out = np.zeros((len(i), len(j)))
        ok_i, ok_j = i >= 0, j >= 0
        out[np.ix_(ok_i, ok_j)] = self.cov[np.ix_(i[ok_i], j[ok_j])]
        return out

    def __call__(self, X, Y=None, eval_gradient=False):
        i = self.index(X)
        out = self.table(i, i if Y is None else self.index(Y))
        return (out, np.empty((len(i), len(i), 0))) if eval_gradient else out

    def diag(self, X):
        i = self.index(X)
        return np.where(i >= 0, np.diag(self.cov)[np.maximum(i, 0)], 0.0)

    def is_stationary(self) -> bool:
        return False

    def __eq__(self, other) -> bool:
        return (
            type(self) is type(other)
            and np.array_equal(self.keys, other.keys)
            and np.array_equal(self.cov, other.cov)
        )

    __hash__ = None

    def __repr__(self) -> str:
        return f"SharedTest({len(self.keys)} allocations)"


def correctness(runs: pd.DataFrame) -> np.ndarray | None:
    """(runs, n_test) 0/1 correctness per test example, from the records' predictions; None where a
    run has none (stored before predictions were) or the runs were scored on test sets of other
    sizes (then no test-set covariance is estimated)."""
    if "correct" not in runs:
        return None
    rows = list(runs["correct"])
    if not rows or any(r is None for r in rows) or len({len(r) for r in rows}) != 1 or len(rows[0]) < 2:
        return None
    return np.asarray(rows, float)


def shared_test_cov(correct: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """(G, G) covariance of the allocations' test-set errors (module docstring): the mean over
    pairs of distinct runs (r in a, r' in b, r != r') of the covariance over the n test examples of
    their correctness, divided by n. An allocation with one run has no pair of its own: its
    variance is the largest that its covariances with the others imply (Cauchy-Schwarz,
    max_b cov(a, b)^2 / var(b): tight for a near twin), and the matrix is made positive
    semi-definite by clipping its eigenvalues."""
    n = correct.shape[1]
    centred = correct - correct.mean(1, keepdims=True)
    pair = centred @ centred.T / (n - 1) / n
    size = int(groups.max()) + 1
    member = np.zeros((len(groups), size))
    member[np.arange(len(groups)), groups] = 1.0
    m = member.sum(0)
    total = member.T @ pair @ member
    total[np.diag_indices(size)] -= member.T @ np.diag(pair)
    pairs = np.outer(m, m) - np.diag(m)
    cov = np.divide(total, pairs, out=np.zeros_like(total), where=pairs > 0)
    known = m >= 2
    for a in np.flatnonzero(~known):
        others = [b for b in range(size) if b != a]
        if known.any():
            ok = [b for b in others if known[b] and cov[b, b] > 0]
            cov[a, a] = max([cov[a, b] ** 2 / cov[b, b] for b in ok], default=0.0)
        elif others:
            cov[a, a] = max(0.0, max(cov[a, b] for b in others))
    values, vectors = np.linalg.eigh((cov + cov.T) / 2)
    return (vectors * np.clip(values, 0, None)) @ vectors.T
