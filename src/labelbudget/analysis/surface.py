"""One model of accuracy over allocations, from which every answer follows.

Per variant and task, a Gaussian process over x = (log10(n_weak + 1), log10(n_hq + 1)) (with k
label sources, log10(count + 1) of each, one fitted length scale each) fitted to
every run and seed, with the authors' anchor (training on nothing gives chance: 0.5 on their
balanced binary tasks, 1/K on K balanced classes, the largest class's share on a natural mix), as their
`bayes_sweep.py` (EleutherAI/scalable-elicitation). Departures from their kernel (a scaled RBF
of fixed length 1 plus white noise): a Matern-5/2 kernel whose two length scales are fitted
(0.5 to 10 decades: budgets a factor of 4 apart support no shorter ones), which
follows a peak along a budget line instead of smoothing it away, and
a linear kernel beside it (a Bayesian linear trend in x, its slope uncertain), so that beyond
the data the surface follows the trend rather than falling back to the mean accuracy, with an
uncertainty that grows with the distance.

Its latent f is an allocation's *expected* accuracy: over seeds and over the task's population of
examples, which is what a user buying that allocation gets on new data. A run's accuracy is f
plus two errors:
- the seed's (`SeedNoise`): training on other labels in another order, far from constant (0.0075
  to 0.09 on one demo grid), plus a white noise for what the kernel misfits;
- the test set's (`SharedTest`): every run on a task is scored on the same test examples, so the
  part of an allocation's test error that is the same for all its seeds is shared by them, and
  correlated between allocations that err on the same examples. It is estimated from the
  records' per-example predictions: for two runs r != r', the covariance over the test examples of
  their correctness, divided by n, is an unbiased estimate of the covariance of their
  allocations' test-set errors (the runs are independent given the examples); seeds of one
  allocation share it wholly. The posterior of f leaves it out, so a stated interval of f covers
  the expected accuracy, and two allocations that err alike are compared on their difference
  (a paired comparison, as McNemar's), not on their levels.

The mean over tasks averages the per-task posteriors (independent across tasks), over the
allocations that every task measured, as the authors averaged points.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.linalg import solve_triangular
from sklearn.gaussian_process.kernels import Kernel

from labelbudget.analysis.testset import SharedTest, correctness, shared_test_cov

ANCHOR = 0.5
"""Accuracy with no labels at all on a balanced binary task (the authors' GP anchor at (0, 0));
in general chance for the label space, a run's `chance` (1/K balanced, the largest class's share
for a natural mix)."""

LENGTH_SCALE = 1.0
"""RBF length in log10 units: one decade of labels (the authors' value, fixed)."""


def features(*counts) -> np.ndarray:
    """log10(count + 1) per label source: of one (m, k) array of counts, or of one column per
    source (`features(n_weak, n_hq)`)."""
    if len(counts) == 1:
        return np.log10(np.asarray(counts[0], float) + 1)
    return np.log10(np.stack([np.asarray(c, float) for c in counts], axis=-1) + 1)


@dataclass(frozen=True)
class SeedNoise:
    """The seeds' spread of one run's accuracy over allocations: log variance linear in x plus an
    offset at each end of the lines, fitted to each replicated allocation's sample variance. A
    departure from the authors' one white noise (`bayes_sweep.py`): the spread is heteroscedastic
    (on a 10-seed demo grid the seed SD runs from 0.0075 at 640 weak labels to 0.09 at 16 HQ
    labels), and one noise is wrong both ways; worst, an adaptive sweep that runs the quiet
    allocations more learns a smaller one and is overconfident. Weighted least squares on log s^2
    with its chi-square bias removed (E log s^2 = log sigma^2 + digamma(nu/2) - log(nu/2), variance
    trigamma(nu/2)); the slopes only from `SLOPE_DOF` degrees of freedom on, the intercept alone
    below, an end's offset where two allocations there have seeds; the prediction clipped to the
    fitted range. Without the end offsets the all-weak runs took the HQ slope's spread at log
    n_hq = 0 (README, "How the answer is computed"). A run's own sample variance is not used
    beyond this fit: an allocation whose few seeds happen to split would discount its own runs
    (and a plan could buy it on its neighbours' credit)."""

    coef: np.ndarray
    """On `design(x)`'s columns (0 where a column was not fitted)."""
    lo: float
    hi: float

    SLOPE_DOF = 10

    @staticmethod
    def design(x: np.ndarray) -> np.ndarray:
        """1, x, and an indicator of each end (all weak, all HQ; with k sources each vertex of the
        simplex, where only that source is bought): an end is not the limit of the mixes (log n_hq
        = 0 at all-weak says nothing of its seeds' spread)."""
        x = np.atleast_2d(np.asarray(x, float))
        ends = [np.delete(x, j, axis=1).max(axis=1, initial=0) == 0 for j in range(x.shape[1])]
        return np.column_stack([np.ones(len(x)), x, *ends]).astype(float)

    @classmethod
    def fit(cls, x: np.ndarray, y: np.ndarray, groups: np.ndarray) -> SeedNoise | None:
        """From runs at x (n, 2) with accuracies y and their allocation's group; None where no
        allocation has two runs."""
        from scipy.special import digamma, polygamma

        rows = [np.flatnonzero(groups == g) for g in np.unique(groups[groups >= 0])]
        rows = [r for r in rows if len(r) >= 2]
        if not rows:
            return None
        nu = np.array([len(r) - 1 for r in rows], float)
        s2 = np.array([max(np.var(y[r], ddof=1), 1e-8) for r in rows])
        target = np.log(s2) - digamma(nu / 2) + np.log(nu / 2)
        weight = 1 / polygamma(1, nu / 2)
        design = cls.design(np.array([x[r[0]] for r in rows]))
        k = x.shape[1]
        used = np.array([True] * (1 + k) + [design[:, 1 + k + j].sum() >= 2 for j in range(k)])
        if nu.sum() < cls.SLOPE_DOF or len(rows) < 2 + k + used[1 + k :].sum():
            used[1:] = False
        root = np.sqrt(weight)[:, None]
        coef = np.zeros(1 + 2 * k)
        coef[used] = np.linalg.lstsq(design[:, used] * root, target * root[:, 0], rcond=None)[0]
        fitted = design @ coef
        return cls(coef, float(fitted.min()), float(fitted.max()))

    def variance(self, x: np.ndarray) -> np.ndarray:
        """A run's seed variance at x (n, 2)."""
        return np.exp(np.clip(self.design(x) @ self.coef, self.lo, self.hi))


@dataclass
class TaskSurface:
    """The posterior of one variant's expected accuracy on one task."""

    gp: object
    measured: np.ndarray
    """(m, k) allocations (a count per source: n_weak, n_hq for the paper's pair) with runs."""
    n_test: float
    scale: float = 1.0
    """The variance factor of f that leave-one-allocation-out residuals ask for (`calibration`)."""
    noise: SeedNoise | None = None

    @property
    def mu(self) -> Kernel:
        """The kernel of f alone: the GP's less its test-set and white parts."""
        return self.gp.kernel_.k1.k1

    @property
    def shared(self) -> SharedTest:
        return self.gp.kernel_.k1.k2

    def alpha(self, x: np.ndarray) -> np.ndarray:
        """The seed variance of runs at x in the GP's normalised units (its per-run `alpha`)."""
        if self.noise is None:
            return np.full(len(x), 1e-10)
        return self.noise.variance(x) / self.gp._y_train_std**2

    def run_variance(self, allocs: np.ndarray) -> np.ndarray:
        """The variance of one new run's accuracy about f: its seed noise and the misfit (its
        test-set error is shared with the runs of its allocation, not a run's own)."""
        x = features(allocs)
        return (self.alpha(x) + self.gp.kernel_.k2.noise_level) * self.gp._y_train_std**2

    def posterior(self, allocs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean and covariance of f (the expected accuracy) at these allocations, jointly: the
        GP's conditional with the cross-covariance of f alone (neither the test sets' shared
        error nor a run's white misfit is part of f)."""
        gp = self.gp
        x = features(allocs)
        cross = self.mu(x, gp.X_train_)
        mean = cross @ gp.alpha_ * gp._y_train_std + gp._y_train_mean
        v = solve_triangular(gp.L_, cross.T, lower=True, check_finite=False)
        cov = (self.mu(x) - v.T @ v) * gp._y_train_std**2
        return np.clip(mean, 0.0, 1.0), cov * self.scale

    def projected_cov(self, allocs: np.ndarray, extra: np.ndarray) -> np.ndarray:
        """The covariance of f at `allocs` once one more run at each of `extra`'s allocations is
        stored, the kernel as fitted: a GP's posterior covariance does not depend on the values
        it will see, so this is what those runs would leave of the uncertainty. A new run's
        test-set error is its allocation's (the nearest measured one's where it has no run)."""
        gp = self.gp
        x = features(allocs)
        added = features(extra) if len(extra) else np.zeros((0, x.shape[1]))
        train = np.vstack([gp.X_train_, added])
        alpha = np.append(np.broadcast_to(gp.alpha, len(gp.X_train_)), self.alpha(added))
        shared = self.shared
        rows = np.append(shared.index(gp.X_train_), self._nearest(added))
        k = self.mu(train) + shared.table(rows, rows) + np.diag(alpha + gp.kernel_.k2.noise_level)
        cross = self.mu(x, train)
        cov = self.mu(x) - cross @ np.linalg.solve(k, cross.T)
        return cov * gp._y_train_std**2 * self.scale

    def _nearest(self, x: np.ndarray) -> np.ndarray:
        keys = np.asarray(self.shared.keys, float).reshape(-1, x.shape[1])
        if not len(keys) or not len(x):
            return np.full(len(x), -1, dtype=int)
        return ((x[:, None, :] - keys[None, :, :]) ** 2).sum(-1).argmin(1)


def calibration(gp, groups: np.ndarray) -> float:
    """How much f's posterior variance must grow for the measured allocations to fall inside
    their own intervals when each is left out: the leave-one-allocation-out residuals of the
    fitted GP (closed form, hyperparameters kept: for the rows I of one allocation, the
    residuals are (K^-1)_II^-1 (K^-1 y)_I and their covariance (K^-1)_II^-1), the mean residual
    of an allocation's seeds against its predicted variance less the seeds' noise (each run's
    alpha and the white misfit), pooled: max(1, sum(r^2 - noise/m) / sum(var f)). ML-II fits on
    few allocations are over-confident (`benchmarks/surface_choice.py`: README); this is their own
    evidence of it, measured on each surface's runs."""
    k = gp.kernel_(gp.X_train_) + gp.alpha * np.eye(len(gp.X_train_))
    inverse = np.linalg.inv(k)
    weights = inverse @ gp.y_train_
    noise = gp.kernel_.k2.noise_level + np.broadcast_to(gp.alpha, len(gp.X_train_))
    excess, latent = 0.0, 0.0
    for g in np.unique(groups[groups >= 0]):
        rows = np.flatnonzero(groups == g)
        cov = np.linalg.inv(inverse[np.ix_(rows, rows)])
        residual = float(np.mean(cov @ weights[rows]))
        of_mean = float(noise[rows].sum()) / len(rows) ** 2
        excess += residual**2 - of_mean
        latent += max(float(cov.sum()) / len(rows) ** 2 - of_mean, 1e-12)
    return float(np.clip(excess / latent, 1.0, 4.0)) if latent > 0 else 1.0


def fit_task(runs: pd.DataFrame) -> TaskSurface:
    """A GP on one variant's runs on one task (columns `counts`, a count per source, accuracy,
    n_test, and `correct`, each run's per-example correctness, where the records have
    predictions)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import ConstantKernel, DotProduct, Matern, WhiteKernel

    counts = np.array(runs["counts"].tolist(), float)
    k = counts.shape[1]
    x = np.vstack([features(counts), np.zeros((1, k))])
    anchor = float(runs["chance"].mean()) if "chance" in runs else ANCHOR
    y = np.append(runs["accuracy"].to_numpy(float), anchor)
    run_groups = runs.groupby("counts").ngroup().to_numpy()
    groups = np.append(run_groups, -1)  # the anchor: none
    noise = SeedNoise.fit(x, y, groups)
    # per-run alpha in the units `normalize_y` fits in (sklearn: y / y.std(), a zero std taken as 1)
    std = float(np.std(y)) or 1.0
    alpha = 1e-10 if noise is None else noise.variance(x) / std**2
    if noise is not None:
        alpha[-1] = np.exp(noise.hi) / std**2  # the anchor: no surer than the noisiest run
    keys = np.array([x[np.flatnonzero(run_groups == g)[0]] for g in range(run_groups.max() + 1)])
    correct = correctness(runs)
    cov = np.zeros((len(keys), len(keys))) if correct is None else shared_test_cov(correct, run_groups)
    smooth = ConstantKernel(1.0, (1e-3, 1e2)) * Matern([LENGTH_SCALE] * k, (0.5, 10.0), nu=2.5)
    trend = ConstantKernel(0.1, (1e-4, 1e1)) * DotProduct(1.0, "fixed")
    shared = SharedTest(keys, cov / std**2)
    kernel = ((smooth + trend) + shared) + WhiteKernel(0.1, (1e-6, 1.0))  # with the seed noise: the misfit
    gp = GaussianProcessRegressor(
        kernel=kernel, alpha=alpha, normalize_y=True, n_restarts_optimizer=2, random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gp.fit(x, y)
    measured = np.unique(counts, axis=0)
    return TaskSurface(gp, measured, float(runs["n_test"].mean()), calibration(gp, groups), noise)


@dataclass
class Surface:
    """A variant's accuracy over allocations: on one task, or the mean over several."""

    label: str
    task: str
    """The task's name, or "mean"."""
    parts: list[TaskSurface]
    measured: np.ndarray = field(repr=False)
    sources: tuple[str, ...] = ("weak", "hq")
    """The label sources a count is of, in stage order."""

    @property
    def k(self) -> int:
        return len(self.sources)

    def posterior(self, allocs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        allocs = np.asarray(allocs, dtype=float).reshape(-1, self.k)
        means, covs = zip(*(p.posterior(allocs) for p in self.parts), strict=True)
        t = len(self.parts)
        return np.mean(means, axis=0), np.sum(covs, axis=0) / t**2

    def projected_cov(self, allocs: np.ndarray, extra: np.ndarray) -> np.ndarray:
        """`TaskSurface.projected_cov`, each task given the same extra runs."""
        allocs = np.asarray(allocs, dtype=float).reshape(-1, self.k)
        extra = np.asarray(extra, dtype=float).reshape(-1, self.k)
        return sum(p.projected_cov(allocs, extra) for p in self.parts) / len(self.parts) ** 2

    def interval(self, allocs: np.ndarray, z: float = 1.96) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The expected accuracy at each allocation with its 95% interval (f's posterior: the seeds'
        spread and the shared test set are in it once, no test-set term on top)."""
        mean, cov = self.posterior(allocs)
        sd = np.sqrt(np.clip(np.diag(cov), 0, None))
        return mean, np.clip(mean - z * sd, 0, 1), np.clip(mean + z * sd, 0, 1)

    def samples(self, allocs: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
        """(n, len(allocs)) joint draws of f."""
        mean, cov = self.posterior(allocs)
        return rng.multivariate_normal(mean, cov + 1e-10 * np.eye(len(mean)), size=n, method="eigh")

    def distance(self, allocs: np.ndarray) -> np.ndarray:
        """How far each allocation lies from the nearest measured one, in decades of labels."""
        x = features(np.asarray(allocs, float).reshape(-1, self.k))
        m = features(np.asarray(self.measured, float).reshape(-1, self.k))
        return np.sqrt(((x[:, None, :] - m[None, :, :]) ** 2).sum(-1)).min(1)


def fit_surfaces(runs: pd.DataFrame) -> dict[tuple[str, str], Surface]:
    """Every variant's surface per task and, where it has several tasks, over their mean (only
    the allocations every task measured count as measured there)."""
    out = {}
    for label, mine in runs.groupby("label"):
        sources = tuple(mine["sources"].iloc[0])
        parts = {task: fit_task(g) for task, g in mine.groupby("task")}
        for task, part in parts.items():
            out[(label, task)] = Surface(label, task, [part], part.measured, sources)
        if len(parts) > 1:
            common = set.intersection(*({tuple(a) for a in p.measured} for p in parts.values()))
            measured = np.array(sorted(common)) if common else np.zeros((0, len(sources)))
            out[(label, "mean")] = Surface(label, "mean", list(parts.values()), measured, sources)
        elif parts:
            (only,) = parts.values()
            out[(label, "mean")] = Surface(label, "mean", [only], only.measured, sources)
    return out


def runs_frame(df: pd.DataFrame) -> pd.DataFrame:
    """`points.frame`'s runs, one row per (variant, task, allocation, seed), as the surface fits
    them."""
    return df[
        [
            "label",
            "variant",
            "task",
            "seed",
            "n_weak",
            "n_hq",
            "counts",
            "sources",
            "prices",
            "run_fraction",
            "accuracy",
            "n_test",
            "correct",
            "chance",
            "config",
            "inputs",
        ]
    ]


def run_unit(df: pd.DataFrame) -> Callable[[str, tuple], str]:
    """`unit(label, counts)`: which run a variant's allocation is. Two variants' runs at an
    allocation are one run where the methods declare it (all-weak uncertainty sampling is all-weak
    seq_sft, all-HQ logconf all-HQ seq_sft: `runs.identity.same_run`) and they read the same
    inputs, measured or not; so a plan draws it once and never names it its own runner-up."""
    import json

    from labelbudget.allocation import bought_by
    from labelbudget.config import run_config_from_json
    from labelbudget.runs.identity import run_key, same_run
    from labelbudget.util.hashing import stable_hash

    first = df.drop_duplicates("label").set_index("label")
    configs = {label: run_config_from_json(c) for label, c in first["config"].items()}
    inputs = {label: json.loads(i) for label, i in first["inputs"].items()} if "inputs" in first else {}
    memo: dict[tuple[str, tuple], str] = {}

    def unit(label: str, counts) -> str:
        counts = tuple(int(c) for c in counts)
        if (label, counts) not in memo:
            bought = bought_by(configs[label], counts)
            if bought is None:
                return f"{label}/none"
            key = run_key(same_run(bought) or bought)
            memo[(label, counts)] = stable_hash([key, inputs.get(label, {})])
        return memo[(label, counts)]

    return unit
