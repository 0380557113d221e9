"""Built-in sweeps: the paper's grid (PROTOCOL) and the main job's.

The main job: the paper's grid on a real causal LM, on a CPU, in minutes, ending in the report.

The strong model is Gemma-3-270M. Fine-tuning it with LoRA takes seconds per step on a laptop
CPU, so the grid runs as *probes* (the paper's protocol with a linear head on the frozen model's
cached activations, `methods/probe.py`): the activations are computed once (a few minutes), then
each run takes a fraction of a second. On top: few-shot ICL with the model's own LM head.
`labelbudget demo --lora` adds real LoRA sequential-SFT runs with the protocol's schedule (early
stopping included) at 4 allocations x 3 seeds, and the report says whether probes and LoRA rank
those allocations alike (Kendall's tau, accuracy and AUROC, bootstrap intervals).

What was chosen, and why (all on validation data from the pool, never the test split; the numbers
are in `benchmarks/probe_choice.py`'s output and the README):
- pooling: the mean over tokens (`--pooling mean`); the last token, which transformers' decoders
  pool, probed 5-8 points worse on tweets with or without a framing prompt;
- layer: `PROBE_LAYER` of the depth, the best by cross-validation over the pool;
- the weak labelers: two, as the paper's Figure 2 compares weak labels of two qualities (a 0.5B and
  a 4B model): MiniLM-L6 fine-tuned on 100 and on 700 pool tweets (`WEAK_LABELERS`: about 3% and
  22% of the pool; 700 + 100 validation is the most the weak model may take, a quarter of the
  pool), each with its own validation tweets from the pool. The rule: the sizes are
  fixed fractions of the pool, never picked by any accuracy; the report quotes each one's accuracy
  on its pool validation tweets (what a user without a test set would see) and on the test set,
  and answers per labeler;
- the activation pass: only the layers up to the probed one (11 of Gemma's 18 layers);
- scale: a 3,200-tweet pool (at $0.10 the pool supplies every allocation up to $256 and the
  all-HQ and 80% HQ ones at $1024) and a 300-tweet test set, so the activation pass fits.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from labelbudget.config import ProbeConfig, RunConfig, TaskConfig, WeakConfig
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

WEAK_LABELERS = (
    WeakConfig(weak_model="minilm-l6", weak_n_train=100, weak_n_val=50),
    WeakConfig(weak_model="minilm-l6", weak_n_train=700, weak_n_val=100),
)
"""The demo's two weak labelers (about 3% and 22% of the 3,200-tweet pool; see the docstring).
Measured before the demo used them, on their pool validation tweets (test set in brackets):
0.62 (0.66) on 50 for 100 tweets; 0.77 (0.80) on 133 for 666 tweets."""

PROBES = Grid(
    tasks=("tweet-sentiment",),
    methods=("probe_seq_sft", "probe_uncertainty", "probe_logconf"),  # the SFT methods, --learner probe
    budgets=(16, 64, 256, 1024),
    weak_costs=(0.1,),
    hq_fractions=PAPER_SFT.hq_fractions,
    seeds=tuple(range(5)),
)
"""The paper's grid (its HQ fractions) up to the budgets the pool can supply, with 5 seeds
everywhere per weak labeler (the paper: 3, 7 where a stage has <= 10 examples; 10 seeds for two
labelers took the demo past 15 minutes here, and the surface pools the seeds of neighbouring
allocations); allocations the pool cannot supply are skipped and
counted. Re-costed at $0.50/$0.10/$0.01 in the report."""

ICL = (Grid(tasks=("tweet-sentiment",), methods=("icl",), budgets=(3,), hq_fractions=(1.0,), seeds=(0,)),)
"""3-shot ICL with HQ demonstrations (the authors' smallest HQ ICL allocation). One run: each
scores 300 few-shot prompts through the whole model (about 2.5 minutes here), and the run with
weak demonstrations that the demo also had took it past 15 minutes; `--preset paper` has both."""

LORA = (
    Grid(tasks=("tweet-sentiment",), methods=("seq_sft",), budgets=(16,), hq_fractions=(0.0, 0.4, 1.0)),
    Grid(tasks=("tweet-sentiment",), methods=("seq_sft",), budgets=(64,), hq_fractions=(1.0,)),
)
"""`demo --lora`: LoRA sequential SFT with the protocol's schedule (`TrainConfig()`: 20,000
example visits, evaluation every min(50 steps, an epoch), patience 4, early stopping) at 4
allocations the probe grid also has ($16 all-weak 160, $16 100 weak + 6 HQ, $16 all-HQ, $64
all-HQ), 3 seeds (the paper's), with the first weak labeler: stages of at most 160 examples, so
that early stopping ends them in tens of steps (seconds each on a CPU)."""

THREE = Grid(
    tasks=("tweet-sentiment-3",),
    methods=("probe_seq_sft", "probe_uncertainty"),
    budgets=PROBES.budgets,
    weak_costs=PROBES.weak_costs,
    hq_fractions=PROBES.hq_fractions,
    seeds=PROBES.seeds,
)
"""The three classes (negative, neutral, positive: `tweet-sentiment-3`), the same grid as the
binary task's with its better weak labeler (MiniLM on 700 pool tweets, now a 3-way head) and two
probe methods: the answer for three classes beside the binary one, within the demo's time."""

THREE_SOURCES = ("lm=prompt:gemma-3-270m@0.02", "minilm=trained@0.1", "gold=ground-truth@1")
"""The demo's three priced sources (issue 38): the embedded strong model itself asked zero-shot
(the cheapest, $0.02 a label: an LLM labeler's price), the MiniLM labeler trained on 100 pool
tweets (the paper's weak labels at $0.10) and gold labels ($1: the paper's HQ)."""

SOURCES_POOL = 1500
"""The three sources' pool: the zero-shot LM labels every pool text it may sell (about 20 a second
here), so a smaller pool than the binary grid's keeps the demo within its time; at $64 it then
cannot supply the points that buy mostly LM labels (skipped and counted, as everywhere)."""

SIMPLEX = Grid(tasks=("tweet-sentiment",), methods=("probe_seq_sft",), budgets=(16, 64), seeds=(0, 1, 2))
"""The three sources' grid: each budget split at the simplex's vertices, edge midpoints, centre
and the points between the centre and each vertex (`grid.simplex_points`), 3 seeds."""

NOTES = (
    "strong model Gemma-3-270M (the paper: Llama-3-8B); two weak labelers, MiniLM-L6 fine-tuned on "
    "100 and on 700 pool tweets (the paper: Qwen1.5-0.5B and Qwen1.5-4B on 8,000 examples, "
    "Figure 2), sizes fixed as about 3% and 22% of the pool, never chosen by an accuracy; each "
    "variant's label names its labeler (weak_n_train), and the answer is given per labeler",
    "probe_* methods train a linear head on the frozen model's cached activations with the "
    "paper's protocol: the mean over tokens of layer 10 of 18, chosen by 5-fold cross-validation "
    "on pool tweets, never the test split (benchmarks/probe_choice.py: 0.820 with 1,024 labels; "
    "layers 8-13 within 0.01; the embeddings 0.779; the last layer 0.819); the last-token pooling "
    "of transformers' decoders probed 5-8 points lower on 1,200 pool tweets, with or without a "
    "framing prompt. A probe measures what a linear read-out of one layer of the frozen model "
    "knows; whether fine-tuning ranks allocations alike is what `labelbudget demo --lora` measures "
    "(the demo alone makes no claim about LoRA)",
    "one binary task (the embedded tweets), a 3,200-tweet pool and a 300-tweet test set (the paper: "
    "five tasks, ~58k and 1,000); ICL with 3 HQ demonstrations and one seed; the three-class tweets "
    "(tweet-sentiment-3: negative, neutral, positive) with the better weak labeler and two probe "
    "methods, answered apart (chance is 1/3 there)",
)


def demo_configs(lora: bool = False) -> list[RunConfig]:
    """The demo's runs: the probe grid per weak labeler and ICL; with `lora`, the LoRA runs too."""
    configs = [c for weak in WEAK_LABELERS for c in expand(dataclasses.replace(TEMPLATE, weak=weak), PROBES)]
    configs += [c for grid in ICL for c in expand(TEMPLATE, grid)]
    three = dataclasses.replace(TEMPLATE, task=dataclasses.replace(TEMPLATE.task, task="tweet-sentiment-3"))
    configs += expand(dataclasses.replace(three, weak=WEAK_LABELERS[1]), THREE)
    several = dataclasses.replace(
        TEMPLATE, task=dataclasses.replace(TEMPLATE.task, max_pool=SOURCES_POOL), sources=THREE_SOURCES
    )
    configs += expand(several, SIMPLEX)
    if lora:
        configs += [c for grid in LORA for c in expand(TEMPLATE, grid)]
    return configs


PRESETS: dict[str, Callable[[], list[RunConfig]]] = {"paper": paper_configs, "demo": demo_configs}
