"""Probe path vs LoRA path on the embedded default (Gemma-3-270M, the demo's tweets).

Prints one JSON line per figure:
- activation extraction: examples/s, tokens/s and padding efficiency of the packed length-sorted batches;
- probe runs per second once the activations are cached (probe_seq_sft, the demo's allocations);
- the demo's probe grid wall time: extraction + runs, measured;
- the same grid with LoRA fine-tuning, estimated from measured LoRA steps (seconds per optimizer
  step at batch 32 on real tweets) times each run's scheduled steps, plus test scoring; and the
  ratio of the two.

    python benchmarks/bench_probe.py [--results DIR]   # reuses DIR/artifacts if cached
    python benchmarks/bench_probe.py --smoke           # the same, tiny models and texts (seconds)
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import torch

from labelbudget.labels.budget import allocation_of, stage_split
from labelbudget.models.activations import activations, apply_template, extract
from labelbudget.models.backbone import load_backbone
from labelbudget.models.classifier import build_classifier
from labelbudget.models.packing import Encoder, pack_rows, sorted_batches
from labelbudget.runs.run import compute, refusal
from labelbudget.sweeps.grid import expand
from labelbudget.sweeps.presets import PROBES, TEMPLATE
from labelbudget.tasks import load_task
from labelbudget.training.schedule import Schedule
from labelbudget.training.stage import StageData, train_stage


def emit(**row) -> None:
    print(json.dumps(row), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--results", default="results/bench_probe")
    parser.add_argument("--probe-runs", type=int, default=30)
    parser.add_argument("--smoke", action="store_true", help="tiny models, synthetic texts, a small grid")
    args = parser.parse_args()
    template, probes, results = TEMPLATE, PROBES, Path(args.results)
    if args.smoke:
        import _smoke

        template, results, args.probe_runs = _smoke.tiny(TEMPLATE), _smoke.folder() / "results", 3
        probes = dataclasses.replace(PROBES, tasks=(template.task.task,), budgets=(16,), seeds=(0, 1))
    task = load_task(template.task)
    texts = apply_template("{text}", task.pool.texts[:256])

    # 1. extraction throughput on 256 pool tweets (model load excluded)
    _, tokenizer = load_backbone(template.strong_model, torch.float32)
    ids = Encoder(tokenizer, 32768)(texts)
    lengths = np.array([len(x) for x in ids])
    packed = [pack_rows(lengths[b]) for b in sorted_batches(lengths, 32)]  # as `extract` packs
    padded = sum(len(rows) * width for rows, width in packed)
    start = time.perf_counter()
    extract(template.strong_model, texts, template.pooling, 32)
    seconds = time.perf_counter() - start
    emit(
        figure="activation_extraction",
        model=template.strong_model,
        examples=len(texts),
        seconds_incl_model_load=round(seconds, 2),
        examples_per_s=round(len(texts) / seconds, 1),
        tokens_per_s=round(int(lengths.sum()) / seconds, 0),
        padding_efficiency=round(float(lengths.sum() / padded), 3),
    )

    # 2. the cache for the whole task, then probe runs per second
    start = time.perf_counter()
    acts = activations(task, template.strong_model, "{text}", template.pooling, results / "artifacts")
    load_seconds = time.perf_counter() - start
    meta = json.loads((results / "artifacts" / "activations" / acts.key / "meta.json").read_text())
    cache_seconds = meta["seconds"]  # measured when the cache was computed
    emit(
        figure="activation_cache",
        examples=len(task.pool) + len(task.test),
        compute_seconds=round(cache_seconds, 1),
        load_seconds=round(load_seconds, 3),
    )
    grid = [c for c in expand(template, probes) if refusal(c) is None]
    probe_grid = [c for c in grid if (c.method, c.learner) == ("seq_sft", "probe")]
    sample = probe_grid[:: max(1, len(probe_grid) // args.probe_runs)][: args.probe_runs]
    compute(sample[0], results)  # weak labels cached outside the timing
    start = time.perf_counter()
    for cfg in sample:
        compute(cfg, results)
    per_run = (time.perf_counter() - start) / len(sample)
    emit(
        figure="probe_runs",
        method="probe_seq_sft",
        runs=len(sample),
        seconds_per_run=round(per_run, 3),
        runs_per_s=round(1 / per_run, 2),
    )
    probe_total = cache_seconds + per_run * len(grid)
    emit(
        figure="probe_grid_wall_time",
        runs=len(grid),
        seconds=round(probe_total, 0),
        note="activation cache + runs x seconds per probe_seq_sft run",
    )

    # 3. LoRA: seconds per optimizer step (batch 32 of real tweets, micro-batches of 8), measured
    model = build_classifier(
        template.strong_model, 8, seed=0, pooling=template.pooling, n_classes=task.space.k
    )
    encoded = Encoder(model.tokenizer, model.max_length)(task.pool.texts[:320])
    data = StageData(encoded, task.space.one_hot(task.pool.labels[:320]))  # (n, K) one-hot HQ targets
    cfg = template.train
    schedule = Schedule(batch_size=32, total_steps=3, warmup_steps=2, eval_every=None)
    train_stage(model, data, None, dataclasses.replace(schedule, total_steps=1), cfg, 5e-4, 0, "warm-up")
    start = time.perf_counter()
    train_stage(model, data, None, schedule, cfg, 5e-4, 0, "timed")
    step = (time.perf_counter() - start) / 3
    start = time.perf_counter()
    from labelbudget.training.stage import predict

    predict(model, encoded[:128], 64)
    score_per_example = (time.perf_counter() - start) / 128
    emit(
        figure="lora_step",
        model=template.strong_model,
        seconds_per_step=round(step, 2),
        scoring_seconds_per_example=round(score_per_example, 4),
    )
    from labelbudget.runs.store import Store

    scheduled = stopped = 0
    rng = np.random.default_rng(0)
    for c in grid:
        alloc = allocation_of(c)
        for n in (alloc.n_weak, alloc.n_hq):
            if n:
                train_pos, _ = stage_split(n, rng)
                scheduled += Schedule.early_stopping(len(train_pos), cfg).total_steps
    # the steps the same protocol actually took before early stopping, in the stored probe runs
    stopped = sum(
        s["steps"]
        for r in Store(results).records()
        if r.method.startswith("probe_")  # records name the probe learner's runs probe_*
        for s in r.stages
    )
    scoring = len(grid) * len(task.test) * score_per_example
    for name, steps in (("scheduled", scheduled), ("as_the_probes_stopped", stopped)):
        emit(
            figure="lora_grid_wall_time_estimate",
            steps=name,
            runs=len(grid),
            optimizer_steps=steps,
            seconds=round(steps * step + scoring, 0),
            ratio_to_probe_grid=round((steps * step + scoring) / probe_total, 0),
        )
    lora_total = stopped * step + scoring
    emit(
        figure="lora_over_probe_grid_time",
        basis="as the probes stopped",
        ratio=round(lora_total / probe_total, 0),
    )


if __name__ == "__main__":
    main()
