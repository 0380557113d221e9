"""The task registry: a name (or a file path) -> `TaskData` (a balanced test set and a pool).

Adding a task is one module with a loader plus one `register_task` call; nothing else changes.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from labelbudget.config import TaskConfig, to_json
from labelbudget.labelspace import TWO, LabelSpace
from labelbudget.tasks.files import load_file
from labelbudget.tasks.gold import prepare_unlabeled
from labelbudget.tasks.prepare import Labeled, TaskData, prepare
from labelbudget.util.errors import UserError
from labelbudget.util.registry import Registry

log = logging.getLogger(__name__)

Loader = Callable[[TaskConfig], tuple[Labeled, Labeled | None, tuple[str, ...]]]
"""Returns (train-side examples, the source's own test split or None, notes)."""


@dataclass(frozen=True)
class TaskSpec:
    name: str
    description: str
    load: Loader
    local: bool = False
    """Its data is on this machine (installed with a package), so checking it downloads nothing."""
    space: LabelSpace = TWO
    """Its classes in id order, what each means and what a person labeling it is asked."""


TASKS: Registry[TaskSpec] = Registry("task")


def register_task(
    name: str, description: str, load: Loader, local: bool = False, space: LabelSpace = TWO
) -> TaskSpec:
    return TASKS.register(name, TaskSpec(name, description, load, local, space))


def is_local(cfg: TaskConfig) -> bool:
    """Whether loading this task reads only local files (a file, an embedded task, --data-dir)."""
    spec = TASKS.get(cfg.task)
    return cfg.data_dir is not None or (spec.local if spec is not None else Path(cfg.task).exists())


FILE_SUFFIXES = (".csv", ".tsv", ".jsonl")


_LOADED: dict[str, TaskData] = {}
"""Tasks already prepared in this process (a sweep checks and runs many configs of one task)."""


def _stamp(path: str | None) -> tuple | None:
    """A file's (size, mtime): a file edited since it was loaded is loaded again."""
    if not path or not Path(path).is_file():
        return None
    st = Path(path).stat()
    return st.st_size, st.st_mtime_ns


def load_task(cfg: TaskConfig) -> TaskData:
    """Load, deduplicate, balance and split the task that `cfg.task` names (once per process,
    again if its file or test file has changed)."""
    key = to_json(cfg) + repr((_stamp(cfg.task), _stamp(cfg.test_file)))
    if key not in _LOADED:
        if len(_LOADED) >= 4:
            _LOADED.pop(next(iter(_LOADED)))
        _LOADED[key] = task = _load_task(cfg)
        for note in task.notes:  # once per process, before any long work
            log.info("%s: %s", task.name, note)
    return _LOADED[key]


def label_space(cfg: TaskConfig) -> LabelSpace:
    """The task's label space without preparing its data (no split, no balance): what a labels
    file is read against before anything else is checked."""
    spec = TASKS.get(cfg.task)
    if spec is not None:
        return _as_asked(spec.space, cfg)
    if not cfg.unlabeled:
        return _as_asked(LabelSpace(load_file(cfg)[2]), cfg)
    if cfg.classes or not cfg.test_file:
        return _as_asked(LabelSpace(tuple(cfg.classes) or ("0", "1")), cfg)
    return _as_asked(
        LabelSpace(load_file(dataclasses.replace(cfg, task=cfg.test_file, unlabeled=False))[2]), cfg
    )


def _as_asked(space: LabelSpace, cfg: TaskConfig) -> LabelSpace:
    """The label space with what the config says of its classes: what each means, the question,
    a language model's answer words."""
    return dataclasses.replace(
        space,
        descriptions=tuple(cfg.descriptions) or space.descriptions,
        question=cfg.question or space.question,
        answers=tuple(cfg.answers) or space.answers,
    )


def _load_task(cfg: TaskConfig) -> TaskData:
    spec, origin = TASKS.get(cfg.task), {}
    if spec is None:
        if cfg.task.lower().endswith(FILE_SUFFIXES) or Path(cfg.task).exists():
            train, notes, names, origin = load_file(cfg)
            name, test = Path(cfg.task).name, None
            space = LabelSpace(names)
        else:
            raise UserError(
                f"unknown task {cfg.task!r}",
                f"use one of {', '.join(sorted(TASKS))}, or a path to a {'/'.join(FILE_SUFFIXES)} file",
            )
    else:
        refuse_file_options(cfg)
        if cfg.classes and tuple(cfg.classes) != spec.space.names:
            raise UserError(
                f"task {spec.name!r} names its classes {list(spec.space.names)}, not {list(cfg.classes)}",
                "omit --classes for a registered task (its classes are its own)",
            )
        (train, test, notes), name, space = spec.load(cfg), spec.name, spec.space
    if cfg.unlabeled and test is not None:  # a source's test split: its labels are hidden too
        train, test = Labeled(train.texts + test.texts, np.concatenate([train.labels, test.labels])), None
    if cfg.test_file is not None:
        labeled = dataclasses.replace(
            cfg,
            task=cfg.test_file,
            unlabeled=False,
            classes=space.names if not cfg.unlabeled or cfg.classes else (),
        )
        test, test_notes, test_names, test_origin = load_file(labeled)
        origin = test_origin | origin
        notes = (*notes, *(f"test file: {n}" for n in test_notes))
        if cfg.unlabeled and not cfg.classes:
            space = LabelSpace(test_names)
    space = _as_asked(space, cfg)
    if cfg.unlabeled:
        task = prepare_unlabeled(name, train, test, cfg, notes, space)
    else:
        task = prepare(name, train, test, cfg, notes, test_file=cfg.test_file, space=space)
    return dataclasses.replace(task, origin=origin)


FILE_OPTIONS = ("text_column", "label_column", "label_map", "header")
"""How a file's columns are read: a registered task reads its own data its own way."""


def refuse_file_options(cfg: TaskConfig) -> None:
    """A registered task ignores the options that say how to read a file: given, they are
    refused (a flag is used or refused), not dropped."""
    default = TaskConfig()
    given = [name for name in FILE_OPTIONS if getattr(cfg, name) != getattr(default, name)]
    if given:
        flags = ", ".join("--no-header" if n == "header" else "--" + n.replace("_", "-") for n in given)
        raise UserError(
            f"{flags} says how to read a task file, but {cfg.task!r} is a registered task that reads "
            "its own data",
            f"omit {flags}, or pass --task with your CSV/TSV/JSONL file",
        )
