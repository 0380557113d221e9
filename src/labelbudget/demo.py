"""The main job: a sweep on the embedded default with real pretrained models, then the report.

Sized for a 2-core laptop CPU (about 12 minutes, see the README): the strong model is MiniLM-L6
(22M parameters; Gemma-3-270M is ~10x slower per step here), the weak labeler is the same
architecture trained on only 300 ground-truth tweets, so that its labels are cheap and noisy, as
in the paper. MiniLM is an encoder, so few-shot ICL (which needs a causal LM) is not run; the
report lists this and the other gaps.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from labelbudget.config import MethodOptions, RunConfig, TaskConfig, TrainConfig, WeakConfig
from labelbudget.sweep import Grid, expand, run_sweep

TEMPLATE = RunConfig(
    task=TaskConfig(task="tweet-sentiment", test_size=500, max_pool=4000),
    weak=WeakConfig(weak_model="minilm-l6", weak_n_train=300, weak_n_val=100),
    train=TrainConfig(example_visits=500),
    options=MethodOptions(max_candidates=500),
    strong_model="minilm-l6",
)
"""Departures for speed, all recorded in each run's config: a 500-example test set and a
4,000-example pool, 500 example visits per stage instead of 20,000 (early stopping usually ends
stages sooner anyway), and uncertainty sampling scoring 500 candidates instead of the whole pool."""

SEQ_SFT = Grid(
    tasks=("tweet-sentiment",),
    methods=("seq_sft",),
    budgets=(16, 64, 256),
    weak_costs=(0.1,),
    hq_fractions=(0.0, 0.5, 1.0),
    seeds=(0, 1),
)
"""Figure 1's story at weak cost $0.10, two seeds so the regimes can be judged against noise."""

VARIANTS = Grid(
    tasks=("tweet-sentiment",),
    methods=("uncertainty", "logconf"),
    budgets=(16, 64, 256),
    weak_costs=(0.1,),
    hq_fractions=(0.5,),
    seeds=(0,),
    method_fractions={"logconf": (0.0, 0.5)},
)
"""The paper's other methods at the mixed allocation where they differ from sequential SFT (and
log-confidence, a weak-stage method, all-weak too)."""

PROMPTED = dataclasses.replace(VARIANTS, methods=("prompted_seq_sft",), budgets=(16, 64))
"""2-shot-prompted SFT triples every input's length, so its $256 run alone would take ~2 minutes."""

NOTES = (
    "demo scale: one task (the embedded tweets), weak cost $0.10 only, budgets $16-$256, "
    "2 seeds for seq_sft and 1 for the other methods; 2-shot-prompted SFT at $16 and $64 only",
    "few-shot ICL is not run: the demo's strong model (MiniLM-L6) is an encoder; run "
    "`labelbudget sweep --methods icl --strong-model gemma-3-270m ...` for it",
    "shortened schedules (500 example visits per stage), a 500-example test set and a "
    "4,000-example pool, for speed",
)


def demo_configs() -> list[RunConfig]:
    return expand(TEMPLATE, SEQ_SFT) + expand(TEMPLATE, VARIANTS) + expand(TEMPLATE, PROMPTED)


def run_demo(results: Path | str = "results/demo", executor: str = "local") -> Path:
    from labelbudget.report import write_report

    run_sweep(demo_configs(), results, executor)
    return write_report(results, notes=NOTES)
