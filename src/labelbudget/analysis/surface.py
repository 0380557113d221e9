"""One model of accuracy over allocations, from which every answer follows.

Per variant and task, a Gaussian process over x = (log10(n_weak + 1), log10(n_hq + 1)) fitted to
every run and seed, with the authors' anchor (training on nothing gives 0.5), as their
`bayes_sweep.py` (EleutherAI/scalable-elicitation). Departures from their kernel (a scaled RBF
of fixed length 1 plus white noise): a Matern-5/2 kernel whose two length scales are fitted
(0.5 to 10 decades: budgets a factor of 4 apart support no shorter ones), which
follows a peak along a budget line instead of smoothing it away, and
a linear kernel beside it (a Bayesian linear trend in x, its slope uncertain), so that beyond
the data the surface follows the trend rather than falling back to the mean accuracy, with an
uncertainty that grows with the distance. Its latent f is the accuracy on the task's test set; the white
noise is the seeds' spread (learned from the replicates). A stated interval of an accuracy adds
the test set's own sampling error, p(1 - p) / n_test, because a new test set would differ by
that much; a comparison between allocations does not, because every run is scored on the same
test examples (a paired comparison), so the common sampling error cancels and the joint
posterior of f along a budget line is what decides which allocation is best.

The mean over tasks averages the per-task posteriors (independent across tasks), over the
allocations that every task measured, as the authors averaged points.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

ANCHOR = 0.5
"""Accuracy with no labels at all (the authors' GP anchor at (0, 0))."""

LENGTH_SCALE = 1.0
"""RBF length in log10 units: one decade of labels (the authors' value, fixed)."""


def features(n_weak, n_hq) -> np.ndarray:
    return np.log10(np.stack([np.asarray(n_weak, float), np.asarray(n_hq, float)], axis=-1) + 1)


@dataclass
class TaskSurface:
    """The posterior of one variant's accuracy on one task."""

    gp: object
    measured: np.ndarray
    """(k, 2) allocations (n_weak, n_hq) with runs."""
    n_test: float
    scale: float = 1.0
    """The variance factor of f that leave-one-allocation-out residuals ask for (`calibration`)."""

    def posterior(self, allocs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean and covariance of f (the test-set accuracy) at these allocations, jointly."""
        x = features(allocs[:, 0], allocs[:, 1])
        mean, cov = self.gp.predict(x, return_cov=True)
        white = self.gp.kernel_.k2.noise_level * self.gp._y_train_std**2
        # f itself: the white noise is a new run's, not the surface's
        return np.clip(mean, 0.0, 1.0), (cov - white * np.eye(len(allocs))) * self.scale

    def projected_cov(self, allocs: np.ndarray, extra: np.ndarray) -> np.ndarray:
        """The covariance of f at `allocs` once one more run at each of `extra`'s allocations is
        stored, the kernel as fitted: a GP's posterior covariance does not depend on the values
        it will see, so this is what those runs would leave of the uncertainty."""
        gp = self.gp
        x = features(allocs[:, 0], allocs[:, 1])
        train = np.vstack([gp.X_train_, features(extra[:, 0], extra[:, 1])]) if len(extra) else gp.X_train_
        k = gp.kernel_(train) + gp.alpha * np.eye(len(train))
        cross = gp.kernel_(x, train)
        cov = gp.kernel_(x) - cross @ np.linalg.solve(k, cross.T)
        white = gp.kernel_.k2.noise_level
        return (cov - white * np.eye(len(allocs))) * gp._y_train_std**2 * self.scale


def calibration(gp, groups: np.ndarray) -> float:
    """How much f's posterior variance must grow for the measured allocations to fall inside
    their own intervals when each is left out: the leave-one-allocation-out residuals of the
    fitted GP (closed form, hyperparameters kept: for the rows I of one allocation, the
    residuals are (K^-1)_II^-1 (K^-1 y)_I and their covariance (K^-1)_II^-1), the mean residual
    of an allocation's seeds against its predicted variance less the seeds' noise, pooled:
    max(1, sum(r^2 - noise/m) / sum(var f)). ML-II fits on few allocations are over-confident
    (on the demo's and SST-2's grids the 95% intervals held 0.890 of 145 held-out allocations;
    with this factor 0.903, `benchmarks/surface_choice.py`); this is their own evidence of it,
    measured on each surface's runs."""
    k = gp.kernel_(gp.X_train_) + gp.alpha * np.eye(len(gp.X_train_))
    inverse = np.linalg.inv(k)
    weights = inverse @ gp.y_train_
    noise = gp.kernel_.k2.noise_level
    excess, latent = 0.0, 0.0
    for g in np.unique(groups[groups >= 0]):
        rows = np.flatnonzero(groups == g)
        cov = np.linalg.inv(inverse[np.ix_(rows, rows)])
        residual = float(np.mean(cov @ weights[rows]))
        m = len(rows)
        excess += residual**2 - noise / m
        latent += max(float(cov.sum()) / m**2 - noise / m, 1e-12)
    return float(np.clip(excess / latent, 1.0, 4.0)) if latent > 0 else 1.0


def fit_task(runs: pd.DataFrame) -> TaskSurface:
    """A GP on one variant's runs on one task (columns n_weak, n_hq, accuracy, n_test)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import ConstantKernel, DotProduct, Matern, WhiteKernel

    x = np.vstack([features(runs["n_weak"], runs["n_hq"]), [[0.0, 0.0]]])
    y = np.append(runs["accuracy"].to_numpy(float), ANCHOR)
    smooth = ConstantKernel(1.0, (1e-3, 1e2)) * Matern([LENGTH_SCALE] * 2, (0.5, 10.0), nu=2.5)
    trend = ConstantKernel(0.1, (1e-4, 1e1)) * DotProduct(1.0, "fixed")
    kernel = (smooth + trend) + WhiteKernel(0.1, (1e-5, 1.0))
    gp = GaussianProcessRegressor(kernel=kernel, normalize_y=True, n_restarts_optimizer=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gp.fit(x, y)
    measured = runs[["n_weak", "n_hq"]].drop_duplicates().to_numpy()
    groups = np.append(runs.groupby(["n_weak", "n_hq"]).ngroup().to_numpy(), -1)  # the anchor: none
    return TaskSurface(gp, measured, float(runs["n_test"].mean()), calibration(gp, groups))


@dataclass
class Surface:
    """A variant's accuracy over allocations: on one task, or the mean over several."""

    label: str
    task: str
    """The task's name, or "mean"."""
    parts: list[TaskSurface]
    measured: np.ndarray = field(repr=False)

    def posterior(self, allocs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        allocs = np.asarray(allocs, dtype=float).reshape(-1, 2)
        means, covs = zip(*(p.posterior(allocs) for p in self.parts), strict=True)
        t = len(self.parts)
        return np.mean(means, axis=0), np.sum(covs, axis=0) / t**2

    def projected_cov(self, allocs: np.ndarray, extra: np.ndarray) -> np.ndarray:
        """`TaskSurface.projected_cov`, each task given the same extra runs."""
        allocs = np.asarray(allocs, dtype=float).reshape(-1, 2)
        extra = np.asarray(extra, dtype=float).reshape(-1, 2)
        return sum(p.projected_cov(allocs, extra) for p in self.parts) / len(self.parts) ** 2

    def sampling_var(self, mean: np.ndarray) -> np.ndarray:
        """The test sets' own sampling variance of an accuracy (averaged over tasks)."""
        t = len(self.parts)
        return sum(np.clip(mean, 0, 1) * (1 - np.clip(mean, 0, 1)) / p.n_test for p in self.parts) / t**2

    def interval(self, allocs: np.ndarray, z: float = 1.96) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        mean, cov = self.posterior(allocs)
        sd = np.sqrt(np.clip(np.diag(cov), 0, None) + self.sampling_var(mean))
        return mean, mean - z * sd, mean + z * sd

    def samples(self, allocs: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
        """(n, len(allocs)) joint draws of f."""
        mean, cov = self.posterior(allocs)
        return rng.multivariate_normal(mean, cov + 1e-10 * np.eye(len(mean)), size=n, method="eigh")

    def distance(self, allocs: np.ndarray) -> np.ndarray:
        """How far each allocation lies from the nearest measured one, in decades of labels."""
        x = features(*np.asarray(allocs, float).reshape(-1, 2).T)
        m = features(*self.measured.T)
        return np.sqrt(((x[:, None, :] - m[None, :, :]) ** 2).sum(-1)).min(1)


def fit_surfaces(runs: pd.DataFrame) -> dict[tuple[str, str], Surface]:
    """Every variant's surface per task and, where it has several tasks, over their mean (only
    the allocations every task measured count as measured there)."""
    out = {}
    for label, mine in runs.groupby("label"):
        parts = {task: fit_task(g) for task, g in mine.groupby("task")}
        for task, part in parts.items():
            out[(label, task)] = Surface(label, task, [part], part.measured)
        if len(parts) > 1:
            common = set.intersection(*({tuple(a) for a in p.measured} for p in parts.values()))
            measured = np.array(sorted(common)) if common else np.zeros((0, 2))
            out[(label, "mean")] = Surface(label, "mean", list(parts.values()), measured)
        elif parts:
            (only,) = parts.values()
            out[(label, "mean")] = Surface(label, "mean", [only], only.measured)
    return out


def runs_frame(df: pd.DataFrame) -> pd.DataFrame:
    """`points.frame`'s runs, one row per (variant, task, allocation, seed), as the surface fits
    them."""
    return df[
        ["label", "variant", "task", "seed", "n_weak", "n_hq", "accuracy", "n_test", "outcome", "config"]
    ]


def same_runs(df: pd.DataFrame) -> Callable[[str, str, int, int], bool]:
    """Whether two variants' runs at an allocation are the same runs (identical outcomes, seed
    by seed): all-weak uncertainty is all-weak seq_sft, all-HQ logconf is all-HQ seq_sft."""
    outcomes = df.groupby(["label", "n_weak", "n_hq"])[["seed", "outcome"]].apply(
        lambda g: frozenset(zip(g["seed"], g["outcome"], strict=True))
    )

    def same(a: str, b: str, n_weak: int, n_hq: int) -> bool:
        x, y = outcomes.get((a, n_weak, n_hq)), outcomes.get((b, n_weak, n_hq))
        return x is not None and x == y

    return same
