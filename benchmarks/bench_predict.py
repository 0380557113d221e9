"""`labelbudget predict` throughput on Gemma-3-270M: texts scored per second by a saved model.

For each learner, a short run on the embedded tweets (all-HQ $16, a few optimizer steps: the
figure is about scoring, not training) saves its model (`--save-model`), then `predict_file`
scores N unseen texts from a JSONL file, end to end as the CLI does it: loading the saved model, reading
the file, batched and packed scoring (a probe extracts its layer's activations), writing the
output. One JSON line per learner.

    python benchmarks/bench_predict.py [--n 1000] [--reuse results/demo]
    python benchmarks/bench_predict.py --smoke   # the same, tiny models and synthetic texts (seconds)

`--reuse` copies a demo results folder's cached artifacts (weak labels, activations), so that the
probe's run does not first extract the whole pool's activations.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import tempfile
import time
from pathlib import Path

import pandas as pd

from labelbudget.config import TrainConfig
from labelbudget.learners.saved import predict_file
from labelbudget.runs.run import run
from labelbudget.sweeps.presets import TEMPLATE
from labelbudget.tasks import load_task
from labelbudget.util.profiling import peak_rss


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
    for learner, method in (("lora", "seq_sft"), ("probe", "seq_sft")):
        cfg = dataclasses.replace(base, learner=learner, method=method)
        model_dir = folder / f"model-{learner}"
        run(cfg, folder / "results", save_model=model_dir)
        start = time.perf_counter()
        out = predict_file(model_dir, source, folder / f"out-{learner}.jsonl")
        seconds = time.perf_counter() - start
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
                    "peak_rss_gb": round(peak_rss() / 2**30, 2),
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
