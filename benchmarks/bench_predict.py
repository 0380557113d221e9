"""`labelbudget predict` throughput on Gemma-3-270M: texts scored per second by a saved model.

For each learner, a short run on the embedded tweets (all-HQ $16, a few optimizer steps: the
figure is about scoring, not training) saves its model (`--save-model`), then
`labelbudget predict` scores N unseen texts from a JSONL file in a process of its own (its
time and peak memory are its own): loading the saved model, reading the file, batched and packed
scoring (a probe extracts its layer's activations), writing the output. One JSON line per learner.
The probe runs first: a child's peak is the largest so far, so LoRA's (the larger) is its own too.

    python benchmarks/bench_predict.py [--n 1000] [--reuse results/demo]
    python benchmarks/bench_predict.py --smoke   # the same, tiny models and synthetic texts (seconds)

`--reuse` copies a demo results folder's cached artifacts (weak labels, activations), so that the
probe's run does not first extract the whole pool's activations.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from labelbudget.config import TrainConfig
from labelbudget.runs.run import run
from labelbudget.sweeps.presets import TEMPLATE
from labelbudget.tasks import load_task


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--reuse", type=Path, default=None)
    parser.add_argument("--smoke", action="store_true", help="tiny models and synthetic texts")
    args = parser.parse_args()
    base = dataclasses.replace(TEMPLATE, budget=16, hq_fraction=1.0, train=TrainConfig(example_visits=64))
    if args.smoke:
        import _smoke

        base, args.n = _smoke.tiny(base), 16
        base = dataclasses.replace(base, task=dataclasses.replace(base.task, max_pool=300))
    folder = Path(tempfile.mkdtemp(prefix="bench-predict-", dir=_smoke.folder() if args.smoke else None))
    if args.reuse:
        shutil.copytree(args.reuse / "artifacts", folder / "results" / "artifacts")
    data = load_task(dataclasses.replace(base.task, max_pool=None))
    texts = data.pool.texts[-args.n :]  # beyond the capped pool: texts the runs never saw
    source = folder / "new.jsonl"  # JSONL: tweets hold carriage returns, which CSV readers split on
    pd.DataFrame({"text": texts}).to_json(source, orient="records", lines=True, force_ascii=False)
    tokens = None
    for learner, method in (("probe", "seq_sft"), ("lora", "seq_sft")):
        cfg = dataclasses.replace(base, learner=learner, method=method)
        model_dir = folder / f"model-{learner}"
        run(cfg, folder / "results", save_model=model_dir)
        # `predict` as the CLI runs it, in a process of its own: its peak memory is its own
        out = folder / f"out-{learner}.jsonl"
        start = time.perf_counter()
        command = ["predict", "--model", str(model_dir), "--input", str(source), "--output", str(out)]
        done = subprocess.run([sys.executable, "-m", "labelbudget", *command], capture_output=True, text=True)
        if done.returncode:
            raise SystemExit(f"predict failed ({done.returncode}):\n{done.stderr[-2000:]}")
        seconds = time.perf_counter() - start
        # ru_maxrss is in KiB on Linux; over children it is the largest child's
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
        scored = len(pd.read_json(out, lines=True))
        if tokens is None:
            from labelbudget.models.backbone import load_backbone

            _, tokenizer = load_backbone(base.strong_model, __import__("torch").float32)
            tokens = sum(len(tokenizer(t)["input_ids"]) for t in texts)
        print(
            json.dumps(
                {
                    "figure": "predict_throughput",
                    "model": base.strong_model,
                    "learner": learner,
                    "texts": scored,
                    "tokens": tokens,
                    "seconds": round(seconds, 2),
                    "texts_per_s": round(scored / seconds, 2),
                    "tokens_per_s": round(tokens / seconds, 1),
                    "predict_peak_rss_gb": round(peak / 2**30, 2),
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
