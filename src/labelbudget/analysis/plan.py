"""A plan: the variant and allocation to buy at a budget, from stored runs."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from labelbudget.analysis.points import EPS, POINT, recost
from labelbudget.labels.budget import allocate
from labelbudget.util.errors import UserError


@dataclass(frozen=True)
class Option:
    """One candidate answer of `plan`: a variant at a share of the budget spent on HQ labels."""

    label: str
    hq_fraction: float
    n_weak: int
    n_hq: int
    expected_accuracy: float
    uncertainty: float
    """Standard error: the seeds' spread (interpolated) combined with the interpolation's own
    error (half the accuracy change between the two budgets it lies between, at most); NaN where
    one seed leaves the spread unknown."""
    basis: str
    config: str = field(repr=False, default="")


@dataclass(frozen=True)
class Plan:
    budget: float
    weak_cost: float
    best: Option
    runner_up: Option | None
    tie: bool
    """The runner-up is within 2 standard errors of the best: either is a sound choice."""
    extrapolated: bool
    basis: pd.DataFrame
    """The measurements the recommendation rests on."""
    note: str

    @property
    def method(self) -> str:
        return self.best.label


def plan(
    pts: pd.DataFrame,
    budget: float,
    weak_cost: float,
    feasible: Callable[[str, float, float, float], str | None] | None = None,
    extrapolate: bool = False,
    z: float = 2.0,
) -> Plan:
    """The variant and HQ share of the budget with the highest expected accuracy at `budget`.

    Per (variant, HQ share) measured at `weak_cost` (re-costed), the accuracy is interpolated
    linearly in log(budget) between the nearest measured budgets around `budget`. Outside the
    measured budgets it refuses unless `extrapolate`, and then says it is extrapolating (the
    nearest budget's accuracy is used). `feasible(config_json, budget, weak_cost, hq_fraction)`
    returns why a candidate cannot be run (the method refuses it, the pool cannot supply it), or
    None; such candidates are never recommended.
    """
    if budget <= 0 or not math.isfinite(budget):
        raise UserError(f"--budget must be a positive number of $, got {budget:g}", "pass e.g. --budget 100")
    if not 0 < weak_cost <= 1:
        raise UserError(f"--weak-cost must be in (0, 1], got {weak_cost:g}", "pass e.g. --weak-cost 0.1")
    if pts.empty:
        raise UserError("no stored runs to plan from", "run `labelbudget sweep` or `labelbudget demo` first")
    sub = recost(pts.drop_duplicates(POINT), [weak_cost])
    # The HQ share of the budget: the run's own fraction at the price it was run at, else the
    # share the re-costed allocation spends (rounded, so that budgets line up).
    designed = sub[sub["cost"] > 0].assign(
        share=lambda d: np.where(
            np.isclose(d["run_cost"], weak_cost), d["run_fraction"], (d["n_hq"] / d["cost"]).round(2)
        )
    )
    lo_b, hi_b = designed["cost"].min(), designed["cost"].max()
    extrapolated = budget > hi_b * (1 + 0.05) or budget < lo_b * (1 - 0.05)
    if extrapolated and not extrapolate:
        raise UserError(
            f"${budget:g} lies outside the measured costs at weak cost ${weak_cost:g} "
            f"(${lo_b:.3g}-${hi_b:.3g}), so any recommendation would be an extrapolation",
            "plan for a budget inside that range, sweep budgets around this one, or pass "
            "--extrapolate to use the nearest measured budget (flagged as such)",
        )
    options, refused = [], []
    for (label, share), g in designed.groupby(["label", "share"]):
        g = g.sort_values("cost")
        c = g["cost"].to_numpy(dtype=float)
        below, above = g[c <= budget * (1 + EPS)], g[c >= budget * (1 - EPS)]
        if below.empty or above.empty:
            if not extrapolate:
                continue
            lo = hi = (above if below.empty else below).iloc[0 if below.empty else -1]
            t, note = 0.0, f"extrapolated from ${lo['cost']:.4g} (nearest measured)"
        else:
            lo, hi = below.iloc[-1], above.iloc[0]
            span = math.log(hi["cost"]) - math.log(lo["cost"])
            t = 0.0 if span <= 0 else (math.log(budget) - math.log(lo["cost"])) / span
            note = (
                f"measured at ${lo['cost']:.4g}"
                if span <= 0 or t in (0.0, 1.0)
                else f"interpolated between ${lo['cost']:.4g} and ${hi['cost']:.4g} (linear in log budget)"
            )
        acc = (1 - t) * lo["accuracy"] + t * hi["accuracy"]
        seeds = math.sqrt(((1 - t) * lo["sem"]) ** 2 + (t * hi["sem"]) ** 2)
        interp = min(t, 1 - t) * abs(hi["accuracy"] - lo["accuracy"])
        alloc = allocate(budget, weak_cost, float(share))
        option = Option(
            label,
            float(share),
            alloc.n_weak,
            alloc.n_hq,
            float(acc),
            math.hypot(seeds, interp),
            note,
            lo["config"],
        )
        why = feasible(lo["config"], budget, weak_cost, float(share)) if feasible else None
        (refused if why else options).append((option, why))
    if not options:
        reasons = "; ".join(f"{o.label} at HQ share {o.hq_fraction:g}: {why}" for o, why in refused[:3])
        raise UserError(
            f"no measured allocation can be run at ${budget:g} with weak cost ${weak_cost:g}"
            + (f" ({reasons})" if reasons else ""),
            "plan for a budget inside the measured range, or sweep this budget first",
        )
    ranked = sorted((o for o, _ in options), key=lambda o: -o.expected_accuracy)
    best = ranked[0]
    runner = next((o for o in ranked[1:] if (o.label, o.hq_fraction) != (best.label, best.hq_fraction)), None)
    tie = False
    if runner is not None:
        se = math.hypot(best.uncertainty, runner.uncertainty)
        tie = math.isnan(se) or best.expected_accuracy - runner.expected_accuracy <= z * se
    basis = designed[(designed["label"] == best.label) & (designed["share"] == best.hq_fraction)]
    note = best.basis + (" - EXTRAPOLATED beyond the measured budgets" if extrapolated else "")
    if refused:
        note += f"; {len(refused)} candidate(s) left out because they cannot be run at this budget"
    return Plan(
        budget,
        weak_cost,
        best,
        runner,
        tie,
        extrapolated,
        basis[["label", "n_weak", "n_hq", "cost", "accuracy", "sem", "n_seeds", "n_tasks"]],
        note,
    )
