"""Sequential SFT (paper Sec. 3.2): train on weak labels, then on HQ labels; with k label sources,
one stage per source in ascending order of price, the paper's two stages being k = 2 exactly.

Each stage continues the same learner (LoRA weights and head, or a probe's head) from the
previous stage's best state, with a fresh optimizer and schedule; a source nobody buys is no
stage. Every stage early-stops on validation AUROC, and its validation labels are part of what
was bought. The cheaper sources sell their labels by count; the most expensive one's examples
are chosen after the cheaper stages (`select_hq`).

The variants of the paper override one hook each: `demonstrations` (few-shot-prompted SFT),
`select_hq` (uncertainty sampling), `stage_loss` (log-confidence). The OpenAI-API-like schedule
is an option of every variant (`MethodOptions.schedule`). What is trained is the run's learner
(`learners`), so every variant exists for every learner.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from labelbudget.labels.budget import stage_split
from labelbudget.learners import LEARNERS
from labelbudget.methods.base import PURPOSE_PROMPTS, Elicitation, Method, register_method, stage_purpose
from labelbudget.prompts import Demo, prompted
from labelbudget.training.losses import LOSSES
from labelbudget.training.schedule import Schedule
from labelbudget.training.stage import StageData, StageReport, train_stage
from labelbudget.util.atomic import load_state, save_state

SFT_OPTIONS = ("schedule",)
"""What every SFT variant reads of `MethodOptions`."""


class SequentialSFT(Method):
    def fit(self, ctx: Elicitation) -> None:
        cfg = ctx.config
        self.learner = LEARNERS.get_or_fail(cfg.learner).cls()
        self.learner.setup(ctx)
        self.space = ctx.task.space
        self.stage_names = [s.name for s in ctx.sources]
        self.prompt_rng = ctx.rng(PURPOSE_PROMPTS)
        self.demos = self.demonstrations(ctx)
        bought = [s.buy(ctx.allocation[s.name] - s.sold) for s in ctx.sources[:-1]]
        last = ctx.oracle
        resumed = last.saved_state() if last.pauses else None
        if resumed is None:
            for i, (source, (ids, probs)) in enumerate(zip(ctx.sources, bought, strict=False)):
                if i == 0:
                    self.weak_stage(ctx, ids, probs)
                else:
                    self.run_stage(ctx, source.name, ids, probs)
            hq_ids = self.select_hq(ctx)
            if last.pauses and len(hq_ids):
                # A person labels now; keep what the cheaper stages learned so the run can resume.
                tensors, meta = self.checkpoint()
                last.save_state(tensors, {**meta, "hq_ids": hq_ids.tolist()})
        else:
            self.restore(resumed["tensors"], resumed)
            hq_ids = np.asarray(resumed["hq_ids"], dtype=np.int64)
        labels = last.label(hq_ids) if len(hq_ids) else np.zeros((0, ctx.task.space.k))
        self.run_stage(ctx, last.name, hq_ids, labels.astype(np.float32))

    def weak_stage(self, ctx: Elicitation, ids: np.ndarray, probs: np.ndarray) -> None:
        """Train the weak stage, or branch from an identical one another run of the sweep saved
        (`ctx.weak_stage_file`: same `runs.identity.weak_stage_key` and data). Everything the HQ
        stage depends on is restored, RNG states included, so a branched run equals an
        independent one."""
        path = ctx.weak_stage_file if len(ids) else None
        if path is not None and path.exists():
            tensors, meta = load_state(path)
            self.restore(tensors, meta)
            return
        self.run_stage(ctx, ctx.sources[0].name, ids, probs)
        if path is not None:
            save_state(path, *self.checkpoint())

    def checkpoint(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """Everything the HQ stage depends on after the weak stage, RNG states included: tensors,
        and JSON metadata (no pickle)."""
        tensors = {f"model.{k}": v for k, v in self.learner.state().items()}
        tensors["torch_rng"] = torch.get_rng_state()
        meta = {
            "stages": [dataclasses.asdict(s) for s in self.stages],
            "prompt_rng": self.prompt_rng.bit_generator.state,
        }
        return tensors, meta

    def restore(self, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
        self.learner.load_state({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
        self.stages = [StageReport(**{**s, "evals": [tuple(e) for e in s["evals"]]}) for s in meta["stages"]]
        self.prompt_rng.bit_generator.state = meta["prompt_rng"]
        torch.set_rng_state(tensors["torch_rng"])

    def demonstrations(self, ctx: Elicitation) -> list[Demo]:
        """In-context demonstrations prefixed to every input (none for plain sequential SFT)."""
        return []

    def select_hq(self, ctx: Elicitation) -> np.ndarray:
        """Which pool examples get HQ labels: here a random subset (the candidates are shuffled)."""
        return ctx.hq_candidates[: ctx.hq_left]

    def stage_loss(self, stage: str) -> str:
        """The loss of a stage (by its source's name): cross-entropy (`logconf` overrides it)."""
        return "xent"

    def inputs(self, texts: Sequence[str]) -> list[str]:
        if not self.demos:
            return list(texts)
        return prompted(texts, self.demos, self.prompt_rng, self.space.words)

    def features(self, ctx: Elicitation, ids: np.ndarray):
        """The learner's inputs for these pool examples (behind any demonstrations)."""
        return self.learner.encode(self.inputs(ctx.pool_texts(ids)))

    def run_stage(self, ctx: Elicitation, name: str, ids: np.ndarray, targets: np.ndarray) -> None:
        if len(ids) == 0:
            return
        cfg, train_cfg = ctx.config, ctx.config.train
        rng = ctx.rng(stage_purpose(self.stage_names.index(name), len(self.stage_names)))
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
                self.learner.model,
                train,
                val,
                schedule,
                train_cfg,
                lr=self.learner.lr(cfg),
                seed=int(rng.integers(2**31)),
                name=name,
                loss=LOSSES[self.stage_loss(name)],
            )
        self.stages.append(report)

    def score(self, texts: Sequence[str]) -> np.ndarray:
        return self.learner.predict(self.learner.encode(self.inputs(texts)), desc="scoring test")

    @property
    def notes(self) -> list[str]:
        return self.learner.notes


def take(inputs, positions: np.ndarray):
    """The inputs at these positions, for token-id lists and feature tensors alike."""
    if isinstance(inputs, torch.Tensor):
        return inputs[torch.as_tensor(positions, dtype=torch.long)]
    return [inputs[i] for i in positions]


register_method(
    "seq_sft", "sequential SFT: weak stage, then HQ stage (paper Sec. 3.2)", SequentialSFT, reads=SFT_OPTIONS
)
