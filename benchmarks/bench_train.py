"""LoRA training throughput of the embedded models on real text (the embedded tweets).

    python benchmarks/bench_train.py [--models minilm-l6 gemma-3-270m] [--steps 10]

Prints one JSON line per model: steps/s, tokens/s (real and processed), peak memory, padding
efficiency (real tokens / processed tokens) over a full epoch of uniformly random batches of 32,
each processed as `train_stage` does (length-sorted micro-batches, >= 0.9 efficient, gradients
accumulated), and achieved FLOP/s as a fraction of the matrix-multiply peak of the same machine,
measured in the same run.

FLOPs per training step are counted analytically: the backbone is frozen, so each linear layer
costs 2 * params * tokens forward and the same again backward (input gradients only; LoRA's own
weight gradients are counted too), and attention costs 4 * seq^2 * width per layer forward and
twice that backward. Embedding lookups are not matrix multiplies and are left out.
"""

from __future__ import annotations

import argparse
import json
import resource
import time

import numpy as np
import torch

from labelbudget.batching import collate, encode, micro_batches, random_batches
from labelbudget.config import TaskConfig
from labelbudget.losses import soft_cross_entropy
from labelbudget.models import build_classifier, pick_device
from labelbudget.tasks import load_task


def matmul_peak(device: torch.device, dtype: torch.dtype, n: int = 2048, reps: int = 10) -> float:
    """Best-of FLOP/s of an n x n matmul: the ceiling for dense transformer work here."""
    a, b = (torch.randn(n, n, device=device, dtype=dtype) for _ in range(2))
    best = 0.0
    for _ in range(reps):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        a @ b
        if device.type == "cuda":
            torch.cuda.synchronize()
        best = max(best, 2 * n**3 / (time.perf_counter() - t))
    return best


def linear_params(model) -> tuple[int, int]:
    """(frozen linear weights, trainable LoRA+head weights) that take part in matmuls."""
    frozen = trainable = 0
    for name, p in model.named_parameters():
        if "embed" in name or "wte" in name or "position" in name or p.dim() < 2:
            continue
        if p.requires_grad:
            trainable += p.numel()
        else:
            frozen += p.numel()
    return frozen, trainable


def step_flops(model, mask: torch.Tensor) -> float:
    cfg = model.backbone.config
    frozen, trainable = linear_params(model)
    tokens = mask.numel()  # the hardware processes padding too
    head_dim = getattr(cfg, "head_dim", None)
    width = cfg.num_attention_heads * head_dim if head_dim else cfg.hidden_size
    attention = 4 * mask.shape[0] * mask.shape[1] ** 2 * width * cfg.num_hidden_layers
    return 2 * frozen * tokens * 2 + 2 * trainable * tokens * 3 + attention * 3


def bench(name: str, texts: list[str], steps: int, batch_size: int = 32) -> dict[str, float]:
    device = pick_device()
    model = build_classifier(name, lora_rank=8)
    dtype = next(model.backbone.parameters()).dtype
    ids = encode(model.tokenizer, texts, model.max_length)
    lengths = np.array([len(x) for x in ids])
    epoch = random_batches(len(ids), batch_size, np.random.default_rng(0))
    groups = [micro_batches(b, lengths, batch_size) for b in epoch]
    efficiency = lengths.sum() / sum(len(m) * lengths[m].max() for g in groups for m in g)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.01, betas=(0.9, 0.95))
    targets = torch.rand(len(ids))

    def step(group):
        masks = []
        n = sum(len(m) for m in group)
        for idx in group:
            input_ids, mask = collate(ids, idx, model.tokenizer.pad_token_id, device)
            loss = soft_cross_entropy(model.logits(input_ids, mask), targets[idx].to(device))
            (loss * len(idx) / n).backward()
            masks.append(mask)
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return masks

    for group in groups[:2]:  # warm-up (allocator, kernels)
        step(group)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
        torch.cuda.synchronize()
    real = processed = flops = 0.0
    start = time.perf_counter()
    for group in groups[2 : 2 + steps]:
        for mask in step(group):
            real += float(mask.sum())
            processed += mask.numel()
            flops += step_flops(model, mask)
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    peak = matmul_peak(device, dtype)
    memory = (
        torch.cuda.max_memory_allocated()
        if device.type == "cuda"
        else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    )
    return {
        "steps/s": steps / seconds,
        "real tok/s": real / seconds,
        "processed tok/s": processed / seconds,
        "padding efficiency": efficiency,
        "measured-batch efficiency": real / processed,
        "peak memory GiB": memory / 2**30,
        "GFLOP/s": flops / seconds / 1e9,
        "matmul peak GFLOP/s": peak / 1e9,
        "fraction of peak": flops / seconds / peak,
        "dtype": str(dtype).removeprefix("torch."),
        "device": str(device),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["minilm-l6", "gemma-3-270m"])
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()
    texts = load_task(TaskConfig(test_size=200)).pool.texts[:4000]
    for name in args.models:
        result = bench(name, texts, args.steps)
        row = {k: round(v, 3) if isinstance(v, float) else v for k, v in result.items()}
        print(
            json.dumps({"figure": "lora_training", "model": name, "threads": torch.get_num_threads(), **row})
        )


if __name__ == "__main__":
    main()
