"""The paper's figures from averaged runs (matplotlib, PNG). Pure functions: data in, file out.

- `weak_fraction_plot`: accuracy vs the fraction of the budget spent on weak labels, a line per
  budget (the allocations that spend it), the weak labels' own accuracy dashed (Figure 1).
- `cost_plot`: accuracy vs cost per variant, log-scale cost, with the Pareto frontier (Figure 5).

Inputs are `analysis.points` frames (averaged, re-costed).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from labelbudget.analysis.tables import pareto_frontier, spending


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def weak_fraction_plot(
    pts: pd.DataFrame, path: Path, label: str = "seq_sft", weak_cost: float = 0.1, title: str = ""
) -> Path | None:
    sub = pts[pts["label"] == label]
    budgets = sorted(sub["run_budget"].unique())
    groups = [(b, spending(sub, b, weak_cost)) for b in budgets]
    groups = [(b, g) for b, g in groups if not g.empty]
    if not groups:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    cmap = plt.get_cmap("viridis")
    for i, (budget, g) in enumerate(groups):
        g = g.sort_values("weak_share")
        color = cmap(i / max(len(groups) - 1, 1))
        style = "o-" if len(g) > 1 else "o"  # one measurement is a point, not a line
        ax.plot(g["weak_share"], g["accuracy"], style, color=color, label=rf"\${budget:g}")
        if len(g) > 1 and g["sem"].notna().any():
            ax.fill_between(
                g["weak_share"], g["accuracy"] - g["sem"], g["accuracy"] + g["sem"], color=color, alpha=0.15
            )
    ax.axhline(sub["weak_accuracy"].mean(), color="gray", ls="--", label="weak labels")
    ax.set_xlabel("fraction of budget spent on weak labels")
    ax.set_ylabel("test accuracy")
    ax.set_title(title or rf"{label}, weak labels at \${weak_cost:g}")
    ax.legend(title="budget", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def cost_plot(pts: pd.DataFrame, path: Path, weak_cost: float = 0.1, title: str = "") -> Path | None:
    sub = pts[np.isclose(pts["weak_cost"], weak_cost) & (pts["cost"] > 0)]
    if sub.empty:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    markers = "osD^vP*X"
    for i, (method, g) in enumerate(sub.groupby("label")):
        points = ax.scatter(
            g["cost"],
            g["accuracy"],
            c=g["weak_fraction"],
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
    ticks = sorted(b for b in sub["run_budget"].unique() if sub["cost"].min() <= b <= sub["cost"].max())
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    ax.xaxis.set_minor_formatter(plt.NullFormatter())
    ax.set_xlabel(r"cost (\$, one HQ label = \$1)")
    ax.set_ylabel("test accuracy")
    ax.set_title(title or rf"accuracy vs cost, weak labels at \${weak_cost:g}")
    fig.colorbar(points, ax=ax, label="fraction of labels that are weak")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
