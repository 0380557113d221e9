"""labelbudget's LoRA stage against the paper's own training setup, in one run.

The same model (SmolLM2-135M by default, LoRA r=8 on every linear layer, a new 2-logit head),
the same SST-2 inputs, the same optimizer (AdamW, wd 0.01, beta2 0.95, cosine with warmup),
gradient clipping and batch of 32, through:

  (a) transformers' Trainer with micro-batch 1 x 32 gradient accumulation (the authors' setting
      was 2 x 16; 1 x 32 is the slowest reading of it),
  (b) Trainer with one padded batch of 32,
  (c) labelbudget's `train_stage`: a random batch of 32 packed in rows, one forward pass.

Interleaved (a, b, c, a, b, c, ...) for a weak stage (batches drawn from 2,000 examples) and an HQ
stage (n = 32), reporting seconds per optimizer step (median over the timed steps) and the ratios
(a)/(c) and (b)/(c); then test scoring of 256 examples (Trainer.predict, eval batch 3 as the
authors, vs `predict`). One JSON line per figure. Needs ../shared/data/sst2.

The Trainer's model is the same `Classifier` (backbone, LoRA, head, pooling) run as the Trainer
runs a model: on its padded batches (`ForTrainer`), where labelbudget packs them in rows
(`Classifier.batch_logits`).

    python benchmarks/bench_vs_trainer.py [--model smollm2-135m] [--steps 3] [--rounds 2]
    python benchmarks/bench_vs_trainer.py --smoke   # the same, tiny model and texts (seconds)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from labelbudget.config import TrainConfig
from labelbudget.labelspace import TWO
from labelbudget.models.classifier import build_classifier
from labelbudget.training.losses import soft_cross_entropy
from labelbudget.training.schedule import Schedule
from labelbudget.training.stage import StageData, predict, train_stage

SST2 = Path(__file__).resolve().parents[2] / "shared" / "data" / "sst2" / "train.tsv"


def emit(**row) -> None:
    print(json.dumps(row), flush=True)


class ForTrainer(torch.nn.Module):
    """The same classifier behind the interface the Trainer expects: its padded batches in, the
    loss from soft labels out. Pooled as `Classifier` pools a packed batch (`pooling`: the last
    real token, or the mean of the real tokens), here over the padding mask."""

    def __init__(self, classifier):
        super().__init__()
        self.classifier = classifier

    def forward(self, input_ids, attention_mask, labels=None):
        """`labels`: (n, K) class probabilities (one-hot for SST-2's hard labels)."""
        model = self.classifier
        hidden = model.backbone(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        if model.pooling == "last":  # the last real token, whichever side the padding is on
            last = attention_mask.shape[1] - 1 - attention_mask.flip(1).argmax(1)
            pooled = hidden[torch.arange(len(hidden), device=hidden.device), last]
        else:
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1)
        logits = model.head(pooled.float())
        loss = None if labels is None else soft_cross_entropy(logits, labels.float())
        return {"loss": loss, "logits": logits}


class StepTimer:
    def __init__(self):
        from transformers import TrainerCallback

        timer = self

        class Callback(TrainerCallback):
            def on_step_begin(self, args, state, control, **kw):
                timer.begin = time.perf_counter()

            def on_step_end(self, args, state, control, **kw):
                timer.times.append(time.perf_counter() - timer.begin)

        self.times: list[float] = []
        self.callback = Callback()


def trainer_steps(model, ids, labels, micro: int, steps: int, eval_ids=None) -> tuple[float, float | None]:
    from datasets import Dataset
    from transformers import DataCollatorWithPadding, Trainer, TrainingArguments

    ds = Dataset.from_dict({"input_ids": ids, "labels": labels.tolist()})
    timer = StepTimer()
    with tempfile.TemporaryDirectory() as out:
        args = TrainingArguments(
            output_dir=out,
            per_device_train_batch_size=micro,
            gradient_accumulation_steps=32 // micro,
            per_device_eval_batch_size=3,
            max_steps=steps + 1,
            learning_rate=5e-4,
            weight_decay=0.01,
            adam_beta2=0.95,
            lr_scheduler_type="cosine",
            warmup_steps=2,
            max_grad_norm=1.0,
            report_to=[],
            save_strategy="no",
            logging_strategy="no",
            use_cpu=not torch.cuda.is_available(),
            dataloader_drop_last=False,
            remove_unused_columns=False,
        )
        trainer = Trainer(
            model=ForTrainer(model),
            args=args,
            train_dataset=ds,
            data_collator=DataCollatorWithPadding(model.tokenizer),
            callbacks=[timer.callback],
        )
        # the Trainer prints its logs (Python dicts) to stdout, which holds only JSON lines here
        with contextlib.redirect_stdout(sys.stderr):
            start = time.perf_counter()
            trainer.train()
            total = time.perf_counter() - start
            scoring = None
            if eval_ids is not None:
                test = Dataset.from_dict(
                    {"input_ids": eval_ids, "labels": np.zeros((len(eval_ids), labels.shape[1])).tolist()}
                )
                start = time.perf_counter()
                trainer.predict(test)
                scoring = total + time.perf_counter() - start  # end to end: training and scoring
    return statistics.median(timer.times[1:]), scoring  # the first step includes set-up


def ours_steps(model, ids, labels, steps: int, eval_ids=None) -> tuple[float, float | None, float]:
    cfg = TrainConfig()
    data = StageData(ids, labels)
    if eval_ids is None:
        train_stage(model, data, None, Schedule(32, 1, 1, None), cfg, 5e-4, 0, "warm-up")
    start = time.perf_counter()
    report = train_stage(model, data, None, Schedule(32, steps, 2, None), cfg, 5e-4, 0, "timed")
    per_step = (time.perf_counter() - start) / steps
    scoring = None
    if eval_ids is not None:  # end to end: training and scoring
        predict(model, eval_ids, cfg.eval_batch_size)
        scoring = time.perf_counter() - start
    return per_step, scoring, report.real_tokens / report.padded_tokens


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--end-to-end-only", action="store_true")
    parser.add_argument("--weak-n", type=int, default=2000, help="examples the weak stage draws from")
    parser.add_argument("--test-n", type=int, default=256, help="test examples scored end to end")
    parser.add_argument("--smoke", action="store_true", help="tiny model and synthetic texts, 1 round")
    args = parser.parse_args()
    n_weak, n_hq, n_test = args.weak_n, 32, args.test_n
    if args.smoke:
        import _smoke

        args.model, args.steps, args.rounds, n_weak, n_test = _smoke.decoder(), 1, 1, 64, 32
        df = _smoke.texts(n_weak + n_hq + n_test).rename(columns={"text": "sentence"})
    elif SST2.exists():
        df = pd.read_csv(SST2, sep="\t", quoting=3)
    else:
        raise SystemExit(f"needs SST-2 at {SST2}")
    torch.manual_seed(0)
    df = df.sample(frac=1.0, random_state=0).head(n_weak + n_hq + n_test)
    model = build_classifier(args.model, 8, seed=0)
    ids = model.tokenizer(df["sentence"].tolist())["input_ids"]
    labels = TWO.one_hot(df["label"].to_numpy())  # (n, 2) one-hot targets, float32
    hq_end = n_weak + n_hq
    stages = {"weak": (ids[:n_weak], labels[:n_weak]), "hq": (ids[n_weak:hq_end], labels[n_weak:hq_end])}
    test_ids = ids[hq_end:]
    machine = f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"
    for stage, (x, y) in ({} if args.end_to_end_only else stages).items():
        times = {"a": [], "b": [], "c": []}
        for _ in range(args.rounds):
            times["a"].append(trainer_steps(model, x, y, 1, args.steps)[0])
            times["b"].append(trainer_steps(model, x, y, 32, args.steps)[0])
            step, _, efficiency = ours_steps(model, x, y, args.steps)
            times["c"].append(step)
        a, b, c = (statistics.median(times[k]) for k in "abc")
        for name, value in (("trainer_1x32", a), ("trainer_32x1", b), ("labelbudget", c)):
            emit(
                figure="seconds_per_step",
                stage=stage,
                setup=name,
                model=args.model,
                seconds=round(value, 3),
                machine=machine,
            )
        emit(
            figure="speedup",
            stage=stage,
            model=args.model,
            a_over_c=round(a / c, 2),
            b_over_c=round(b / c, 2),
            labelbudget_padding_efficiency=round(efficiency, 3),
        )
    _, e2e_a = trainer_steps(model, *stages["hq"], 1, args.steps, eval_ids=test_ids)
    _, e2e_c, _ = ours_steps(model, *stages["hq"], args.steps + 1, eval_ids=test_ids)
    emit(
        figure="end_to_end_seconds",
        what=f"HQ stage of 32, {args.steps + 1} steps, then scoring {len(test_ids)} test examples",
        trainer_1x32_eval_batch_3=round(e2e_a, 1),
        labelbudget=round(e2e_c, 1),
        a_over_c=round(e2e_a / e2e_c, 2),
    )


if __name__ == "__main__":
    main()
