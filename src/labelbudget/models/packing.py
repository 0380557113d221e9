"""Tokenize once, then lay the texts of a batch end to end in a few rows (sequence packing).

Padding every input to a fixed 128/512 tokens wastes most of the compute on short texts, and on a
CPU so do many small forward passes (each costs a fixed ~0.2 s of per-operator overhead for a
135M-parameter model, whatever its size). Training batches are uniform random draws (the
protocol's; length-grouped batches would make batch composition depend on length, which on some
tasks correlates with the label); a batch (or a micro-batch, where memory or the loss asks for
one) is one forward pass over its texts packed into rows of about `PACK_WIDTH` tokens, each text's
positions restarting at 0 and its tokens attending only to each other, so every text is computed
exactly as it would be alone. Scoring packs length-sorted batches. `benchmarks/bench_train.py`
measures the padding efficiency.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from labelbudget.util.errors import UserError

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


def random_batches(n: int, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """One epoch of optimizer batches: a random permutation cut into batches (popped from the
    end), so every batch is a uniform random draw, whatever the lengths."""
    order = rng.permutation(n)
    return [order[i : i + batch_size] for i in range(0, n, batch_size)][::-1]


def micro_batches(
    batch: np.ndarray, size: int, lengths: np.ndarray | None = None, max_tokens: int | None = None
) -> list[np.ndarray]:
    """The forward passes of one optimizer batch: chunks in the drawn order of at most `size`
    examples and, given `max_tokens`, at most that many tokens (a longer text alone), which bounds
    the activations a backward pass keeps. Each is packed, so no order wastes compute on padding.
    The batch's loss and gradient are sums over examples, so the chunking does not change them,
    except for losses that depend on the micro-batch (log-confidence), which are defined on these
    drawn-order chunks."""
    chunks, start, tokens = [], 0, 0
    for i, j in enumerate(batch):
        n = 0 if lengths is None else int(lengths[j])
        if i > start and (i - start >= size or (max_tokens is not None and tokens + n > max_tokens)):
            chunks.append(batch[start:i])
            start, tokens = i, 0
        tokens += n
    chunks.append(batch[start:])
    return chunks


def sorted_batches(lengths: np.ndarray, batch_size: int, max_tokens: int = 16384) -> list[np.ndarray]:
    """For scoring: everything in length order, in batches of at most `batch_size` texts and
    `max_tokens` tokens (a single longer text alone), so similar lengths share a packed forward
    and memory stays bounded; callers scatter results back by index."""
    order = np.argsort(lengths, kind="stable")
    batches, start, tokens = [], 0, 0
    for i, j in enumerate(order):
        if i > start and (i - start >= batch_size or tokens + lengths[j] > max_tokens):
            batches.append(order[start:i])
            start, tokens = i, 0
        tokens += lengths[j]
    batches.append(order[start:])
    return batches


PACK_WIDTH = 128
"""Target tokens per packed row (a longer text gets a row of its own length). Attention inside a
row is computed for all its token pairs (those of other texts masked), so its cost grows with
the width; on SmolLM2-135M LoRA steps over random batches of 32 tweets, widths 128 / 256 / 512
ran 0.262 / 0.252 / 0.229 steps/s at padding efficiency 0.979 / 0.987 / 0.991
(`benchmarks/bench_train.py --pack-widths`, 2-core CPU)."""


@dataclass(frozen=True)
class Packed:
    """Texts laid end to end in rows: `input_ids` and `position_ids` (rows, width), positions
    restarting at 0 for every text and for the padding at a row's end; `segment` (rows, width) is
    each token's text (its place in the packed order), -1 for padding; text i is
    `input_ids[row[i], start[i] : start[i] + length[i]]`."""

    input_ids: torch.Tensor
    position_ids: torch.Tensor
    segment: torch.Tensor
    row: torch.Tensor
    start: torch.Tensor
    length: torch.Tensor

    @property
    def real(self) -> torch.Tensor:
        """Real tokens, as a device tensor (reading it back would wait for the device)."""
        return self.length.sum()

    @property
    def padded(self) -> int:
        return self.input_ids.numel()

    def pool(self, hidden: torch.Tensor, pooling: str) -> torch.Tensor:
        """(rows, ..., width, hidden) -> (texts, ..., hidden): each text's last token (`last`) or the
        mean of its tokens (`mean`)."""
        if pooling == "last":
            return hidden[self.row, ..., self.start + self.length - 1, :]
        tokens = hidden.movedim(-2, 1)  # rows, width, ..., hidden
        flat = tokens.reshape(-1, *tokens.shape[2:])
        keep = self.segment.reshape(-1) >= 0
        sums = flat.new_zeros(len(self.length), *tokens.shape[2:])
        sums.index_add_(0, self.segment.reshape(-1)[keep], flat[keep])
        return sums / self.length.view(-1, *([1] * (sums.dim() - 1))).to(sums.dtype)


def pack_rows(lengths: Sequence[int], width: int = PACK_WIDTH) -> tuple[list[list[int]], int]:
    """Assign texts (by position) to rows of at most max(`width`, the longest text) tokens:
    first-fit decreasing into as few rows as the total needs, each row then as narrow as still
    fits (so only row tails are padding), a row added where none fits. Returns the rows (text
    positions) and the row width."""
    lengths = [int(x) for x in lengths]
    cap = max(width, *lengths)
    total = sum(lengths)
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    n_rows = math.ceil(total / cap)
    while True:  # ends by len(lengths) rows at the latest: one text per row always fits
        row_width = max(math.ceil(total / n_rows), *lengths)
        while True:
            rows = _first_fit(lengths, order, n_rows, row_width)
            if rows is not None:
                return rows, row_width
            if row_width == cap:
                break
            row_width = min(cap, row_width + max(1, row_width // 64))
        n_rows += 1


def _first_fit(lengths: list[int], order: list[int], n_rows: int, width: int) -> list[list[int]] | None:
    rows: list[list[int]] = [[] for _ in range(n_rows)]
    free = [width] * n_rows
    for i in order:
        r = next((r for r in range(n_rows) if free[r] >= lengths[i]), None)
        if r is None:
            return None
        rows[r].append(i)
        free[r] -= lengths[i]
    return rows


def pack(ids: Encoded, idx: np.ndarray, pad_id: int, device: torch.device, width: int = PACK_WIDTH) -> Packed:
    """Pack the chosen inputs (in `idx` order: output i is text `idx[i]`) into rows."""
    lengths = [len(ids[i]) for i in idx]
    rows, row_width = pack_rows(lengths, width)
    input_ids = torch.full((len(rows), row_width), pad_id, dtype=torch.long)
    position_ids = torch.zeros((len(rows), row_width), dtype=torch.long)
    segment = torch.full((len(rows), row_width), -1, dtype=torch.long)
    where = torch.zeros((len(idx), 2), dtype=torch.long)
    for r, members in enumerate(rows):
        col = 0
        for i in members:
            n = lengths[i]
            input_ids[r, col : col + n] = torch.tensor(ids[idx[i]])
            position_ids[r, col : col + n] = torch.arange(n)
            segment[r, col : col + n] = i
            where[i] = torch.tensor([r, col])
            col += n
        position_ids[r, col:] = torch.arange(row_width - col)  # padding: a segment of its own
    return Packed(
        input_ids.to(device),
        position_ids.to(device),
        segment.to(device),
        where[:, 0].to(device),
        where[:, 1].to(device),
        torch.tensor(lengths).to(device),
    )
