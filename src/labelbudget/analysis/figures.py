"""The report's sections that draw: Figure 1 with the fitted surface along each budget line, the
surface over three sources' simplex at each budget (issue 38), Table 1 with the Pareto frontier at
every weak-label price (Figure 5), and the per-task plots; and `Context`, what every section of
one report shares (the analysis, its answers computed once, the figures' folder)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from labelbudget.analysis.answers import Analysis
from labelbudget.analysis.document import esc, img, money, money_shares
from labelbudget.analysis.plan import variant_sources
from labelbudget.analysis.plots import (
    budget_curves,
    cost_plot,
    ternary_grid,
    ternary_plot,
    weak_fraction_plot,
)
from labelbudget.analysis.points import average, recost
from labelbudget.analysis.sections import (
    buy,
    frontier_table,
    plan_budgets,
    plan_table,
    regime_table,
    shares_array,
    table1_table,
)
from labelbudget.analysis.tables import pareto_frontier, spending
from labelbudget.util.errors import UserError


class Context:
    """What the report's sections share: the analysis, its answers (computed once per variant and
    price) and the folder the figures are drawn in."""

    def __init__(self, analysis: Analysis, results: Path, tmp: Path):
        self.analysis, self.results, self.tmp = analysis, results, tmp
        self.df, self.pts = analysis.df, analysis.points
        self._found: dict = {}
        self.labels = [label for label in analysis.labels() if not self._icl(label)]
        self.several = [label for label in self.labels if analysis.several(label)]
        pair = self.df[self.df["sources"].map(lambda s: tuple(s) == ("weak", "hq"))]
        self.run_costs = sorted(pair["run_cost"].unique(), reverse=True)
        self.figures = 0

    def _icl(self, label: str) -> bool:
        return self.df.loc[self.df["label"] == label, "method"].iloc[0] == "icl"

    def found(self, label: str, cost: float | None):
        if (label, cost) not in self._found:
            self._found[(label, cost)] = self.analysis.answers(label, cost)
        return self._found[(label, cost)]

    def costs_of(self, label: str) -> list[float | None]:
        """The prices a variant is answered at: its own (the pair: the weak costs it ran at)."""
        if label in self.several:
            return [None]
        mine = self.df.loc[self.df["label"] == label, "run_cost"].unique()
        return [float(c) for c in sorted(mine, reverse=True)]

    def path(self, name: str) -> Path:
        self.figures += 1
        return self.tmp / f"{self.figures}-{name}.png"

    def where(self, label: str, cost: float | None) -> str:
        if cost is not None:
            return f"weak labels at {money(cost)}"
        sources, _ = variant_sources(self.df.loc[self.df["label"] == label, "config"].iloc[0], 0.1)
        return "each source at its price (" + ", ".join(f"{s.name} {money(s.price)}" for s in sources) + ")"


def figure1(ctx: Context) -> list[str]:
    out = []
    for label in ctx.labels:
        surface = ctx.analysis.surfaces[(label, "mean")]
        if surface.k != 2:
            continue
        config = ctx.df.loc[ctx.df["label"] == label, "config"].iloc[0]
        for cost in ctx.costs_of(label):
            found = ctx.found(label, cost)
            if not any(a.measured_line for a in found):  # Figure 1 needs measured lines
                continue
            sources, _ = variant_sources(config, cost)
            curves = budget_curves(surface, sources, ctx.analysis.budgets(label))
            cheap = "weak labels" if cost is not None else sources[0].name
            figure = weak_fraction_plot(
                ctx.pts,
                ctx.path("fig1"),
                label,
                cost,
                curves,
                cheap=cheap,
                title=f"{label}, {ctx.where(label, cost)}".replace("$", r"\$"),
            )
            out.append(f"<h3>{esc(label)}, {esc(ctx.where(label, cost))}</h3>")
            out.append(img(figure, f"{label}: accuracy against the share of the budget on {cheap}"))
            out.append("<p>The regime at each budget and the best affordable buy:</p>")
            out.append(regime_table(found))
    if not out:
        return []
    head = (
        "<h2>Figure 1: what the answer rests on</h2><p>Test accuracy against the share of the "
        "budget spent on the cheaper labels, a colour per budget. Lines: the fitted model's "
        "expected accuracy along that budget, with its 95% band; dots: the runs that spend it "
        "(mean over seeds, ± standard error); dashed: the weak labels' own accuracy.</p>"
    )
    return [head, *out]


def ternary(ctx: Context) -> list[str]:
    out = []
    for label in ctx.several:
        surface = ctx.analysis.surfaces[(label, "mean")]
        if surface.k != 3:
            continue
        sources, _ = variant_sources(ctx.df.loc[ctx.df["label"] == label, "config"].iloc[0], 0.1)
        by_budget = {a.regime.budget: a for a in ctx.found(label, None)}
        figures = []
        for budget in ctx.analysis.budgets(label):
            grid = ternary_grid(surface, sources, budget)
            runs = spending(ctx.pts[ctx.pts["label"] == label], budget, None)
            shares = np.array(
                [
                    list(money_shares(c, s, p).values())
                    for c, s, p in zip(runs["counts"], runs["sources"], runs["prices"], strict=True)
                ]
            ).reshape(-1, 3)
            a = by_budget.get(budget)
            try:
                best = a.best if a else ctx.analysis.plan(budget, 0.1, labels=[label], extrapolate=True).best
            except UserError:
                best = None
            path = ternary_plot(
                grid,
                ctx.path("ternary"),
                sources,
                shares,
                runs["accuracy"].to_numpy(),
                None if best is None else shares_array(best),
            )
            words = (
                ""
                if best is None
                else (
                    f"recommended: {'; '.join(buy(best))}, expected accuracy "
                    f"{best.expected_accuracy:.3f} [{best.lo:.2f}, {best.hi:.2f}]"
                )
            )
            figures.append(
                f"<figure>{img(path, f'{label} at {money(budget)}: expected accuracy over the split')}"
                f"<figcaption>{esc(money(budget))}: {esc(words)}</figcaption></figure>"
            )
        out += [
            f"<h3>{esc(label)}, {esc(ctx.where(label, None))}</h3>",
            '<div class="figures">',
            *figures,
            "</div>",
        ]
    if not out:
        return []
    head = (
        "<h2>Three sources: the expected accuracy over the split of each budget</h2><p>Each "
        "corner spends the whole budget on one source; a point's distance from a corner's "
        "opposite side is the share of the budget on that source (white lines: every 20%). "
        "Colour: the fitted model's expected accuracy (posterior mean) of the allocation that "
        "split buys; circles: the runs on that budget, with their measured accuracy; star: the "
        "recommended allocation.</p>"
    )
    return [head, *out]


def frontiers(ctx: Context) -> list[str]:
    out = [
        "<h2>Table 1: the best accuracy within each budget</h2><p>The paper's Table 1: per "
        "method and weak-label price, the best measured accuracy among allocations costing at "
        "most the budget (the paper's budgets 4<sup>i</sup> + 1, which absorb rounding), with "
        "the share of its labels that are weak (several sources: the budget's split).</p>",
        table1_table(ctx.pts),
        "<h2>Accuracy against cost: the Pareto frontier (Figure 5)</h2><p>Every measured "
        "allocation re-costed at each weak-label price, and the frontier: the allocations no "
        "cheaper one beats.</p>",
    ]
    costs = [float(c) for c in sorted(ctx.pts["weak_cost"].dropna().unique(), reverse=True)]
    for cost in costs + ([None] if ctx.pts["weak_cost"].isna().any() else []):
        at = ctx.pts["weak_cost"].isna() if cost is None else np.isclose(ctx.pts["weak_cost"], cost)
        sub = ctx.pts[at & (ctx.pts["cost"] > 0)]
        if sub.empty:
            continue
        heading = "Several sources, each at its price" if cost is None else f"Weak labels at {money(cost)}"
        out.append(f"<h3>{esc(heading)}</h3>")
        out.append(img(cost_plot(ctx.pts, ctx.path("cost"), cost), f"accuracy against cost ({cost})"))
        out.append(frontier_table(pareto_frontier(sub), several=cost is None))
    other = [c for c in costs if not any(np.isclose(c, ctx.run_costs))] if ctx.run_costs else []
    if other:
        out.append(
            "<h2>Plans at other weak-label prices</h2><p>What the same runs recommend were weak "
            "labels priced otherwise (predicted: none was run at these prices).</p>"
        )
        for cost in other:
            out.append(f"<h3>Weak labels at {esc(money(cost))}</h3>")
            sub = ctx.pts[np.isclose(ctx.pts["weak_cost"], cost)]
            out += plan_table(ctx.analysis, cost, plan_budgets(sub), None)
    return out


def per_task(ctx: Context) -> list[str]:
    if ctx.df["task"].nunique() < 2:
        return []
    out = ["<h2>Per task</h2>"]
    for task, g in ctx.df.groupby("task"):
        out.append(f"<h3>{esc(task)}</h3>")
        per_task = recost(average(g), [0.1])
        title = f"accuracy vs cost on {task}".replace("$", r"\$")  # a $ in a file name is not math
        cost = None if per_task["weak_cost"].isna().all() else 0.1
        out.append(img(cost_plot(per_task, ctx.path("task"), cost, title=title), task))
    return out
