"""The classifier a run paid for: saved by `run --save-model DIR`, scored by `labelbudget predict`.

A saved model is a folder, written atomically (it appears complete or not at all):
- `model.json`: the learner, strong model, pooling, the task's text column and label map, the
  probe's layer, the format version, and the run's whole record (config, metrics, spend);
- `state.safetensors`: what the run trained (LoRA and head, or the probe's head with the pool's
  standardisation statistics), loaded back exactly onto a freshly built model;
- `adapter/` (LoRA): the adapter as peft's `save_pretrained` writes it, for use outside
  labelbudget (the head is in `state.safetensors`).
Methods that score through few-shot prompts (`prompted_seq_sft`, `icl`) are not saved: their
demonstrations are drawn per input, so a saved model would not score as the run did.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from labelbudget.util.atomic import load_state, save_state
from labelbudget.util.errors import UserError

FORMAT = 1


def check_savable(config, folder: Path) -> None:
    """`--save-model` checks, made before any work (and again just before saving)."""
    from labelbudget.methods import get_method

    if config.method in ("icl", "prompted_seq_sft") or not get_method(config.method).learner:
        raise UserError(
            f"--save-model cannot save a {config.method} run: it scores through few-shot prompts",
            "save a seq_sft, uncertainty or logconf run (either learner)",
        )
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise UserError(f"--save-model {folder} exists and is not an empty folder", "pass a new folder")


def save_model(folder: Path | str, method, config, record) -> Path:
    """Save the learner `method` trained (see the module docstring)."""
    folder = Path(folder)
    check_savable(config, folder)
    learner = method.learner
    meta = {
        "format": FORMAT,
        "learner": config.learner,
        "strong_model": config.strong_model,
        "pooling": config.pooling,
        "lora_rank": config.train.lora_rank,
        "dtype": config.train.dtype,
        "truncate": config.task.truncate,
        "text_column": config.task.text_column,
        "label_map": config.task.label_map,
        "record": json.loads(record.to_json()),
    }
    tensors = {f"model.{k}": v for k, v in learner.state().items()}
    if config.learner == "probe":
        meta["layer"], meta["depth"] = int(learner.layer), learner.depth
        tensors |= {"mean": torch.from_numpy(learner.mean), "std": torch.from_numpy(learner.std)}
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}-"))
    try:
        save_state(tmp / "state.safetensors", tensors, {})
        if config.learner == "lora":
            learner.model.backbone.save_pretrained(tmp / "adapter")
        (tmp / "model.json").write_text(json.dumps(meta, indent=1, sort_keys=True))
        if folder.exists():
            folder.rmdir()
        os.replace(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


class SavedModel:
    """A saved classifier, loaded to score new texts as the run scored its test set."""

    def __init__(self, folder: Path | str):
        folder = Path(folder)
        if not (folder / "model.json").is_file():
            raise UserError(
                f"{folder} is not a saved labelbudget model (no model.json)",
                "pass the folder a run wrote with --save-model",
            )
        self.meta = json.loads((folder / "model.json").read_text())
        if self.meta.get("format") != FORMAT:
            raise UserError(
                f"{folder} was saved in format {self.meta.get('format')}, this labelbudget reads {FORMAT}",
                "use the labelbudget version that saved it",
            )
        tensors, _ = load_state(folder / "state.safetensors")
        state = {k.removeprefix("model."): v for k, v in tensors.items() if k.startswith("model.")}
        if self.meta["learner"] == "probe":
            from labelbudget.learners.probe import ProbeHead

            self.model = ProbeHead(int(tensors["mean"].shape[0]), 0)
            self.model.load_trainable_state(state)
            self.mean, self.std = tensors["mean"].numpy(), tensors["std"].numpy()
        else:
            from labelbudget.models.classifier import build_classifier
            from labelbudget.models.packing import Encoder

            m = self.meta
            self.model = build_classifier(m["strong_model"], m["lora_rank"], m["dtype"], 0, m["pooling"])
            self.model.load_trainable_state(state)
            self.encoder = Encoder(self.model.tokenizer, self.model.max_length, m["truncate"])
        self.model.eval()

    @property
    def text_column(self) -> str:
        return self.meta["text_column"]

    def labels(self) -> tuple[str, str]:
        """What 0 and 1 stand for (the task's label map, inverted), else "0" and "1"."""
        names = {v: k for k, v in (self.meta.get("label_map") or {}).items()}
        return names.get(0, "0"), names.get(1, "1")

    def score(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Log-odds of P(1) for each text, batched and packed like training."""
        from labelbudget.training.stage import predict

        texts = [str(t).strip() for t in texts]
        if self.meta["learner"] == "probe":
            from labelbudget.models.activations import extract_layers

            m = self.meta
            fresh = extract_layers(m["strong_model"], texts, m["pooling"], 32, m.get("depth"))[0]
            fresh = fresh[:, m["layer"]]
            rows = torch.from_numpy((np.asarray(fresh, np.float32) - self.mean) / self.std)
            return predict(self.model, rows, len(rows), desc="predicting")
        return predict(self.model, self.encoder(texts), batch_size, desc="predicting")


def predict_file(model: Path | str, input: Path | str, output: Path | str | None = None) -> Path:
    """Score every row of a CSV/TSV/JSONL file; write the same rows plus `p1` and `label_pred`."""
    from labelbudget.tasks.files import read_table

    saved = SavedModel(model)
    input = Path(input)
    if not input.is_file() or input.suffix.lower() not in (".csv", ".tsv", ".jsonl"):
        raise UserError(f"--input {input} does not exist or is not .csv, .tsv or .jsonl", "pass a data file")
    df = read_table(input)
    column = saved.text_column
    if column not in df.columns:
        raise UserError(
            f"{input} has no text column {column!r} (the model's task read that one); its columns are "
            f"{list(map(str, df.columns))}",
            f"rename the text column to {column!r}",
        )
    log_odds = saved.score(df[column].tolist())
    p1 = 1 / (1 + np.exp(-log_odds.astype(np.float64)))
    zero, one = saved.labels()
    out_df = df.assign(p1=np.round(p1, 6), label_pred=np.where(p1 > 0.5, one, zero))
    output = Path(output) if output else input.with_name(f"{input.stem}.predictions{input.suffix}")
    from labelbudget.util.atomic import atomic_path

    with atomic_path(output) as tmp:
        if output.suffix.lower() == ".jsonl":
            out_df.to_json(tmp, orient="records", lines=True, force_ascii=False)
        else:
            tsv = output.suffix.lower() == ".tsv"
            quoting = csv.QUOTE_MINIMAL if tsv else csv.QUOTE_NONNUMERIC  # a bare \r in a text stays in it
            out_df.to_csv(tmp, sep="\t" if tsv else ",", index=False, quoting=quoting)
    return output
