"""Few-shot in-context learning (PROTOCOL method 2): no training. Every label the budget buys
becomes a demonstration (HQ ones and weak ones hardened), as the authors' ICL sweep ran it
(`cost_sweep_few_shot.py`: 3, 5, 10, 30, 60 weak-only or HQ-only shots), reshuffled for every
input; the scores are the LM's logits of the K answer words at the last position of the prompt
(`LabelSpace.words`: "0" and "1" by default, the paper's logit("1") - logit("0")). The number of
shots is therefore set by the budget, never by `--k-shot`.

Only the last position's hidden state meets the LM head, and only the answer words' rows: the full
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


def answer_token_ids(tokenizer, words=("0", "1")) -> list[int]:
    """The token id of each answer word, as it follows a newline (its first token where it has
    several); a clear error where two words begin with the same token or one has none."""
    ids = [tokenizer.encode(w, add_special_tokens=False) for w in words]
    if all(w in "0123456789" for w in words) and any(len(i) != 1 for i in ids):
        raise UserError(
            f"the tokenizer does not map {list(words)} to single tokens (got {ids}), so few-shot label "
            "logits are undefined",
            "use a strong model whose tokenizer has single-digit tokens (e.g. gemma-3-270m), "
            "or an SFT method",
        )
    if any(not i for i in ids) or len({i[0] for i in ids}) != len(ids):
        first = {w: tokenizer.convert_ids_to_tokens(i[:1]) for w, i in zip(words, ids, strict=True)}
        raise UserError(
            f"the tokenizer does not give the answer words {list(words)} distinct first tokens ({first}), "
            "so their logits cannot tell the classes apart",
            "give each class an answer word (--answers) that starts differently, or use a strong "
            "model whose tokenizer has single-digit tokens (e.g. gemma-3-270m), or an SFT method",
        )
    return [i[0] for i in ids]


class LabelScorer:
    """The LM's logits of the K answer words at the last position of each prompt (prompts packed
    in rows): (n, K) scores, two words giving the paper's logit("1") - logit("0") as log-odds."""

    def __init__(self, model, tokenizer, words=("0", "1"), desc: str = "few-shot scoring"):
        self.model, self.tokenizer, self.desc = model.eval(), tokenizer, desc
        self.tokens = answer_token_ids(tokenizer, words)
        head = model.get_output_embeddings().weight
        self.rows = head[self.tokens].detach().float()  # (K, hidden)
        self.softcap = getattr(model.config, "final_logit_softcapping", None)
        self.body = model.get_decoder()

    @torch.inference_mode()
    def __call__(self, ids: list[list[int]], batch_size: int) -> np.ndarray:
        device = self.rows.device
        out = np.empty((len(ids), len(self.tokens)), dtype=np.float32)
        lengths = np.array([len(x) for x in ids])
        for idx in progress(sorted_batches(lengths, batch_size), desc=self.desc, leave=False, disable=None):
            packed = pack(ids, idx, self.tokenizer.pad_token_id, device)
            last = packed.pool(forward_packed(self.body, packed).last_hidden_state, "last").float()
            logits = last @ self.rows.T
            if self.softcap:  # Gemma-2-style final soft-capping, as the LM head applies it
                logits = self.softcap * torch.tanh(logits / self.softcap)
            out[idx] = logits.cpu().numpy()
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
        n_hq = ctx.allocation.n_hq
        hq_ids = ctx.hq_candidates[:n_hq]
        hq_labels = harden(ctx.oracle.label(hq_ids)) if n_hq else np.zeros(0, dtype=int)
        self.demos: list[Demo] = list(zip(ctx.pool_texts(hq_ids), hq_labels.tolist(), strict=True))
        for source in reversed(ctx.sources[:-1]):  # every label bought, the dearer sources first
            ids, probs = source.buy(ctx.allocation[source.name])
            self.demos += list(zip(ctx.pool_texts(ids), harden(probs).tolist(), strict=True))
        device = pick_device()
        with ctx.phases("strong model load"):
            model, tokenizer = load_causal_lm(cfg.strong_model, pick_dtype(cfg.train.dtype, device))
            self.model = model.to(device)
        self.words = ctx.task.space.words
        self.scorer = LabelScorer(self.model, tokenizer, self.words)
        self.rng = ctx.rng(PURPOSE_PROMPTS)
        self.batch_size = cfg.train.eval_batch_size
        self.encoder = Encoder(tokenizer, max_length(model.config), cfg.task.truncate)

    def score(self, texts: Sequence[str]) -> np.ndarray:
        prompts = prompted(texts, self.demos, self.rng, self.words)
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
