"""The LoRA learner (the paper's): LoRA on every linear projection of the strong model and a new
head with a logit per class (`models.classifier`), trained on token ids."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from labelbudget.learners.base import TrainableState, register_learner
from labelbudget.models.backbone import default_lr
from labelbudget.models.classifier import Classifier, build_classifier
from labelbudget.models.packing import Encoded, Encoder
from labelbudget.training.stage import predict


class LoRALearner(TrainableState):
    model: Classifier

    def setup(self, ctx) -> None:
        cfg = ctx.config
        with ctx.phases("strong model load"):
            self.model = build_classifier(
                cfg.strong_model,
                cfg.train.lora_rank,
                cfg.train.dtype,
                cfg.seed,
                cfg.pooling,
                ctx.task.space.k,
            )
        self.encoder = Encoder(self.model.tokenizer, self.model.max_length, cfg.task.truncate)
        self.batch_size = cfg.train.eval_batch_size

    def encode(self, texts: Sequence[str]) -> Encoded:
        return self.encoder(texts)

    def lr(self, config) -> float:
        return config.train.lr or default_lr(config.strong_model)

    def predict(self, inputs: Encoded, desc: str = "scoring") -> np.ndarray:
        return predict(self.model, inputs, self.batch_size, desc=desc)

    @property
    def notes(self) -> list[str]:
        return [self.encoder.note] if self.encoder.note else []


register_learner(
    "lora",
    "LoRA (rank --lora-rank) on every linear projection of the strong model + a new head (the paper's)",
    LoRALearner,
    ignores=("probe",),
)
