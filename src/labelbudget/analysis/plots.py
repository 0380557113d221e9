"""The paper's figures, and the surface the answer rests on (matplotlib, PNG). The data of each
figure is computed by a pure function the tests read; the drawing takes it and writes a file.

- `budget_curves` + `weak_fraction_plot`: accuracy vs the share of the budget spent on the
  cheaper source, a colour per budget: the fitted surface's posterior mean along each budget line
  with its 95% band, and the measured (seed-averaged) points on it; the weak labels' own accuracy
  dashed (Figure 1, with the model drawn: the reader sees what the answer rests on).
- `cost_plot`: accuracy vs cost per variant, log-scale cost, with the Pareto frontier (Figure 5).
- `ternary_grid` + `ternary_plot`: with three sources, the posterior mean over the simplex of
  shares at one budget, a filled triangle, with the runs on that budget line and the recommended
  allocation marked (issue 38).

Inputs are `analysis.points` frames (averaged, re-costed) and `analysis.surface.Surface`s.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from labelbudget.analysis.document import money
from labelbudget.analysis.regimes import simplex
from labelbudget.analysis.tables import pareto_frontier, spending

SQRT3 = np.sqrt(3.0)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _dollars(x: float) -> str:
    """Money in a matplotlib label, as the report writes it ($ escaped: not math)."""
    return money(x).replace("$", r"\$")


@dataclass(frozen=True)
class Curve:
    """The fitted surface along one budget line: at each allocation that spends the budget, the
    share of the money on the cheaper source(s), the posterior mean and its 95% band."""

    budget: float
    share: np.ndarray
    mean: np.ndarray
    lo: np.ndarray
    hi: np.ndarray


def budget_curves(surface, sources, budgets, steps: int = 101) -> list[Curve]:
    """Per budget, the surface along its line: the allocations `split` buys at `steps` shares of
    the dearer source (two sources, `SourceConfig`s with the prices to cost them at), ordered by
    the money share of the cheaper one."""
    names = [s.name for s in sources]
    if len(names) != 2:
        return []
    prices = np.array([s.price for s in sources])
    out = []
    for budget in budgets:
        grid = [{names[0]: 1 - f, names[1]: f} for f in np.linspace(0, 1, steps)]
        allocs = simplex(float(budget), sources, grid)
        if len(allocs) < 2:
            continue
        money = allocs * prices
        share = money[:, 0] / money.sum(1)
        order = np.argsort(share, kind="stable")
        mean, lo, hi = surface.interval(allocs[order])
        out.append(Curve(float(budget), share[order], mean, lo, hi))
    return out


def weak_fraction_plot(
    pts: pd.DataFrame,
    path: Path,
    label: str = "seq_sft",
    weak_cost: float | None = 0.1,
    curves: list[Curve] = (),
    title: str = "",
    cheap: str = "weak labels",
) -> Path | None:
    """Figure 1: per budget, the fitted curve with its band (`curves`) and the measured points
    that spend that budget (`weak_cost` None: a variant of several sources at its own prices)."""
    sub = pts[pts["label"] == label]
    budgets = sorted({*sub["run_budget"].unique(), *(c.budget for c in curves)})
    groups = [(b, spending(sub, b, weak_cost)) for b in budgets]
    drawn = {c.budget: c for c in curves}
    groups = [(b, g) for b, g in groups if not g.empty or b in drawn]
    if not groups:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 4.6))
    cmap = plt.get_cmap("viridis")
    for i, (budget, g) in enumerate(groups):
        color = cmap(0.9 * i / max(len(groups) - 1, 1))
        curve = drawn.get(budget)
        if curve is not None:
            ax.plot(curve.share, curve.mean, "-", color=color, lw=1.8, label=f"{_dollars(budget)} (model)")
            ax.fill_between(curve.share, curve.lo, curve.hi, color=color, alpha=0.15, lw=0)
        if not g.empty:
            g = g.sort_values("weak_share")
            err = g["sem"].fillna(0).to_numpy() if "sem" in g else None
            ax.errorbar(
                g["weak_share"],
                g["accuracy"],
                yerr=err,
                fmt="o",
                color=color,
                mec="k",
                mew=0.5,
                ms=6,
                capsize=2,
                label=f"{_dollars(budget)} (runs)" if curve is None else None,
            )
    if "weak_accuracy" in sub and sub["weak_accuracy"].notna().any():
        ax.axhline(sub["weak_accuracy"].mean(), color="gray", ls="--", lw=1, label=f"{cheap} alone")
    ax.set_xlim(-0.03, 1.03)
    ax.set_xlabel(f"share of the budget spent on {cheap}")
    ax.set_ylabel("test accuracy")
    ax.set_title(
        title or (rf"{label}, {cheap} at {_dollars(weak_cost)}" if weak_cost else label), fontsize=11
    )
    ax.legend(
        title="budget\n(lines: the fitted model,\n95% band; dots: runs)",
        fontsize=8,
        title_fontsize=8,
        loc="upper left",
        bbox_to_anchor=(1.01, 1),
    )
    ax.grid(alpha=0.25)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def cost_plot(pts: pd.DataFrame, path: Path, weak_cost: float | None = 0.1, title: str = "") -> Path | None:
    """Figure 5 at one weak price (None: the variants of several sources at their own prices)."""
    at = pts["weak_cost"].isna() if weak_cost is None else np.isclose(pts["weak_cost"], weak_cost)
    sub = pts[at & (pts["cost"] > 0)]
    if sub.empty:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 4.4))
    markers = "osD^vP*X"
    for i, (method, g) in enumerate(sub.groupby("label")):
        points = ax.scatter(
            g["cost"],
            g["accuracy"],
            c=g["weak_share"],
            cmap="coolwarm",
            vmin=0,
            vmax=1,
            marker=markers[i % len(markers)],
            edgecolors="k",
            linewidths=0.4,
            label=method,
        )
    frontier = pareto_frontier(sub)
    ax.plot(frontier["cost"], frontier["accuracy"], color="gray", lw=2, alpha=0.6, label="Pareto frontier")
    ax.set_xscale("log")
    lo, hi = sub["cost"].min(), sub["cost"].max()
    ticks = sorted({*(b for b in sub["run_budget"].unique()), *(4.0**i for i in range(-3, 8))})
    ticks = [t for t in ticks if lo / 1.2 <= t <= hi * 1.2]
    ax.set_xticks(ticks, [_dollars(t) for t in ticks])
    ax.xaxis.set_minor_formatter(plt.NullFormatter())
    ax.set_xlabel(
        r"cost (\$; one HQ label = \$1)" if weak_cost is not None else r"cost (\$, at each source's price)"
    )
    ax.set_ylabel("test accuracy")
    where = f"weak labels at {_dollars(weak_cost)}" if weak_cost is not None else "several sources"
    ax.set_title(title or f"accuracy vs cost, {where}", fontsize=11)
    cheaper = "weak labels" if weak_cost is not None else "cheaper sources"
    fig.colorbar(points, ax=ax, label=f"share of the money on {cheaper}")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.25)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


@dataclass(frozen=True)
class Ternary:
    """The surface over the simplex of three sources' shares at one budget."""

    budget: float
    shares: np.ndarray
    """(m, 3) the money share of each source (in stage order) of each allocation."""
    mean: np.ndarray
    """(m,) the posterior mean expected accuracy there."""


def ternary_grid(surface, sources, budget: float, steps: int = 40) -> Ternary:
    """The allocations `split` buys at every point of a grid of `steps` per side over the simplex
    of three sources' shares, each placed at the shares its money actually buys (rounding leaves
    the cheapest source what the rest leaves), with the surface's posterior mean."""
    names = [s.name for s in sources]
    prices = np.array([s.price for s in sources])
    grid = [
        {names[0]: i / steps, names[1]: j / steps, names[2]: (steps - i - j) / steps}
        for i in range(steps + 1)
        for j in range(steps + 1 - i)
    ]
    allocs = simplex(float(budget), sources, grid)
    money = allocs * prices
    mean, _ = surface.posterior(allocs)
    return Ternary(float(budget), money / money.sum(1, keepdims=True), mean)


def to_xy(shares: np.ndarray) -> np.ndarray:
    """Ternary coordinates: the first source at (0, 0), the second at (1, 0), the third at the
    apex (1/2, sqrt(3)/2); a point lies nearer a corner the more of the budget goes there."""
    shares = np.atleast_2d(np.asarray(shares, float))
    shares = shares / shares.sum(1, keepdims=True)
    return np.column_stack([shares[:, 1] + shares[:, 2] / 2, shares[:, 2] * SQRT3 / 2])


def ternary_plot(
    grid: Ternary,
    path: Path,
    sources,
    runs: np.ndarray | None = None,
    run_accuracy: np.ndarray | None = None,
    best: np.ndarray | None = None,
    title: str = "",
) -> Path | None:
    """The filled triangle of `ternary_grid`, the runs' allocations (shares, with their measured
    accuracies) and the recommended allocation (a star)."""
    if len(grid.mean) < 3:
        return None
    import matplotlib.tri as mtri

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.2, 4.9))
    xy = to_xy(grid.shares)
    try:
        tri = mtri.Triangulation(xy[:, 0], xy[:, 1])
    except (ValueError, RuntimeError):  # too few distinct allocations at this budget
        plt.close(fig)
        return None
    filled = ax.tricontourf(tri, grid.mean, levels=14, cmap="viridis")
    corners = to_xy(np.eye(3))
    ax.plot(*np.vstack([corners, corners[:1]]).T, color="k", lw=1)
    for t in (0.2, 0.4, 0.6, 0.8):  # lines of equal share, to read a point's split
        for j in range(3):
            a, b = np.zeros(3), np.zeros(3)
            a[j], b[j] = t, t
            a[(j + 1) % 3], b[(j + 2) % 3] = 1 - t, 1 - t
            ax.plot(*to_xy(np.vstack([a, b])).T, color="w", lw=0.5, alpha=0.5)
    places = ((0, -0.045, "top"), (1, -0.045, "top"), (0.5, SQRT3 / 2 + 0.05, "bottom"))
    for (x, y, va), s in zip(places, sources, strict=True):
        ax.text(x, y, f"all {s.name}\n({_dollars(s.price)} a label)", ha="center", va=va, fontsize=9)
    if runs is not None and len(runs):
        at = to_xy(runs)
        ax.scatter(at[:, 0], at[:, 1], s=36, c="w", edgecolors="k", linewidths=0.8, zorder=3, label="runs")
        for (x, y), acc in zip(at, run_accuracy, strict=True):
            ax.annotate(
                f"{acc:.3f}",
                (x, y),
                xytext=(5, 5),
                textcoords="offset points",
                fontsize=8,
                bbox={"boxstyle": "round,pad=0.15", "fc": "w", "ec": "none", "alpha": 0.75},
            )
    if best is not None:
        x, y = to_xy(best)[0]
        ax.scatter([x], [y], marker="*", s=260, c="#e8413c", edgecolors="k", zorder=4, label="recommended")
    ax.set_xlim(-0.12, 1.12)
    ax.set_ylim(-0.16, SQRT3 / 2 + 0.16)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title or f"expected accuracy over the split of {_dollars(grid.budget)}", fontsize=11)
    fig.colorbar(filled, ax=ax, shrink=0.8, pad=0.02, label="expected accuracy (posterior mean)")
    ax.legend(loc="upper right", fontsize=8)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path
