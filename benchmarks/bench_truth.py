"""Is a "decided" answer right 95% of the time? The analysis measured against a KNOWN truth.

    python benchmarks/bench_truth.py                       # every scenario, both noises, 20 draws
    python benchmarks/bench_truth.py --draws 40 --workers 2
    python benchmarks/bench_truth.py --smoke               # seconds: one draw of one scenario

Synthetic records from known accuracy surfaces, scored as real runs are: every run of a task on
ONE fixed test set (`shared`), or each run on its own (`independent`, which no real task has),
and stored with real per-example predictions, so the analysis sees what it sees on real runs.

- **Truth**: per budget line ($16-$1024 at $0.10 a weak label, the paper's seven HQ fractions) a
  curve of expected accuracy over the HQ fraction (`SCENARIOS`): clear regimes, near-ties within
  0.02, a flat top (the best mix ahead of all-weak by 0.004, so truly quantity-dominant), and the
  paper's Figure-1 shape (PROTOCOL). The true regime is the peak of the true curve with the
  project's rule that a mix must beat the better end by `regimes.MARGIN` (0.01).
- **Seeds**: a run's expected accuracy is the allocation's plus a seed error whose SD follows the
  law seen on real stores (README: 0.09 at 16 labels falling to about 0.01 at 1,000):
  0.09 (L / 16)^-0.55 with L the labels bought.
- **Test set**: 300 examples, each with a difficulty; a run gets example i right with probability
  Phi(z - d_i), z set so that its expected accuracy over the population is the run's. The
  difficulty mixes a part common to every allocation with parts tied to each label source,
  weighted by the allocation's share of labels from it: allocations that are close make
  correlated errors, all-weak and all-HQ classifiers err on partly different examples (as
  classifiers trained on weak and on gold labels do).
- **Designs**: the full grid at 3, 5 and 10 seeds (its first seeds), and the adaptive sweep
  (`sweeps.adaptive.run_adaptive`) replayed on the 10-seed grid, a run "executed" by revealing it.
  Each is judged by what the report says from its records (`Analysis.answers`).

Figures (JSON lines): per noise, scenario and design, the share of decided answers that are right
(with a Wilson interval), true decisions per 100 runs, runs, the plan's regret against the true
best affordable allocation (mean, max), the 95% interval's coverage of the true expected accuracy,
per budget; a flat top's wrong decisions; and P(regime) calibration in bins. Targets (issue 35):
right >= 0.95 in every scenario with a shared test set, a flat top wrong <= 5%, coverage
0.90-0.98, adaptive >= 1.5x the 3-seed grid's true decisions per run at <= 35% of the 10-seed
grid's runs, mean regret <= 0.003.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor

import numpy as np
from scipy.stats import norm

from labelbudget.analysis.answers import Analysis
from labelbudget.analysis.regimes import MARGIN, PAPER_SHARES, kind
from labelbudget.config import RunConfig, TaskConfig, to_dict
from labelbudget.labels.budget import allocate
from labelbudget.metrics import wilson_interval
from labelbudget.runs.identity import config_hash, run_identity
from labelbudget.runs.record import Record, encode_predictions
from labelbudget.sweeps.adaptive import Adaptive, run_adaptive

BUDGETS = (16, 64, 256, 1024)
WEAK_COST = 0.1
N_TEST = 300
SEEDS = 10
TAU_COMMON, TAU_SOURCE = 0.8, 0.9
"""Difficulty SDs: the part every allocation shares, and the part tied to a label source."""


def between(lo: float, hi: float, peak: float | None = None, at: float | None = None) -> dict:
    """A curve over the HQ fractions from all-weak `lo` to all-HQ `hi`, peaking at `at` if given."""
    if peak is None:
        return {f: lo + (hi - lo) * f for f in PAPER_SHARES}
    return {
        f: lo + (peak - lo) * f / at if f <= at else peak + (hi - peak) * (f - at) / (1 - at)
        for f in PAPER_SHARES
    }


def flat(end: float, top: float, hq: float) -> dict:
    """All-weak `end`, every mix up to 0.4 at `top` (ahead by less than MARGIN), falling to `hq`."""
    return {
        f: end if f == 0 else top if f <= 0.4 else top + (hq - top) * (f - 0.4) / 0.6 for f in PAPER_SHARES
    }


SCENARIOS = {
    "figure1": {  # PROTOCOL, Figure 1 read off: quantity, quantity, mixed, quality
        16: between(0.63, 0.50),
        64: between(0.72, 0.56),
        256: between(0.74, 0.68, peak=0.78, at=0.6),
        1024: between(0.76, 0.82),
    },
    "clear": {  # each regime by a clear margin
        16: between(0.66, 0.52),
        64: between(0.70, 0.66, peak=0.77, at=0.4),
        256: between(0.74, 0.84),
        1024: between(0.76, 0.90),
    },
    "near_tie": {  # the top two regimes within 0.02 at every budget
        16: between(0.650, 0.56, peak=0.665, at=0.2),  # mixed by 0.015
        64: between(0.700, 0.740, peak=0.725, at=0.6),  # quality by 0.015
        256: between(0.780, 0.770, peak=0.765, at=0.4),  # quantity by 0.01 (rule: a tie is the end's)
        1024: between(0.800, 0.825, peak=0.840, at=0.8),  # mixed by 0.015
    },
    "flat_top": {b: flat(0.62 + 0.05 * i, 0.624 + 0.05 * i, 0.55 + 0.05 * i) for i, b in enumerate(BUDGETS)},
}


def seed_sd(n_weak: int, n_hq: int) -> float:
    return 0.09 * ((n_weak + n_hq) / 16) ** -0.55


def grid() -> list[tuple[float, float, tuple[int, int]]]:
    """(budget, HQ fraction, allocation) of every distinct allocation of the grid."""
    out, seen = [], set()
    for b in BUDGETS:
        for f in PAPER_SHARES:
            a = allocate(b, WEAK_COST, f)
            if (a.n_weak, a.n_hq) not in seen and a.n_weak + a.n_hq:
                seen.add((a.n_weak, a.n_hq))
                out.append((float(b), float(f), (a.n_weak, a.n_hq)))
    return out


def truth(scenario: str) -> dict[tuple[int, int], float]:
    return {a: SCENARIOS[scenario][int(b)][f] for b, f, a in grid()}


def true_regime(mu: dict, allocs: list[tuple[int, int]]) -> str:
    """The peak of the true curve, a mix counting only where it beats the better end by MARGIN."""
    values = np.array([mu[a] for a in allocs])
    kinds = [kind(*a) for a in allocs]
    ends = [i for i, k in enumerate(kinds) if k != "mixed"]
    best, end = int(values.argmax()), max(ends, key=lambda i: values[i])
    if kinds[best] == "mixed" and values[best] - values[end] < MARGIN:
        best = end
    return kinds[best]


@dataclasses.dataclass(frozen=True)
class Draw:
    scenario: str
    noise: str
    index: int


def records(draw: Draw) -> list[Record]:
    """The 10-seed grid of one draw: every run with its per-example predictions."""
    rng = np.random.default_rng([list(SCENARIOS).index(draw.scenario), draw.noise == "shared", draw.index])
    mu = truth(draw.scenario)
    sources = 2
    scale = np.sqrt(1 + TAU_COMMON**2 + TAU_SOURCE**2)
    labels = rng.integers(0, 2, N_TEST)

    def difficulty(shares: np.ndarray, common, own) -> np.ndarray:
        mix = shares / np.linalg.norm(shares)
        return TAU_COMMON * common + TAU_SOURCE * own @ mix

    test = (rng.standard_normal(N_TEST), rng.standard_normal((N_TEST, sources)))
    out = []
    for budget, f, (w, h) in grid():
        shares = np.array([w, h], float) / (w + h)
        for seed in range(SEEDS):
            if draw.noise == "independent":  # a test set of its own for every run
                test = (rng.standard_normal(N_TEST), rng.standard_normal((N_TEST, sources)))
            target = float(np.clip(mu[(w, h)] + rng.normal(0, seed_sd(w, h)), 0.02, 0.98))
            z = scale * norm.ppf(target)
            p = norm.cdf(z - difficulty(shares, *test))
            correct = rng.random(N_TEST) < p
            log_odds = np.where(correct == (labels == 1), 1.0, -1.0) * rng.uniform(0.2, 3.0, N_TEST)
            out.append(_record(budget, f, seed, (w, h), correct.mean(), log_odds, labels))
    return out


def _record(budget, f, seed, alloc, accuracy, log_odds, labels) -> Record:
    config = RunConfig(
        task=TaskConfig(task="truth"), budget=budget, weak_cost=WEAK_COST, hq_fraction=f, seed=seed
    )
    return Record(
        config_hash=config_hash(config),
        config=to_dict(config),
        task="truth",
        method="seq_sft",
        strong_model=config.strong_model,
        weak_model=config.weak.weak_model,
        budget=budget,
        weak_cost=WEAK_COST,
        hq_fraction=f,
        seed=seed,
        n_weak=alloc[0],
        n_hq=alloc[1],
        spent=alloc[0] * WEAK_COST + alloc[1],
        accuracy=float(accuracy),
        accuracy_lo=0.0,
        accuracy_hi=1.0,
        auroc=float(accuracy),
        auroc_lo=0.0,
        auroc_hi=1.0,
        weak_agreement=None,
        n_test=N_TEST,
        weak_accuracy=0.7,
        weak_pool="clean",
        data_fingerprint="truth",
        weak_key="truth",
        stages=[],
        notes=[],
        device="cpu",
        dtype="float32",
        started_at="2026-01-01T00:00:00",
        seconds=0.0,
        weak_seconds=0.0,
        versions={},
        git_commit=None,
        predictions=encode_predictions(log_odds, labels),
    )


def judge(recs: list[Record], mu: dict, design: str, runs: int) -> list[dict]:
    """What the report says from these records, line by line, against the truth."""
    analysis = Analysis(recs)
    lines = defaultdict(list)
    for b, _, a in grid():
        lines[b].append(a)
    out = []
    for answer in analysis.answers("seq_sft", WEAK_COST, "truth"):
        r, best = answer.regime, answer.best
        on_line = lines[float(r.budget)]
        affordable = [a for a in mu if a[0] * WEAK_COST + a[1] <= r.budget + 1e-9]
        true_best = max(mu[a] for a in affordable)
        got = mu.get((best.n_weak, best.n_hq))
        out.append(
            {
                "design": design,
                "runs": runs,
                "budget": r.budget,
                "truth": true_regime(mu, on_line),
                "regime": r.regime,
                "decided": r.decided,
                "probabilities": r.probabilities,
                "regret": None if got is None else true_best - got,
                "covered": None if got is None else best.lo <= got <= best.hi,
                "half_width": (best.hi - best.lo) / 2,
            }
        )
    return out


def adaptive(recs: list[Record], mu: dict) -> list[dict]:
    """The adaptive sweep replayed on the full grid, judged by what the report says at its end."""
    from labelbudget.config import run_config_from_dict

    by_key = {run_identity(run_config_from_dict(r.config)): r for r in recs}
    candidates = [run_config_from_dict(r.config) for r in by_key.values()]
    sweep = Adaptive(candidates)
    revealed: set[str] = set()
    keys = {id(c): k for k, c in zip(by_key, candidates, strict=True)}
    run_adaptive(
        sweep,
        lambda configs: revealed.update(keys[id(c)] if id(c) in keys else run_identity(c) for c in configs),
        lambda: [by_key[k] for k in revealed],
        max_runs=len(by_key),
    )
    return judge([by_key[k] for k in revealed], mu, "adaptive", len(revealed))


def one(draw: Draw, designs: tuple[str, ...]) -> list[dict]:
    recs = records(draw)
    mu = truth(draw.scenario)
    out = []
    for design in designs:
        if design == "adaptive":
            rows = adaptive(recs, mu)
        else:
            k = int(design.removeprefix("grid"))
            kept = [r for r in recs if r.seed < k]
            rows = judge(kept, mu, design, len(kept))
        out += [{**row, "scenario": draw.scenario, "noise": draw.noise, "draw": draw.index} for row in rows]
    return out


def summarise(rows: list[dict], emit) -> None:
    groups = defaultdict(list)
    for row in rows:
        groups[(row["noise"], row["scenario"], row["design"])].append(row)
        groups[(row["noise"], "all", row["design"])].append(row)
    for (noise, scenario, design), g in sorted(groups.items()):
        decided = [r for r in g if r["decided"]]
        right = sum(r["regime"] == r["truth"] for r in decided)
        draws = len({(r["scenario"], r["draw"]) for r in g})
        runs = sum({(r["scenario"], r["draw"]): r["runs"] for r in g}.values())
        lo, hi = wilson_interval(right, len(decided)) if decided else (float("nan"), float("nan"))
        regrets = [r["regret"] for r in g if r["regret"] is not None]
        covered = [r["covered"] for r in g if r["covered"] is not None]
        emit(
            figure="truth",
            noise=noise,
            scenario=scenario,
            design=design,
            draws=draws,
            lines=len(g),
            decided=len(decided),
            right=right,
            right_share=round(right / len(decided), 4) if decided else None,
            right_lo=round(lo, 4),
            right_hi=round(hi, 4),
            runs_per_draw=round(runs / draws, 1),
            true_decisions_per_100_runs=round(100 * right / runs, 3),
            mean_regret=round(float(np.mean(regrets)), 4) if regrets else None,
            max_regret=round(float(np.max(regrets)), 4) if regrets else None,
            interval_coverage=round(float(np.mean(covered)), 4) if covered else None,
            interval_half_width=round(float(np.mean([r["half_width"] for r in g])), 4),
            decided_at_095_097=sum(0.95 <= max(r["probabilities"].values()) < 0.97 for r in decided),
        )
        if scenario == "all":
            continue
        for budget in sorted({r["budget"] for r in g}):
            at = [r for r in decided if r["budget"] == budget]
            emit(
                figure="truth_budget",
                noise=noise,
                scenario=scenario,
                design=design,
                budget=budget,
                truth=next(r["truth"] for r in g if r["budget"] == budget),
                decided=len(at),
                right=sum(r["regime"] == r["truth"] for r in at),
                wrong_regimes=sorted({r["regime"] for r in at if r["regime"] != r["truth"]}),
            )
    calibration = defaultdict(lambda: [0, 0.0, 0])
    for row in rows:
        if row["noise"] != "shared":
            continue
        for regime_, p in row["probabilities"].items():
            cell = calibration[(row["design"], min(int(p * 10), 9))]
            cell[0] += 1
            cell[1] += p
            cell[2] += row["truth"] == regime_
    for (design, b), (n, total, hits) in sorted(calibration.items()):
        emit(
            figure="calibration",
            noise="shared",
            design=design,
            bin=f"[{b / 10:.1f}, {(b + 1) / 10:.1f})",
            n=n,
            mean_p=round(total / n, 4),
            frequency=round(hits / n, 4),
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--draws", type=int, default=20)
    parser.add_argument("--scenarios", nargs="*", default=list(SCENARIOS))
    parser.add_argument("--noises", nargs="*", default=["shared", "independent"])
    parser.add_argument("--designs", nargs="*", default=["grid3", "grid5", "grid10", "adaptive"])
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--rows", action="store_true", help="print every judged line too")
    parser.add_argument("--smoke", action="store_true", help="one draw of one scenario, shared test set")
    args = parser.parse_args()
    if args.smoke:
        args.draws, args.scenarios, args.noises, args.designs = (
            1,
            ["figure1"],
            ["shared"],
            ["grid3", "adaptive"],
        )

    def emit(**row) -> None:
        print(json.dumps(row), flush=True)

    start = time.perf_counter()
    draws = [Draw(s, n, i) for s in args.scenarios for n in args.noises for i in range(args.draws)]
    rows: list[dict] = []
    if args.workers > 1:
        with ProcessPoolExecutor(args.workers) as pool:
            for got in pool.map(one, draws, [tuple(args.designs)] * len(draws)):
                rows += got
    else:
        for d in draws:
            rows += one(d, tuple(args.designs))
            print(f"draw {d} done at {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
    if args.rows:
        for row in rows:
            emit(figure="line", **row)
    summarise(rows, emit)
    emit(figure="truth_seconds", seconds=round(time.perf_counter() - start, 1), draws=len(draws))


if __name__ == "__main__":
    main()
