"""Tokenize once, then batch with dynamic padding.

Padding every input to a fixed 128/512 tokens wastes most of the compute on short texts. Training
batches are uniform random draws (the protocol's; length-grouped batches would make batch
composition depend on length, which on some tasks correlates with the label); inside a batch the
forward passes are length-sorted micro-batches whose gradients are accumulated. Scoring sorts
everything by length. `benchmarks/bench_train.py` measures the padding efficiency.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from labelbudget.errors import UserError

Encoded = list[list[int]]


class Encoder:
    """Tokenizes texts for one model. Texts longer than its context are an error (PROTOCOL: the
    original never truncates), or, with `truncate`, keep their first special token and their
    last tokens (the templates put the question and answer last); `truncated` counts them."""

    def __init__(self, tokenizer, max_length: int, truncate: bool = False):
        self.tokenizer, self.max_length, self.truncate = tokenizer, max_length, truncate
        self.truncated = 0

    def __call__(self, texts: Sequence[str]) -> Encoded:
        ids = self.tokenizer(list(texts), add_special_tokens=True)["input_ids"]
        too_long = [i for i, x in enumerate(ids) if len(x) > self.max_length]
        if too_long and not self.truncate:
            raise UserError(
                f"{len(too_long)} texts exceed the model's context of {self.max_length} tokens "
                f"(the longest has {max(len(ids[i]) for i in too_long)})",
                "pass --truncate to cut them (counted in the run's notes), use a model with a "
                "longer context, or shorten those texts",
            )
        special = set(self.tokenizer.all_special_ids)
        for i in too_long:
            x = ids[i]
            head = x[:1] if x[0] in special else []
            ids[i] = head + x[len(x) - (self.max_length - len(head)) :]
        self.truncated += len(too_long)
        return ids

    @property
    def note(self) -> str | None:
        if not self.truncated:
            return None
        return f"{self.truncated} texts truncated to the model's context of {self.max_length} tokens"


def encode(tokenizer, texts: Sequence[str], max_length: int) -> Encoded:
    """Token ids per text (special tokens included). Over-long texts are an error (PROTOCOL)."""
    return Encoder(tokenizer, max_length)(texts)


def random_batches(n: int, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """One epoch of optimizer batches: a random permutation cut into batches (popped from the
    end), so every batch is a uniform random draw, whatever the lengths."""
    order = rng.permutation(n)
    return [order[i : i + batch_size] for i in range(0, n, batch_size)][::-1]


def micro_batches(
    batch: np.ndarray, lengths: np.ndarray, size: int, keep_order: bool = False, min_efficiency: float = 0.9
) -> list[np.ndarray]:
    """The forward passes of one optimizer batch.

    By default the batch is sorted by length and cut greedily into micro-batches of at most `size`
    examples, a new one starting wherever the next (longer) example would pad the current one
    below `min_efficiency` (real tokens / padded tokens): every micro-batch, hence the batch, is
    at least that efficient. The batch's loss and gradient are sums over examples, so the grouping
    does not change them. Where the loss depends on the grouping (`keep_order`), micro-batches of
    `size` follow the drawn order."""
    if keep_order:
        return [batch[i : i + size] for i in range(0, len(batch), size)]
    batch = batch[np.argsort(lengths[batch], kind="stable")]
    groups, start, total = [], 0, 0
    for i, idx in enumerate(batch):
        n, width = i - start + 1, lengths[idx]
        if i > start and (n > size or (total + width) / (n * width) < min_efficiency):
            groups.append(batch[start:i])
            start, total = i, 0
        total += lengths[idx]
    groups.append(batch[start:])
    return groups


def sorted_batches(lengths: np.ndarray, batch_size: int) -> list[np.ndarray]:
    """For scoring: everything sorted by length, in batches of at most `batch_size` that each
    waste at most 10% on padding; callers scatter results back by index."""
    return micro_batches(np.arange(len(lengths)), lengths, batch_size)


def collate(
    ids: Encoded, idx: np.ndarray, pad_id: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad the chosen inputs to the longest among them."""
    width = max(len(ids[i]) for i in idx)
    input_ids = torch.full((len(idx), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(idx), width), dtype=torch.long)
    for row, i in enumerate(idx):
        input_ids[row, : len(ids[i])] = torch.tensor(ids[i])
        mask[row, : len(ids[i])] = 1
    return input_ids.to(device), mask.to(device)
