"""Sequential SFT (paper Sec. 3.2): train on weak labels, then on HQ labels.

The HQ stage continues the same LoRA weights and head from the weak stage's best state, with a
fresh optimizer and schedule; a stage with zero examples is skipped. Both stages early-stop on
validation AUROC, and their validation labels are part of what was bought.

The variants of the paper override one hook each: `demonstrations` (few-shot-prompted SFT),
`select_hq` (uncertainty sampling), `stage_loss` (log-confidence). The OpenAI-API-like schedule
is an option of every variant (`MethodOptions.schedule`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

import numpy as np
import torch

from labelbudget.atomic import torch_save_atomic
from labelbudget.batching import Encoder
from labelbudget.budget import stage_split
from labelbudget.config import to_dict
from labelbudget.losses import LOSSES
from labelbudget.methods import (
    PURPOSE_HQ_STAGE,
    PURPOSE_PROMPTS,
    PURPOSE_WEAK_STAGE,
    Elicitation,
    Method,
    register_method,
)
from labelbudget.models import Classifier, build_classifier, default_lr
from labelbudget.prompts import Demo, prompted
from labelbudget.train import Schedule, StageData, predict, train_stage


class SequentialSFT(Method):
    model: Classifier

    micro_batch: int | None = None
    """Examples per forward pass (None: `train.micro_batch`)."""

    def setup(self, ctx: Elicitation) -> None:
        """The model the stages train: LoRA + a new head on the strong model."""
        cfg = ctx.config
        with ctx.phases("strong model load"):
            self.model = build_classifier(
                cfg.strong_model, cfg.train.lora_rank, cfg.train.dtype, cfg.seed, cfg.pooling
            )
        self.encoder = Encoder(self.model.tokenizer, self.model.max_length, cfg.task.truncate)

    def features(self, ctx: Elicitation, ids: np.ndarray):
        """The model's inputs for these pool examples: token ids (behind any demonstrations)."""
        return self.encoder(self.inputs(ctx.pool_texts(ids)))

    def lr(self, ctx: Elicitation) -> float:
        return ctx.config.train.lr or default_lr(ctx.config.strong_model)

    def family(self, ctx: Elicitation) -> dict:
        """What, beyond the run's config, makes two weak stages different models."""
        return {"model": "lora", "pooling": ctx.config.pooling}

    def fit(self, ctx: Elicitation) -> None:
        cfg = ctx.config
        self.setup(ctx)
        self.batch_size = cfg.train.eval_batch_size
        self.prompt_rng = ctx.rng(PURPOSE_PROMPTS)
        self.demos = self.demonstrations(ctx)
        weak_ids, weak_probs = ctx.weak.buy(ctx.allocation.n_weak - ctx.weak.count)
        resumed = ctx.oracle.saved_state() if ctx.oracle.pauses else None
        if resumed is None:
            self.weak_stage(ctx, weak_ids, weak_probs)
            hq_ids = self.select_hq(ctx)
            if ctx.oracle.pauses and len(hq_ids):
                # A person labels now; keep what the weak stage learned so the run can resume.
                ctx.oracle.save_state({**self.checkpoint(), "hq_ids": hq_ids})
        else:
            self.restore(resumed)
            hq_ids = resumed["hq_ids"]
        labels = ctx.oracle.label(hq_ids) if len(hq_ids) else np.zeros(0)
        self.run_stage(ctx, "hq", hq_ids, labels.astype(np.float32))

    def weak_stage(self, ctx: Elicitation, ids: np.ndarray, probs: np.ndarray) -> None:
        """Train the weak stage, or branch from an identical one another run of the sweep saved.

        Identical means: same task, weak labels, strong model, training settings, seed, weak
        ids (a function of the seed and n_weak) and weak-stage behaviour (loss, schedule, prompt).
        Everything the HQ stage depends on is restored, RNG states included, so a branched run
        equals an independent one.
        """
        path = (
            None
            if ctx.shared is None or len(ids) == 0
            else ctx.shared / f"{self.weak_stage_key(ctx, ids)}.pt"
        )
        if path is not None and path.exists():
            self.restore(torch.load(path, weights_only=False))
            return
        self.run_stage(ctx, "weak", ids, probs)
        if path is not None:
            torch_save_atomic(path, self.checkpoint())

    def checkpoint(self) -> dict:
        """Everything the HQ stage depends on after the weak stage, RNG states included."""
        return {
            "model": self.model.trainable_state(),
            "stages": self.stages,
            "prompt_rng": self.prompt_rng,
            "torch_rng": torch.get_rng_state(),
        }

    def restore(self, saved: dict) -> None:
        self.model.load_trainable_state(saved["model"])
        self.stages, self.prompt_rng = saved["stages"], saved["prompt_rng"]
        torch.set_rng_state(saved["torch_rng"])

    def weak_stage_key(self, ctx: Elicitation, ids: np.ndarray) -> str:
        cfg = ctx.config
        options = cfg.options
        parts = {
            "task": to_dict(cfg.task),
            "weak": to_dict(cfg.weak),
            "train": to_dict(cfg.train),
            "strong_model": cfg.strong_model,
            "seed": cfg.seed,
            "weak_ids": hashlib.sha256(np.asarray(ids, dtype=np.int64).tobytes()).hexdigest(),
            "loss": self.stage_loss(ctx, "weak"),
            "schedule": options.schedule,
            "demos": [d for d, _ in self.demos],
            "family": self.family(ctx),
            "version": 3,
        }
        return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]

    def demonstrations(self, ctx: Elicitation) -> list[Demo]:
        """In-context demonstrations prefixed to every input (none for plain sequential SFT)."""
        return []

    def select_hq(self, ctx: Elicitation) -> np.ndarray:
        """Which pool examples get HQ labels: here a random subset (the candidates are shuffled)."""
        return ctx.hq_candidates[: ctx.hq_left]

    def stage_loss(self, ctx: Elicitation, stage: str) -> str:
        options = ctx.config.options
        return options.weak_loss if stage == "weak" else options.hq_loss

    def inputs(self, texts: Sequence[str]) -> list[str]:
        return prompted(texts, self.demos, self.prompt_rng) if self.demos else list(texts)

    def run_stage(self, ctx: Elicitation, name: str, ids: np.ndarray, targets: np.ndarray) -> None:
        if len(ids) == 0:
            return
        cfg, train_cfg = ctx.config, ctx.config.train
        loss_name = self.stage_loss(ctx, name)
        rng = ctx.rng(PURPOSE_HQ_STAGE if name == "hq" else PURPOSE_WEAK_STAGE)
        encoded = self.features(ctx, ids)
        targets = targets.astype(np.float32)
        if cfg.options.schedule == "openai":  # no validation split: every label trains
            train, val = StageData(encoded, targets), None
            schedule = Schedule.openai(len(train))
        else:
            train_pos, val_pos = stage_split(len(ids), rng)
            train = StageData(take(encoded, train_pos), targets[train_pos])
            val = StageData(take(encoded, val_pos), targets[val_pos])
            schedule = Schedule.early_stopping(len(train), train_cfg)
        with ctx.phases(f"{name} stage"):
            report = train_stage(
                self.model,
                train,
                val,
                schedule,
                train_cfg,
                lr=self.lr(ctx),
                seed=int(rng.integers(2**31)),
                name=name,
                loss=LOSSES[loss_name],
                micro_batch=self.micro_batch,
            )
        self.stages.append(report)

    def score(self, texts: Sequence[str]) -> np.ndarray:
        encoded = self.encoder(self.inputs(texts))
        return predict(self.model, encoded, self.batch_size, desc="scoring test")


def take(inputs, positions: np.ndarray):
    """The inputs at these positions, for token-id lists and feature tensors alike."""
    if isinstance(inputs, torch.Tensor):
        return inputs[torch.as_tensor(positions, dtype=torch.long)]
    return [inputs[i] for i in positions]


register_method("seq_sft", "sequential SFT: weak stage, then HQ stage (paper Sec. 3.2)", SequentialSFT)
