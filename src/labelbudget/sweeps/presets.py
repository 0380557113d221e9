"""Built-in sweeps: the paper's grid (PROTOCOL) and the main job's.

The main job: the paper's grid on a real causal LM, on a CPU, in minutes, ending in the report.

The strong model is Gemma-3-270M. Fine-tuning it with LoRA takes seconds per step on a laptop
CPU, so the grid runs as *probes* (the paper's protocol with a linear head on the frozen model's
cached activations, `methods/probe.py`): the activations are computed once (a few minutes), then
each run takes a fraction of a second. On top: few-shot ICL with the model's own LM head, and a
handful of real LoRA sequential-SFT runs at chosen allocations, so the report can show how far the
fast probe agrees with full fine-tuning.

What was chosen, and why (all on validation data from the pool, never the test split; the numbers
are in `benchmarks/probe_choice.py`'s output and the README):
- pooling: the mean over tokens (`--pooling mean`); the last token, which transformers' decoders
  pool, probed 5-8 points worse on tweets with or without a framing prompt;
- layer: `PROBE_LAYER` of the depth, the best by cross-validation over the pool;
- the weak labeler: MiniLM-L6 fine-tuned on 100 tweets (+50 validation), so that its labels are
  cheap and noisy, as the paper's (0.68-0.79 accurate); on 300 tweets it was as good as what the
  270M model's probe reaches, which leaves nothing to elicit;
- scale: a 3,200-tweet pool (at $0.10 the pool supplies every allocation up to $256 and the
  all-HQ and 80% HQ ones at $1024) and a 300-tweet test set, so the activation pass fits.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from labelbudget.config import ProbeConfig, RunConfig, TaskConfig, TrainConfig, WeakConfig
from labelbudget.sweeps.grid import Grid, expand
from labelbudget.tasks.paper import TABLE1_TASKS

PAPER_SFT = Grid(
    tasks=TABLE1_TASKS,
    methods=("seq_sft", "prompted_seq_sft", "logconf", "uncertainty"),
    budgets=(16, 64, 256, 1024, 4096),
    weak_costs=(0.1,),
    hq_fractions=(0.0, 0.05, 0.2, 0.4, 0.6, 0.8, 1.0),
    seeds=(0, 1, 2),
    small_stage_seeds=tuple(range(7)),
    hq_only_budgets=(8192,),
)
"""PROTOCOL's grid for the fine-tuning methods: budgets 16..4096 plus 8192 HQ-only; HQ fractions
0.8/0.6/0.4/0.2/0.05 and the pure ends, as allocations at $0.10 per weak label (the authors'
`cost_sweep.py` lists its (n_weak, n_hq) pairs at $0.10) re-costed at $0.50 and $0.01 in the
analysis; 3 seeds, 7 where the smaller stage has <= 10 examples; its three Table-1 tasks."""

PAPER_ICL = (
    dataclasses.replace(
        PAPER_SFT, methods=("icl",), budgets=(0.3, 0.5, 1, 3, 6), hq_fractions=(0.0,), hq_only_budgets=()
    ),
    dataclasses.replace(
        PAPER_SFT, methods=("icl",), budgets=(3, 5, 10, 30, 50, 60), hq_fractions=(1.0,), hq_only_budgets=()
    ),
)
"""The authors' ICL sweep (`cost_sweep_few_shot.py`): every label bought is a demonstration;
3, 5, 10, 30, 60 weak-only shots (budgets at $0.10 a label) and 3, 5, 10, 30, 50, 60 HQ-only."""

PAPER_GRIDS = (PAPER_SFT, *PAPER_ICL)


def paper_configs() -> list[RunConfig]:
    return [cfg for grid in PAPER_GRIDS for cfg in expand(RunConfig(), grid)]


PROBE_LAYER = 0.55
"""Depth of the probed hidden state (0: embeddings, 1: the last of Gemma's 18 layers): layer 10,
the best of 19 by 5-fold cross-validation on pool tweets (`benchmarks/probe_choice.py`: 0.820 with
1,024 labels; layers 8-13 all within 0.01 of it; the embeddings 0.779, the last layer 0.819)."""

TEMPLATE = RunConfig(
    task=TaskConfig(task="tweet-sentiment", test_size=300, max_pool=3200),
    weak=WeakConfig(weak_model="minilm-l6", weak_n_train=100, weak_n_val=50),
    strong_model="gemma-3-270m",
    pooling="mean",
    probe=ProbeConfig(probe_layer=PROBE_LAYER),
)

PROBES = Grid(
    tasks=("tweet-sentiment",),
    methods=("probe_seq_sft", "probe_uncertainty", "probe_logconf"),  # the SFT methods, --learner probe
    budgets=(16, 64, 256, 1024),
    weak_costs=(0.1,),
    hq_fractions=PAPER_SFT.hq_fractions,
    seeds=tuple(range(10)),
)
"""The paper's grid (its HQ fractions) up to the budgets the pool can supply, with 10 seeds
everywhere (the paper: 3, 7 where a stage has <= 10 examples; probe runs are cheap, and the
regimes are judged against the seeds' spread); allocations the pool cannot supply are skipped and
counted. Re-costed at $0.50/$0.10/$0.01 in the report."""

ICL = (
    Grid(tasks=("tweet-sentiment",), methods=("icl",), budgets=(0.3,), hq_fractions=(0.0,), seeds=(0,)),
    Grid(tasks=("tweet-sentiment",), methods=("icl",), budgets=(3,), hq_fractions=(1.0,), seeds=(0,)),
)
"""3-shot ICL with weak and with HQ demonstrations (the authors' smallest ICL allocations)."""

LORA_TRAIN = TrainConfig(example_visits=256, eval_every=4, eval_last_step=True)
"""Real LoRA runs cost seconds per step here: 256 example visits per stage (8-10 steps of 32)."""

LORA = (
    Grid(tasks=("tweet-sentiment",), methods=("seq_sft",), budgets=(16,), hq_fractions=(0.0,), seeds=(0,)),
    Grid(tasks=("tweet-sentiment",), methods=("seq_sft",), budgets=(64,), hq_fractions=(1.0,), seeds=(0,)),
)
"""LoRA sequential SFT at $16 all-weak and $64 all-HQ: the two ends of the probes' story at the
budgets where a LoRA stage is a few steps, checked with full fine-tuning."""

NOTES = (
    "strong model Gemma-3-270M (the paper: Llama-3-8B); weak labeler MiniLM-L6 fine-tuned on 100 "
    "tweets (the paper: Qwen1.5-0.5B on 8,000 examples), chosen so that the weak labels are cheap "
    "and noisy as the paper's (0.68-0.79 accurate): trained on 300 tweets it was 0.75 accurate, "
    "as good as the 270M model's probe with a few hundred labels, leaving nothing to elicit",
    "probe_* methods train a linear head on the frozen model's cached activations with the "
    "paper's protocol: the mean over tokens of layer 10 of 18, chosen by 5-fold cross-validation "
    "on pool tweets, never the test split (benchmarks/probe_choice.py: 0.820 with 1,024 labels; "
    "layers 8-13 within 0.01; the embeddings 0.779; the last layer 0.819); the last-token pooling "
    "of transformers' decoders probed 5-8 points lower on 1,200 pool tweets, with or without a "
    "framing prompt. A probe measures what a linear read-out of one layer knows: a lower bound on "
    "fine-tuning",
    "real LoRA runs are two and short (256 example visits per stage instead of 20,000), so they "
    "understate fine-tuning; they are compared with the probes at the same allocations above",
    "one task (the embedded tweets), a 3,200-tweet pool and a 300-tweet test set (the paper: five "
    "tasks, ~58k and 1,000); ICL with 3 demonstrations and one seed",
)


def demo_configs() -> list[RunConfig]:
    lora = dataclasses.replace(TEMPLATE, train=LORA_TRAIN)
    return (
        expand(TEMPLATE, PROBES)
        + [c for grid in ICL for c in expand(TEMPLATE, grid)]
        + [c for grid in LORA for c in expand(lora, grid)]
    )


PRESETS: dict[str, Callable[[], list[RunConfig]]] = {"paper": paper_configs, "demo": demo_configs}
