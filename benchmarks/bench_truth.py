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
per budget; a flat top's wrong decisions; and P(regime) calibration in bins. With them, the
ceiling (`ideal_right_share`): the share of decided answers an ideal 95% test would get right on
the same lines at the design's seeds, from each line's distance to its decision boundary and the
runs' measured noise (`ideal_test`): where it is under 0.95, no analysis that decides at 95%
keeps the promise there, however good its model of the surface; only more seeds, a larger test
set or a stricter threshold (fewer decisions everywhere) would. Targets (issue 35):
right >= 0.95 in every scenario with a shared test set, a flat top wrong <= 5%, coverage
0.90-0.98, adaptive >= 1.5x the 3-seed grid's true decisions per run at <= 35% of the 10-seed
grid's runs, mean regret <= 0.003.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor

import numpy as np
from scipy.stats import norm

from labelbudget.allocation import SourceConfig, split
from labelbudget.analysis.answers import Analysis
from labelbudget.analysis.regimes import PAPER_SHARES, _peaks, kinds_of
from labelbudget.config import RunConfig, TaskConfig
from labelbudget.labels.budget import MIN_STAGE, allocate
from labelbudget.metrics import wilson_interval
from labelbudget.runs.identity import canonical, config_hash, run_identity
from labelbudget.runs.record import Record, encode_predictions
from labelbudget.sweeps.adaptive import Adaptive, run_adaptive
from labelbudget.sweeps.grid import simplex_points

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


THREE = (
    SourceConfig("llm", "column:llm", 0.01),
    SourceConfig("crowd", "column:crowd", 0.1),
    SourceConfig("expert", "ground-truth", 1.0),
)
"""The three-source scenarios' sources (issue 38: an LLM labeler, a crowd, experts)."""

THREE_BUDGETS = (16, 64, 256)


def quality_model(volume: dict, noise: dict, scale: float, ceiling: float, penalty: float):
    """A truth over three sources: accuracy rises with the labels bought (each source counting
    `volume` per label, saturating at `ceiling`) and falls with the share of noisy labels (each
    source's `noise`, times `penalty`): cheap labels win at small budgets, clean ones at large."""

    def mu(counts: tuple[int, ...]) -> float:
        n = dict(zip((s.name for s in THREE), counts, strict=True))
        effective = sum(volume[k] * n[k] for k in n)
        noisy = sum(noise[k] * n[k] for k in n) / max(sum(n.values()), 1)
        return float(0.5 + (ceiling - 0.5) * (1 - np.exp(-effective / scale)) - penalty * noisy)

    return mu


THREE_SCENARIOS = {
    "three_shift": quality_model(
        {"llm": 0.15, "crowd": 0.5, "expert": 1.0}, {"llm": 0.3, "crowd": 0.12, "expert": 0.0}, 120, 0.9, 0.25
    ),
    "three_crowd_useless": quality_model(
        {"llm": 0.2, "crowd": 0.15, "expert": 1.0}, {"llm": 0.25, "crowd": 0.3, "expert": 0.0}, 150, 0.88, 0.2
    ),
}
"""Known truths over the three-source simplex: regimes that shift with the budget (the LLM's
volume first, experts later), and a crowd that is never worth its price."""


def seed_sd(*counts: int) -> float:
    return 0.09 * (sum(counts) / 16) ** -0.55


def grid(scenario: str = "figure1") -> list[tuple[float, dict, tuple[int, ...]]]:
    """(budget, the shares, allocation) of every distinct allocation of the scenario's grid: the
    paper's HQ fractions at $0.10 a weak label, or the default design over the simplex of three
    sources (`sweeps.grid.simplex_points`, less the points that buy a source 1 or 2 labels)."""
    out, seen = [], set()
    if scenario in THREE_SCENARIOS:
        cells = [
            (b, point, split(b, THREE, point))
            for b in THREE_BUDGETS
            for point in simplex_points(tuple(s.name for s in THREE))
        ]
        cells = [(b, p, a.values) for b, p, a in cells if not any(0 < n < MIN_STAGE for n in a.values)]
    else:
        cells = [
            (b, {"weak": 1 - f, "hq": f}, allocate(b, WEAK_COST, f).values)
            for b in BUDGETS
            for f in PAPER_SHARES
        ]
    for b, point, a in cells:
        if a not in seen and sum(a):
            seen.add(a)
            out.append((float(b), point, a))
    return out


def sources_of_scenario(scenario: str) -> tuple[str, ...]:
    return tuple(s.name for s in THREE) if scenario in THREE_SCENARIOS else ("weak", "hq")


def prices_of_scenario(scenario: str) -> np.ndarray:
    return np.array([s.price for s in THREE]) if scenario in THREE_SCENARIOS else np.array([WEAK_COST, 1.0])


def truth(scenario: str) -> dict[tuple[int, ...], float]:
    if scenario in THREE_SCENARIOS:
        return {a: THREE_SCENARIOS[scenario](a) for _, _, a in grid(scenario)}
    return {a: SCENARIOS[scenario][int(b)][p["hq"]] for b, p, a in grid(scenario)}


def true_regime(mu: dict, allocs: list[tuple[int, ...]], sources: tuple[str, ...]) -> str:
    """The peak of the true surface on the line, an allocation buying more sources counting only
    where it beats the best buying a subset of them by MARGIN (`analysis.regimes._peaks`)."""
    values = np.array([[mu[a] for a in allocs]])
    kinds = kinds_of(np.array(allocs), sources)
    return kinds[int(_peaks(values, kinds)[0])]


def margin_distance(mu: dict, allocs: list[tuple[int, ...]], sources: tuple[str, ...]) -> float:
    """How far the line's truth lies from its decision boundary: the least accuracy one allocation
    must gain to change the true regime (`true_regime`; bisection on `_peaks`, so every rule of
    it, the margin included, is the one the answer uses)."""
    values = np.array([mu[a] for a in allocs])
    kinds = kinds_of(np.array(allocs), sources)
    truth_ = kinds[int(_peaks(values[None], kinds)[0])]
    out = 1.0
    for j in range(len(allocs)):
        lo, hi = 0.0, 1.0
        for _ in range(40):
            mid = (lo + hi) / 2
            moved = values.copy()
            moved[j] += mid
            lo, hi = (mid, hi) if kinds[int(_peaks(moved[None], kinds)[0])] == truth_ else (lo, mid)
        out = min(out, hi)
    return out


def ideal_test(distance: float, se: float) -> tuple[float, float]:
    """The chance that an ideal 95% test decides a line right, and wrong: one comparison of two
    allocations, a calibrated normal posterior of their difference with standard error `se`, no
    model error, a truth `distance` from the boundary: the one-sided z-test, the most powerful
    that keeps 95% at the boundary, so right / (right + wrong) is what "right among decided" can
    reach there when deciding at 95%, whatever the model of the surface."""
    x = distance / se
    return float(norm.cdf(x - norm.ppf(0.95))), float(norm.cdf(-x - norm.ppf(0.95)))


def run_sd(recs: list[Record]) -> dict[float, float]:
    """Per budget line, the SD of a run's test accuracy over seeds (seed and test noise both):
    the root mean square of each allocation's sample SD."""
    by = defaultdict(list)
    for r in recs:
        by[(r.budget, tuple(r.counts.values()) if r.counts else (r.n_weak, r.n_hq))].append(r.accuracy)
    sds = defaultdict(list)
    for (budget, _), acc in by.items():
        if len(acc) > 1:
            sds[budget].append(np.var(acc, ddof=1))
    return {b: float(np.sqrt(np.mean(v))) for b, v in sds.items()}


@dataclasses.dataclass(frozen=True)
class Draw:
    scenario: str
    noise: str
    index: int


def records(draw: Draw) -> list[Record]:
    """The 10-seed grid of one draw: every run with its per-example predictions."""
    names = [*SCENARIOS, *THREE_SCENARIOS]
    rng = np.random.default_rng([names.index(draw.scenario), draw.noise == "shared", draw.index])
    mu = truth(draw.scenario)
    k = len(sources_of_scenario(draw.scenario))
    scale = np.sqrt(1 + TAU_COMMON**2 + TAU_SOURCE**2)
    labels = rng.integers(0, 2, N_TEST)

    def difficulty(shares: np.ndarray, common, own) -> np.ndarray:
        mix = shares / np.linalg.norm(shares)
        return TAU_COMMON * common + TAU_SOURCE * own @ mix

    test = (rng.standard_normal(N_TEST), rng.standard_normal((N_TEST, k)))
    out = []
    for budget, point, a in grid(draw.scenario):
        shares = np.array(a, float) / sum(a)
        for seed in range(SEEDS):
            if draw.noise == "independent":  # a test set of its own for every run
                test = (rng.standard_normal(N_TEST), rng.standard_normal((N_TEST, k)))
            target = float(np.clip(mu[a] + rng.normal(0, seed_sd(*a)), 0.02, 0.98))
            z = scale * norm.ppf(target)
            p = norm.cdf(z - difficulty(shares, *test))
            correct = rng.random(N_TEST) < p
            log_odds = np.where(correct == (labels == 1), 1.0, -1.0) * rng.uniform(0.2, 3.0, N_TEST)
            out.append(_record(draw.scenario, budget, point, seed, a, correct.mean(), log_odds, labels))
    return out


def _record(scenario, budget, point, seed, alloc, accuracy, log_odds, labels) -> Record:
    task = TaskConfig(task="truth")
    if scenario in THREE_SCENARIOS:
        config = RunConfig(
            task=task,
            budget=budget,
            seed=seed,
            sources=tuple(str(s) for s in THREE),
            shares=tuple(f"{n}={v:.12g}" for n, v in point.items()),
        )
        counts = dict(zip((s.name for s in THREE), map(int, alloc), strict=True))
        prices = {s.name: s.price for s in THREE}
    else:
        config = RunConfig(task=task, budget=budget, weak_cost=WEAK_COST, hq_fraction=point["hq"], seed=seed)
        counts, prices = {"weak": int(alloc[0]), "hq": int(alloc[1])}, {"weak": WEAK_COST, "hq": 1.0}
    return Record(
        config_hash=config_hash(config),
        config=canonical(config),
        task="truth",
        method="seq_sft",
        strong_model=config.strong_model,
        weak_model=config.weak.weak_model,
        budget=budget,
        weak_cost=config.weak_cost,
        hq_fraction=config.hq_fraction,
        seed=seed,
        n_weak=int(sum(alloc[:-1])),
        n_hq=int(alloc[-1]),
        spent=float(sum(counts[k] * prices[k] for k in counts)),
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
        counts=counts,
        prices=prices,
    )


def judge(recs: list[Record], mu: dict, design: str, runs: int, scenario: str, noise: dict) -> list[dict]:
    """What the report says from these records, line by line, against the truth, and what an ideal
    95% test would do on those lines at this design's seeds (`noise`: a run's SD per budget over
    the draw's whole grid, `run_sd`)."""
    analysis = Analysis(recs)
    lines = defaultdict(list)
    for b, _, a in grid(scenario):
        lines[b].append(a)
    sources, prices = sources_of_scenario(scenario), prices_of_scenario(scenario)
    several = scenario in THREE_SCENARIOS
    out = []
    for answer in analysis.answers("seq_sft", None if several else WEAK_COST, "truth"):
        r, best = answer.regime, answer.best
        on_line = lines[float(r.budget)]
        affordable = [a for a in mu if np.dot(a, prices) <= r.budget + 1e-9]
        true_best = max(mu[a] for a in affordable)
        got = mu.get(tuple(best.counts))
        distance = margin_distance(mu, on_line, sources)
        seeds = SEEDS if design == "adaptive" else int(design.removeprefix("grid"))
        sd = noise.get(float(r.budget))
        right, wrong = ideal_test(distance, sd * np.sqrt(2 / seeds)) if sd else (float("nan"),) * 2
        out.append(
            {
                "design": design,
                "runs": runs,
                "budget": r.budget,
                "truth": true_regime(mu, on_line, sources),
                "regime": r.regime,
                "decided": r.decided,
                "probabilities": r.probabilities,
                "regret": None if got is None else true_best - got,
                "covered": None if got is None else best.lo <= got <= best.hi,
                "half_width": (best.hi - best.lo) / 2,
                "margin_distance": distance,
                "ideal_right": right,
                "ideal_wrong": wrong,
            }
        )
    return out


def adaptive(recs: list[Record], mu: dict, scenario: str, noise: dict) -> list[dict]:
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
    return judge([by_key[k] for k in revealed], mu, "adaptive", len(revealed), scenario, noise)


def one(draw: Draw, designs: tuple[str, ...]) -> list[dict]:
    recs = records(draw)
    mu, noise = truth(draw.scenario), run_sd(recs)
    out = []
    for design in designs:
        if design == "adaptive":
            rows = adaptive(recs, mu, draw.scenario, noise)
        else:
            k = int(design.removeprefix("grid"))
            kept = [r for r in recs if r.seed < k]
            rows = judge(kept, mu, design, len(kept), draw.scenario, noise)
        out += [{**row, "scenario": draw.scenario, "noise": draw.noise, "draw": draw.index} for row in rows]
    return out


def _ceiling(g: list[dict]) -> float | None:
    """The share of decided answers an ideal 95% test would get right on these lines at the
    design's seeds (`ideal_test`): where it is under 0.95, no rule keeps the promise there."""
    right = sum(r["ideal_right"] for r in g if not math.isnan(r["ideal_right"]))
    wrong = sum(r["ideal_wrong"] for r in g if not math.isnan(r["ideal_wrong"]))
    return round(right / (right + wrong), 4) if right + wrong else None


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
            ideal_right_share=_ceiling(g),
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
    parser.add_argument(
        "--scenarios",
        nargs="*",
        default=list(SCENARIOS),
        help=f"also: {', '.join(THREE_SCENARIOS)} (three sources)",
    )
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
