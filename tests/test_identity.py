"""Run identity: what a run reads makes it, nothing else; one weak-stage key derived from the
config; configs stored by every earlier version read as today's."""

import dataclasses
import json
from pathlib import Path

import pandas as pd
import pytest

from labelbudget.config import (
    SUBCONFIGS,
    MethodOptions,
    ProbeConfig,
    RunConfig,
    TrainConfig,
    run_config_from_dict,
    to_dict,
)
from labelbudget.runs.identity import HQ_ONLY, canonical, config_hash, display_method, run_key, weak_stage_key
from labelbudget.util.errors import UserError

FIXTURE = Path(__file__).parent / "data" / "store_v2"


def test_an_option_a_method_does_not_read_changes_nothing():
    base = RunConfig(method="seq_sft")
    for options in (MethodOptions(temperature=0.5), MethodOptions(k_shot=3), MethodOptions(max_candidates=9)):
        other = dataclasses.replace(base, options=options)
        assert config_hash(other) == config_hash(base) and run_key(other) == run_key(base)
    unc = RunConfig(method="uncertainty")
    assert config_hash(dataclasses.replace(unc, options=MethodOptions(temperature=0.5))) != config_hash(unc)
    assert config_hash(dataclasses.replace(unc, options=MethodOptions(k_shot=3))) == config_hash(unc)
    # the LoRA learner never reads the probe's settings, the probe never reads LoRA's
    assert config_hash(dataclasses.replace(base, probe=ProbeConfig(probe_lr=0.5))) == config_hash(base)
    probe = RunConfig(method="seq_sft", learner="probe")
    assert config_hash(dataclasses.replace(probe, train=TrainConfig(lora_rank=16))) == config_hash(probe)
    assert config_hash(dataclasses.replace(probe, probe=ProbeConfig(probe_lr=0.5))) != config_hash(probe)


def test_probe_method_names_are_aliases_of_the_method_on_the_probe_learner():
    alias = RunConfig(method="probe_uncertainty")
    assert (alias.method, alias.learner, display_method(alias)) == (
        "uncertainty",
        "probe",
        "probe_uncertainty",
    )
    assert alias == RunConfig(method="uncertainty", learner="probe")
    assert config_hash(alias) == config_hash(RunConfig(method="uncertainty", learner="probe"))


def _leaves(prefix: str = ""):
    """Every config field, dotted, with a value different from its default."""
    changed = {
        bool: lambda v: not v,
        int: lambda v: v + 1,
        float: lambda v: v / 2 if v else 0.5,
        str: lambda v: v + "x",
    }
    for f in dataclasses.fields(RunConfig):
        if f.name in SUBCONFIGS:
            sub = SUBCONFIGS[f.name]()
            for g in dataclasses.fields(sub):
                value = getattr(sub, g.name)
                new = {
                    "lr": 1e-4,
                    "k_shot": 3,
                    "max_pool": 99,
                    "max_candidates": 7,
                    "data_dir": "d",
                    "test_size": 998,
                    "test_mix": "natural",
                    "test_file": "t.csv",
                    "weak_target_accuracy": 0.7,
                    "classes": ("a", "b"),
                    "descriptions": ("an a", "a b"),
                    "answers": ("yes", "no"),
                }.get(g.name)
                if new is None and type(value) in changed:
                    new = changed[type(value)](value)
                literal = {"schedule": "openai", "early_stopping": "transformers", "dtype": "float32"}
                new = literal.get(g.name, {"weak_pool": "paper"}.get(g.name, new))
                if g.name == "label_map":
                    new = {"a": 1, "b": 0}
                if g.name == "max_grad_norm":
                    new = 0.5
                yield f"{f.name}.{g.name}", new
        elif f.name not in (
            "budget",
            "weak_cost",
            "hq_fraction",
            "method",
            "learner",
            "pooling",
            "sources",
            "shares",
        ):
            # sources and shares: runs of several sources share no weak stage (`runs.run`)
            value = getattr(RunConfig(), f.name)
            yield f.name, changed[type(value)](value)
    yield "pooling", "mean"


def _set(config: RunConfig, dotted: str, value) -> RunConfig:
    if "." not in dotted:
        return dataclasses.replace(config, **{dotted: value})
    head, name = dotted.split(".")
    return dataclasses.replace(config, **{head: dataclasses.replace(getattr(config, head), **{name: value})})


@pytest.mark.parametrize("learner", ["lora", "probe"])
@pytest.mark.parametrize("method", ["seq_sft", "uncertainty", "logconf", "prompted_seq_sft"])
def test_weak_stage_key_changes_with_every_field_the_weak_stage_reads(method, learner):
    """Derived from the config, not a hand-kept list: every field (probe_lr included) but those
    marked HQ-only, and those the run does not read at all, keeps two weak stages apart."""
    base = RunConfig(method=method, learner=learner)
    for dotted, value in _leaves():
        other = _set(base, dotted, value)
        name = dotted.split(".")[-1]
        is_read = f'"{name}"' in json.dumps(canonical(other)) and (
            dotted.split(".")[0] != "options" or name in canonical(base)["options"]
        )
        if dotted in HQ_ONLY or not is_read:
            assert weak_stage_key(other) == weak_stage_key(base), dotted
        else:
            assert weak_stage_key(other) != weak_stage_key(base), dotted
    assert "probe.probe_lr" not in HQ_ONLY
    # the HQ side of the allocation never splits a weak stage; the weak side always does
    more_hq = dataclasses.replace(base, budget=80.0, hq_fraction=0.6)  # 320 weak + 48 HQ, not 32
    assert weak_stage_key(more_hq) == weak_stage_key(base)
    assert weak_stage_key(dataclasses.replace(base, budget=128.0)) != weak_stage_key(base)


def test_uncertainty_and_seq_sft_share_a_weak_stage_and_logconf_does_not():
    seq, unc, lc = (RunConfig(method=m, learner="probe") for m in ("seq_sft", "uncertainty", "logconf"))
    assert weak_stage_key(seq) == weak_stage_key(unc) != weak_stage_key(lc)


def test_configs_stored_before_the_layout_change_read_as_todays():
    """`--weak-loss logconf` was a second spelling of `logconf`; `options.oracle` is `oracle`."""
    old = to_dict(RunConfig())
    old["options"] = {
        "k_shot": None,
        "temperature": 0.0,
        "max_candidates": None,
        "oracle": "file",
        "schedule": "early-stopping",
        "weak_loss": "logconf",
        "hq_loss": "xent",
    }
    del old["learner"], old["weak_labels"], old["oracle"]
    new = run_config_from_dict(old)
    assert (new.method, new.oracle) == ("logconf", "file")
    old["options"]["hq_loss"] = "logconf"
    with pytest.raises(UserError, match="HQ stage"):
        run_config_from_dict(old)


def test_a_store_written_before_the_layout_change_is_found_and_analysed_the_same(tmp_path):
    """tests/data/store_v2 was written by labelbudget at commit 0e0ca7f (its make_store.py): every
    run is found as already stored from its own old config, and Table 1 is unchanged."""
    from labelbudget.analysis.points import points
    from labelbudget.analysis.tables import table1
    from labelbudget.runs.run import run
    from labelbudget.runs.store import Store

    store = Store(FIXTURE)
    records = store.records()
    assert len(records) == 69
    for r in records:
        found, ran = run(run_config_from_dict(r.config), FIXTURE)
        assert not ran and found.config_hash == r.config_hash
    expected = pd.read_csv(FIXTURE / "table1.csv")
    got = table1(points(records), budgets=(5, 9, 17))
    pd.testing.assert_frame_equal(got.reset_index(drop=True), expected, check_dtype=False)
