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

from labelbudget.allocation import shares_of
from labelbudget.analysis.points import _variant
from labelbudget.analysis.regimes import DECIDE, DRAWS, _peaks, decidable, kinds_of, regime
from labelbudget.config import RunConfig, run_config_from_dict
from labelbudget.labels.budget import allocation_of
from labelbudget.runs.identity import record_identity, run_identity, same_run
from labelbudget.runs.record import Record
from labelbudget.sweeps.lines import (
    BATCH,
    CONTENDER,
    INITIAL_SEEDS,
    PER_LINE,
    PLAN_SEEDS,
    STOP,
    TIE_LOSS,
    LineKey,
    LineState,
    settled,
    summary,
)
from labelbudget.util.errors import UserError
from labelbudget.util.hashing import stable_hash

__all__ = ["STOP", "Adaptive", "LineState", "adaptive_sweep", "run_adaptive", "settled", "summary"]


def variant_of(config: RunConfig) -> str:
    """The variant id `analysis.points.frame` gives a run of this config."""
    return stable_hash(_variant(config), 12)


def line_of(config: RunConfig) -> LineKey:
    return variant_of(config), config.task.task, float(config.budget), float(config.weak_cost)


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
        """Per line: both ends and the mix nearest half the budget (with k sources: each vertex of
        the simplex and the mix nearest its centre), at the lowest seeds."""
        design = []
        for configs in self.lines.values():
            allocs = sorted({_alloc(c) for c in configs}, key=lambda a: a[::-1])
            mixes = [a for a in allocs if sum(n > 0 for n in a) > 1]
            picked = {a for a in allocs if sum(n > 0 for n in a) == 1}
            if mixes:
                centre = {_alloc(c): _off_centre(c) for c in configs}
                picked.add(min(mixes, key=lambda a: centre[a]))
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
        allocs = sorted({_alloc(c) for c in self.lines[key]}, key=lambda a: a[::-1])
        found = regime(surface, key[2], key[3], np.array(allocs, float), self.stop, self.seed)
        if found is None:  # one kind of allocation only: no regime to decide, the plan its best
            mean, _ = surface.posterior(np.array(allocs, float))
            a = allocs[int(np.argmax(mean))]
            return LineState(
                key,
                surface.label,
                "one kind",
                1.0,
                sum(a[:-1]),
                a[-1],
                runs,
                counts=a,
                sources=surface.sources,
            ), []
        kinds = kinds_of(np.array(allocs), surface.sources)
        draws = surface.samples(np.array(allocs, float), DRAWS, np.random.default_rng(self.seed))
        best = int(np.argmax(draws.mean(0)))
        loss = float(np.mean(draws.max(1) - draws[:, best]))
        peak = np.bincount(_peaks(draws, kinds), minlength=len(allocs)) / len(draws)
        # not settled while the best allocation is thin (`LineState.thin`) or a measured mean
        # beats it (the GP, smooth over a quarter of a decade, can be sure of a peak between
        # two allocations that its own runs do not show): more seeds of both
        thin = {best, *_neighbours(allocs, best)}
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
        a = allocs[best]
        state = LineState(
            key,
            surface.label,
            found.regime,
            p_top,
            sum(a[:-1]),
            a[-1],
            runs,
            loss,
            len(thin),
            chance,
            lead,
            a,
            surface.sources,
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


def _alloc(c: RunConfig) -> tuple[int, ...]:
    """A config's allocation, a count per source (the pair: n_weak, n_hq)."""
    return allocation_of(c).values


def _off_centre(c: RunConfig) -> float:
    """How far a config's split of its budget lies from the simplex's centre (the pair: from half
    the budget on HQ labels)."""
    shares = np.array(list(shares_of(c).values()))
    return float(np.abs(shares - 1 / len(shares)).max())


def _neighbours(allocs: list[tuple[int, ...]], i: int) -> list[int]:
    """An allocation's neighbours on its budget line: the ones beside it (the pair's line in order
    of HQ labels), with k sources the two nearest in log-counts."""
    if len(allocs[i]) == 2:
        return [j for j in (i - 1, i + 1) if 0 <= j < len(allocs)]
    x = np.log10(np.array(allocs, float) + 1)
    order = np.argsort(((x - x[i]) ** 2).sum(1), kind="stable")
    return [int(j) for j in order[1:3]]


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
