"""A plan: the variant and allocation to buy at a budget, from the accuracy surface.

`plan(B, c)` is the variant and allocation with the highest expected accuracy among everything
affordable at cost <= B (so a cheaper allocation that is better wins), with its 95% interval,
the probability that it is the best (joint posterior draws of every candidate), a runner-up that
is genuinely different (another kind of allocation or another variant, never the same runs under
another method name), and whether it was run: the candidates are the allocations each variant
ran, exactly as run, that cost at most B, and where B is not a budget it ran at, B's own budget
line at the HQ fractions it ran (there the plan predicts, and an allocation nobody ran is said to
be extrapolated, with how far).

Identical runs are one candidate (`unit`: all-weak uncertainty sampling is all-weak seq_sft, run
for run), drawn once: two names of one run would split its P(best) between them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from labelbudget.analysis.regimes import DRAWS, kind, simplex
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
    """95% interval of the expected accuracy (the surface's posterior)."""
    distance: float
    """Decades of labels to the nearest measured allocation of this variant (0: measured)."""
    config: str = ""
    counts: tuple[int, ...] = ()
    """The count per source (`sources`, in stage order): the paper's pair (n_weak, n_hq)."""
    sources: tuple[str, ...] = ("weak", "hq")
    prices: tuple[float, ...] = ()

    @property
    def hq_fraction(self) -> float:
        return self.n_hq / self.cost if self.cost else 0.0

    @property
    def shares(self) -> dict[str, float]:
        """The budget's split across the sources (of what the allocation costs)."""
        return {
            s: n * p / self.cost if self.cost else 0.0
            for s, n, p in zip(self.sources, self.counts, self.prices, strict=True)
        }

    def bought(self) -> str:
        """What it buys, in words: "320 weak + 32 HQ labels", or a count per source."""
        if self.sources == ("weak", "hq"):
            return f"{self.n_weak} weak + {self.n_hq} HQ labels"
        return " + ".join(f"{n} {s}" for s, n in zip(self.sources, self.counts, strict=True)) + " labels"

    @property
    def measured(self) -> bool:
        return bool(self.distance < 1e-9)


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
    """The recommendation was not run (or the budget lies outside the measured costs): predicted."""
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
            "counts": dict(zip(b.sources, map(int, b.counts), strict=True)),
            "shares": {k: round(v, 4) for k, v in b.shares.items()},
            "cost": round(b.cost, 6),
            "expected_accuracy": round(b.expected_accuracy, 4),
            "lo": round(b.lo, 4),
            "hi": round(b.hi, 4),
            "p_best": round(self.p_best, 4),
            "measured": b.measured,
            "extrapolated": bool(self.extrapolated),
            "distance_decades": round(b.distance, 3),
            "run_flags": run_flags(b),
        }
        if self.runner_up is not None:
            r = self.runner_up
            out["runner_up"] = {
                "variant": r.label,
                "n_weak": r.n_weak,
                "n_hq": r.n_hq,
                "counts": dict(zip(r.sources, map(int, r.counts), strict=True)),
                "expected_accuracy": round(r.expected_accuracy, 4),
                "p_best": round(self.p_runner_up, 4),
            }
        return out


def run_flags(option: Option) -> str:
    """The `labelbudget run` flags that buy exactly the option's allocation at its prices."""
    from labelbudget.allocation import flags
    from labelbudget.config import run_config_from_json

    return flags(run_config_from_json(option.config), option.counts)


def candidates(measured: np.ndarray, points, budget: float, sources) -> np.ndarray:
    """A variant's candidates at `budget`: its measured allocations ((m, k) a count per source)
    that cost at most `budget` at the sources' prices, exactly as they were run; and where none of
    them lies on the budget's own line (costing more than the budget less the cheapest price), that
    line at the points of the simplex (shares) the variant was run at, which the surface predicts
    (a budget between the measured ones)."""
    prices = np.array([s.price for s in sources])
    measured = np.unique(np.asarray(measured, float).reshape(-1, len(sources)), axis=0)
    cost = measured @ prices
    affordable = measured[(cost > 0) & (cost <= budget + 1e-9)]
    on_line = (cost > budget - prices.min() - 1e-9) & (cost <= budget + 1e-9)
    own = np.zeros((0, len(sources))) if on_line.any() else simplex(budget, sources, points)
    return np.unique(np.vstack([affordable, own]), axis=0)


def variant_sources(config_json: str, weak_cost: float) -> tuple[tuple, list[dict]]:
    """A variant's sources with the prices a plan costs them at (the paper's pair at `weak_cost`,
    several sources at their own), and the points of the simplex its runs were made at."""
    import dataclasses

    from labelbudget.allocation import shares_of, sources_of
    from labelbudget.config import run_config_from_json

    config = run_config_from_json(config_json)
    if not config.sources:
        config = dataclasses.replace(config, weak_cost=weak_cost)
    return sources_of(config), [shares_of(config)]


def plan(
    surfaces: dict[str, Surface],
    measured: pd.DataFrame,
    budget: float,
    weak_cost: float,
    feasible: Callable[[str, float, float, float], str | None] | None = None,
    extrapolate: bool = False,
    unit: Callable[[str, int, int], str] | None = None,
    seed: int = 0,
) -> Plan:
    """The variant and allocation with the highest expected accuracy among everything affordable
    at cost <= `budget` (`surfaces`: one per variant label; `measured`: that variant's measured
    allocations with columns label, counts, config). The paper's pair is costed at `weak_cost`,
    a variant of several sources at its own prices. `feasible(config_json, counts)` says why a
    candidate cannot be run (None: it can); `unit(label, counts)` names the run a candidate is (two
    candidates with one unit are one run under two names: one candidate)."""
    if budget <= 0 or not math.isfinite(budget):
        raise UserError(f"--budget must be a positive number of $, got {budget:g}", "pass e.g. --budget 100")
    if not 0 < weak_cost <= 1:
        raise UserError(f"--weak-cost must be in (0, 1], got {weak_cost:g}", "pass e.g. --weak-cost 0.1")
    if measured.empty or not surfaces:
        raise UserError("no stored runs to plan from", "run `labelbudget sweep` or `labelbudget demo` first")
    prices = {c: [s.price for s in variant_sources(c, weak_cost)[0]] for c in measured["config"].unique()}
    costs = np.array(
        [np.dot(n, prices[c]) for n, c in zip(measured["counts"], measured["config"], strict=True)]
    )
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
    units: dict[str, int] = {}
    rng = np.random.default_rng(seed)
    for label, surface in surfaces.items():
        mine = measured[measured["label"] == label]
        if mine.empty:
            continue
        sources, _ = variant_sources(mine["config"].iloc[0], weak_cost)
        points = [p for c in mine["config"].unique() for p in variant_sources(c, weak_cost)[1]]
        if surface.sources == ("weak", "hq") and "run_fraction" in mine:
            points = [{"weak": 1 - f, "hq": f} for f in sorted(set(mine["run_fraction"]))]
        allocs = candidates(np.array(mine["counts"].tolist()), points, budget, sources)
        if unit is not None:  # a run already a candidate under another name is that candidate
            allocs = np.array([a for a in allocs if unit(label, a) not in units]).reshape(-1, len(sources))
        if not len(allocs):
            continue
        mean, lo, hi = surface.interval(allocs)
        distance = surface.distance(allocs)
        config = mine["config"].iloc[0]
        prices = tuple(s.price for s in sources)
        for a, m, low, z, d in zip(allocs, mean, lo, hi, distance, strict=True):
            if unit is not None:
                units[unit(label, a)] = len(rows)
            counts = tuple(int(c) for c in a)
            cost = float(np.dot(a, prices))
            rows.append(
                Option(
                    label,
                    sum(counts[:-1]),
                    counts[-1],
                    cost,
                    float(m),
                    float(low),
                    float(z),
                    float(d),
                    config,
                    counts,
                    tuple(surface.sources),
                    prices,
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
        why = feasible(o.config, o.counts) if feasible else None
        (refused if why else ok).append((i, why))
        if len(ok) > 1 and not why and _different(rows[ok[0][0]], o):
            break
    if not ok:
        reasons = "; ".join(f"{rows[i].label} at {rows[i].bought()}: {w}" for i, w in refused[:3])
        raise UserError(
            f"no measured allocation can be run at ${budget:g} with weak cost ${weak_cost:g} ({reasons})",
            "plan for a budget inside the measured range, or sweep this budget first",
        )
    winners = draws.argmax(1)
    best_i = ok[0][0]
    best = rows[best_i]
    runner_i = next((i for i, _ in ok[1:] if _different(best, rows[i])), None)
    extrapolated = bool(outside or not best.measured)
    note = (
        "measured"
        if best.measured
        else f"not run: extrapolated {best.distance:.2f} decades of labels from the nearest run"
    )
    if outside:
        note += "; EXTRAPOLATED beyond the measured costs: the interval widens with the distance"
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


def _different(a: Option, b: Option) -> bool:
    """A runner-up worth naming: another kind of allocation or another variant (the same runs
    under another name are never two candidates: `plan`'s `unit`)."""
    return a.label != b.label or kind(a.counts, sources=a.sources) != kind(b.counts, sources=b.sources)
