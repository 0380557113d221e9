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
from tqdm.auto import tqdm

from labelbudget.tasks import TaskData
from labelbudget.util.hashing import stable_hash

log = logging.getLogger(__name__)

VERSION = 2
"""Bumped whenever the extraction changes values, so old artifacts are not reused (2: the key
holds dtype, device and the weights' fingerprint; float32 storage where float16 overflows)."""

FLOAT16_MAX = 65504.0


def apply_template(template: str, texts: list[str]) -> list[str]:
    return texts if template == "{text}" else [template.replace("{text}", t) for t in texts]


@dataclass(frozen=True)
class Activations:
    """Pooled hidden states, shape (examples, layers + 1, hidden): index 0 is the embeddings."""

    pool: np.ndarray
    test: np.ndarray
    key: str
    seconds: float
    """Extraction time when it was computed (0 when loaded)."""

    @property
    def n_layers(self) -> int:
        return self.pool.shape[1] - 1

    def layer_index(self, depth: float) -> int:
        """The hidden state at `depth` (0: embeddings, 1: the last layer), rounded."""
        return round(depth * self.n_layers)

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


def activation_key(task: TaskData, model: str, template: str, pooling: str) -> str:
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
    return stable_hash(parts)


def activations(
    task: TaskData, model: str, template: str, pooling: str, artifacts: Path, batch_size: int = 32
) -> Activations:
    """Load the cached activations of `model` on `task`'s pool and test set, computing them once.
    `pooling` as `RunConfig.pooling` (`auto` resolves by architecture, like the classifier)."""
    key = activation_key(task, model, template, pooling)
    folder = artifacts / "activations" / key
    if (folder / "meta.json").exists():
        return Activations(
            np.load(folder / "pool.npy", mmap_mode="r"), np.load(folder / "test.npy", mmap_mode="r"), key, 0.0
        )
    start = time.perf_counter()
    both = extract(model, apply_template(template, task.pool.texts + task.test.texts), pooling, batch_size)
    result = Activations(both[: len(task.pool)], both[len(task.pool) :], key, time.perf_counter() - start)
    meta = {"model": model, "template": template, "pooling": pooling, "task": task.name, "version": VERSION}
    save(result, folder, meta)
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


@torch.inference_mode()
def extract(model_name: str, texts: list[str], pooling: str, batch_size: int) -> np.ndarray:
    """Every layer's pooled hidden state for every text, batched by length: float16, or float32
    from the first batch whose values float16 cannot hold."""
    from labelbudget.models.backbone import forward_packed, load_backbone, max_length, resolve_pooling
    from labelbudget.models.packing import Encoder, pack, sorted_batches

    device, dtype = extraction_dtype()
    backbone, tokenizer = load_backbone(model_name, dtype)
    backbone = backbone.to(device).eval()
    pooling = resolve_pooling(pooling, backbone.config.model_type)
    ids = Encoder(tokenizer, max_length(backbone.config))(texts)
    lengths = np.array([len(x) for x in ids])
    n_layers, hidden = backbone.config.num_hidden_layers, backbone.config.hidden_size
    out = np.empty((len(ids), n_layers + 1, hidden), dtype=np.float16)
    log.info("caching %s activations of %d texts (%d tokens), once", model_name, len(ids), lengths.sum())
    for idx in tqdm(sorted_batches(lengths, batch_size), desc="caching activations", disable=None):
        packed = pack(ids, idx, tokenizer.pad_token_id, device)
        states = forward_packed(backbone, packed, output_hidden_states=True).hidden_states
        pooled = packed.pool(torch.stack(states, 1).float(), pooling)  # texts, layers + 1, hidden
        pooled = pooled.cpu().numpy()
        if out.dtype == np.float16 and np.abs(pooled).max() >= FLOAT16_MAX:
            log.info("activations exceed float16's range (|x| = %.0f): storing float32", np.abs(pooled).max())
            out = out.astype(np.float32)
        out[idx] = pooled
    return out
