"""LoRA training throughput of the embedded models on real text (the embedded tweets).

    python benchmarks/bench_train.py [--models minilm-l6 gemma-3-270m] [--steps 10]

    python benchmarks/bench_train.py --models smollm2-135m --pack-widths 128 256 512
    python benchmarks/bench_train.py --profile-run [--task FILE --rows N] [run flags, e.g. --budget 64]
    python benchmarks/bench_train.py --smoke   # both, on tiny models and synthetic texts (seconds)

Prints one JSON line per model and pack width: steps/s, tokens/s (real and processed), peak
memory, padding efficiency (real tokens / processed tokens) over a full epoch of uniformly random
batches of 32, each processed as `train_stage` does (one forward pass over the batch packed in
rows), and achieved FLOP/s as a fraction of the matrix-multiply peak of the same machine, measured
in the same run.

FLOPs per training step are counted analytically: the backbone is frozen, so each linear layer
costs 2 * params * tokens forward and the same again backward (input gradients only; LoRA's own
weight gradients are counted too), and attention costs 4 * width^2 * dim per row and layer forward
(every token pair of a packed row, masked ones included) and twice that backward. Embedding
lookups are not matrix multiplies and are left out.

`--profile-run` runs `labelbudget run` (Gemma-3-270M sequential SFT unless flags say otherwise)
in a fresh process and prints where its time and memory went, phase by phase (the record's
`phases`, with each phase's peak resident memory).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from labelbudget.config import RunConfig, TaskConfig
from labelbudget.labelspace import from_p1
from labelbudget.models.backbone import pick_device
from labelbudget.models.classifier import build_classifier
from labelbudget.models.packing import PACK_WIDTH, Encoder, pack_rows, random_batches
from labelbudget.tasks import load_task
from labelbudget.training.losses import soft_cross_entropy


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


def step_flops(model, shape: tuple[int, int]) -> float:
    """FLOPs of one forward and backward pass over (rows, width) tokens, padding included (the
    hardware computes it), attention over every token pair of a row (masked pairs included)."""
    cfg = model.backbone.config
    frozen, trainable = linear_params(model)
    rows, width = shape
    head_dim = getattr(cfg, "head_dim", None)
    attn_width = cfg.num_attention_heads * head_dim if head_dim else cfg.hidden_size
    attention = 4 * rows * width**2 * attn_width * cfg.num_hidden_layers
    tokens = rows * width
    return 2 * frozen * tokens * 2 + 2 * trainable * tokens * 3 + attention * 3


def bench(
    name: str, texts: list[str], steps: int, width: int, batch_size: int = 32, peak_n: int = 2048
) -> dict[str, float]:
    device = pick_device()
    model = build_classifier(name, lora_rank=8)
    dtype = next(model.backbone.parameters()).dtype
    ids = Encoder(model.tokenizer, model.max_length)(texts)
    lengths = np.array([len(x) for x in ids])
    epoch = random_batches(len(ids), batch_size, np.random.default_rng(0))
    rows = [pack_rows(lengths[b], width) for b in epoch]
    efficiency = lengths.sum() / sum(len(r) * w for r, w in rows)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.01, betas=(0.9, 0.95))
    targets = torch.from_numpy(from_p1(torch.rand(len(ids)).numpy()))  # soft binary targets, (n, 2)
    model.pack_width = width

    def step(batch) -> tuple[float, int, float]:
        """One optimizer step as `train_stage` takes it: the batch in one packed forward pass."""
        rows = pack_rows(lengths[batch], width)
        model.token_counts()
        logits = model.batch_logits(ids, batch)
        real, processed = model.token_counts()
        soft_cross_entropy(logits, targets[batch].to(device)).backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        n_rows, row_width = len(rows[0]), rows[1]
        return float(real), processed, step_flops(model, (n_rows, row_width))

    for batch in epoch[:2]:  # warm-up (allocator, kernels)
        step(batch)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
        torch.cuda.synchronize()
    real = processed = flops = 0.0
    start = time.perf_counter()
    for batch in epoch[2 : 2 + steps]:
        r, p, f = step(batch)
        real, processed, flops = real + r, processed + p, flops + f
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    peak = matmul_peak(device, dtype, peak_n)
    memory = (
        torch.cuda.max_memory_allocated()
        if device.type == "cuda"
        else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    )
    return {
        "pack width": width,
        "steps/s": steps / seconds,
        "real tok/s": real / seconds,
        "processed tok/s": processed / seconds,
        "padding efficiency": efficiency,
        "peak memory GiB": memory / 2**30,
        "GFLOP/s": flops / seconds / 1e9,
        "matmul peak GFLOP/s": peak / 1e9,
        "fraction of peak": flops / seconds / peak,
        "dtype": str(dtype).removeprefix("torch."),
        "device": str(device),
    }


def profile_run(task: str, rows: int | None, run_args: list[str]) -> None:
    """One run through the CLI in a fresh process, end to end: one JSON line per phase of its
    record (seconds, peak RSS), plus start-up (imports, store) and the whole process's peak RSS."""
    with tempfile.TemporaryDirectory() as tmp:
        if rows is not None:  # the first `rows` rows of a file task, as a file task
            frame = pd.read_csv(task, sep="\t" if task.endswith(".tsv") else ",", quoting=3)
            task = str(Path(tmp) / f"first{rows}{Path(task).suffix}")
            frame.head(rows).to_csv(task, sep="\t" if task.endswith(".tsv") else ",", index=False)
        command = [sys.executable, "-m", "labelbudget", "run", "--task", task, "--results", tmp, "--json"]
        start = time.perf_counter()
        done = subprocess.run(command + run_args, capture_output=True, text=True)
        wall = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(done.stderr[-2000:])
    record = json.loads(done.stdout.strip().splitlines()[-1])
    base = {"figure": "run_phase", "task": Path(task).name, "model": record["strong_model"]}
    base |= {"method": record["method"], "budget": record["budget"]}
    print(
        json.dumps(
            {**base, "phase": "start-up, store, record", "seconds": round(wall - record["seconds"], 1)}
        )
    )
    for row in record["phases"]:
        print(json.dumps({**base, **row}))
    for stage in record["stages"]:
        print(
            json.dumps(
                {
                    **base,
                    "phase": f"{stage['name']} stage",
                    "steps": stage["steps"],
                    "validation seconds": round(stage["eval_seconds"], 1),
                    "padding efficiency": round(stage["real_tokens"] / max(stage["padded_tokens"], 1), 3),
                }
            )
        )
    peak = max(row["peak_rss_gb"] for row in record["phases"])  # each phase resets the mark
    print(json.dumps({**base, "phase": "whole run", "seconds": round(wall, 1), "peak_rss_gb": peak}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["minilm-l6", "gemma-3-270m"])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--pack-widths", type=int, nargs="+", default=[PACK_WIDTH])
    parser.add_argument("--profile-run", action="store_true", help="profile one run end to end instead")
    parser.add_argument("--task", default="tweet-sentiment", help="--profile-run: a task name or file")
    parser.add_argument("--rows", type=int, help="--profile-run: use the first ROWS rows of the file")
    parser.add_argument("--smoke", action="store_true", help="both parts on tiny models and synthetic texts")
    args, run_args = parser.parse_known_args()
    task, peak_n = TaskConfig(test_size=200), 2048
    if args.smoke:
        import _smoke

        args.models, args.steps, peak_n = [_smoke.decoder(), _smoke.encoder()], 2, 256
        tiny = _smoke.tiny(RunConfig(budget=8))
        task, args.task, args.rows = tiny.task, tiny.task.task, 300
        run_args = [*_smoke.run_flags(tiny), *run_args]
    if args.profile_run or args.smoke:
        profile_run(args.task, args.rows, run_args)
        if not args.smoke:
            return
    elif run_args:
        parser.error(f"unrecognized arguments: {' '.join(run_args)}")
    texts = load_task(task).pool.texts[:4000]
    for name, width in ((n, w) for n in args.models for w in args.pack_widths):
        result = bench(name, texts, args.steps, width, peak_n=peak_n)
        row = {k: round(v, 3) if isinstance(v, float) else v for k, v in result.items()}
        print(
            json.dumps({"figure": "lora_training", "model": name, "threads": torch.get_num_threads(), **row})
        )


if __name__ == "__main__":
    main()
