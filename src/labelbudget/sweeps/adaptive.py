"""The adaptive sweep: a grid's decisions from a fraction of its runs.

    labelbudget sweep --preset demo --adaptive --max-runs 150

The grid is the set of runs it may choose from. It starts from a small design (per variant, task
and budget line: all weak, all HQ and the middle mix, `initial_seeds` seeds each), then adds runs
in batches (so that Ray runs a batch in parallel) where they most reduce the uncertainty of the
decision at each undecided budget line, until every line's regime is decided (one regime's
probability at least `STOP`) or `max_runs` are stored. A run under two names
(`runs.identity.same_run`) is one run, valued on both lines.

As the authors' `bayes_sweep.py` (EleutherAI/scalable-elicitation: a GP over the log label counts,
batches of 8 allocations where its predictive SD is highest), but a run's value is its posterior SD
times the probability that its allocation is the peak of its line (`analysis.regimes`): runs go
where the answer is in doubt, not where the surface is merely unknown. Its runs are ordinary
records: a sweep or report reads them, and rerunning the adaptive sweep resumes from them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from labelbudget.analysis.points import _variant
from labelbudget.analysis.regimes import DECIDE, DRAWS, _peaks, decidable, kind, regime
from labelbudget.config import RunConfig, run_config_from_dict
from labelbudget.labels.budget import allocation_of
from labelbudget.runs.identity import record_identity, run_identity, same_run
from labelbudget.runs.record import Record
from labelbudget.util.errors import UserError
from labelbudget.util.hashing import stable_hash

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


def variant_of(config: RunConfig) -> str:
    """The variant id `analysis.points.frame` gives a run of this config."""
    return stable_hash(_variant(config), 12)


LineKey = tuple[str, str, float, float]
"""(variant id, task, budget, weak cost)."""


def line_of(config: RunConfig) -> LineKey:
    return variant_of(config), config.task.task, float(config.budget), float(config.weak_cost)


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

    def describe(self) -> str:
        buy = f"buy {self.n_weak} weak + {self.n_hq} HQ (expected loss {self.expected_loss:.4f})"
        leading = f"{self.leading} P {self.p_top:.2f}"
        state = (
            "no runs stored yet"
            if self.label == "?"
            else f"one kind of allocation in the grid (no regime to decide), buy {self.n_weak} weak + "
            f"{self.n_hq} HQ"
            if self.regime == "one kind"
            else f"{self.regime}, {buy}"
            if self.decided
            else f"undetermined ({leading}), a tie the grid is unlikely to decide (the model gives "
            f"every run left P {self.decidable:.2f} of deciding it, an underestimate: README): {buy}"
            if self.settled
            else f"undecided ({leading}), best so far: {buy}"
        )
        return f"{self.label} {self.key[1]} ${self.key[2]:g}: {state}"


@dataclass
class Adaptive:
    """The state of an adaptive sweep over `candidates` (the grid it may run)."""

    candidates: list[RunConfig]
    decide: float = DECIDE
    stop: float = STOP  # a line's regime is settled at this (the report decides at `decide`)
    initial_seeds: int = INITIAL_SEEDS
    batch: int = BATCH
    seed: int = 0

    def __post_init__(self) -> None:
        if self.initial_seeds < 1 or self.batch < 1:
            raise UserError("the adaptive sweep needs initial_seeds >= 1 and batch >= 1", "raise them")
        self.keys = {run_identity(c): c for c in self.candidates}
        self.identity = {id(c): k for k, c in self.keys.items()}  # once: `inputs` reads files
        self.lines: dict[LineKey, list[RunConfig]] = defaultdict(list)
        for c in self.keys.values():
            self.lines[line_of(c)].append(c)
        # a run under several names is one unit: run once, counted once, valued on all its lines
        self.unit = {k: run_identity(same_run(c) or c) for k, c in self.keys.items()}
        self.members: dict[str, list[RunConfig]] = defaultdict(list)
        for k, c in self.keys.items():
            self.members[self.unit[k]].append(c)

    def with_twins(self, configs: Iterable[RunConfig]) -> list[RunConfig]:
        """These configs and every other name of their runs, each once."""
        units = dict.fromkeys(self.unit[self.identity[id(c)]] for c in configs)
        return [m for u in units for m in self.members[u]]

    def runs(self, records: Iterable[Record]) -> int:
        """How many of the grid's runs these records hold (a run under two names counts once)."""
        return len({self.unit[k] for r in records if (k := record_identity(r)) in self.unit})

    def initial(self) -> list[RunConfig]:
        """Per line: both ends and the mix nearest half the budget, at the lowest seeds."""
        design = []
        for configs in self.lines.values():
            allocs = sorted({_alloc(c) for c in configs}, key=lambda a: a[1])
            mixes = [a for a in allocs if kind(*a) == "mixed"]
            picked = {a for a in allocs if kind(*a) != "mixed"}
            if mixes:
                fraction = {_alloc(c): c.hq_fraction for c in configs}
                picked.add(min(mixes, key=lambda a: abs(fraction[a] - 0.5)))
            for a in picked:
                design += _lowest_seeds([c for c in configs if _alloc(c) == a], self.initial_seeds)
        return self.with_twins(design)

    def mine(self, records: Iterable[Record]) -> list[Record]:  # the stored records of its candidates
        return [r for r in records if record_identity(r) in self.keys]

    def states(self, records: list[Record]) -> dict[LineKey, LineState]:
        """Every line's decision from these records (and, kept for `next_batch`, the value of a
        run at each of its allocations)."""
        from labelbudget.analysis.answers import Analysis

        analysis = Analysis(records, self.decide)
        label_of = dict(zip(analysis.df["variant"], analysis.df["label"], strict=True))
        # a task's name as records give it (a file's stem) from the config's (its path)
        task_of = {run_config_from_dict(r.config).task.task: r.task for r in records}
        accuracy = {record_identity(r): r.accuracy for r in records}
        self._value: dict[LineKey, list[tuple[float, RunConfig]]] = {}
        out = {}
        for key, configs in self.lines.items():
            surface = analysis.surfaces.get((label_of.get(key[0]), task_of.get(key[1])))
            measured = defaultdict(list)  # per allocation, its stored runs' accuracies
            for c in configs:
                if (k := self.identity[id(c)]) in accuracy:
                    measured[_alloc(c)].append(accuracy[k])
            free = [c for c in configs if self.identity[id(c)] not in accuracy]
            out[key], self._value[key] = self._line(key, surface, measured, free, len(configs) - len(free))
        return out

    def _line(self, key: LineKey, surface, measured, free: list[RunConfig], runs: int):
        """A line's state, and the value of a run at each allocation with runs left (`free`)."""
        if surface is None:
            return LineState(key, "?", "undetermined", 0.0, 0, 0, runs), [
                (1.0, c) for c in _lowest_seeds(free, self.initial_seeds)
            ]
        allocs = sorted({_alloc(c) for c in self.lines[key]}, key=lambda a: (a[1], a[0]))
        found = regime(surface, key[2], key[3], np.array(allocs, float), self.stop, self.seed)
        if found is None:  # one kind of allocation only: no regime to decide, the plan its best
            mean, _ = surface.posterior(np.array(allocs, float))
            return LineState(key, surface.label, "one kind", 1.0, *allocs[int(np.argmax(mean))], runs), []
        kinds = [kind(*a) for a in allocs]
        draws = surface.samples(np.array(allocs, float), DRAWS, np.random.default_rng(self.seed))
        best = int(np.argmax(draws.mean(0)))
        loss = float(np.mean(draws.max(1) - draws[:, best]))
        peak = np.bincount(_peaks(draws, kinds), minlength=len(allocs)) / len(draws)
        # not settled while the best allocation is thin (`LineState.thin`) or a measured mean
        # beats it (the GP, smooth over a quarter of a decade, can be sure of a peak between
        # two allocations that its own runs do not show): more seeds of both
        thin = {i for i in (best - 1, best, best + 1) if 0 <= i < len(allocs)}
        thin = {i for i in thin if len(measured[allocs[i]]) < self.initial_seeds}
        if len(measured[allocs[best]]) < PLAN_SEEDS:
            thin.add(best)
        means = {a: np.mean(v) for a, v in measured.items() if v}
        if means and (top := max(means, key=means.get)) != allocs[best]:
            thin |= {best, allocs.index(top)}
        chance = 1.0
        if not found.decided:  # a contender short of seeds: not a tie yet
            thin |= {
                i for i, a in enumerate(allocs) if peak[i] >= CONTENDER and len(measured[a]) < PLAN_SEEDS
            }
            rng, extra = np.random.default_rng(self.seed), np.array([_alloc(c) for c in free])
            chance = decidable(surface, np.array(allocs, float), extra, self.stop, rng)
        # a run's value: its allocation's posterior SD times the chance that it is the peak (a thin
        # allocation's runs first, on any line). An undecided line whose plan is within TIE_LOSS
        # is open only to decide its regime: its runs are worth that value times the chance that
        # the line's remaining runs decide it; until then they settle its plan, as on a decided line
        value = peak * draws.std(0) * (chance if loss <= TIE_LOSS else 1.0)
        values = []
        for i, a in enumerate(allocs):
            if left := [c for c in free if _alloc(c) == a]:
                values.append((float(value[i]) + (i in thin), _lowest_seeds(left, 1)[0]))
        thin = {i for i in thin if any(_alloc(c) == allocs[i] for c in free)}
        lead = max(found.probabilities, key=found.probabilities.get)
        p_top = found.probabilities[lead]
        state = LineState(
            key, surface.label, found.regime, p_top, *allocs[best], runs, loss, len(thin), chance, lead
        )
        return state, values

    def next_batch(self, records: list[Record]) -> tuple[list[RunConfig], dict[LineKey, LineState]]:
        """The runs to add now (empty when every line is settled or nothing is left to run)."""
        states = self.states(records)
        value: dict[str, float] = defaultdict(float)  # a run's value: summed over its names' lines
        for key, state in states.items():
            if not state.settled:
                for v, c in self._value.get(key, []):
                    value[self.unit[self.identity[id(c)]]] += v
        batch, per_line = [], defaultdict(int)
        for unit in sorted(value, key=lambda u: -value[u]):
            # at most PER_LINE runs of a batch on one line: spread the batch
            lines = {line_of(c) for c in self.members[unit]}
            if len(batch) < self.batch and all(per_line[k] < PER_LINE for k in lines):
                batch.append(unit)
                for k in lines:
                    per_line[k] += 1
        return [m for u in batch for m in self.members[u]], states


def run_adaptive(
    adaptive: Adaptive,
    execute: Callable[[list[RunConfig]], None],
    stored: Callable[[], list[Record]],
    max_runs: int,
    report: Callable[[int, dict[LineKey, LineState], int], None] = lambda r, s, n: None,
) -> dict[LineKey, LineState]:
    """Run the initial design, then batches until every line is decided or `max_runs` of the
    candidates are stored (already stored runs count). `execute(configs)` runs and stores configs;
    `stored()` reads every stored record; `report(round, states, runs stored)` hears each round."""
    records = adaptive.mine(stored())
    done = {record_identity(r) for r in records}
    first = [c for c in adaptive.initial() if run_identity(c) not in done]
    execute(_first_runs(adaptive, first, max_runs - adaptive.runs(records)))
    round_ = 0
    while True:
        records = adaptive.mine(stored())
        batch, states = adaptive.next_batch(records)
        held = adaptive.runs(records)
        report(round_, states, held)
        room = max_runs - held
        if not batch or room <= 0:
            return states
        execute(_first_runs(adaptive, batch, room))
        round_ += 1


def _first_runs(adaptive: Adaptive, configs: list[RunConfig], room: int) -> list[RunConfig]:
    """The configs of the first `room` runs among these (every name of a run kept together)."""
    units = list(dict.fromkeys(adaptive.unit[adaptive.identity[id(c)]] for c in configs))[: max(0, room)]
    keep = set(units)
    return [c for c in configs if adaptive.unit[adaptive.identity[id(c)]] in keep]


def _alloc(c: RunConfig) -> tuple[int, int]:
    a = allocation_of(c)
    return a.n_weak, a.n_hq


def _lowest_seeds(configs: list[RunConfig], n: int) -> list[RunConfig]:
    return sorted(configs, key=lambda c: c.seed)[:n]


def adaptive_sweep(
    configs: list[RunConfig],
    results,
    max_runs: int,
    batch: int = BATCH,
    initial_seeds: int = INITIAL_SEEDS,
    decide: float = DECIDE,
    say: Callable[[str], None] = print,
    **sweep_options,
) -> dict[LineKey, LineState]:
    """`run_adaptive` over a grid's configs, each batch run by `sweeps.sweep.run_sweep` (any
    executor) into the store at `results`. Allocations the pool cannot supply are left out of the
    candidates (counted in what it says)."""
    from labelbudget.runs.run import check
    from labelbudget.runs.store import Store
    from labelbudget.sweeps.sweep import refuse_invalid, run_sweep
    from labelbudget.util.errors import PoolTooSmall

    if max_runs < 1:
        raise UserError(f"--max-runs must be at least 1, got {max_runs}", "pass --max-runs 100 (say)")
    configs = [c for c in configs if c.method != "icl"]  # no allocation surface: nothing to decide
    if not configs:
        raise UserError("an adaptive sweep needs a grid of trained methods", "add --methods seq_sft (say)")
    refuse_invalid(configs)
    supplied = []
    for c in configs:
        try:
            check(c)
        except PoolTooSmall:
            continue
        supplied.append(c)
    if left := len(configs) - len(supplied):
        say(f"adaptive: {left} of the grid's runs left out (the pool cannot supply them)")
    Store(results).check()
    adaptive = Adaptive(supplied, decide, initial_seeds=initial_seeds, batch=batch)

    def report(round_: int, states: dict[LineKey, LineState], held: int) -> None:
        say(
            f"adaptive round {round_}: {held} of the grid's {len(adaptive.members)} runs stored (at most "
            f"{max_runs}); {settled(states)}"
        )
        for s in sorted(states.values(), key=lambda s: (s.label, s.key[1], s.key[2])):
            say(f"  {s.describe()} ({s.runs} runs)")

    return run_adaptive(
        adaptive,
        lambda batch_: run_sweep(batch_, results, **sweep_options),
        lambda: Store(results).records(),
        max_runs,
        report,
    )


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
