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

import copy
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
        load_tokenizer,
        max_length,
        resolve,
        resolve_pooling,
    )
    from labelbudget.models.packing import Encoder, pack, sorted_batches

    device, dtype = extraction_dtype()
    tokenizer = load_tokenizer(model_name)
    config = _config(model_name)
    n_layers, hidden = config.num_hidden_layers, config.hidden_size
    stored = n_layers + 1 if depth is None else round(depth * n_layers) + 1
    if not len(texts):
        return np.empty((0, stored, hidden), dtype=np.float16), n_layers
    ids = Encoder(tokenizer, max_length(config))(texts)
    lengths = np.array([len(x) for x in ids], dtype=np.int64)
    pad = tokenizer.pad_token_id
    del tokenizer  # a large vocabulary's tokenizer holds a third of a GB: gone before the model loads
    _give_back_memory()
    vocab = np.unique(np.concatenate([np.asarray(x, np.int64) for x in ids] + [np.array([pad], np.int64)]))
    backbone = truncated(resolve(model_name), config, dtype, min(stored, n_layers), vocab)
    if backbone is None:  # not one safetensors checkpoint this reads: the whole model
        backbone, _ = load_backbone(model_name, dtype)
        if stored < n_layers:
            keep_layers(backbone, stored)
    else:
        where = np.zeros(int(vocab.max()) + 1, dtype=np.int64)
        where[vocab] = np.arange(len(vocab))
        ids, pad = [where[np.asarray(x, int)].tolist() for x in ids], int(where[pad])
    backbone = backbone.to(device).eval()
    pooling = resolve_pooling(pooling, backbone.config.model_type)
    out = np.empty((len(ids), stored, hidden), dtype=np.float16)
    log.info(
        "caching %s activations (layers 0-%d of %d) of %d texts (%d tokens), once",
        *(model_name, stored - 1, n_layers, len(ids), lengths.sum()),
    )
    for idx in progress(sorted_batches(lengths, batch_size), desc="caching activations", disable=None):
        packed = pack(ids, idx, pad, device)
        states = forward_packed(backbone, packed, output_hidden_states=True).hidden_states[:stored]
        pooled = packed.pool(torch.stack(states, 1).float(), pooling)  # texts, stored layers, hidden
        pooled = pooled.cpu().numpy()
        if out.dtype == np.float16 and np.abs(pooled).max() >= FLOAT16_MAX:
            log.info("activations exceed float16's range (|x| = %.0f): storing float32", np.abs(pooled).max())
            out = out.astype(np.float32)
        out[idx] = pooled
    return out, n_layers


def truncated(path: str, config, dtype: torch.dtype, layers: int, vocab: np.ndarray):
    """The model's body with its first `layers` blocks and only the embedding rows of `vocab`
    (sorted token ids; a text's ids are then positions in it), read tensor by tensor from its
    safetensors, each cast to `dtype` as `from_pretrained` casts it: what an extraction reads of a
    model, in a fraction of its memory (the embedding table is 168M of Gemma-3-270M's 268M
    parameters; `predict` with a probe peaked at 2.35 GB loading the whole model). None where the
    checkpoint is not a safetensors folder whose names fit the body (then the whole model loads)."""
    from safetensors import safe_open
    from transformers import AutoModel

    folder = Path(path)
    index = folder / "model.safetensors.index.json"
    if index.is_file():  # shards: the index names the file of every tensor
        names = {k: folder / f for k, f in json.loads(index.read_text())["weight_map"].items()}
    elif (folder / "model.safetensors").is_file():
        with safe_open(str(folder / "model.safetensors"), "pt") as h:
            names = dict.fromkeys(h.keys(), folder / "model.safetensors")  # noqa: SIM118 (not a dict)
    else:
        return None
    small = copy.deepcopy(config)
    small.num_hidden_layers, small.vocab_size, small.pad_token_id = layers, len(vocab), None
    if isinstance(getattr(small, "layer_types", None), list):
        small.layer_types = small.layer_types[:layers]
    model = AutoModel.from_config(small, dtype=dtype)
    if getattr(model, "_keep_in_fp32_modules", None):  # casts of its own: as from_pretrained does them
        return None
    embedding = next(n for n, p in model.named_parameters() if p is model.get_input_embeddings().weight)
    prefix, parameters = getattr(model, "base_model_prefix", ""), dict(model.named_parameters())
    with torch.no_grad():
        for name, tensor in model.state_dict().items():  # in place, one tensor at a time
            key = next((k for k in (name, f"model.{name}", f"{prefix}.{name}") if k in names), None)
            if key is None:
                if name in parameters:
                    return None
                continue
            if name == embedding:
                tensor.copy_(_rows(names[key], key, vocab).to(dtype))
                continue
            with safe_open(str(names[key]), "pt") as h:
                value = h.get_tensor(key)
                tensor.copy_(value.to(dtype) if value.is_floating_point() else value)
    return model


def _rows(file, key: str, vocab: np.ndarray, block: int = 8192) -> torch.Tensor:
    """Rows `vocab` of the table `key`, a block of rows at a time, the file opened (mapped) anew for
    each: a mapped page read stays resident until the file is closed, so reading the table through
    one handle would hold all of it."""
    from safetensors import safe_open

    rows = []
    for start in range(0, int(vocab.max()) + 1, block):
        wanted = vocab[(vocab >= start) & (vocab < start + block)]
        if len(wanted):
            with safe_open(str(file), "pt") as h:
                rows.append(h.get_slice(key)[start : start + block][torch.from_numpy(wanted - start)].clone())
    return torch.cat(rows)


def _config(model_name: str):
    from transformers import AutoConfig

    from labelbudget.models.backbone import SAFE, resolve

    return AutoConfig.from_pretrained(resolve(model_name), **SAFE)


def _give_back_memory() -> None:
    """Return freed heap memory to the system (glibc keeps it otherwise), so that what was freed
    does not count twice in the peak; a no-op where the C library has no `malloc_trim`."""
    import contextlib
    import ctypes
    import gc

    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
