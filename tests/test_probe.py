"""Probe methods on cached activations: the cache's identity, the same budget accounting as the
fine-tuning methods, the stage protocol on feature rows, and that a probe learns what is there."""

import dataclasses

import numpy as np
import pytest
import torch

from labelbudget.config import TrainConfig
from labelbudget.labelspace import from_p1
from labelbudget.learners.probe import ProbeHead
from labelbudget.models.activations import activation_key, activations
from labelbudget.runs.run import run
from labelbudget.tasks import load_task
from labelbudget.training import stage as train_mod
from labelbudget.training.losses import LOSSES
from labelbudget.training.schedule import EarlyStopping, Schedule
from labelbudget.training.stage import StageData, predict, train_stage


def test_activation_cache_is_reused_and_keyed_by_what_determines_it(
    tiny_config, tiny_encoder, tmp_path, monkeypatch
):
    from labelbudget.models import activations as acts_mod

    task = load_task(tiny_config.task)
    calls = []
    real = acts_mod.extract_layers
    monkeypatch.setattr(acts_mod, "extract_layers", lambda *a, **k: calls.append(a[2]) or real(*a, **k))
    first = activations(task, tiny_config.strong_model, "{text}", "auto", tmp_path)
    assert first.pool.shape[:2] == (len(task.pool), 3) and first.test.shape[0] == len(task.test)
    again = activations(task, tiny_config.strong_model, "{text}", "auto", tmp_path)
    assert len(calls) == 1 and again.key == first.key  # loaded, not recomputed
    np.testing.assert_array_equal(np.asarray(again.pool), np.asarray(first.pool))
    # a different model, task, template or pooling is a different artifact, never a stale one
    other_task = load_task(dataclasses.replace(tiny_config.task, test_size=60))
    keys = {
        first.key,
        activation_key(task, tiny_encoder, "{text}", "auto"),
        activation_key(other_task, tiny_config.strong_model, "{text}", "auto"),
        activation_key(task, tiny_config.strong_model, "Tweet: {text}", "auto"),
        activation_key(task, tiny_config.strong_model, "{text}", "mean"),
    }
    assert len(keys) == 5
    activations(task, tiny_config.strong_model, "{text}", "mean", tmp_path)
    assert len(calls) == 2 and calls[-1] == "mean"
    assert not [p for p in (tmp_path / "activations").iterdir() if p.name.startswith(".tmp")]


def test_activation_key_holds_dtype_device_and_the_weights_and_float16_overflow_is_float32(
    tiny_config, tmp_path, monkeypatch
):
    import shutil

    import torch

    from labelbudget.models import activations as acts_mod

    task = load_task(tiny_config.task)
    model = tmp_path / "model"
    shutil.copytree(tiny_config.strong_model, model)
    keys = {}
    for device, dtype in (("cpu", torch.float32), ("cpu", torch.bfloat16), ("cuda", torch.float32)):
        monkeypatch.setattr(acts_mod, "extraction_dtype", lambda d=device, t=dtype: (torch.device(d), t))
        keys[device, dtype] = activation_key(task, str(model), "{text}", "auto")
    assert len(set(keys.values())) == 3  # bf16 values, or another device's, are other values
    monkeypatch.undo()
    key = activation_key(task, str(model), "{text}", "auto")
    assert key in keys.values()  # this machine's own kind
    (weights,) = [p for p in model.iterdir() if p.suffix == ".safetensors"]
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF  # one changed weight byte: another model under the same path
    weights.write_bytes(bytes(data))
    assert activation_key(task, str(model), "{text}", "auto") != key
    # values beyond float16's range are stored float32, exactly
    from labelbudget.models import packing

    real_pool = packing.Packed.pool
    monkeypatch.setattr(packing.Packed, "pool", lambda self, x, how: real_pool(self, x, how) * 1e5)
    big = acts_mod.extract(tiny_config.strong_model, task.pool.texts[:8], "auto", 4)
    assert big.dtype == np.float32 and np.isfinite(big).all() and np.abs(big).max() > 65504


def test_extracting_up_to_a_layer_gives_a_full_passes_values(tokenizer_dir, tmp_path, tiny_config):
    """A probe's cache runs only the layers below its own (and one more): those layers' values are
    exactly the full pass's, for a decoder (whose last hidden state is after the final norm) and
    an encoder; the cache of a depth holds only its layers and says how many the model has."""
    from conftest import _save_tiny
    from transformers import LlamaConfig, LlamaForCausalLM

    from labelbudget.models.activations import extract_layers

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=30522, hidden_size=32, intermediate_size=64, num_hidden_layers=5, num_attention_heads=4
    )
    decoder = str(_save_tiny(LlamaForCausalLM(config), tokenizer_dir, tmp_path / "llama5"))
    texts = ["a short one", "and a somewhat longer text than that", "third"]
    for model in (decoder, "minilm-l6"):
        full, n = extract_layers(model, texts, "auto", 2)
        assert full.shape[1] == n + 1
        for depth in (0.0, 0.4, 0.6, 0.8):
            part, n_again = extract_layers(model, texts, "auto", 2, depth)
            k = round(depth * n)
            assert n_again == n and part.shape[1] == k + 1
            np.testing.assert_allclose(part, full[:, : k + 1], rtol=1e-5, atol=1e-5)
        assert not np.allclose(full[:, -1], full[:, -2])  # the layers differ: the test can fail
    task = load_task(tiny_config.task)
    acts = activations(task, tiny_config.strong_model, "{text}", "auto", tmp_path, depth=0.5)
    assert acts.pool.shape[1] == 2 and acts.n_layers == 2 and acts.layer_index(0.5) == 1
    again = activations(task, tiny_config.strong_model, "{text}", "auto", tmp_path, depth=0.5)
    assert again.n_layers == 2 and again.key == acts.key
    assert acts.key != activation_key(task, tiny_config.strong_model, "{text}", "auto")
    with pytest.raises(ValueError, match="not extracted"):
        acts.layer_index(1.0)


def test_extraction_loads_only_the_layers_and_embedding_rows_it_reads_with_the_same_values(
    tmp_path, tokenizer_dir
):
    """Issue 39 (`predict` under 1 GB): an extraction builds the body from its safetensors with the
    layers it runs and the embedding rows of the texts' tokens only; its values are exactly those
    of the whole model loaded by transformers and cut (as before), for a decoder and an encoder."""
    from unittest import mock

    from conftest import _save_tiny
    from transformers import LlamaConfig, LlamaForCausalLM

    import labelbudget.models.activations as acts_module

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=30522, hidden_size=32, intermediate_size=64, num_hidden_layers=5, num_attention_heads=4
    )
    decoder = str(_save_tiny(LlamaForCausalLM(config), tokenizer_dir, tmp_path / "llama5"))
    texts = ["a short one", "and a somewhat longer text than that", "third", "ünïcode, emoji 🙂"]
    built = []
    real = acts_module.truncated
    cases = [
        (decoder, 0.4),
        (decoder, None),
        ("minilm-l6", 0.5),
    ]  # 3 of 5 layers run; all 5; 4 of an encoder's 6
    with mock.patch.object(acts_module, "truncated", lambda *a: built.append(real(*a)) or built[-1]):
        small = [acts_module.extract_layers(m, texts, "auto", 2, d)[0] for m, d in cases]
        assert acts_module.extract_layers(decoder, [], "auto", 2, 0.4)[0].shape == (0, 3, 32)
    with mock.patch.object(acts_module, "truncated", lambda *a: None):
        whole = [acts_module.extract_layers(m, texts, "auto", 2, d)[0] for m, d in cases]
    for case, a, b in zip(cases, small, whole, strict=True):
        assert a.shape == b.shape and np.array_equal(a, b), case
    assert all(b is not None for b in built)
    assert [len(b.layers if hasattr(b, "layers") else b.encoder.layer) for b in built[:3]] == [3, 5, 4]
    assert all(b.get_input_embeddings().weight.shape[0] < 60 for b in built)  # of 30,522: the texts' tokens


@pytest.mark.parametrize(
    ("probe", "lora"),
    [
        ("probe_seq_sft", "seq_sft"),
        ("probe_uncertainty", "uncertainty"),
        ("probe_logconf", "logconf"),
        ("prompted_seq_sft --learner probe", "prompted_seq_sft"),
    ],
)
def test_probe_pays_exactly_what_the_lora_method_pays(tiny_config, tmp_path, spy, probe, lora):
    """Every SFT method on both learners, with no class per pair (prompted inputs are not in the
    activation cache: the probe computes theirs)."""
    records = {}
    for method in (probe, lora):
        name, *learner = method.replace("--learner ", "").split()
        cfg = dataclasses.replace(tiny_config, method=name, learner=learner[0] if learner else "lora")
        if name == "prompted_seq_sft":
            cfg = dataclasses.replace(cfg, options=dataclasses.replace(cfg.options, k_shot=2))
        records[method], _ = run(cfg, tmp_path / method.replace(" ", "_"))
    a, b = records[probe], records[lora]
    assert (a.n_weak, a.n_hq, a.spent) == (b.n_weak, b.n_hq, b.spent)
    assert [(s["name"], s["n_train"], s["n_val"]) for s in a.stages] == [
        (s["name"], s["n_train"], s["n_val"]) for s in b.stages
    ]
    assert any("probe on layer" in n for n in a.notes)
    assert all(s["real_tokens"] is None for s in a.stages)  # a probe reads feature rows, no tokens
    assert all(s["real_tokens"] > 0 for s in b.stages)


def test_probe_logconf_uses_the_authors_micro_batches_of_8(tiny_config, tmp_path, monkeypatch):
    """PROTOCOL method 5 on the probe learner too: log-confidence statistics over micro-batches of
    8 in optimizer batches of 32 (the probe mixin used to make them 32)."""
    from labelbudget.training import losses

    sizes = []
    real = losses.logconf_target
    monkeypatch.setattr(
        losses, "logconf_target", lambda lo, t, step: sizes.append(len(t)) or real(lo, t, step)
    )
    cfg = dataclasses.replace(
        tiny_config,
        method="probe_logconf",
        hq_fraction=0.0,
        train=dataclasses.replace(tiny_config.train, batch_size=32),
    )
    record, _ = run(cfg, tmp_path)
    assert record.stages[0]["n_train"] == 64 and sizes and set(sizes) == {8}


def test_probe_scores_texts_outside_the_cache_as_the_cache_would(tiny_config, tmp_path):
    """A learner scores any text: cached rows for the task's texts, the same extraction (then the
    pool's standardisation) for new ones."""
    from labelbudget.learners.probe import ProbeLearner
    from labelbudget.methods import Elicitation
    from labelbudget.models.activations import extract
    from labelbudget.util.profiling import Phases

    task = load_task(tiny_config.task)
    cfg = dataclasses.replace(tiny_config, learner="probe")
    ctx = Elicitation(cfg, task, None, [], [np.zeros(0)], None, tmp_path, Phases())
    learner = ProbeLearner()
    learner.setup(ctx)
    cached = learner.encode(task.test.texts[:5])
    fresh = extract(cfg.strong_model, task.test.texts[:5], cfg.pooling, 32)[:, learner.layer]
    expected = (np.asarray(fresh, np.float32) - learner.mean) / learner.std
    np.testing.assert_allclose(cached.numpy(), expected, rtol=1e-5, atol=1e-5)
    new = learner.encode(["a text no task has", task.test.texts[0]])
    np.testing.assert_allclose(new[1].numpy(), cached[0].numpy())
    assert not torch.equal(new[0], new[1])


def test_probe_stage_early_stops_and_restores_its_best_state(monkeypatch):
    """The same `train_stage` on feature rows: validation scripted to peak at the 2nd evaluation."""
    model = ProbeHead(8, seed=0)
    states = {}
    script = iter([0.5, 0.9, 0.6, 0.55, 0.52, 0.51])

    def scripted(model, val, batch_size):
        states[len(states) + 1] = model.trainable_state()
        return next(script), "auroc"

    monkeypatch.setattr(train_mod, "validation_metric", scripted)
    rows = torch.randn(16, 8)
    data = StageData(rows, from_p1(np.tile([0.0, 1.0], 8)))
    cfg = TrainConfig(batch_size=4, example_visits=400, eval_every=2)
    report = train_stage(model, data, data, Schedule.early_stopping(16, cfg), cfg, lr=1e-2, seed=0, name="t")
    assert report.best_step == 4 and report.stopped_early and report.steps == 12
    final = model.trainable_state()
    assert all(torch.equal(final[k], states[2][k]) for k in final)
    assert not all(torch.equal(final[k], states[6][k]) for k in final)


@pytest.mark.parametrize(("shuffled", "low", "high"), [(False, 0.97, 1.0), (True, 0.35, 0.65)])
def test_probe_learns_separable_activations_and_not_shuffled_labels(shuffled, low, high):
    rng = np.random.default_rng(0)
    n, d = 1200, 16
    y = rng.integers(0, 2, n)
    x = rng.normal(size=(n, d)).astype(np.float32)
    x[:, 0] += np.where(y == 1, 2.5, -2.5)  # separable along one direction
    targets = rng.permutation(y) if shuffled else y
    rows = torch.from_numpy(x)
    train, val = (
        StageData(rows[:800], from_p1(targets[:800])),
        StageData(rows[800:1000], from_p1(targets[800:1000])),
    )
    cfg = TrainConfig()
    model = ProbeHead(d, seed=0)
    train_stage(
        model,
        train,
        val,
        Schedule.early_stopping(800, cfg),
        cfg,
        lr=1e-2,
        seed=0,
        name="t",
        loss=LOSSES["xent"],
    )
    accuracy = (predict(model, rows[1000:], 200).argmax(1) == y[1000:]).mean()  # (n, K) logits
    assert low <= accuracy <= high


def test_probe_run_takes_well_under_a_second_once_cached(tiny_config, tmp_path):
    import time

    cfg = dataclasses.replace(tiny_config, method="probe_seq_sft")
    run(cfg, tmp_path)  # caches the weak labels and activations
    start = time.perf_counter()
    record, ran = run(dataclasses.replace(cfg, seed=1), tmp_path)
    assert ran and time.perf_counter() - start < 5  # generous for a loaded CI machine; benchmarked
    assert record.n_weak + record.n_hq > 0


def test_authors_rule_early_stopping_is_the_probes_too():
    assert EarlyStopping(4, 0.01).rule == "authors"
