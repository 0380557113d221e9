"""The question answered, from one model: what to buy at each budget, in plain words and as JSON.

`Analysis(records)` fits every variant's accuracy surface once (`analysis.surface`); the regimes
(`analysis.regimes`), the plans (`analysis.plan`), the report's plain-language answer and
`report --json` all read those surfaces, so they agree with each other by construction. At each
budget the answer's recommendation is the plan for that variant at that budget: the best
affordable allocation, which is what Table 1's best measured point estimates (the report checks
that they agree within the plan's interval).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from labelbudget.analysis.plan import Option, Plan, plan
from labelbudget.analysis.points import frame, points
from labelbudget.analysis.regimes import DECIDE, PAPER_SHARES, Answer, line, one_kind, regime
from labelbudget.analysis.surface import Surface, fit_surfaces, run_unit, runs_frame
from labelbudget.runs.record import Record
from labelbudget.util.errors import UserError


@dataclass(frozen=True)
class BudgetAnswer:
    """At one budget and weak cost, for one variant: the regime and what to buy."""

    regime: Answer
    plan: Plan
    measured_line: bool = True
    """The line's allocations are the runs' own (else: the variant's HQ fractions at another
    weak price, predicted by the surface)."""

    @property
    def best(self) -> Option:
        return self.plan.best

    def to_json(self) -> dict:
        out = self.regime.to_json()
        b = self.best
        out.update(
            n_weak=b.n_weak,
            n_hq=b.n_hq,
            counts=dict(zip(b.sources, map(int, b.counts), strict=True)),
            shares={k: round(v, 4) for k, v in b.shares.items()},
            cost=round(b.cost, 6),
            expected_accuracy=round(b.expected_accuracy, 4),
            lo=round(b.lo, 4),
            hi=round(b.hi, 4),
            p_best=round(self.plan.p_best, 4),
            measured=b.measured,
            extrapolated=bool(self.plan.extrapolated),
            line="measured" if self.measured_line else "predicted",
        )
        return out


class Analysis:
    """Every answer from stored runs, through one fitted surface per variant and task."""

    def __init__(self, records: Iterable[Record], decide: float = DECIDE):
        self.records = list(records)
        if not self.records:
            raise UserError(
                "no stored runs to analyse", "run `labelbudget sweep` or `labelbudget demo` first"
            )
        self.df = frame(self.records)
        self.runs = runs_frame(self.df)
        self.surfaces: dict[tuple[str, str], Surface] = fit_surfaces(self.runs)
        self.unit = run_unit(self.runs)
        self.decide = decide
        self._points: pd.DataFrame | None = None

    @property
    def points(self) -> pd.DataFrame:
        if self._points is None:
            self._points = points(self.records)
        return self._points

    def labels(self, task: str = "mean") -> list[str]:
        return sorted({label for label, t in self.surfaces if t == task})

    def budgets(self, label: str) -> list[float]:
        """The budgets a variant was run at."""
        return sorted(self.df.loc[self.df["label"] == label, "run_budget"].unique())

    def plan(
        self,
        budget: float,
        weak_cost: float,
        task: str = "mean",
        labels: Iterable[str] | None = None,
        feasible=None,
        extrapolate: bool = False,
    ) -> Plan:
        chosen = set(self.labels(task) if labels is None else labels)
        surfaces = {label: s for (label, t), s in self.surfaces.items() if t == task and label in chosen}
        measured = self.runs[self.runs["label"].isin(chosen)]
        if task != "mean":
            measured = measured[measured["task"] == task]
        return plan(surfaces, measured, budget, weak_cost, feasible, extrapolate, unit=self.unit)

    def several(self, label: str) -> bool:
        """Whether the variant bought from several sources (`--source`), not the paper's pair."""
        surface = self.surfaces.get((label, "mean"))
        return surface is not None and surface.sources != ("weak", "hq")

    def answers(self, label: str, weak_cost: float | None, task: str = "mean") -> list[BudgetAnswer]:
        """At every budget the variant was run at: its regime and its plan. The regime's budget
        line holds the allocations the variant ran on it, exactly as run (those costing between
        B less the cheapest price and B: the lines the adaptive sweep judges), and the allocation
        the plan buys there if it lies on the line. At a weak price none of the variant's runs was
        made at, its runs do not fall on the lines: the line is then its HQ fractions of the
        budget at that price, predicted by the surface (said: `line` "predicted"). A variant of
        several sources is answered at the prices it ran at (`weak_cost` is the pair's)."""
        surface = self.surfaces.get((label, task))
        if surface is None:
            return []
        mine = self.df[self.df["label"] == label]
        from labelbudget.analysis.plan import variant_sources

        several = surface.sources != ("weak", "hq")
        if several:
            weak_cost = None
        sources, _ = variant_sources(mine["config"].iloc[0], weak_cost)
        prices = np.array([src.price for src in sources])
        own_price = several or bool(np.isclose(mine["run_cost"].unique(), weak_cost).any())
        fractions = sorted(set(mine["run_fraction"]) or PAPER_SHARES)
        measured = surface.measured.astype(float).reshape(-1, surface.k)
        cost = measured @ prices
        out = []
        for budget in self.budgets(label):
            if own_price:
                allocs = measured[(cost <= budget + 1e-9) & (cost > budget - prices.min() - 1e-9)]
            else:
                allocs = line(budget, weak_cost, fractions)
            if one_kind(allocs, surface.sources):
                continue  # one kind of allocation on this line: no regime to ask for
            try:
                p = self.plan(budget, weak_cost or 0.1, task, labels=[label], extrapolate=True)
            except UserError:
                continue
            if p.best.cost > budget - prices.min() - 1e-9:  # the regime's line holds what it buys
                allocs = np.vstack([allocs, [p.best.counts]])
            found = regime(surface, budget, weak_cost, allocs, self.decide)
            out.append(BudgetAnswer(found, p, own_price))
        return out

    def json_lines(self, weak_costs: Iterable[float] = (0.1,)) -> list[dict]:
        """`report --json`: one object per variant, task and budget at each weak price (and over
        the tasks' mean where a variant has several tasks; one task's mean is that task)."""
        tasks = {}
        for label, task in self.surfaces:
            tasks.setdefault(label, set()).add(task)
        rows = []
        for (label, task), _ in sorted(self.surfaces.items()):
            if task == "mean" and len(tasks[label]) == 2:
                continue
            for c in [None] if self.several(label) else weak_costs:
                rows += [a.to_json() for a in self.answers(label, c, task)]
        return rows

    def answer_lines(self, label: str, weak_cost: float = 0.1) -> list[str]:
        """The question answered in plain words for one variant (over its tasks' mean)."""
        lines = []
        found = self.answers(label, weak_cost)
        if self.several(label):
            return [_in_words(a) for a in found] + self._weak_to_strong(label, weak_cost)
        for a in found:
            r, b = a.regime, a.best
            probs = ", ".join(f"{k} {v:.0%}" for k, v in r.probabilities.items())
            if r.regime == "quantity-dominant":
                what = "buy only weak labels"
            elif r.regime == "quality-dominant":
                what = "buy only HQ labels"
            elif r.regime == "mixed":
                what = f"buy a mix ({b.n_weak} weak + {b.n_hq} HQ labels)"
            else:
                what = f"undetermined: where the peak lies is not yet clear ({probs})"
            buy = f"{b.n_weak} weak + {b.n_hq} HQ labels (${b.cost:.4g})"
            if a.plan.extrapolated:
                buy += f", not run: extrapolated {float(b.distance):.2f} decades from the runs"
            lines.append(
                f"at ${r.budget:g}: {what}; the best buy is {buy}, expected accuracy "
                f"{b.expected_accuracy:.3f} [{b.lo:.3f}, {b.hi:.3f}]"
                + ("" if r.regime == "undetermined" else f" (P = {max(r.probabilities.values()):.2f})")
            )
        lines += self._weak_to_strong(label, weak_cost)
        return lines

    def _weak_to_strong(self, label: str, weak_cost: float) -> list[str]:
        """Whether the strong model beats its weak labels where it learns from them alone (the
        all-weak allocations: weak-to-strong), and the best accuracy reached at all."""
        mine = self.df[self.df["label"] == label]
        if mine.empty:
            return []
        weak = float(mine["weak_accuracy"].mean())
        out = []
        # the runs that bought from the cheapest source alone (the pair: all-weak)
        cheapest = mine["counts"].map(lambda c: c[0])
        alone = mine["counts"].map(lambda c: not any(c[1:]))
        all_weak = mine[alone]
        if len(all_weak):
            by = all_weak.groupby(cheapest[alone])["accuracy"]
            n_weak = int(by.mean().idxmax())
            accs = all_weak[cheapest[alone] == n_weak]["accuracy"]
            se = float(accs.std(ddof=1) / math.sqrt(len(accs))) if len(accs) > 1 else math.nan
            n_test = float(mine["n_test"].mean())
            sd = math.sqrt((se if se == se else 0) ** 2 + weak * (1 - weak) / n_test)
            gain = accs.mean() - weak
            verdict = (
                "beats" if gain > 2 * sd else "does not clearly beat" if gain > -2 * sd else "falls short of"
            )
            name = "weak" if tuple(mine["sources"].iloc[0]) == ("weak", "hq") else mine["sources"].iloc[0][0]
            out.append(
                f"weak-to-strong: trained on {name} labels alone ({n_weak} of them), the strong model "
                f"{verdict} its weak labels: {accs.mean():.3f} against {weak:.3f} (difference "
                f"{gain:+.3f} +- {2 * sd:.3f}, 95%, from the seeds' spread and the test set's sampling)"
            )
        top = mine.groupby("counts")["accuracy"].mean()
        counts, best = top.idxmax(), float(top.max())
        sources = tuple(mine["sources"].iloc[0])
        bought = (
            f"{counts[0]} weak + {counts[1]} HQ labels"
            if sources == ("weak", "hq")
            else " + ".join(f"{n} {s}" for n, s in zip(counts, sources, strict=True)) + " labels"
        )
        out.append(f"the best accuracy measured is {best:.3f}, with {bought}")
        if best - weak < 0.02:
            out.append(
                f"the weak labels ({weak:.3f} accurate) are about as good as anything these budgets "
                "bought: buying HQ labels barely pays here"
            )
        return out


def _in_words(a: BudgetAnswer) -> str:
    """An answer over several sources in words: where the budget goes, which sources add nothing
    (with the probability that the peak buys none of them), and what it buys, e.g. "at $64: 70% of
    the budget on llm, 30% on expert; crowd adds nothing here (P 0.90); ..."."""
    r, b = a.regime, a.best
    spend = ", ".join(f"{v:.0%} of the budget on {k}" for k, v in b.shares.items() if v > 0)
    unused = [k for k, v in b.shares.items() if v == 0]
    without = []
    for k in unused:
        p = sum(v for kind, v in r.probabilities.items() if k not in kind.split("+"))
        without.append(f"{k} adds nothing here (P {p:.2f})")
    state = (
        f"decided: buy from {r.regime.replace('+', ' and ')} (P {r.probabilities[r.regime]:.2f})"
        if r.decided
        else "undetermined ("
        + ", ".join(f"{k.replace('+', ' and ')} {v:.0%}" for k, v in r.probabilities.items() if v >= 0.005)
        + ")"
    )
    buy = f"{b.bought()} (${b.cost:.4g})"
    if a.plan.extrapolated:
        buy += f", not run: extrapolated {float(b.distance):.2f} decades from the runs"
    return (
        f"at ${r.budget:g}: {spend}" + ("; " + "; ".join(without) if without else "") + f"; {state}; "
        f"the best buy is {buy}, expected accuracy {b.expected_accuracy:.3f} [{b.lo:.3f}, {b.hi:.3f}]"
    )
