"""Few-shot ICL scoring throughput and memory for Gemma-3-270M with 2 and 8 demonstrations.

    python benchmarks/bench_icl.py [--model gemma-3-270m] [--shots 2 8] [--inputs 128]
    python benchmarks/bench_icl.py --smoke   # the same, tiny model and synthetic texts (seconds)

Prints one JSON line per number of shots: inputs/s, prompt tokens/s, peak memory, and how much
memory scoring only the last position saves against materialising the full-vocabulary logits of
every token (computed, not run: at 262k vocabulary entries, the full logits of one batch are the
largest tensor by far).
"""

from __future__ import annotations

import argparse
import json
import resource
import time

import numpy as np
import torch

from labelbudget.config import RunConfig, TaskConfig
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
    parser.add_argument("--smoke", action="store_true", help="tiny model and synthetic texts")
    args = parser.parse_args()
    task_config = TaskConfig(test_size=200)
    if args.smoke:
        import _smoke

        args.model, args.shots, args.inputs, args.batch_size = _smoke.decoder(), [2], 8, 4
        task_config = _smoke.tiny(RunConfig()).task
    device = pick_device()
    model, tokenizer = load_causal_lm(args.model, pick_dtype("auto", device))
    model = model.to(device)
    task = load_task(task_config)
    words = task.space.words  # two classes: the paper's "0" and "1"
    scorer = LabelScorer(model, tokenizer, words)
    rng = np.random.default_rng(0)
    vocab = model.get_output_embeddings().weight.shape[0]
    setup = {
        "model": args.model,
        "device": str(device),
        "dtype": str(next(model.parameters()).dtype).removeprefix("torch."),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "vocabulary": vocab,
    }
    for k in args.shots:
        demos = list(
            zip(task.pool.texts[:k], harden(task.space.one_hot(task.pool.labels[:k])).tolist(), strict=True)
        )
        prompts = prompted(task.test.texts[: args.inputs], demos, rng, words)
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
        row = {
            "figure": "icl_scoring",
            **setup,
            "shots": k,
            "inputs": len(ids),
            "mean_prompt_tokens": round(tokens / len(ids)),
            "inputs_per_s": round(len(ids) / seconds, 2),
            "prompt_tokens_per_s": round(tokens / seconds),
            "peak_memory_gib": round(peak_memory(device), 2),
            # what materialising the full vocabulary's fp32 logits of one batch would need, against
            # the K label logits (two: the paper's) at the last position that the scorer computes
            "full_logits_gib_per_batch": round(args.batch_size * longest * vocab * 4 / 2**30, 2),
            "label_logits_bytes_per_batch": args.batch_size * len(words) * 4,
        }
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
