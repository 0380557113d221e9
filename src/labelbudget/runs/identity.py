"""What identifies a run, a variant and a shared weak stage: each derived from the config by one
rule, never from a hand-kept list of fields.

- `canonical(config)`: the config as the run reads it. Options the method does not declare
  (`methods.register_method(..., reads=...)`) and sub-configs its learner does not read
  (`learners.register_learner(..., ignores=...)`) are left out, so setting them never makes a
  new run or variant.
- `config_hash`: the hash of that; `run_key`: the same with (budget, weak cost, HQ fraction)
  replaced by the allocation they buy, since two configs that buy the same labels are one
  experiment ($16 at HQ fraction 0.05 buys no HQ label, exactly as all-weak; and an allocation's
  accuracy does not depend on the weak-label price, so it is run once and re-costed at every
  price, as the authors' `notebooks/figures.ipynb`).
- `inputs(config)`: what a run reads beyond its config and that changes its results: the task
  file's content (an edited file is a new run, never an old record served as stored) and the
  resolved device kind and dtype (bf16 and fp32 runs differ); a `--test-file`'s digest too.
  Stored in the record; the store identifies a run by `run_identity` = (run key, inputs). Rows
  stored before inputs were recorded carry none and are matched by their config alone, with the
  inputs of today (so an old store keeps serving its runs; an edit made since is not detected).
- `weak_stage_key`: the run key with everything that acts only after the weak stage removed:
  the HQ count, the method replaced by the method whose weak stage it runs, and the config
  fields marked `hq_only`. Every other field, present or added later, keeps two weak stages
  apart.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from labelbudget.allocation import allocation_of, sources_of
from labelbudget.config import RunConfig, to_dict
from labelbudget.util.hashing import file_digest, stable_hash

HQ_ONLY = ("oracle", "options.temperature", "options.max_candidates")
"""Fields read only from the HQ stage on: the HQ source, and how uncertainty sampling chooses
its HQ examples after the weak stage. Nothing else is left out of `weak_stage_key`."""


SINCE = {"task": ("classes", "descriptions", "question", "answers"), "": ("sources", "shares")}
"""Fields added after runs were stored: left out of the canonical config while they hold their
default, so that every run stored before them keeps its identity (a binary run of today is the
run it was)."""


def canonical(config: RunConfig) -> dict[str, Any]:
    """The config as its run reads it (JSON-shaped)."""
    from labelbudget.learners import LEARNERS
    from labelbudget.methods import METHODS

    data = to_dict(config)
    for part, names in SINCE.items():
        where = data[part] if part else data
        defaults = (
            to_dict(type(getattr(config, part))())
            if part
            else {f.name: f.default for f in dataclasses.fields(config)}
        )
        for name in names:
            if where[name] == defaults[name]:
                del where[name]
    spec = METHODS.get_or_fail(config.method)
    data["options"] = {k: v for k, v in data["options"].items() if k in spec.reads}
    ignored = LEARNERS.get_or_fail(config.learner).ignores if spec.learner else ("learner", "probe")
    for dotted in ignored:
        _drop(data, dotted)
    return data


def display_method(config: RunConfig) -> str:
    """The method as records and tables name it: `probe_seq_sft` is seq_sft on the probe learner
    (the LoRA learner, the paper's, goes unsaid)."""
    from labelbudget.methods import METHODS

    trains = METHODS.get_or_fail(config.method).learner
    return config.method if not trains or config.learner == "lora" else f"{config.learner}_{config.method}"


def _drop(data: dict, dotted: str) -> None:
    *parents, last = dotted.split(".")
    for p in parents:
        data = data.get(p, {})
    data.pop(last, None)


def config_hash(config: RunConfig) -> str:
    return stable_hash(canonical(config))


def run_key_data(config: RunConfig) -> dict[str, Any]:
    """The canonical config with (budget, prices, shares) replaced by the allocation they buy: the
    paper's pair as [n_weak, n_hq]; several sources as the stages in order (name and source) with
    their counts, their prices left out (an allocation is re-costed at any prices)."""
    alloc = allocation_of(config)
    data = canonical(config)
    for name in ("budget", "weak_cost", "hq_fraction"):
        del data[name]
    if not config.sources:
        data["allocation"] = [alloc.n_weak, alloc.n_hq]
        return data
    del data["sources"], data["shares"]
    data["allocation"] = [[s.name, s.spec, alloc[s.name]] for s in sources_of(config)]
    return data


def run_key(config: RunConfig) -> str:
    return stable_hash(run_key_data(config))


def inputs(config: RunConfig) -> dict[str, str]:
    """What the run reads beyond its config (see the module docstring)."""
    from labelbudget.models.backbone import pick_device, pick_dtype

    out = {}
    path = Path(config.task.task)
    if path.is_file():
        out["task_file"] = file_digest(path)
    if config.task.test_file and Path(config.task.test_file).is_file():
        out["test_file"] = file_digest(config.task.test_file)
    for source in sources_of(config):  # a predictions file's content: `weak_file` for the pair's
        if source.kind == "file:" and Path(source.argument).is_file():
            out["weak_file" if source.name == "weak" else f"file:{source.name}"] = file_digest(
                source.argument
            )
    device = pick_device()
    out["compute"] = f"{device.type}/{str(pick_dtype(config.train.dtype, device)).removeprefix('torch.')}"
    return out


def run_identity(config: RunConfig, read: dict[str, str] | None = None) -> str:
    """The run key with the inputs the run read (`read`, as stored) or would read now."""
    return stable_hash([run_key(config), inputs(config) if read is None else read])


def stored_hash(config: RunConfig, read: dict[str, str] | None = None) -> str:
    """A record's primary key: its canonical config with its inputs."""
    return stable_hash({"config": canonical(config), "inputs": inputs(config) if read is None else read})


def record_identity(record) -> str:
    """`run_identity` of a stored record (one stored without inputs: today's, see above)."""
    from labelbudget.config import run_config_from_dict

    return run_identity(run_config_from_dict(record.config), getattr(record, "inputs", None))


def same_run(config: RunConfig) -> RunConfig | None:
    """The config whose run this one's is, exactly, under another method's name (all-weak
    uncertainty sampling is all-weak seq_sft: `MethodSpec.same_run_as`), or None."""
    from labelbudget.methods import METHODS

    alloc = allocation_of(config)
    other = METHODS.get_or_fail(config.method).same_run_as(alloc.n_weak, alloc.n_hq)
    return None if other == config.method else dataclasses.replace(config, method=other)


def weak_stage_key(config: RunConfig) -> str:
    """Runs with one key train the same weak stage (same weak ids, labels, model, schedule, seed):
    a sweep runs them one after another and branches the later ones from the first one's saved
    weak stage. (The data's fingerprint joins it where the stage is saved: `methods.seq_sft`.)"""
    from labelbudget.methods import METHODS

    data = run_key_data(config)
    data["allocation"] = data["allocation"][:1]
    data["method"] = METHODS.get_or_fail(config.method).weak_stage_of
    for dotted in HQ_ONLY:
        _drop(data, dotted)
    return stable_hash(data)
