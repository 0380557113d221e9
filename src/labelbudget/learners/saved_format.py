"""A saved model's folder (`learners.saved`), checked against itself before anything is loaded:
model.json's fields (what the model was trained for), every file against the sha256 model.json
records for it, and the state's tensors against the learner's head. A folder that fails is
refused with what is wrong, never scored with."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from labelbudget.util.atomic import load_state
from labelbudget.util.errors import UserError, short

FORMAT = 2
"""2: the trained-for fields, file digests, and the LoRA adapter read from `adapter/` (1 kept
the LoRA weights in state.safetensors and checked nothing)."""

MAX_META_BYTES = 64 << 20
"""model.json holds one run's record: megabytes at most; a larger one is not one we wrote."""


def sha256(path: Path) -> str:
    """The file's whole sha256 (a model's files are megabytes: read in 1 MiB chunks)."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def digests(folder: Path) -> dict[str, str]:
    """sha256 of every file under `folder` but model.json, by path relative to it."""
    return {
        p.relative_to(folder).as_posix(): sha256(p)
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != "model.json"
    }


FIELDS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "learner": (lambda v: v in ("lora", "probe"), "'lora' or 'probe'"),
    "strong_model": (lambda v: isinstance(v, str) and v.strip() != "", "a model name or path"),
    "strong_fingerprint": (lambda v: v is None or isinstance(v, str), "a fingerprint or null"),
    "hidden_size": (lambda v: type(v) is int and v > 0, "a positive integer"),
    "pooling": (lambda v: v in ("auto", "last", "mean"), "'auto', 'last' or 'mean'"),
    "dtype": (lambda v: v in ("auto", "float32", "bfloat16"), "'auto', 'float32' or 'bfloat16'"),
    "truncate": (lambda v: isinstance(v, bool), "true or false"),
    "text_column": (lambda v: isinstance(v, str) and v != "", "a column name"),
    "label_map": (
        lambda v: (
            isinstance(v, dict) and all(isinstance(k, str) and type(v[k]) is int and v[k] >= 0 for k in v)
        ),
        "a mapping of labels to class ids",
    ),
    "classes": (
        lambda v: isinstance(v, list) and len(v) >= 2 and all(isinstance(c, str) for c in v),
        "the class names (two or more)",
    ),
    "files": (
        lambda v: isinstance(v, dict) and all(isinstance(d, str) for d in v.values()),
        "a mapping of file names to digests",
    ),
}
"""What model.json must hold, and the learner's own fields (`LEARNER_FIELDS`)."""

LEARNER_FIELDS: dict[str, dict[str, tuple[Callable[[Any], bool], str]]] = {
    "lora": {"lora_rank": (lambda v: type(v) is int and v > 0, "a positive integer")},
    "probe": {
        "layer": (lambda v: type(v) is int and v >= 0, "a layer index (0 or more)"),
        "depth": (lambda v: type(v) in (int, float) and 0 <= v <= 1, "a depth in [0, 1]"),
    },
}


def damaged(folder: Path, problem: str) -> UserError:
    return UserError(
        f"the saved model {folder}: {problem}",
        "use the folder exactly as `run --save-model` wrote it (save the model again if it was "
        "changed or damaged)",
    )


def read_meta(folder: Path) -> dict[str, Any]:
    """model.json, every field checked (nothing is loaded yet)."""
    path = folder / "model.json"
    if not folder.is_dir() or not path.is_file():
        raise UserError(
            f"{folder} is not a saved labelbudget model ("
            + ("not a folder" if not folder.is_dir() else "no model.json")
            + ")",
            "pass the folder a run wrote with --save-model",
        )
    if path.stat().st_size > MAX_META_BYTES:
        raise damaged(folder, f"model.json is {path.stat().st_size:,} bytes, not one run's description")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as e:
        raise damaged(folder, f"model.json is not valid JSON ({' '.join(str(e).split())[:100]})") from e
    if not isinstance(meta, dict):
        raise damaged(folder, f"model.json holds {type(meta).__name__}, not an object")
    if meta.get("format") != FORMAT:
        raise UserError(
            f"{folder} was saved in format {short(meta.get('format'), 20)}; this labelbudget reads "
            f"format {FORMAT} (saved models now carry digests of their files and what they were "
            "trained for)",
            "save the model again with this labelbudget (`run --save-model` in a new --results "
            "folder), or use the labelbudget version that saved it",
        )
    learner = meta.get("learner")
    for name, (ok, expected) in {**FIELDS, **LEARNER_FIELDS.get(learner, {})}.items():
        if not ok(meta.get(name)):
            raise damaged(folder, f"model.json's {name} is {short(meta.get(name), 40)}, not {expected}")
    if any(c >= len(meta["classes"]) for c in meta["label_map"].values()):
        raise damaged(
            folder,
            f"model.json's label_map {short(meta['label_map'], 40)} names a class id beyond its "
            f"{len(meta['classes'])} classes",
        )
    return meta


def check_files(folder: Path, meta: dict[str, Any]) -> None:
    """Every file model.json lists is there with its digest; the adapter folder (what peft
    reads) holds nothing else."""
    listed = meta["files"]
    needed = {"state.safetensors"} | (
        {"adapter/adapter_config.json", "adapter/adapter_model.safetensors"}
        if meta["learner"] == "lora"
        else set()
    )
    if not needed <= set(listed):
        raise damaged(folder, f"model.json lists no digest for {sorted(needed - set(listed))}")
    for name, digest in sorted(listed.items(), key=lambda item: (item[0] not in needed, item[0])):
        path = folder / name
        if path.is_symlink() or not path.is_file():
            raise damaged(folder, f"{name} is missing" if not path.exists() else f"{name} is not a file")
        if sha256(path) != digest:
            raise damaged(
                folder,
                f"{name} is not the file it was saved with (its sha256 differs from model.json's): "
                "replaced, edited or truncated since",
            )
    extra = sorted(
        p.relative_to(folder).as_posix()
        for p in (folder / "adapter").rglob("*")
        if p.relative_to(folder).as_posix() not in listed and not p.is_dir()
    )
    if extra:
        raise damaged(folder, f"adapter/ holds files it was not saved with ({', '.join(extra[:3])})")


def read_tensors(folder: Path, meta: dict[str, Any]) -> dict[str, torch.Tensor]:
    """state.safetensors, with the names and shapes the learner needs."""
    from safetensors import SafetensorError

    try:
        tensors, _ = load_state(folder / "state.safetensors")
    except (SafetensorError, OSError, ValueError) as e:
        raise damaged(folder, f"state.safetensors cannot be read ({' '.join(str(e).split())[:100]})") from e
    width = meta["hidden_size"]
    shapes = {"head.weight": (len(meta["classes"]), width)}
    if meta["learner"] == "probe":
        shapes |= {"mean": (width,), "std": (width,)}
    found = {k: tuple(v.shape) for k, v in tensors.items()}
    if found != shapes:
        raise damaged(
            folder,
            f"state.safetensors holds {short(found, 80)}, not the {meta['learner']} head it was saved "
            f"with ({shapes})",
        )
    return tensors
