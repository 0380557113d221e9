"""The classifier a run paid for: saved by `run --save-model DIR`, scored by `labelbudget predict`.

A saved model is a folder, written atomically (it appears complete or not at all):
- `model.json`: what the model was trained for (the learner; the base model, its weights'
  fingerprint and width; the pooling; the probe's layer; the task's text column and label map),
  the sha256 of every other file in the folder, the format version, and the run's whole record;
- `state.safetensors`: the new head (the probe's with the pool's standardisation statistics);
- `adapter/` (LoRA): the adapter as peft's `save_pretrained` writes it. `predict` loads it as any
  peft user would (its config, then its weights through `set_peft_model_state_dict`), so the
  folder is one thing, used one way: the adapter you take elsewhere is the one `predict` scores
  with.

`predict` checks all of it before any heavy work: model.json's fields, every file against its
digest (a replaced, truncated or missing file is refused), the tensors' shapes, then the base
model (present, its weights' fingerprint the one trained on, its width the head's, the probe's
layer among its layers). Methods that score through few-shot prompts (`prompted_seq_sft`,
`icl`) are not saved: their demonstrations are drawn per input, so a saved model would not score
as the run did.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from labelbudget.learners.saved_format import FORMAT, check_files, damaged, digests, read_meta, read_tensors
from labelbudget.util.atomic import atomic_path, save_state
from labelbudget.util.errors import UserError

OUTPUT_SUFFIXES = (".csv", ".tsv", ".jsonl")


def check_savable(config, folder: Path) -> None:
    """`--save-model` checks, made before any work (and again just before saving)."""
    from labelbudget.methods import get_method

    if config.method in ("icl", "prompted_seq_sft") or not get_method(config.method).learner:
        raise UserError(
            f"--save-model cannot save a {config.method} run: it scores through few-shot prompts",
            "save a seq_sft, uncertainty or logconf run (either learner)",
        )
    if folder.is_symlink():
        raise UserError(
            f"--save-model {folder} is a symbolic link: the model would be written where it points",
            "pass a new folder (not a link)",
        )
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise UserError(f"--save-model {folder} exists and is not an empty folder", "pass a new folder")


def save_model(folder: Path | str, method, config, record) -> Path:
    """Save the learner `method` trained (see the module docstring)."""
    from labelbudget.models.backbone import weights_fingerprint

    folder = Path(folder)
    check_savable(config, folder)
    learner = method.learner
    head = learner.state()["head.weight"]
    meta = {
        "format": FORMAT,
        "learner": config.learner,
        "strong_model": config.strong_model,
        "strong_fingerprint": weights_fingerprint(config.strong_model),
        "hidden_size": int(head.shape[1]),
        "pooling": config.pooling,
        "lora_rank": config.train.lora_rank,
        "dtype": config.train.dtype,
        "truncate": config.task.truncate,
        "text_column": config.task.text_column,
        "label_map": config.task.label_map,
        "classes": list(record.classes),
        "record": json.loads(record.to_json()),
    }
    tensors = {"head.weight": head}
    if config.learner == "probe":
        meta["layer"], meta["depth"] = int(learner.layer), learner.depth
        tensors |= {"mean": torch.from_numpy(learner.mean), "std": torch.from_numpy(learner.std)}
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}-"))
    try:
        save_state(tmp / "state.safetensors", tensors, {})
        if config.learner == "lora":
            learner.model.backbone.save_pretrained(tmp / "adapter")
        meta["files"] = digests(tmp)
        (tmp / "model.json").write_text(json.dumps(meta, indent=1, sort_keys=True))
        if folder.exists():
            folder.rmdir()
        os.replace(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


class SavedModel:
    """A saved classifier, checked on opening (nothing heavy is loaded), then loaded on first use
    to score new texts as the run scored its test set."""

    def __init__(self, folder: Path | str):
        self.folder = Path(folder)
        self.meta = read_meta(self.folder)
        check_files(self.folder, self.meta)
        self.tensors = read_tensors(self.folder, self.meta)
        self._model = None

    @property
    def text_column(self) -> str:
        return self.meta["text_column"]

    @property
    def classes(self) -> tuple[str, ...]:
        """The task's classes, in the order of the model's logits."""
        return tuple(self.meta["classes"])

    def check_base(self) -> None:
        """The base model is there and is the one trained on: its weights' fingerprint, its width
        (the head's), and for a probe its layer among the model's layers. Reads its config only."""
        from transformers import AutoConfig

        from labelbudget.models.backbone import SAFE, check_model, resolve, weights_fingerprint

        m, name = self.meta, self.meta["strong_model"]
        check_model(name)
        now = weights_fingerprint(name)
        if m["strong_fingerprint"] is not None and now != m["strong_fingerprint"]:
            raise UserError(
                f"the base model {name} of {self.folder} is not the one it was trained on (weights "
                f"fingerprint {now}, trained on {m['strong_fingerprint']})",
                "score with the base model the run used (the same folder or embedded version), or "
                "train and save the model again on this one",
            )
        config = AutoConfig.from_pretrained(resolve(name), **SAFE).get_text_config()
        if config.hidden_size != m["hidden_size"]:
            raise UserError(
                f"the base model {name} has width {config.hidden_size}, the head in {self.folder} "
                f"reads {m['hidden_size']}: the model was trained on another base model",
                "pass the model folder saved for this base model, or set model.json's strong_model "
                "back to the model it was trained on",
            )
        if m["learner"] == "probe":
            kept = round(m["depth"] * config.num_hidden_layers)
            if m["layer"] > min(kept, config.num_hidden_layers):
                raise damaged(
                    self.folder,
                    f"its probe reads layer {m['layer']}, but {name} has {config.num_hidden_layers} "
                    f"layers (depth {m['depth']} keeps layers 0-{kept})",
                )

    @property
    def model(self):
        if self._model is None:
            self.check_base()
            self._model = self._probe() if self.meta["learner"] == "probe" else self._lora()
            self._model.eval()
        return self._model

    def _probe(self):
        from labelbudget.learners.probe import ProbeHead

        model = ProbeHead(self.meta["hidden_size"], 0, len(self.classes))
        model.load_trainable_state({"head.weight": self.tensors["head.weight"]})
        self.mean, self.std = self.tensors["mean"].numpy(), self.tensors["std"].numpy()
        return model

    def _lora(self):
        """The base model with the adapter in `adapter/` (peft's own files) and the saved head."""
        from peft import LoraConfig, get_peft_model, set_peft_model_state_dict
        from safetensors.torch import load_file

        from labelbudget.models.backbone import load_backbone, pick_device, pick_dtype, resolve_pooling
        from labelbudget.models.classifier import Classifier
        from labelbudget.models.packing import Encoder

        m, adapter = self.meta, self.folder / "adapter"
        device = pick_device()
        backbone, tokenizer = load_backbone(m["strong_model"], pick_dtype(m["dtype"], device))
        try:
            peft_model = get_peft_model(backbone, LoraConfig.from_pretrained(str(adapter)))
            loaded = set_peft_model_state_dict(peft_model, load_file(adapter / "adapter_model.safetensors"))
        except (ValueError, RuntimeError, KeyError, TypeError) as e:
            raise damaged(
                self.folder, f"its adapter does not fit {m['strong_model']} ({str(e)[:150]})"
            ) from e
        unfilled = [k for k in loaded.missing_keys if "lora_" in k]
        if loaded.unexpected_keys or unfilled:
            names = (loaded.unexpected_keys or unfilled)[:2]
            raise damaged(self.folder, f"its adapter does not fit {m['strong_model']} (e.g. {names})")
        pooling = resolve_pooling(m["pooling"], backbone.config.model_type)
        model = Classifier(peft_model, tokenizer, backbone.config.hidden_size, pooling, len(self.classes))
        model.head.load_state_dict({"weight": self.tensors["head.weight"]})
        self.encoder = Encoder(tokenizer, model.max_length, m["truncate"])
        return model.to(device)

    def score(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """(n, K) logits of the texts, batched and packed like training."""
        from labelbudget.training.stage import predict

        model = self.model
        texts = [str(t).strip() for t in texts]
        if self.meta["learner"] == "probe":
            from labelbudget.models.activations import extract_layers

            m = self.meta
            fresh = extract_layers(m["strong_model"], texts, m["pooling"], 32, m["depth"])[0]
            fresh = fresh[:, m["layer"]]
            rows = torch.from_numpy((np.asarray(fresh, np.float32) - self.mean) / self.std)
            return predict(model, rows, len(rows), desc="predicting")
        return predict(model, self.encoder(texts), batch_size, desc="predicting")


@dataclass(frozen=True)
class Predictions:
    """What `predict` wrote: the file, its rows, and how many had no text (left unscored)."""

    path: Path
    rows: int
    blank: int


def _output_path(input: Path, output: Path | None, model: Path) -> Path:
    """Where predictions go: never over the input, never into the model folder."""
    out = Path(output) if output else input.with_name(f"{input.stem}.predictions{input.suffix}")
    target = out.resolve()  # a link to the input is the input
    if target == input.resolve():
        raise UserError(
            f"--output {out} is the input file: writing there would replace it", "pass another --output"
        )
    if target == model.resolve() or model.resolve() in target.parents:
        raise UserError(
            f"--output {out} is inside the model folder {model}: writing there would change the model",
            "pass an --output outside the model folder",
        )
    if out.is_dir():
        raise UserError(f"--output {out} is a folder", "pass a file name (.csv, .tsv or .jsonl)")
    if out.suffix.lower() not in OUTPUT_SUFFIXES:
        raise UserError(
            f"--output {out} has the type {out.suffix!r}; predictions are written as .csv, .tsv or .jsonl",
            f"pass --output {out.with_suffix('.csv')}",
        )
    return out


def predict_rows(model: Path | str, input: Path | str, output: Path | str | None = None) -> Predictions:
    """Score every row of a CSV/TSV/JSONL file; write the same rows, in order, plus a probability
    per class (`p_<class>`; two classes also `p1`, P(class 1), as before) and `label_pred`, the
    predicted class's name. A row without a text (empty, blank, or a missing-value marker, as the
    task loader reads them) is kept, unscored: its columns are empty. Every check comes before
    the base model is loaded."""
    from labelbudget.tasks.files import column, missing, read_table

    saved = SavedModel(model)
    input = Path(input)
    if not input.is_file() or input.suffix.lower() not in OUTPUT_SUFFIXES:
        raise UserError(f"--input {input} does not exist or is not .csv, .tsv or .jsonl", "pass a data file")
    output = _output_path(input, Path(output) if output else None, saved.folder)
    df = read_table(input, keep_blank=True)
    name = saved.text_column
    if name not in df.columns:
        raise UserError(
            f"{input} has no text column {name!r} (the model's task read that one); its columns are "
            f"{list(map(str, df.columns))}",
            f"rename the text column to {name!r}",
        )
    if len(df) == 0:
        raise UserError(f"{input} has no rows to score (a header only)", "pass a file with texts")
    written = [*columns_of(saved.classes), "label_pred"]
    taken = [c for c in written if c in df.columns]
    if taken:
        raise UserError(
            f"{input} already has a column {taken[0]!r} (predictions?), which predict writes",
            f"rename or drop {taken[0]!r}, or predict from the file without it",
        )
    blank = missing(column(df, name, input))
    if blank.all():
        raise UserError(f"every row of {input} has an empty text", f"fill the column {name!r}")
    logits = saved.score(df[name][~blank].astype(str).tolist())
    probs = np.full((len(df), len(saved.classes)), np.nan)
    probs[~blank] = np.round(stored_probabilities_k(logits), 6)
    names = np.array(saved.classes, dtype=object)
    predicted = pd.Series(names[np.nan_to_num(probs, nan=-1).argmax(1)], dtype=object).where(~blank, None)
    columns = columns_of(saved.classes)
    values = {c: probs[:, i] for i, c in enumerate(columns[-len(saved.classes) :])}
    if len(saved.classes) == 2:
        values = {"p1": probs[:, 1], **values}
    _write(df.assign(**values, label_pred=predicted.to_numpy()), output)
    return Predictions(output, len(df), int(blank.sum()))


def columns_of(classes: Sequence[str]) -> list[str]:
    """The probability columns `predict` writes: `p_<class>` per class (two classes: `p1` first)."""
    return (["p1"] if len(classes) == 2 else []) + [f"p_{c}" for c in classes]


def stored_probabilities_k(logits: np.ndarray) -> np.ndarray:
    """(n, K) class probabilities of logits (two classes: P(1) = sigmoid(log-odds), as the binary
    `p1` always was)."""
    from labelbudget.labelspace import as_probs, stored_probabilities

    return as_probs(stored_probabilities(logits), np.float64)


def _write(df: pd.DataFrame, output: Path) -> None:
    """The rows as the output's type, atomically. A CSV/TSV's `label_pred` is guarded against
    spreadsheet formulas (`util.spreadsheet`: it is a label map's class name); the input's own
    cells are written as they came, since the file is data labelbudget reads back too
    (`--weak-labels column:p1` matches texts exactly)."""
    from labelbudget.util.spreadsheet import guard

    with atomic_path(output) as tmp:
        if output.suffix.lower() == ".jsonl":
            df.to_json(tmp, orient="records", lines=True, force_ascii=False)
        else:
            tsv = output.suffix.lower() == ".tsv"
            df = df.assign(label_pred=df["label_pred"].map(lambda v: guard(v) if isinstance(v, str) else v))
            quoting = csv.QUOTE_MINIMAL if tsv else csv.QUOTE_NONNUMERIC  # a bare \r in a text stays in it
            df.to_csv(tmp, sep="\t" if tsv else ",", index=False, quoting=quoting)


def predict_file(model: Path | str, input: Path | str, output: Path | str | None = None) -> Path:
    """`predict_rows`, returning the file written."""
    return predict_rows(model, input, output).path
