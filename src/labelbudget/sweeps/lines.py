"""The state of one budget line in an adaptive sweep (`sweeps.adaptive`): its decision, its plan,
and the rules by which it stops taking runs; with the constants those rules use."""

from __future__ import annotations

from dataclasses import dataclass

from labelbudget.analysis.regimes import DECIDE

STOP = 0.99
"""A line's regime is settled only at this probability, above the report's 0.95: stopping at 0.95
left a quarter of the decisions just above it, wrong more often than the report promises
(optional stopping). Measured against known truths: `benchmarks/bench_truth.py`."""

BATCH = 8
"""Runs added per round (the authors' batch of 8 allocations)."""

INITIAL_SEEDS = 2
"""Seeds per allocation of the initial design: with one, the GP cannot tell the seeds' spread
from the surface's shape and decides too early (on the demo grid: a wrong regime)."""

PLAN_LOSS = 0.005
"""A decided line still takes runs until its best allocation is expected to lose at most this
(half a point of accuracy) against the true peak: the plan decided, not only the regime."""

PLAN_SEEDS = 5
"""The allocation a line would buy takes this many seeds (or all the grid has) before it settles:
a plan is most often wrong about an allocation whose 2-3 seeds were lucky (`benchmarks/ADAPTIVE.md`)."""

PER_LINE = 2
"""At most this many runs of a batch on one budget line."""

CONTENDER = 0.2
"""An undecided line is not given up (`UNDECIDABLE`) while an allocation that is its peak with at
least this probability has fewer than `PLAN_SEEDS` seeds: on SST-2 a line gave up all-HQ at 2 seeds
(0.687 in the full grid) and bought a mix at 0.648. Replays: `benchmarks/ADAPTIVE.md`."""

UNDECIDABLE = 0.2
"""An undecided line stops taking runs once the probability that even every run of the grid left
on it would decide it falls below this (`decidable`): a tie no number of seeds resolves (other
lines' runs barely move it); until then its runs are weighted by that probability (`_line`)."""

TIE_LOSS = 0.01
"""Nor while its best allocation is expected to lose more than this against the true peak (a tie
whose plan is still a coin toss); until then its runs are valued as a decided line's, not
weighted by that probability. Replays: `benchmarks/ADAPTIVE.md`."""


LineKey = tuple[str, str, float, float]
"""(variant id, task, budget, weak cost)."""


@dataclass(frozen=True)
class LineState:
    """One budget line's decision now."""

    key: LineKey
    label: str
    regime: str
    """The decided regime, or "undetermined"."""
    p_top: float
    """The probability of the most probable regime (`leading`)."""
    n_weak: int
    n_hq: int
    """The allocation with the highest expected accuracy on the line."""
    runs: int
    expected_loss: float = 0.0
    """E[max_j f_j - f_best]: the accuracy the line's best allocation is expected to lose
    against the true peak (the cost of stopping here)."""
    thin: int = 0
    """Allocations to run before the line can settle: the best one short of `PLAN_SEEDS`, its
    neighbours short of the initial seeds, a measured one whose mean beats the best's, or (on an
    undecided line) a `CONTENDER` short of `PLAN_SEEDS`."""
    decidable: float = 1.0
    """For an undecided line, the probability that running every run of the grid still left
    would decide it (`decidable`)."""
    leading: str = ""
    """The most probable regime (the decided one where decided)."""
    counts: tuple[int, ...] = ()
    """The best allocation's count per source (`sources`; the pair: n_weak, n_hq)."""
    sources: tuple[str, ...] = ("weak", "hq")

    @property
    def decided(self) -> bool:
        return self.regime != "undetermined"

    @property
    def settled(self) -> bool:
        """No longer worth runs: the regime decided and the plan too (its best allocation is
        expected to lose at most `PLAN_LOSS` against the true peak), or undecidable (a tie) with
        its plan within `TIE_LOSS`; never a line the report would call decided short of `STOP`
        (a tie given up there is a decision taken at the first crossing of 0.95)."""
        loss = PLAN_LOSS if self.decided else TIE_LOSS
        tie = self.decidable < UNDECIDABLE and self.p_top < DECIDE
        return not self.thin and self.expected_loss <= loss and (self.decided or tie)

    @property
    def bought(self) -> str:
        if self.sources == ("weak", "hq") or not self.counts:
            return f"{self.n_weak} weak + {self.n_hq} HQ"
        return " + ".join(f"{n} {s}" for s, n in zip(self.sources, self.counts, strict=True))

    def describe(self) -> str:
        buy = f"buy {self.bought} (expected loss {self.expected_loss:.4f})"
        leading = f"{self.leading} P {self.p_top:.2f}"
        state = (
            "no runs stored yet"
            if self.label == "?"
            else f"one kind of allocation in the grid (no regime to decide), buy {self.bought}"
            if self.regime == "one kind"
            else f"{self.regime}, {buy}"
            if self.decided
            else f"undetermined ({leading}), a tie the grid is unlikely to decide (the model gives "
            f"every run left P {self.decidable:.2f} of deciding it, an underestimate: README): {buy}"
            if self.settled
            else f"undecided ({leading}), best so far: {buy}"
        )
        return f"{self.label} {self.key[1]} ${self.key[2]:g}: {state}"


def settled(states: dict[LineKey, LineState]) -> str:
    """How many budget lines are settled: decided, or a tie the grid is unlikely to decide."""
    done = [s for s in states.values() if s.settled]
    ties = sum(not s.decided for s in done)
    tie = f" ({len(done) - ties} decided, {ties} a tie the grid is unlikely to decide)" if ties else ""
    return f"{len(done)} of {len(states)} budget lines settled{tie}"


def summary(states: dict[LineKey, LineState], results) -> str:
    open_ = [s for s in states.values() if not s.settled]
    return (
        f"adaptive sweep: {settled(states)}"
        + (f"; {len(open_)} still open (raise --max-runs to decide them)" if open_ else "")
        + f"; results in {results} (`labelbudget report` reads them)"
    )
