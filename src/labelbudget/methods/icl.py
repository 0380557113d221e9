"""Few-shot in-context learning (PROTOCOL method 2): no training. Every label the budget buys
becomes a demonstration (HQ ones and weak ones hardened at 0.5), as the authors' ICL sweep ran it
(`cost_sweep_few_shot.py`: 3, 5, 10, 30, 60 weak-only or HQ-only shots), reshuffled for every
input; the score is logit("1") - logit("0") at the last position of the prompt. The number of
shots is therefore set by the budget, never by `--k-shot`.

Only the last position's hidden state meets the LM head, and only its "0" and "1" rows: the full
vocabulary logits (262k columns for Gemma) are never materialised. Inputs are packed in
length-sorted batches.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from labelbudget.config import RunConfig
from labelbudget.labels.budget import Allocation
from labelbudget.methods.base import PURPOSE_PROMPTS, Elicitation, Method, register_method
from labelbudget.models.backbone import forward_packed, load_causal_lm, max_length, pick_device, pick_dtype
from labelbudget.models.packing import Encoder, pack, sorted_batches
from labelbudget.prompts import Demo, harden, prompted
from labelbudget.util.errors import UserError
from labelbudget.util.progress import progress


def label_token_ids(tokenizer) -> tuple[int, int]:
    """The single token ids of "0" and "1"; a clear error if the tokenizer splits or merges them."""
    ids = [tokenizer.encode(s, add_special_tokens=False) for s in ("0", "1")]
    if any(len(i) != 1 for i in ids):
        raise UserError(
            f"the tokenizer does not map '0' and '1' to single tokens (got {ids}), so few-shot "
            "label logits are undefined",
            "use a strong model whose tokenizer has single-digit tokens (e.g. gemma-3-270m), or an "
            "SFT method",
        )
    return ids[0][0], ids[1][0]


class LabelScorer:
    """logit("1") - logit("0") at the last position of each prompt (prompts packed in rows)."""

    def __init__(self, model, tokenizer):
        self.model, self.tokenizer = model.eval(), tokenizer
        self.zero, self.one = label_token_ids(tokenizer)
        head = model.get_output_embeddings().weight
        self.rows = head[[self.zero, self.one]].detach().float()  # (2, hidden)
        self.softcap = getattr(model.config, "final_logit_softcapping", None)
        self.body = model.get_decoder()

    @torch.inference_mode()
    def __call__(self, ids: list[list[int]], batch_size: int) -> np.ndarray:
        device = self.rows.device
        out = np.empty(len(ids), dtype=np.float32)
        lengths = np.array([len(x) for x in ids])
        for idx in progress(
            sorted_batches(lengths, batch_size), desc="few-shot scoring", leave=False, disable=None
        ):
            packed = pack(ids, idx, self.tokenizer.pad_token_id, device)
            last = packed.pool(forward_packed(self.body, packed).last_hidden_state, "last").float()
            logits = last @ self.rows.T
            if self.softcap:  # Gemma-2-style final soft-capping, as the LM head applies it
                logits = self.softcap * torch.tanh(logits / self.softcap)
            out[idx] = (logits[:, 1] - logits[:, 0]).cpu().numpy()
        return out


class FewShotICL(Method):
    @classmethod
    def validate(cls, config: RunConfig, allocation: Allocation) -> None:
        if config.options.k_shot is not None:
            raise UserError(
                "icl uses every label the budget buys as a demonstration, so --k-shot does not apply",
                "omit --k-shot and set the number of shots with --budget and --hq-fraction "
                "(e.g. --budget 5 --hq-fraction 1 for 5 HQ demonstrations)",
            )
        if allocation.n_weak + allocation.n_hq == 0:
            raise UserError(f"budget ${config.budget:g} buys no labels for demonstrations", "raise --budget")

    def fit(self, ctx: Elicitation) -> None:
        cfg = ctx.config
        n_hq, n_weak = ctx.allocation.n_hq, ctx.allocation.n_weak
        hq_ids = ctx.hq_candidates[:n_hq]
        hq_labels = ctx.oracle.label(hq_ids) if n_hq else np.zeros(0, dtype=int)
        weak_ids, weak_probs = ctx.weak.buy(n_weak)
        self.demos: list[Demo] = list(zip(ctx.pool_texts(hq_ids), hq_labels.tolist(), strict=True))
        self.demos += list(zip(ctx.pool_texts(weak_ids), harden(weak_probs).tolist(), strict=True))
        device = pick_device()
        with ctx.phases("strong model load"):
            model, tokenizer = load_causal_lm(cfg.strong_model, pick_dtype(cfg.train.dtype, device))
            self.model = model.to(device)
        self.scorer = LabelScorer(self.model, tokenizer)
        self.rng = ctx.rng(PURPOSE_PROMPTS)
        self.batch_size = cfg.train.eval_batch_size
        self.encoder = Encoder(tokenizer, max_length(model.config), cfg.task.truncate)

    def score(self, texts: Sequence[str]) -> np.ndarray:
        prompts = prompted(texts, self.demos, self.rng)
        return self.scorer(self.encoder(prompts), self.batch_size)

    @property
    def notes(self) -> list[str]:
        return [self.encoder.note] if self.encoder.note else []


register_method(
    "icl",
    "few-shot in-context learning on a causal LM, no training (every label bought is a demonstration)",
    FewShotICL,
    learner=False,
)
