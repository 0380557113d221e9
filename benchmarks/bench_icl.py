"""Few-shot ICL scoring throughput and memory for Gemma-3-270M with 2 and 8 demonstrations.

    python benchmarks/bench_icl.py [--model gemma-3-270m] [--shots 2 8] [--inputs 128]

Prints inputs/s, prompt tokens/s, peak memory, and how much memory scoring only the last position
saves against materialising the full-vocabulary logits of every token (computed, not run: at
262k vocabulary entries, the full logits of one batch are the largest tensor by far).
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import torch

from labelbudget.config import TaskConfig
from labelbudget.methods.icl import LabelScorer
from labelbudget.models.backbone import load_causal_lm, pick_device, pick_dtype
from labelbudget.models.packing import Encoder
from labelbudget.prompts import harden, prompted
from labelbudget.tasks import load_task


def peak_memory(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated() / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="gemma-3-270m")
    parser.add_argument("--shots", type=int, nargs="+", default=[2, 8])
    parser.add_argument("--inputs", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    device = pick_device()
    model, tokenizer = load_causal_lm(args.model, pick_dtype("auto", device))
    model = model.to(device)
    scorer = LabelScorer(model, tokenizer)
    task = load_task(TaskConfig(test_size=200))
    rng = np.random.default_rng(0)
    vocab = model.get_output_embeddings().weight.shape[0]
    print(
        f"{args.model} on {device} ({next(model.parameters()).dtype}), torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, vocabulary {vocab}"
    )
    for k in args.shots:
        demos = list(zip(task.pool.texts[:k], harden(task.pool.labels[:k]).tolist(), strict=True))
        prompts = prompted(task.test.texts[: args.inputs], demos, rng)
        ids = Encoder(tokenizer, 8192)(prompts)
        scorer(ids[: args.batch_size], args.batch_size)  # warm-up
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
            torch.cuda.synchronize()
        start = time.perf_counter()
        scorer(ids, args.batch_size)
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
        tokens = sum(len(x) for x in ids)
        longest = max(len(x) for x in ids)
        full_logits_gib = args.batch_size * longest * vocab * 4 / 2**30
        print(f"\n{k}-shot: {len(ids)} inputs, mean prompt {tokens / len(ids):.0f} tokens")
        print(f"  inputs/s                   {len(ids) / seconds:.2f}")
        print(f"  prompt tokens/s            {tokens / seconds:.0f}")
        print(f"  peak memory GiB            {peak_memory(device):.2f}")
        print(
            f"  full fp32 logits of one batch would need {full_logits_gib:.2f} GiB; "
            f"last-position label logits need {args.batch_size * 2 * 4} bytes"
        )


if __name__ == "__main__":
    main()
