"""The activation cache: the frozen strong model's pooled hidden states, computed once.

For a strong model, a task and an input template, every pool and test example goes through the
frozen backbone (no LoRA, no head) once, batched by length; each layer's hidden state is pooled as
the classifier pools it (the last real token for decoders, the mean for encoders) and stored, all
layers, as float16 where every value fits (|x| < 65,504), else as float32 (layer 17 of
Gemma-3-270M reaches |x| = 39,584; larger models exceed float16). The artifact is keyed by a
hash of everything that determines its values (model name and a fingerprint of a local model's
weight files, data, template, pooling, the extraction's dtype and device kind, code version),
written atomically, and memory-mapped on load, so a probe run starts in milliseconds and a changed
input is never served stale.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from labelbudget.tasks import TaskData
from labelbudget.util.hashing import stable_hash
from labelbudget.util.progress import progress

log = logging.getLogger(__name__)

VERSION = 2
"""Bumped whenever the extraction changes values, so old artifacts are not reused (2: the key
holds dtype, device and the weights' fingerprint; float32 storage where float16 overflows).
Extracting only up to a layer (`up_to`) does not move it: the layers it keeps hold the same values
as a full extraction's (`tests/test_probe.py`), and `up_to` is in the key."""

FLOAT16_MAX = 65504.0


def apply_template(template: str, texts: list[str]) -> list[str]:
    return texts if template == "{text}" else [template.replace("{text}", t) for t in texts]


@dataclass(frozen=True)
class Activations:
    """Pooled hidden states, shape (examples, stored layers, hidden): index 0 is the embeddings,
    index i the output of layer i; all `n_layers + 1` of them, or those up to the one asked for."""

    pool: np.ndarray
    test: np.ndarray
    key: str
    seconds: float
    """Extraction time when it was computed (0 when loaded)."""
    n_layers: int
    """The model's number of layers (stored: `pool.shape[1] - 1` of them, or fewer)."""

    def layer_index(self, depth: float) -> int:
        """The hidden state at `depth` (0: embeddings, 1: the last layer), rounded."""
        i = round(depth * self.n_layers)
        if i >= self.pool.shape[1]:
            raise ValueError(f"layer {i} was not extracted (only layers up to {self.pool.shape[1] - 1})")
        return i

    def statistics(self, depth: float) -> tuple[np.ndarray, np.ndarray]:
        """The pool's mean and standard deviation of one layer (label-free; the test set is never
        looked at): what every feature row of that layer is standardised with."""
        pool = np.asarray(self.pool[:, self.layer_index(depth)], dtype=np.float32)
        return pool.mean(0), pool.std(0) + 1e-6

    def features(self, depth: float) -> tuple[np.ndarray, np.ndarray]:
        """(pool, test) features of one layer as float32, standardised (`statistics`)."""
        i = self.layer_index(depth)
        mean, std = self.statistics(depth)
        pool = np.asarray(self.pool[:, i], dtype=np.float32)
        test = np.asarray(self.test[:, i], dtype=np.float32)
        return (pool - mean) / std, (test - mean) / std


def extraction_dtype() -> tuple[torch.device, torch.dtype]:
    """The device and dtype the backbone runs in to extract (the classifier's `auto`)."""
    from labelbudget.models.backbone import pick_device, pick_dtype

    device = pick_device()
    return device, pick_dtype("auto", device)


def activation_key(
    task: TaskData, model: str, template: str, pooling: str, depth: float | None = None
) -> str:
    from labelbudget.models.backbone import weights_fingerprint

    device, dtype = extraction_dtype()
    parts = {
        "data": task.fingerprint,
        "model": model,
        "weights": weights_fingerprint(model),
        "template": template,
        "pooling": pooling,
        "dtype": str(dtype),
        "device": device.type,
        "version": VERSION,
    }
    if depth is not None:
        parts["depth"] = depth
    return stable_hash(parts)


def activations(
    task: TaskData,
    model: str,
    template: str,
    pooling: str,
    artifacts: Path,
    batch_size: int = 32,
    depth: float | None = None,
) -> Activations:
    """Load the cached activations of `model` on `task`'s pool and test set, computing them once.
    `pooling` as `RunConfig.pooling` (`auto` resolves by architecture, like the classifier).
    With `depth` (as `layer_index`), only the layers up to that one are computed and stored: a
    probe of layer 10 of Gemma's 18 runs 11 of them, 60% of the full pass."""
    key = activation_key(task, model, template, pooling, depth)
    folder = artifacts / "activations" / key
    if (folder / "meta.json").exists():
        meta = json.loads((folder / "meta.json").read_text())
        pool, test = np.load(folder / "pool.npy", mmap_mode="r"), np.load(folder / "test.npy", mmap_mode="r")
        return Activations(pool, test, key, 0.0, meta.get("n_layers", pool.shape[1] - 1))
    start = time.perf_counter()
    texts = apply_template(template, task.pool.texts + task.test.texts)
    both, n_layers = extract_layers(model, texts, pooling, batch_size, depth)
    pool, test = both[: len(task.pool)], both[len(task.pool) :]
    result = Activations(pool, test, key, time.perf_counter() - start, n_layers)
    meta = {"model": model, "template": template, "pooling": pooling, "task": task.name, "version": VERSION}
    save(result, folder, {**meta, "n_layers": n_layers, "depth": depth})
    return result


def save(acts: Activations, folder: Path, meta: dict) -> None:
    """Atomically: the folder appears complete (meta.json written last, then renamed) or not at all."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".tmp-"))
    try:
        np.save(tmp / "pool.npy", acts.pool)
        np.save(tmp / "test.npy", acts.test)
        (tmp / "meta.json").write_text(json.dumps({**meta, "seconds": acts.seconds}))
        os.replace(tmp, folder)
    except OSError:
        if not (folder / "meta.json").exists():
            raise
    finally:
        if tmp.exists():
            for f in tmp.iterdir():
                f.unlink()
            tmp.rmdir()


def extract(model_name: str, texts: list[str], pooling: str, batch_size: int) -> np.ndarray:
    """Every layer's pooled hidden state for every text (`extract_layers` of all layers)."""
    return extract_layers(model_name, texts, pooling, batch_size)[0]


@torch.inference_mode()
def extract_layers(
    model_name: str, texts: list[str], pooling: str, batch_size: int, depth: float | None = None
) -> tuple[np.ndarray, int]:
    """(pooled hidden states of every text, the model's number of layers), batched by length:
    layers 0..n, or with `depth` only 0..round(depth * n), running the layers below it and one
    more (the last hidden state transformers returns is after the final norm, so the kept
    layers' values are exactly a full pass's). float16, or float32 from the first batch whose
    values float16 cannot hold."""
    from labelbudget.models.backbone import (
        forward_packed,
        keep_layers,
        load_backbone,
        max_length,
        resolve_pooling,
    )
    from labelbudget.models.packing import Encoder, pack, sorted_batches

    device, dtype = extraction_dtype()
    backbone, tokenizer = load_backbone(model_name, dtype)
    backbone = backbone.to(device).eval()
    pooling = resolve_pooling(pooling, backbone.config.model_type)
    ids = Encoder(tokenizer, max_length(backbone.config))(texts)
    lengths = np.array([len(x) for x in ids])
    n_layers, hidden = backbone.config.num_hidden_layers, backbone.config.hidden_size
    stored = n_layers + 1 if depth is None else round(depth * n_layers) + 1
    if stored < n_layers:
        keep_layers(backbone, stored)
    out = np.empty((len(ids), stored, hidden), dtype=np.float16)
    log.info(
        "caching %s activations (layers 0-%d of %d) of %d texts (%d tokens), once",
        *(model_name, stored - 1, n_layers, len(ids), lengths.sum()),
    )
    for idx in progress(sorted_batches(lengths, batch_size), desc="caching activations", disable=None):
        packed = pack(ids, idx, tokenizer.pad_token_id, device)
        states = forward_packed(backbone, packed, output_hidden_states=True).hidden_states[:stored]
        pooled = packed.pool(torch.stack(states, 1).float(), pooling)  # texts, stored layers, hidden
        pooled = pooled.cpu().numpy()
        if out.dtype == np.float16 and np.abs(pooled).max() >= FLOAT16_MAX:
            log.info("activations exceed float16's range (|x| = %.0f): storing float32", np.abs(pooled).max())
            out = out.astype(np.float32)
        out[idx] = pooled
    return out, n_layers
