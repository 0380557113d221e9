"""Probe elicitation: the paper's methods with a new linear head on the frozen strong model's
cached activations instead of LoRA fine-tuning (cf. the probes of EleutherAI/w2s, `probe.py`).

Everything but the model is the fine-tuning methods' own: the same budget and metered labels,
the weak stage on soft weak labels then the HQ stage from the weak stage's best state, each with
its paid validation split, early stopping and best-state restore (`train.train_stage` itself, on
feature rows instead of token ids), uncertainty sampling between the stages, log-confidence in the
weak stage. Once the activations are cached (`activations.py`: one pass of the backbone over the
pool and test set), a run takes a fraction of a second, so a paper-sized grid with seeds runs on
a CPU. What it elicits is what a linear read-out of one layer knows: a lower bound on full
fine-tuning, which the demo measures against real LoRA runs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from labelbudget.activations import activations
from labelbudget.methods import Elicitation, register_method
from labelbudget.methods.logconf import LogConfidenceSFT
from labelbudget.methods.seq_sft import SequentialSFT
from labelbudget.methods.uncertainty import UncertaintySampling
from labelbudget.models import HEAD_INIT_STD


class ProbeHead(nn.Module):
    """A 2-logit linear head on feature rows, initialised as the classifier's head."""

    def __init__(self, dim: int, seed: int):
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        self.head = nn.Linear(dim, 2, bias=False)
        with torch.no_grad():
            self.head.weight.copy_(torch.randn(2, dim, generator=generator) * HEAD_INIT_STD * 0.01)

    def batch_logits(self, rows: torch.Tensor, idx: np.ndarray) -> tuple[torch.Tensor, int, int]:
        return self.head(rows[torch.as_tensor(idx, dtype=torch.long)]), 0, 0

    def trainable_state(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().clone() for k, v in self.named_parameters()}

    def load_trainable_state(self, state: dict[str, torch.Tensor]) -> None:
        self.load_state_dict(state)


class Probe:
    """Turns a sequential-SFT method into its probe: the model, its inputs and its scores."""

    def setup(self, ctx: Elicitation) -> None:
        cfg = ctx.config
        with ctx.phases("activations (cached after the first run)"):
            acts = activations(ctx.task, cfg.strong_model, "{text}", cfg.pooling, ctx.artifacts)
        pool, test = acts.features(cfg.probe.probe_layer)
        self.pool_rows, self.test_rows = torch.from_numpy(pool), torch.from_numpy(test)
        self.test_texts = ctx.task.test.texts
        self.model = ProbeHead(pool.shape[1], cfg.seed)
        self.encoder = None
        self.micro_batch = cfg.train.batch_size  # no padding to avoid: the whole batch at once
        self.activation_key, self.layer = acts.key, acts.layer_index(cfg.probe.probe_layer)

    def features(self, ctx: Elicitation, ids: np.ndarray) -> torch.Tensor:
        return self.pool_rows[torch.as_tensor(ids, dtype=torch.long)]

    def lr(self, ctx: Elicitation) -> float:
        return ctx.config.probe.probe_lr

    def family(self, ctx: Elicitation) -> dict:
        return {"model": "probe", "activations": self.activation_key, "layer": self.layer}

    def score(self, texts: Sequence[str]) -> np.ndarray:
        if list(texts) != list(self.test_texts):
            raise ValueError("a probe scores the task's test set, whose activations are cached")
        from labelbudget.train import predict

        return predict(self.model, self.test_rows, len(self.test_rows), desc="scoring test")

    @property
    def notes(self) -> list[str]:
        return [f"probe on layer {self.layer} of the frozen strong model (activations {self.activation_key})"]


class ProbeSequentialSFT(Probe, SequentialSFT):
    pass


class ProbeUncertainty(Probe, UncertaintySampling):
    pass


class ProbeLogConfidence(Probe, LogConfidenceSFT):
    pass


register_method(
    "probe_seq_sft",
    "sequential SFT of a linear probe on cached activations (weak stage, then HQ stage; fast)",
    ProbeSequentialSFT,
)
register_method(
    "probe_uncertainty",
    "uncertainty sampling with a linear probe on cached activations (fast)",
    ProbeUncertainty,
)
register_method(
    "probe_logconf",
    "log-confidence weak stage with a linear probe on cached activations (fast)",
    ProbeLogConfidence,
)
