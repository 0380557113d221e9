"""Sequential SFT (paper Sec. 3.2): train on weak labels, then on HQ labels.

The HQ stage continues the same LoRA weights and head from the weak stage's best state, with a
fresh optimizer and schedule; a stage with zero examples is skipped. Both stages early-stop on
validation AUROC, and their validation labels are part of what was bought.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from labelbudget.batching import encode
from labelbudget.budget import stage_split
from labelbudget.methods import Elicitation, Method, register_method
from labelbudget.models import Classifier, build_classifier, default_lr
from labelbudget.train import Schedule, StageData, predict, train_stage


class SequentialSFT(Method):
    model: Classifier

    def fit(self, ctx: Elicitation) -> None:
        cfg = ctx.config
        self.model = build_classifier(cfg.strong_model, cfg.train.lora_rank, cfg.train.dtype, cfg.seed)
        self.batch_size = cfg.train.eval_batch_size
        weak_ids, weak_probs = ctx.weak.buy(ctx.allocation.n_weak)
        self.run_stage(ctx, "weak", weak_ids, weak_probs, seed=0)
        hq_ids = self.select_hq(ctx)
        self.run_stage(ctx, "hq", hq_ids, ctx.oracle.label(hq_ids).astype(np.float32), seed=1)

    def select_hq(self, ctx: Elicitation) -> np.ndarray:
        """Which pool examples get HQ labels: here a random subset (the candidates are shuffled)."""
        return ctx.hq_candidates[: ctx.allocation.n_hq]

    def run_stage(self, ctx: Elicitation, name: str, ids: np.ndarray, targets: np.ndarray,
                  seed: int) -> None:
        if len(ids) == 0:
            return
        cfg = ctx.config
        rng = np.random.default_rng([cfg.seed, seed])
        train_pos, val_pos = stage_split(len(ids), rng)
        encoded = encode(self.model.tokenizer, ctx.pool_texts(ids), self.model.max_length)
        train = StageData([encoded[i] for i in train_pos], targets[train_pos].astype(np.float32))
        val = StageData([encoded[i] for i in val_pos], targets[val_pos].astype(np.float32))
        lr = cfg.train.lr or default_lr(cfg.strong_model)
        schedule = Schedule.early_stopping(len(train), cfg.train)
        report = train_stage(self.model, train, val, schedule, cfg.train, lr,
                             seed=int(rng.integers(2**31)), name=name)
        self.stages.append(report)

    def score(self, texts: Sequence[str]) -> np.ndarray:
        encoded = encode(self.model.tokenizer, texts, self.model.max_length)
        return predict(self.model, encoded, self.batch_size, desc="scoring test")


register_method("seq_sft", "sequential SFT: weak stage, then HQ stage (paper Sec. 3.2)", SequentialSFT)
