"""The classifier the LoRA learner trains: a pretrained backbone with LoRA and a new K-logit head.

PROTOCOL, "The strong model": a NEW randomly initialised head (2 logits in the paper, one per
class of the task's label space here; init scaled by 0.01, kept in fp32), LoRA rank 8 on all
linear projections, weights in bf16; its (n, K) logits are the output (two classes: the paper's
log-odds logit1 - logit0). Decoders pool the last real token (as transformers'
*ForSequenceClassification does); encoders mean-pool, as sentence encoders like MiniLM were trained.
"""

from __future__ import annotations

import torch
from torch import nn

from labelbudget.models.backbone import (
    forward_packed,
    load_backbone,
    max_length,
    pick_device,
    pick_dtype,
    resolve_pooling,
)
from labelbudget.models.packing import PACK_WIDTH, pack

HEAD_INIT_STD = 0.02
"""transformers' default `initializer_range`, with which it initialises a new score layer."""


class Classifier(nn.Module):
    """Backbone (with LoRA) + new fp32 K-logit head."""

    def __init__(self, backbone: nn.Module, tokenizer, hidden_size: int, pooling: str, n_classes: int = 2):
        super().__init__()
        self.backbone = backbone
        self.tokenizer = tokenizer
        self.pooling = pooling
        self.pack_width = PACK_WIDTH
        self.tokens: list = [0, 0]
        # No bias, as transformers' score layer for decoders. Initialised as transformers
        # initialises a score layer (normal, std 0.02: `initializer_range`), then x0.01 so the new
        # head starts near zero log-odds (PROTOCOL; the authors' `w2s/model.py`).
        self.n_classes = n_classes
        self.head = nn.Linear(hidden_size, n_classes, bias=False, dtype=torch.float32)
        with torch.no_grad():
            self.head.weight.normal_(0.0, HEAD_INIT_STD).mul_(0.01)

    @property
    def max_length(self) -> int:
        return max_length(self.backbone.config)

    def batch_logits(self, ids: list[list[int]], idx) -> torch.Tensor:
        """The chosen inputs' (n, K) logits (in `idx` order), in one packed forward pass. The
        tokens it processed are added to `tokens` (real ones as a device tensor, so that counting
        them never waits for the device)."""
        packed = pack(ids, idx, self.tokenizer.pad_token_id, self.head.weight.device, self.pack_width)
        hidden = forward_packed(self.backbone, packed).last_hidden_state
        self.tokens[0] = self.tokens[0] + packed.real
        self.tokens[1] += packed.padded
        return self.head(packed.pool(hidden, self.pooling).float())

    def token_counts(self) -> tuple[int, int]:
        """(real, processed) tokens of every forward pass since the last call; resets them."""
        real, padded = int(self.tokens[0]), int(self.tokens[1])
        self.tokens = [0, 0]
        return real, padded

    def trainable_state(self) -> dict[str, torch.Tensor]:
        """A copy of what training changes (LoRA and head): enough to restore a best state."""
        return {k: v.detach().clone() for k, v in self.named_parameters() if v.requires_grad}

    def load_trainable_state(self, state: dict[str, torch.Tensor]) -> None:
        params = dict(self.named_parameters())
        with torch.no_grad():
            for k, v in state.items():
                params[k].copy_(v)


def build_classifier(
    name: str, lora_rank: int, dtype: str = "auto", seed: int = 0, pooling: str = "auto", n_classes: int = 2
) -> Classifier:
    """Load `name`, add LoRA on every linear projection, and a fresh K-logit head, seeded."""
    from peft import LoraConfig, get_peft_model

    device = pick_device()
    backbone, tokenizer = load_backbone(name, pick_dtype(dtype, device))
    pooling = resolve_pooling(pooling, backbone.config.model_type)
    torch.manual_seed(seed)
    lora = LoraConfig(r=lora_rank, lora_alpha=lora_rank, target_modules="all-linear")
    model = Classifier(
        get_peft_model(backbone, lora), tokenizer, backbone.config.hidden_size, pooling, n_classes
    )
    return model.to(device)
