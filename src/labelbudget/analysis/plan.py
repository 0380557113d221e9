"""A plan: the variant and allocation to buy at a budget, from the accuracy surface.

`plan(B, c)` is the variant and allocation with the highest expected accuracy among everything
affordable at cost <= B (so a cheaper allocation that is better wins), with its 95% interval,
the probability that it is the best (joint posterior draws of every candidate), a runner-up that
is genuinely different (another kind of allocation or another variant, never the same runs under
another method name), and how far it extrapolates from what was measured (its interval widens
with the distance, as the posterior's does).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from labelbudget.analysis.regimes import DRAWS, PAPER_SHARES, kind, line
from labelbudget.analysis.surface import Surface
from labelbudget.util.errors import UserError


@dataclass(frozen=True)
class Option:
    """One candidate of `plan`: a variant at an allocation."""

    label: str
    n_weak: int
    n_hq: int
    cost: float
    expected_accuracy: float
    lo: float
    hi: float
    """95% interval: the surface's posterior plus the test set's sampling error."""
    distance: float
    """Decades of labels to the nearest measured allocation of this variant (0: measured)."""
    config: str = ""

    @property
    def hq_fraction(self) -> float:
        return self.n_hq / self.cost if self.cost else 0.0


EXTRAPOLATED = 0.3
"""Farther than this from every measured allocation (a factor of 2 in labels), a plan says it
extrapolates."""


@dataclass(frozen=True)
class Plan:
    budget: float
    weak_cost: float
    best: Option
    p_best: float
    """Probability that `best` is the best of all candidates (joint posterior draws)."""
    runner_up: Option | None
    p_runner_up: float
    extrapolated: bool
    note: str
    candidates: int

    @property
    def method(self) -> str:
        return self.best.label

    def to_json(self) -> dict:
        b = self.best
        out = {
            "variant": b.label,
            "budget": self.budget,
            "weak_cost": self.weak_cost,
            "n_weak": int(b.n_weak),
            "n_hq": int(b.n_hq),
            "cost": round(b.cost, 6),
            "expected_accuracy": round(b.expected_accuracy, 4),
            "lo": round(b.lo, 4),
            "hi": round(b.hi, 4),
            "p_best": round(self.p_best, 4),
            "extrapolated": bool(self.extrapolated),
            "distance_decades": round(b.distance, 3),
            "run_flags": run_flags(b.n_weak, b.n_hq, self.weak_cost),
        }
        if self.runner_up is not None:
            r = self.runner_up
            out["runner_up"] = {
                "variant": r.label,
                "n_weak": r.n_weak,
                "n_hq": r.n_hq,
                "expected_accuracy": round(r.expected_accuracy, 4),
                "p_best": round(self.p_runner_up, 4),
            }
        return out


def run_flags(n_weak: int, n_hq: int, weak_cost: float) -> str:
    """The `labelbudget run` flags that buy exactly (n_weak, n_hq) at this weak price."""
    cost = round(n_weak * weak_cost + n_hq, 9)
    return f"--budget {cost:.12g} --weak-cost {weak_cost:.12g} --hq-fraction {n_hq / cost!r}"


def plan(
    surfaces: dict[str, Surface],
    measured: pd.DataFrame,
    budget: float,
    weak_cost: float,
    feasible: Callable[[str, float, float, float], str | None] | None = None,
    extrapolate: bool = False,
    same_runs: Callable[[str, str, int, int], bool] | None = None,
    seed: int = 0,
) -> Plan:
    """The variant and allocation with the highest expected accuracy among everything affordable
    at cost <= `budget` (`surfaces`: one per variant label; `measured`: that variant's measured
    allocations with columns label, n_weak, n_hq, config). `feasible(config_json, budget,
    weak_cost, hq_fraction)` says why a candidate cannot be run (None: it can); `same_runs(a, b,
    n_weak, n_hq)` whether two variants' runs at an allocation are identical (then they are one
    candidate)."""
    if budget <= 0 or not math.isfinite(budget):
        raise UserError(f"--budget must be a positive number of $, got {budget:g}", "pass e.g. --budget 100")
    if not 0 < weak_cost <= 1:
        raise UserError(f"--weak-cost must be in (0, 1], got {weak_cost:g}", "pass e.g. --weak-cost 0.1")
    if measured.empty or not surfaces:
        raise UserError("no stored runs to plan from", "run `labelbudget sweep` or `labelbudget demo` first")
    costs = measured["n_weak"] * weak_cost + measured["n_hq"]
    lo_b, hi_b = float(costs[costs > 0].min()), float(costs.max())
    outside = budget > hi_b * 1.05 or budget < lo_b * 0.95
    if outside and not extrapolate:
        raise UserError(
            f"${budget:g} lies outside the measured costs at weak cost ${weak_cost:g} "
            f"(${lo_b:.3g}-${hi_b:.3g}), so any recommendation would be an extrapolation",
            "plan for a budget inside that range, sweep budgets around this one, or pass "
            "--extrapolate (the answer then says how far it extrapolates)",
        )
    rows: list[Option] = []
    draws = []
    rng = np.random.default_rng(seed)
    for label, surface in surfaces.items():
        mine = measured[measured["label"] == label]
        c = mine["n_weak"] * weak_cost + mine["n_hq"]
        budgets = sorted({budget, *(float(b) for b in c if 0 < b <= budget + 1e-9)})
        # the HQ shares this variant was measured at (never a share nobody ran), at this budget
        # and at every cheaper measured cost
        shares = {*np.round(mine["n_hq"] / c.where(c > 0, 1), 2)} or set(PAPER_SHARES)
        allocs = np.unique(np.vstack([line(b, weak_cost, shares) for b in budgets]), axis=0)
        if not len(allocs):
            continue
        mean, lo, hi = surface.interval(allocs)
        distance = surface.distance(allocs)
        config = mine["config"].iloc[0]
        for (w, h), m, a, z, d in zip(allocs, mean, lo, hi, distance, strict=True):
            rows.append(
                Option(
                    label,
                    int(w),
                    int(h),
                    float(w * weak_cost + h),
                    float(m),
                    float(a),
                    float(z),
                    float(d),
                    config,
                )
            )
        draws.append(surface.samples(allocs, DRAWS, rng))
    if not rows:
        raise UserError(f"no allocation fits ${budget:g} at weak cost ${weak_cost:g}", "raise --budget")
    draws = np.hstack(draws)
    order = sorted(range(len(rows)), key=lambda i: (-rows[i].expected_accuracy, rows[i].cost))
    refused = []
    ok = []
    for i in order:
        o = rows[i]
        why = feasible(o.config, o.cost, weak_cost, o.hq_fraction) if feasible else None
        (refused if why else ok).append((i, why))
        if len(ok) >= 1 and not why and len(ok) > 1 and _different(rows[ok[0][0]], o, same_runs):
            break
    if not ok:
        reasons = "; ".join(
            f"{rows[i].label} at {rows[i].n_weak} weak + {rows[i].n_hq} HQ: {w}" for i, w in refused[:3]
        )
        raise UserError(
            f"no measured allocation can be run at ${budget:g} with weak cost ${weak_cost:g} ({reasons})",
            "plan for a budget inside the measured range, or sweep this budget first",
        )
    winners = draws.argmax(1)
    best_i = ok[0][0]
    best = rows[best_i]
    runner_i = next((i for i, _ in ok[1:] if _different(best, rows[i], same_runs)), None)
    extrapolated = bool(outside or best.distance > EXTRAPOLATED)
    note = (
        "measured"
        if best.distance < 1e-9
        else f"{best.distance:.2f} decades of labels from the nearest measured allocation"
    )
    if extrapolated:
        note += " - EXTRAPOLATED beyond what was measured; the interval widens with the distance"
    if refused:
        note += f"; {len(refused)} better-looking candidate(s) left out because they cannot be run"
    return Plan(
        budget,
        weak_cost,
        best,
        float(np.mean(winners == best_i)),
        None if runner_i is None else rows[runner_i],
        0.0 if runner_i is None else float(np.mean(winners == runner_i)),
        extrapolated,
        note,
        len(rows),
    )


def _different(a: Option, b: Option, same_runs) -> bool:
    """A runner-up worth naming: another kind of allocation or another variant, and not the same
    runs under another method name."""
    if a.label == b.label and kind(a.n_weak, a.n_hq) == kind(b.n_weak, b.n_hq):
        return False
    if (a.n_weak, a.n_hq) == (b.n_weak, b.n_hq) and same_runs is not None:
        return not same_runs(a.label, b.label, a.n_weak, a.n_hq)
    return True
