"""Configs: a run's identity is a stable hash; validation names the field and the fix."""

import pytest

from labelbudget.config import RunConfig, TaskConfig, run_config_from_json, to_json
from labelbudget.runs.identity import config_hash
from labelbudget.util.errors import UserError


def test_default_hash_is_stable():
    # A literal: changing a default or a field name changes every run's identity, on purpose only
    # (last: the authors' early stopping, clipping, micro-batches; pooling and the probe config;
    # micro_batch_tokens; the learner, label sources and per-method options; the test mix and
    # file, the header flag and the weak target accuracy; the unlabeled flag: stored runs are still
    # found, as `run_key` reads old configs as today's, tests/test_identity.py).
    assert config_hash(RunConfig()) == "4310bc1ef16e60a1"


def test_hash_depends_on_every_field_and_round_trips():
    base = RunConfig(task=TaskConfig(label_map={"pos": 1, "neg": 0}))
    assert run_config_from_json(to_json(base)) == base
    assert config_hash(run_config_from_json(to_json(base))) == config_hash(base)
    assert config_hash(RunConfig(seed=1)) != config_hash(RunConfig())
    assert config_hash(RunConfig(task=TaskConfig(test_size=998))) != config_hash(RunConfig())


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"budget": 0}, "budget"),
        ({"weak_cost": -0.1}, "weak_cost"),
        ({"weak_cost": 0}, "weak_cost"),
        ({"hq_fraction": 1.5}, "hq_fraction"),
    ],
)
def test_validation_names_the_field(kwargs, field):
    with pytest.raises(UserError, match=field):
        RunConfig(**kwargs)
