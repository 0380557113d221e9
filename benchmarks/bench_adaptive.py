"""How many of a full grid's runs the adaptive sweep needs to reach the grid's decisions, and the
accuracy it loses against the grid's best (regret) as runs grow.

    python benchmarks/bench_adaptive.py                                    # the demo grid + SST-2
    python benchmarks/bench_adaptive.py --seeds 10 --data-seed 1 --results results/draw1  # another draw
    python benchmarks/bench_adaptive.py --grids sst2 --stores results/demo # a demo's own store
    python benchmarks/bench_adaptive.py --smoke  # the demo grid at $16, 3 seeds, tiny models (seconds)

Every run is real: the full grids are run (probe runs on cached activations are cheap; resumable,
so a stored grid is reused), then the adaptive sweep is replayed on them, a run "executed" by
revealing its stored record. Its decision at a budget line is compared with the full grid's (the
same rule, `analysis.regimes`, on every run), and its recommended allocation's accuracy (the full
grid's mean over seeds there) with the full grid's best on the line: the best seed mean
(`regret`, which carries the winner's curse of the best of 5-7 noisy means) and the allocation
the full grid's own surface recommends (`regret_vs_full_plan`). Runs are counted as runs: a run
stored under two method names (all-weak uncertainty is all-weak seq_sft) is one, in the
adaptive sweep's count and in the full grid's (`full_runs`; `full_records` counts names). Beside
it, what the grid decides from its own first k seeds (`uniform_seeds_baseline`: the design to beat
at equal runs), its `stable_decisions` (kept when any one seed is left out) and `contradictions`
(a line decided for a regime the full grid does not find most probable). One JSON line per
figure. Target: the full grid's decisions with at most 25% of its runs, regret at
most 0.005. The figures measured, and which rule each changed: `benchmarks/ADAPTIVE.md`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import pandas as pd

from labelbudget.config import RunConfig, WeakConfig, run_config_from_dict
from labelbudget.runs.identity import run_key
from labelbudget.runs.store import Store
from labelbudget.sweeps.adaptive import Adaptive, run_adaptive
from labelbudget.sweeps.grid import Grid, expand
from labelbudget.sweeps.presets import PROBES, TEMPLATE, WEAK_LABELERS
from labelbudget.sweeps.sweep import run_sweep

SST2 = Path(__file__).resolve().parents[2] / "shared" / "data" / "sst2" / "train.tsv"


def grids(
    folder: Path,
    which: tuple[str, ...] = ("demo", "sst2"),
    seeds: int = 5,
    data_seed: int = 0,
    template: RunConfig = TEMPLATE,
    probes: Grid = PROBES,
    labelers: tuple[WeakConfig, ...] = WEAK_LABELERS,
    sst2: Path = SST2,
) -> dict[str, Path]:
    """Run (or resume) the full grids: the demo's probes (both weak labelers, as `labelbudget
    demo` runs them), and the probe grid of `probe_seq_sft` on SST-2; with `seeds` seeds each
    (the demo's 5 by default) and the tasks' `data_seed` (another test split, pool and weak
    labelers: another draw of the same grid)."""
    template = dataclasses.replace(template, task=dataclasses.replace(template.task, data_seed=data_seed))
    probes = dataclasses.replace(probes, seeds=tuple(range(seeds)))
    out = {}
    if "demo" in which:  # the demo's probe grid (`sweeps.presets.demo_configs` less ICL)
        out["demo"] = folder / "demo"
        configs = [c for w in labelers for c in expand(dataclasses.replace(template, weak=w), probes)]
        run_sweep(configs, out["demo"], skip_unsupplied=True)
    if "sst2" in which and sst2.exists():
        task = dataclasses.replace(template.task, task=str(sst2), text_column="sentence")
        grid = dataclasses.replace(probes, tasks=(str(sst2),), methods=("probe_seq_sft",))
        out["sst2"] = folder / "sst2"
        run_sweep(expand(dataclasses.replace(template, task=task), grid), out["sst2"], skip_unsupplied=True)
    return out


def smoke_grids(which: tuple[str, ...] = ("demo", "sst2")) -> dict[str, Path]:
    """`grids` at $16 with 3 seeds (the fewest that `baseline` thins), one weak labeler and two
    methods (all-weak uncertainty is all-weak seq_sft: one run under two names), on tiny models
    and synthetic texts (the SST-2 grid's file has a `sentence` column, as SST-2): seconds."""
    import _smoke

    template = _smoke.tiny(TEMPLATE)
    methods = ("probe_seq_sft", "probe_uncertainty")
    probes = dataclasses.replace(PROBES, tasks=(template.task.task,), methods=methods, budgets=(16,))
    sst2 = Path(_smoke.task_file(text_column="sentence"))
    return grids(_smoke.folder() / "bench_adaptive", which, 3, 0, template, probes, (template.weak,), sst2)


def replay(name: str, store: Path, emit) -> None:
    # the probe grid only (a demo's store may also hold `demo --lora`'s 12 LoRA runs, and ICL)
    records = [r for r in Store(store).records() if r.method.startswith("probe_")]
    by_key = {run_key(run_config_from_dict(r.config)): r for r in records}
    candidates = [run_config_from_dict(r.config) for r in by_key.values()]
    full_state = Adaptive(candidates).states(list(by_key.values()))
    acc = pd.DataFrame(
        [{"key": k, "n_weak": r.n_weak, "n_hq": r.n_hq, "acc": r.accuracy} for k, r in by_key.items()]
    )
    adaptive = Adaptive(candidates)
    line_acc = {}  # per line: the full grid's mean accuracy per allocation
    for key, configs in adaptive.lines.items():
        keys = {run_key(c) for c in configs}
        line_acc[key] = acc[acc["key"].isin(keys)].groupby(["n_weak", "n_hq"])["acc"].mean()
    revealed: set[str] = set()
    decided_at: dict = {}
    curve: list[tuple[int, bool]] = []  # (runs, every decision of the full grid reached)
    start = time.perf_counter()

    def regret(state) -> float:
        """Against the line's best mean over the full grid's seeds (its winner's curse included)."""
        means = line_acc[state.key]
        return float(means.max() - means.get((state.n_weak, state.n_hq), means.min()))

    def plan_regret(state) -> float:
        return _plan_regret(line_acc[state.key], full_state[state.key], state)

    def runs() -> int:
        return adaptive.runs(by_key[k] for k in revealed)

    def report(round_, states, held) -> None:
        agree = [s.regime == full_state[k].regime for k, s in states.items() if _decides(full_state[k])]
        for k, s in states.items():
            if s.decided and k not in decided_at:
                decided_at[k] = (held, s.runs)
        curve.append((held, sum(agree) == len(agree)))
        emit(
            figure="adaptive_curve",
            grid=name,
            round=round_,
            runs=held,
            fraction_of_grid=round(held / len(adaptive.members), 4),
            decisions_agreeing=f"{sum(agree)}/{len(agree)}",
            max_regret=round(max([regret(s) for s in states.values() if s.n_weak + s.n_hq] or [0]), 4),
            max_regret_vs_full_plan=round(
                max([plan_regret(s) for s in states.values() if s.n_weak + s.n_hq] or [0]), 4
            ),
        )

    final = run_adaptive(
        adaptive,
        lambda configs: revealed.update(run_key(c) for c in configs),
        lambda: [by_key[k] for k in revealed],
        max_runs=len(by_key),
        report=report,
    )
    for k, s in sorted(final.items(), key=lambda kv: (kv[1].label, kv[0][2])):
        f = full_state[k]
        emit(
            figure="adaptive_line",
            grid=name,
            variant=s.label,
            budget=k[2],
            full_regime=f.regime,
            adaptive_regime=s.regime,
            agrees=s.regime == f.regime,
            line_runs=s.runs,
            decided_with_line_runs=decided_at.get(k, (None, None))[1],
            decided_with_total_runs=decided_at.get(k, (None, None))[0],
            full_line_runs=len(adaptive.lines[k]),
            regret=round(regret(s), 4),
            regret_vs_full_plan=round(plan_regret(s), 4),
        )
    agree = [final[k].regime == f.regime for k, f in full_state.items() if _decides(f)]
    seconds = round(time.perf_counter() - start, 1)
    stable = baseline(name, by_key, candidates, full_state, line_acc, len(adaptive.members), emit)
    emit(
        figure="adaptive_summary",
        grid=name,
        runs=runs(),
        full_runs=len(adaptive.members),
        full_records=len(by_key),
        fraction_of_grid=round(runs() / len(adaptive.members), 4),
        # from this many runs on, every decision of the full grid is reached (and stays)
        runs_to_reach_full_decisions=_reached(curve),
        decided_lines_in_full_grid=len(agree),
        decisions_agreeing=sum(agree),
        # the full grid's decisions that the grid less any one seed makes too
        stable_decisions=len(stable),
        stable_decisions_agreeing=sum(final[k].regime == full_state[k].regime for k in stable),
        extra_decisions=sum(_decides(s) and not _decides(full_state[k]) for k, s in final.items()),
        # decided against the full grid: a regime that the full grid does not find most probable
        contradictions=sum(_decides(s) and s.regime != full_state[k].leading for k, s in final.items()),
        max_regret=round(max([regret(s) for s in final.values() if s.n_weak + s.n_hq] or [0]), 4),
        max_regret_vs_full_plan=round(
            max([plan_regret(s) for s in final.values() if s.n_weak + s.n_hq] or [0]), 4
        ),
        seconds=seconds,
    )


def baseline(name, by_key, candidates, full_state, line_acc, full_runs: int, emit) -> set:
    """What the grid itself decides from its first k seeds (k = 2 .. all but one): the design an
    adaptive sweep must beat at the same number of runs (every line thinned alike). Returns the
    full grid's stable decisions: the lines whose decided regime the grid less any one of its
    seeds decides too (a decision that one seed more or less overturns is a coin the full grid
    tossed, not a target a sweep can aim at)."""
    seeds = sorted({c.seed for c in candidates})
    stable = {key for key, f in full_state.items() if _decides(f)}
    for left_out in seeds:
        keep = [r for r in by_key.values() if r.seed != left_out]
        states = Adaptive([c for c in candidates if c.seed != left_out]).states(keep)
        stable = {key for key in stable if states[key].regime == full_state[key].regime}
    for k in range(2, len(seeds)):
        keep = [r for key, r in by_key.items() if r.seed in seeds[:k]]
        cut = [c for c in candidates if c.seed in seeds[:k]]
        grid = Adaptive(cut)
        states = grid.states(keep)
        agree = [states[key].regime == f.regime for key, f in full_state.items() if _decides(f)]
        regrets = [
            _plan_regret(line_acc[key], full_state[key], s) for key, s in states.items() if s.n_weak + s.n_hq
        ]
        runs = grid.runs(keep)
        emit(
            figure="uniform_seeds_baseline",
            grid=name,
            seeds=k,
            runs=runs,
            fraction_of_grid=round(runs / full_runs, 4),
            decisions_agreeing=sum(agree),
            decided_lines_in_full_grid=len(agree),
            extra_decisions=sum(_decides(s) and not _decides(full_state[key]) for key, s in states.items()),
            contradictions=sum(
                _decides(s) and s.regime != full_state[key].leading for key, s in states.items()
            ),
            max_regret_vs_full_plan=round(max(regrets or [0]), 4),
            stable_decisions_agreeing=sum(states[key].regime == full_state[key].regime for key in stable),
        )
    return stable


def _plan_regret(means: pd.Series, full, state) -> float:
    """Accuracy lost against the allocation the full grid's own surface recommends on the line
    (`means`: the full grid's seed mean per allocation)."""
    at = means.get((full.n_weak, full.n_hq), means.max())
    return float(at - means.get((state.n_weak, state.n_hq), means.min()))


def _decides(state) -> bool:
    """A regime decided on a line that has one to decide (not a line of one kind of allocation)."""
    return state.decided and state.regime != "one kind"


def _reached(curve: list[tuple[int, bool]]) -> int | None:
    """The fewest runs after which every later round has all of the full grid's decisions."""
    at = None
    for runs, ok in curve:
        at = (at if at is not None else runs) if ok else None
    return at


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--results", type=Path, default=Path("results/bench_adaptive"))
    parser.add_argument("--stores", type=Path, nargs="*", default=[], help="also replay these stored grids")
    parser.add_argument("--grids", nargs="*", default=["demo", "sst2"], help="full grids to run and replay")
    parser.add_argument("--seeds", type=int, default=5, help="seeds per allocation of the full grids")
    parser.add_argument("--data-seed", type=int, default=0, help="another draw: the tasks' data_seed")
    parser.add_argument("--smoke", action="store_true", help="the demo grid at $16, 3 seeds, tiny models")
    args = parser.parse_args()
    if args.smoke:  # the SST-2 grid's smoke is surface_choice.py's
        full = smoke_grids(("demo",))
    else:
        full = grids(args.results, tuple(args.grids), args.seeds, args.data_seed)
    stores = {**{p.name: p for p in args.stores}, **full}

    def emit(**row) -> None:
        print(json.dumps(row), flush=True)

    for name, store in stores.items():  # a store's folder name names its grid
        replay(name, store, emit)


if __name__ == "__main__":
    main()
