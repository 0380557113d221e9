"""The probe learner: a new linear head on the frozen strong model's cached activations instead
of LoRA fine-tuning (cf. the probes of EleutherAI/w2s, `probe.py`).

Everything but the model is the method's own: the same budget and metered labels, the same
stages with their paid validation splits, early stopping and best-state restore
(`training.train_stage`, on feature rows instead of token ids). Once the activations are cached
(`models.activations`: one pass of the backbone over the pool and test set), a run takes a
fraction of a second, so a paper-sized grid with seeds runs on a CPU. What it elicits is what a
linear read-out of one layer knows, which the demo compares with real LoRA runs.

Texts outside the cache (few-shot-prompted inputs, new texts to predict) go through the frozen
backbone once, the same extraction as the cache's, and are standardised with the pool's
statistics.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from labelbudget.learners.base import TrainableState, register_learner
from labelbudget.models.activations import activations, extract_layers
from labelbudget.models.classifier import HEAD_INIT_STD
from labelbudget.training.stage import predict


class ProbeHead(nn.Module):
    """A K-logit linear head on feature rows, initialised as the classifier's head."""

    def __init__(self, dim: int, seed: int, n_classes: int = 2):
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        self.n_classes = n_classes
        self.head = nn.Linear(dim, n_classes, bias=False)
        with torch.no_grad():
            self.head.weight.copy_(torch.randn(n_classes, dim, generator=generator) * HEAD_INIT_STD * 0.01)

    def batch_logits(self, rows: torch.Tensor, idx: np.ndarray) -> torch.Tensor:
        return self.head(rows[torch.as_tensor(idx, dtype=torch.long)])

    def trainable_state(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().clone() for k, v in self.named_parameters()}

    def load_trainable_state(self, state: dict[str, torch.Tensor]) -> None:
        self.load_state_dict(state)


class ProbeLearner(TrainableState):
    model: ProbeHead

    def setup(self, ctx) -> None:
        cfg = ctx.config
        with ctx.phases("activations (cached after the first run)"):
            acts = activations(
                ctx.task, cfg.strong_model, "{text}", cfg.pooling, ctx.artifacts, depth=cfg.probe.probe_layer
            )
        pool, test = acts.features(cfg.probe.probe_layer)
        self.rows = torch.from_numpy(np.concatenate([pool, test]))
        self.row_of = {t: i for i, t in enumerate(ctx.task.pool.texts + ctx.task.test.texts)}
        self.mean, self.std = acts.statistics(cfg.probe.probe_layer)
        self.layer, self.activation_key = acts.layer_index(cfg.probe.probe_layer), acts.key
        self.strong_model, self.pooling, self.depth = cfg.strong_model, cfg.pooling, cfg.probe.probe_layer
        self.model = ProbeHead(pool.shape[1], cfg.seed, ctx.task.space.k)

    def encode(self, texts: Sequence[str]) -> torch.Tensor:
        """Feature rows: cached where the text is the task's, else extracted now."""
        texts = list(texts)
        where = [self.row_of.get(t) for t in texts]
        new = [i for i, w in enumerate(where) if w is None]
        rows = self.rows[torch.as_tensor([w or 0 for w in where], dtype=torch.long)]
        if new:
            fresh = extract_layers(self.strong_model, [texts[i] for i in new], self.pooling, 32, self.depth)
            fresh = fresh[0][:, self.layer]
            rows[torch.as_tensor(new)] = torch.from_numpy(
                (np.asarray(fresh, np.float32) - self.mean) / self.std
            )
        return rows

    def lr(self, config) -> float:
        return config.probe.probe_lr

    def predict(self, inputs: torch.Tensor, desc: str = "scoring") -> np.ndarray:
        return predict(self.model, inputs, len(inputs), desc=desc)

    @property
    def notes(self) -> list[str]:
        return [f"probe on layer {self.layer} of the frozen strong model (activations {self.activation_key})"]


register_learner(
    "probe",
    "a new linear head on the frozen strong model's cached activations (--probe-layer; fast)",
    ProbeLearner,
    ignores=("train.lr", "train.lora_rank"),
)
