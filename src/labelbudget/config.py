"""Frozen, typed configs: one per concept, each field documented, validated on construction.

A run's identity is the hash of what its `RunConfig` says the run reads (`runs.identity`).
Defaults reproduce the paper's protocol (../shared/PROTOCOL.md); departures are named in the
field docs. `run_config_from_dict` reads every config labelbudget ever stored.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import tyro

from labelbudget.allocation import check_config
from labelbudget.util.checks import _check, check_types
from labelbudget.util.errors import UserError


@dataclass(frozen=True)
class TaskConfig:
    """Which labeled data, and how it is split into a held-out test set and a pool."""

    task: str = "tweet-sentiment"
    """A registered task name (`labelbudget list`) or a path to a CSV, TSV or JSONL file."""
    text_column: str = "text"
    """For a file task: the column holding the input text."""
    label_column: str = "label"
    """For a file task: the column holding the label: class names or ids 0..K-1 (0/1: two classes)."""
    label_map: dict[str, int] = field(default_factory=dict)
    """For a file task: raw labels to class ids 0..K-1, e.g. `--label-map pos 1 neg 0` or, merging
    classes, `--label-map pos 1 neg 0 neutral 0` (rows with other labels dropped, counted, said)."""
    classes: tuple[str, ...] = ()
    """Class names in id order (default: the file's labels, sorted); names an `--unlabeled` file's."""
    descriptions: tuple[str, ...] = ()
    """What each class means, one per class in id order, for the person labeling and a prompt."""
    question: str = ""
    """What a person or a language model is asked of each text (default: which class it is)."""
    answers: tuple[str, ...] = ()
    """A language model's answer word per class (icl, prompted SFT, `prompt:`; default: the ids)."""
    test_size: int = 1000
    """Size of the held-out test set (PROTOCOL: 1000 in the sweeps); balanced: test_size // K per class."""
    test_file: str | None = None
    """A labeled CSV/TSV/JSONL (the task's columns) to test on instead of a split of the task."""
    test_mix: Literal["balanced", "natural"] = "balanced"
    """The test set's class mix: 50/50 as the paper (and the pool), or the data's own (stratified)."""
    header: bool = True
    """CSV/TSV: the first row names the columns; `--no-header`: `text`, `label` (or `column1`, ...)."""
    unlabeled: bool = False
    """No gold labels (`tasks.gold`): every row's label is unknown (the label column is not read),
    HQ labels come from a person (`--oracle file`), the test set from `--test-file` or the person."""
    max_pool: int | None = None
    """Cap on the pool size (None: all remaining examples, as the paper)."""
    data_seed: int = 0
    """Seed of dedup order, balancing, binarization and the test split (fixed across seeds)."""
    truncate: bool = False
    """Texts longer than a model's context: an error (the paper's), or cut keeping their end."""
    data_dir: str | None = None
    """For the paper's tasks: a local copy (`save_to_disk` folder or hub clone), not the hub."""

    def __post_init__(self) -> None:
        check_types(self)
        size = self.test_size
        _check(
            size >= 2, "test_size", f"must be at least 2, got {size}", "pass --test-size 1000 (the paper's)"
        )
        _check(
            self.text_column != self.label_column,
            "text_column",
            f"is the label column too ({self.text_column!r})",
            "pass --text-column and --label-column with two different columns",
        )
        ok = self.max_pool is None or self.max_pool >= 1
        _check(ok, "max_pool", f"must be positive, got {self.max_pool}", "omit --max-pool or pass a size")
        ids = sorted(set(self.label_map.values()))
        _check(
            all(i >= 0 for i in ids),
            "label_map",
            f"values must be class ids 0, 1, 2, ..., got {ids}",
            "map each raw label to a class id, e.g. --label-map positive 1 negative 0",
        )
        _check(
            not self.classes or not ids or len(self.classes) == len(ids),
            "classes",
            f"names {len(self.classes)} classes but --label-map maps to {len(ids)}",
            "give one name per class id of --label-map",
        )
        seed = self.data_seed
        _check(seed >= 0, "data_seed", f"must be >= 0, got {seed}", "pass --data-seed 0 or more")
        _check(self.task.strip() != "", "task", "is empty", "pass --task with a task name or a file path")


@dataclass(frozen=True)
class WeakConfig:
    """The weak labeler: a small model fine-tuned on ground truth (PROTOCOL, "Weak labels")."""

    weak_model: str = "minilm-l6"
    """Embedded name or Hugging Face id/path of the weak model (paper: Qwen1.5-0.5B)."""
    weak_n_train: int = 8000
    """Ground-truth training examples for the weak model (paper: 8,000)."""
    weak_n_val: int = 500
    """Ground-truth validation examples, used to report the weak model's accuracy (paper: 500)."""
    weak_max_pool_fraction: float = 0.25
    """The weak model takes at most this fraction of the pool (the paper's 8,500 of ~58,500: 0.15)."""
    weak_epochs: float = 3.0
    """Epochs of weak-model training, no early stopping (paper: 3)."""
    weak_lr: float = 5e-4
    """Learning rate of the weak model (paper: 5e-4)."""
    weak_pool: Literal["clean", "paper"] = "clean"
    """`clean` (default) keeps the weak model's own training examples out of the elicitation pool;
    `paper` keeps them in, as the original code did (PROTOCOL, "Weak labels")."""
    weak_target_accuracy: float | None = None
    """Train the weak model until its validation accuracy reaches this (the authors'
    `vanilla_weak_labels.py --target_accuracy`); None: the full epochs (the paper's)."""

    def __post_init__(self) -> None:
        check_types(self)
        for name in ("weak_n_train", "weak_n_val"):
            n = getattr(self, name)
            _check(n >= 2, name, f"must be at least 2, got {n}", f"pass --{name.replace('_', '-')} 2 or more")
        _check(
            0 < self.weak_max_pool_fraction <= 1,
            "weak_max_pool_fraction",
            f"must be in (0, 1], got {self.weak_max_pool_fraction}",
            "pass a fraction like 0.25",
        )
        target = self.weak_target_accuracy
        ok = target is None or 0.5 < target <= 1
        _check(ok, "weak_target_accuracy", f"must be in (0.5, 1], got {target}", "pass 0.7 (say), or omit it")
        ok = self.weak_epochs > 0 and self.weak_lr > 0
        _check(ok, "weak_epochs/weak_lr", "must be positive", "pass positive --weak-epochs and --weak-lr")


@dataclass(frozen=True)
class TrainConfig:
    """One supervised training stage (PROTOCOL, "Sequential SFT"; paper Appendix A.1)."""

    lr: float | None = None
    """Learning rate; None picks the paper's value for known models, else 5e-4."""
    batch_size: int = 32
    """Training minibatch size (paper: 32)."""
    example_visits: int = 20000
    """Epochs = max(example_visits / n_train, 1): about 625 steps of 32 (a later version: 30000)."""
    max_warmup_steps: int = 40
    """Linear warmup of min(this, steps per epoch) steps, at least 2 (Adam's buffer re-estimate)."""
    eval_every: int = 50
    """Evaluate every min(this many steps, one epoch)."""
    patience: int = 4
    """Stop after this many evaluations that fail to beat the best validation AUROC by min_delta."""
    min_delta: float = 0.01
    """The validation-AUROC gain that counts as an improvement."""
    early_stopping: Literal["authors", "transformers"] = "authors"
    """What resets the patience: `authors` (their `EarlyStoppingCallback`, `w2s/sft_utils.py`):
    a reference score that moves only on a gain of at least min_delta; `transformers`: every new
    best moves the reference. Either way the best state seen is restored."""
    eval_last_step: bool = False
    """Also evaluate at a stage's last step, so the best-state choice sees the final state. The
    authors' Trainer evaluated only every `eval_every` steps (off by default, as theirs)."""
    max_grad_norm: float | None = 1.0
    """Gradient-norm clipping (the authors' Trainer's default, 1.0)."""
    micro_batch: int = 32
    """At most this many examples per forward pass inside an optimizer batch (packed in rows; no
    effect on results). Log-confidence always uses micro-batches of 8, as the authors."""
    micro_batch_tokens: int = 4096
    """At most this many tokens per training forward pass (a longer text alone): bounds a backward
    pass's memory on long texts (~0.6 MB per token for Gemma-3-270M in fp32). No effect on results."""
    weight_decay: float = 0.01
    """AdamW weight decay (paper: 0.01)."""
    beta2: float = 0.95
    """AdamW beta2 (paper: 0.95)."""
    lora_rank: int = 8
    """LoRA rank on every linear projection (alpha = rank, peft's default)."""
    eval_batch_size: int = 64
    """Batch size for validation and test scoring (no effect on results)."""
    dtype: Literal["auto", "float32", "bfloat16"] = "auto"
    """Backbone weight dtype. `auto`: bf16 where the device computes it natively (paper), else
    fp32 (e.g. CPUs without AVX512-BF16/AMX, where bf16 is emulated and slow). The head is fp32."""

    def __post_init__(self) -> None:
        check_types(self)
        for name in (
            "batch_size",
            "example_visits",
            "eval_every",
            "patience",
            "lora_rank",
            "eval_batch_size",
            "micro_batch",
            "micro_batch_tokens",
        ):
            value = getattr(self, name)
            _check(value >= 1, name, f"must be at least 1, got {value}", f"pass a positive {name}")
        _check(
            self.max_warmup_steps >= 0 and self.weight_decay >= 0 and self.min_delta >= 0,
            "max_warmup_steps/weight_decay/min_delta",
            "must be >= 0",
            "pass non-negative --max-warmup-steps, --weight-decay and --min-delta",
        )
        _check(0 < self.beta2 < 1, "beta2", f"must be in (0, 1), got {self.beta2}", "pass e.g. --beta2 0.95")
        _check(
            self.max_grad_norm is None or self.max_grad_norm > 0,
            "max_grad_norm",
            f"must be positive, got {self.max_grad_norm}",
            "pass a positive --max-grad-norm (the authors': 1.0)",
        )
        _check(
            self.lr is None or self.lr > 0,
            "lr",
            f"must be positive, got {self.lr}",
            "omit --lr for the paper's default or pass a positive value",
        )


@dataclass(frozen=True)
class MethodOptions:
    """Options of the elicitation methods (PROTOCOL, "Elicitation methods"). Each method declares
    the ones it reads (`register_method(..., reads=...)`); the others are no part of its identity."""

    k_shot: int | None = None
    """`prompted_seq_sft`: demonstrations prefixed to every input (default 2, as the paper).
    (`icl` uses every label the budget buys as a demonstration, as the authors' ICL sweep.)"""
    temperature: float = 0.0
    """Uncertainty sampling: 0 takes the highest-entropy examples (then shuffles them); T > 0
    samples without replacement with weights entropy**(1/T)."""
    max_candidates: int | None = None
    """Uncertainty sampling: score at most this many HQ candidates (None: all, as the paper)."""
    schedule: Literal["early-stopping", "openai"] = "early-stopping"
    """SFT stages: the paper's early-stopping schedule, or the OpenAI-API-like one (no validation
    split, no early stopping, batch and epochs from n)."""

    def __post_init__(self) -> None:
        check_types(self)
        _check(
            self.k_shot is None or self.k_shot >= 1,
            "k_shot",
            f"must be at least 1, got {self.k_shot}",
            "omit --k-shot for the method's default or pass a positive number",
        )
        _check(
            self.temperature >= 0,
            "temperature",
            f"must be >= 0, got {self.temperature}",
            "pass --temperature 0 (top-k) or a positive temperature",
        )
        _check(
            self.max_candidates is None or self.max_candidates >= 1,
            "max_candidates",
            f"must be positive, got {self.max_candidates}",
            "omit --max-candidates or pass a positive size",
        )


@dataclass(frozen=True)
class ProbeConfig:
    """The probe learner (`--learner probe`, or the `probe_*` method names): the paper's protocol
    with a new linear head trained on the frozen strong model's cached activations
    (`models/activations.py`) instead of LoRA fine-tuning. Every other setting (stages, early
    stopping, budget) is the run's own."""

    probe_layer: float = 0.5
    """Which hidden state is probed, as a depth: 0 the embeddings, 1 the last layer (rounded to
    the nearest layer). Middle layers usually probe best; choose on validation data."""
    probe_lr: float = 1e-3
    """AdamW learning rate of the probe head (LoRA runs use `--lr`)."""

    def __post_init__(self) -> None:
        check_types(self)
        layer, lr = self.probe_layer, self.probe_lr
        _check(0 <= layer <= 1, "probe_layer", f"must be in [0, 1], got {layer}", "pass --probe-layer 0.5")
        _check(lr > 0, "probe_lr", f"must be positive, got {lr}", "pass e.g. --probe-lr 1e-3")


@dataclass(frozen=True)
class RunConfig:
    """One budgeted elicitation run: task -> weak labels -> method within budget -> test metrics."""

    task: TaskConfig = field(default_factory=TaskConfig)
    weak: WeakConfig = field(default_factory=WeakConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    options: MethodOptions = field(default_factory=MethodOptions)
    probe: ProbeConfig = field(default_factory=ProbeConfig)
    strong_model: str = "gemma-3-270m"
    """Embedded name or Hugging Face id/path of the strong model (paper: Llama-3-8B)."""
    pooling: Literal["auto", "last", "mean"] = "auto"
    """How the strong model's hidden states become one vector for the head (fine-tuning and
    probes alike): `auto` is the last real token for decoders (as transformers'
    *ForSequenceClassification, which the authors used) and the mean for encoders."""
    method: str = "seq_sft"
    """Elicitation method (`labelbudget list`). The names `probe_seq_sft`, `probe_uncertainty`
    and `probe_logconf` are kept as aliases of the method with `--learner probe`."""
    learner: str = "lora"
    """What the SFT methods train (`labelbudget list`): `lora` (LoRA + a new head on the strong
    model, the paper's) or `probe` (a new linear head on its cached activations; fast)."""
    weak_labels: str = "trained"
    """Where weak labels come from (`labelbudget list`): `trained` (the paper's; `--weak-*`),
    `trained-shuffled`, `column:NAME`, `file:PATH` or `prompt:MODEL[:K]` (K HQ demonstrations)."""
    oracle: str = "ground-truth"
    """Where HQ labels come from: `ground-truth`, the dataset's labels through a counting oracle (the
    paper's simulation), or `file`, a person labeling a CSV (the run stops; `--labels-file` resumes)."""
    budget: float = 64.0
    """Labeling budget in $, where one high-quality label costs $1."""
    weak_cost: float = 0.1
    """Cost of one weak label in $ (paper: 0.50, 0.10, 0.01)."""
    hq_fraction: float = 0.5
    """Fraction of the budget spent on HQ labels: n_hq = int(f * B), n_weak = int((B - n_hq) / c)."""
    seed: int = 0
    """Seed of the pool partition, head and LoRA init, and batch order."""
    sources: Annotated[tuple[str, ...], tyro.conf.arg(aliases=("--source",)), tyro.conf.UseAppendAction] = ()
    """Label sources instead of the pair: `--source NAME=SOURCE@PRICE` each (`expert=ground-truth@1`)."""
    shares: tuple[str, ...] = ()
    """With `--source`: the budget's split, `NAME=SHARE` each, summing to 1 (a point on the simplex)."""

    def __post_init__(self) -> None:
        check_types(self)
        _check(
            self.budget > 0,
            "budget",
            f"must be positive, got {self.budget}",
            "pass --budget with a positive number of $ (one HQ label costs $1)",
        )
        _check(
            0 < self.weak_cost <= 1,
            "weak_cost",
            f"must be positive and at most 1 (the price of an HQ label), got {self.weak_cost}",
            "pass --weak-cost with the price of one weak label in $, e.g. 0.1",
        )
        _check(
            self.budget / self.weak_cost < 1e12,
            "budget",
            f"${self.budget:g} at ${self.weak_cost:g} a label buys {self.budget / self.weak_cost:.3g} labels",
            "pass a --budget and --weak-cost that buy fewer than 10^12 labels",
        )
        _check(
            0 <= self.hq_fraction <= 1,
            "hq_fraction",
            f"must be in [0, 1], got {self.hq_fraction}",
            "pass --hq-fraction between 0 (all weak) and 1 (all HQ)",
        )
        _check(self.seed >= 0, "seed", f"must be >= 0, got {self.seed}", "pass --seed 0 or more")
        check_config(self)
        if self.method in METHOD_ALIASES:  # one spelling of each experiment
            method, learner = METHOD_ALIASES[self.method]
            object.__setattr__(self, "method", method)
            object.__setattr__(self, "learner", learner)


METHOD_ALIASES = {
    "probe_seq_sft": ("seq_sft", "probe"),
    "probe_uncertainty": ("uncertainty", "probe"),
    "probe_logconf": ("logconf", "probe"),
}
"""Method names from before the learner was a field: each names one experiment, as stored runs do."""


def to_dict(config: Any) -> dict[str, Any]:
    return dataclasses.asdict(config)


def to_json(config: Any) -> str:
    """Canonical JSON: sorted keys, no whitespace, so equal configs give equal strings."""
    return json.dumps(to_dict(config), sort_keys=True, separators=(",", ":"))


def run_config_from_json(text: str) -> RunConfig:  # a stored config, read as today's
    return run_config_from_dict(json.loads(text))


SUBCONFIGS = dict(
    task=TaskConfig, weak=WeakConfig, train=TrainConfig, options=MethodOptions, probe=ProbeConfig
)


def run_config_from_dict(data: dict[str, Any]) -> RunConfig:
    """A `RunConfig` from its dict, including every layout labelbudget has stored: fields added
    since take their defaults, and the layout before the learner and per-method options
    (`options.oracle`, `options.weak_loss`, `options.hq_loss`) is carried over to today's."""
    data = dict(data)
    parts = {k: dict(data.pop(k, None) or {}) for k in SUBCONFIGS}
    options = parts["options"]
    if "oracle" in options:  # stored before the HQ source was a run-level choice
        data.setdefault("oracle", options.pop("oracle"))
    weak_loss, hq_loss = options.pop("weak_loss", "xent"), options.pop("hq_loss", "xent")
    if hq_loss != "xent":
        raise UserError(
            "a config with the log-confidence loss in the HQ stage (options.hq_loss), which "
            "labelbudget no longer runs",
            "rerun it as --method logconf (log-confidence in the weak stage, as the paper)",
        )
    if weak_loss == "logconf":  # `--weak-loss logconf` was a second spelling of `logconf`
        spelled = {"seq_sft": "logconf", "probe_seq_sft": "probe_logconf", "logconf": "logconf"}
        if data.get("method", "seq_sft") not in spelled:
            raise UserError(
                f"a {data.get('method')} config with the log-confidence weak loss, which labelbudget "
                "runs only as the method logconf",
                "rerun it as --method logconf",
            )
        data["method"] = spelled[data.get("method", "seq_sft")]
    return RunConfig(**{k: cls(**parts[k]) for k, cls in SUBCONFIGS.items()}, **data)
