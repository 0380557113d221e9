"""The training stage: schedule arithmetic, early stopping, best-state restore, loss, batching."""

import numpy as np
import pytest
import torch

from labelbudget.config import TrainConfig
from labelbudget.labelspace import from_p1
from labelbudget.models.classifier import build_classifier
from labelbudget.models.packing import micro_batches, pack, pack_rows, random_batches
from labelbudget.training import stage as train_mod
from labelbudget.training.losses import soft_cross_entropy
from labelbudget.training.schedule import EarlyStopping, Schedule
from labelbudget.training.stage import StageData, train_stage


@pytest.mark.parametrize(
    ("n", "total", "warmup", "every"),
    [
        (128, 625, 4, 4),  # 4 steps/epoch, 156.25 epochs -> ceil(625.0)
        (1000, 640, 32, 32),  # 32 steps/epoch, 20 epochs
        (3, 6667, 2, 1),  # 1 step/epoch: warmup at least 2
        (20000, 625, 40, 50),  # one epoch
        (40000, 1250, 40, 50),  # epochs = max(0.5, 1) = 1
    ],
)
def test_paper_schedule(n, total, warmup, every):
    s = Schedule.early_stopping(n, TrainConfig())
    assert (s.total_steps, s.warmup_steps, s.eval_every) == (total, warmup, every)


def test_early_stopping_on_scripted_auroc_sequence():
    stopper = EarlyStopping(patience=4, min_delta=0.01)
    sequence = [0.60, 0.62, 0.615, 0.60, 0.59, 0.64, 0.60, 0.60, 0.60, 0.60, 0.99]
    decisions = [stopper.update(m) for m in sequence[:10]]
    # 0.64 beats the reference 0.62 by >= 0.01 and resets the patience; four evaluations later it
    # runs out
    assert [stop for _, stop in decisions] == [False] * 9 + [True]
    assert [best for best, _ in decisions] == [True, True] + [False] * 3 + [True] + [False] * 4
    assert stopper.best == 0.64


def test_early_stopping_steady_small_gains_never_stop():
    """The authors' `EarlyStoppingCallback` (`w2s/sft_utils.py`): the reference moves only on a
    gain of at least 0.01, so gains of 0.006 per evaluation add up (every second one moves it) and
    the stage never stops; transformers' callback (the reference is the best so far) stops it
    after 4 evaluations."""
    rising = [0.60 + 0.006 * i for i in range(30)]
    authors = EarlyStopping(patience=4, min_delta=0.01)
    assert not any(authors.update(m)[1] for m in rising)
    hf = EarlyStopping(patience=4, min_delta=0.01, rule="transformers")
    assert [hf.update(m)[1] for m in rising][:5] == [False] * 4 + [True]


def test_early_stopping_small_new_bests_are_kept_but_do_not_reset_patience():
    """0.705, 0.709, 0.7095 are new bests (restored at the end) but not gains of 0.01 over the
    reference 0.70, so with 0.69 that is 4 failures: stop."""
    stopper = EarlyStopping(patience=4, min_delta=0.01)
    decisions = [stopper.update(m) for m in [0.60, 0.70, 0.705, 0.709, 0.7095, 0.69]]
    assert [stop for _, stop in decisions] == [False] * 5 + [True]
    assert [best for best, _ in decisions] == [True] * 5 + [False]
    assert stopper.best == 0.7095


def test_soft_cross_entropy_matches_hand_computation():
    logits = torch.tensor([[0.0, 2.0], [1.0, -1.0]])
    targets = torch.tensor([[0.2, 0.8], [0.7, 0.3]])
    p1 = torch.softmax(logits, -1)
    expected = (
        -(0.8 * p1[0, 1].log() + 0.2 * p1[0, 0].log() + 0.3 * p1[1, 1].log() + 0.7 * p1[1, 0].log()) / 2
    )
    assert soft_cross_entropy(logits, targets).item() == pytest.approx(expected.item(), rel=1e-6)
    # hard targets reduce to the usual cross-entropy
    hard = torch.tensor([1, 0])
    ce = torch.nn.functional.cross_entropy(logits, hard)
    assert soft_cross_entropy(logits, torch.eye(2)[hard]).item() == pytest.approx(ce.item(), rel=1e-6)


def test_soft_cross_entropy_gradient_over_k_classes_is_softmax_minus_targets():
    """The loss's gradient in the logits is (softmax - targets) / n, for K classes as for two."""
    logits = torch.tensor([[0.5, -1.0, 2.0, 0.0], [1.0, 1.0, -0.5, 0.3]], requires_grad=True)
    targets = torch.tensor([[0.1, 0.2, 0.6, 0.1], [0.0, 1.0, 0.0, 0.0]])
    soft_cross_entropy(logits, targets).backward()
    expected = (torch.softmax(logits.detach(), -1) - targets) / 2
    torch.testing.assert_close(logits.grad, expected)


def test_batches_are_uniform_random_draws_not_grouped_by_length():
    """Each epoch is a random permutation cut into batches: a batch's lengths look like the
    data's (length grouping would make them near-constant within a batch)."""
    rng = np.random.default_rng(0)
    lengths = rng.integers(5, 120, 3200)
    batches = random_batches(len(lengths), 32, rng)
    assert sorted(np.concatenate(batches).tolist()) == list(range(3200))
    within = np.mean([lengths[b].std() for b in batches])
    assert within == pytest.approx(lengths.std(), rel=0.1)
    # which examples share a batch does not depend on length: the mean length of a batch is
    # uncorrelated with its position in the sorted order of its first example
    means = np.array([lengths[b].mean() for b in batches])
    assert means.std() < lengths.std() / np.sqrt(32) * 1.5


def test_micro_batches_are_chunks_in_the_drawn_order():
    """Log-confidence's statistics are per micro-batch: they must be random subsets, never regrouped
    by length."""
    batch = np.array([5, 3, 9, 1, 7, 0, 2, 8])
    assert [m.tolist() for m in micro_batches(batch, 3)] == [[5, 3, 9], [1, 7, 0], [2, 8]]
    assert [m.tolist() for m in micro_batches(batch, 32)] == [batch.tolist()]
    lengths = np.array([10, 300, 5000, 10, 10, 10, 10, 10, 10, 10])
    chunks = micro_batches(batch, 32, lengths, max_tokens=320)  # a token cap bounds memory
    assert [m.tolist() for m in chunks] == [[5, 3, 9], [1, 7, 0], [2], [8]]
    assert all(lengths[m].sum() <= 320 or len(m) == 1 for m in chunks)


def test_memory_guard_hands_heap_back_only_when_memory_grew(monkeypatch):
    from labelbudget.util import profiling

    rss, trims = [1000], []
    monkeypatch.setattr(profiling, "resident", lambda: rss[0])
    monkeypatch.setattr(profiling, "trim_heap", lambda: trims.append(rss[0]))
    guard = profiling.MemoryGuard(slack=500)
    rss[0] = 1400
    guard()
    rss[0] = 1600
    guard()
    assert trims == [1600]
    monkeypatch.undo()
    assert 0 < profiling.resident() <= profiling.peak_rss()  # the real readers, on this OS


@pytest.mark.parametrize("width", [8, 40, 256])
def test_pack_rows_fit_every_text_once_and_fill_rows(width):
    rng = np.random.default_rng(width)
    for _ in range(30):
        lengths = rng.integers(1, 80, rng.integers(1, 65)).tolist()
        rows, row_width = pack_rows(lengths, width)
        assert sorted(i for r in rows for i in r) == list(range(len(lengths)))
        assert all(sum(lengths[i] for i in r) <= row_width for r in rows)
        assert max(lengths) <= row_width <= max(width, max(lengths))
        if width >= 3 * max(lengths) and sum(lengths) >= 2 * width:  # short texts: only row tails pad
            assert sum(lengths) / (len(rows) * row_width) >= 0.9


def test_pack_lays_texts_end_to_end_with_positions_restarting():
    packed = pack(
        [[5, 6, 7], [8], [9, 10]], np.array([2, 0, 1]), pad_id=0, device=torch.device("cpu"), width=4
    )
    # texts in idx order: [9, 10], [5, 6, 7], [8]; rows of width >= 3
    for i, text in enumerate([[9, 10], [5, 6, 7], [8]]):
        r, s, n = int(packed.row[i]), int(packed.start[i]), int(packed.length[i])
        assert packed.input_ids[r, s : s + n].tolist() == text
        assert packed.position_ids[r, s : s + n].tolist() == list(range(n))
        assert (packed.segment[r, s : s + n] == i).all()
    assert int(packed.real) == 6 and (packed.segment >= 0).sum() == 6
    assert packed.padded == packed.input_ids.numel()


@pytest.mark.parametrize("fixture", ["tiny_decoder", "tiny_encoder"])
@pytest.mark.parametrize("pooling", ["last", "mean"])
def test_packed_batch_gives_the_padded_batchs_logits_loss_and_gradients(request, fixture, pooling):
    """Issue 11: one packed forward pass (texts end to end, positions restarting, attention within
    each text) computes what one right-padded batch of 32 computes, and so does a packed batch cut
    into accumulated micro-batches. The dtype is pinned to fp32: `auto` is bf16 on CPUs with
    native bf16, whose rounding is not what the fp32 tolerances below measure."""
    model = build_classifier(
        request.getfixturevalue(fixture), lora_rank=4, dtype="float32", seed=0, pooling=pooling
    )
    with torch.no_grad():  # a head far from zero, so that the comparison is not trivially small
        model.head.weight.normal_()
    rng = np.random.default_rng(0)
    ids = [[101, *rng.integers(1000, 3000, rng.integers(1, 40)).tolist(), 102] for _ in range(32)]
    p1 = torch.from_numpy(rng.random(32)).float()
    targets = torch.stack([1 - p1, p1], -1)
    batch = rng.permutation(32)
    params = [p for p in model.parameters() if p.requires_grad]

    def grads():
        out = [torch.zeros_like(p) if p.grad is None else p.grad.clone() for p in params]
        model.zero_grad()
        return out

    input_ids, mask = collate(ids, batch, 0)
    hidden = model.backbone(input_ids=input_ids, attention_mask=mask).last_hidden_state
    padded_logits = model.head(pool_padded(hidden, mask, pooling).float())
    padded = soft_cross_entropy(padded_logits, targets[batch])
    padded.backward()
    padded_grads = grads()
    assert mask.float().mean() < 0.7  # the padded batch really is mostly padding

    model.token_counts()
    logits = model.batch_logits(ids, batch)
    real, processed = model.token_counts()
    packed = soft_cross_entropy(logits, targets[batch])
    packed.backward()
    torch.testing.assert_close(logits, padded_logits, rtol=1e-4, atol=1e-4)
    assert packed.item() == pytest.approx(padded.item(), rel=1e-5)
    assert real / processed >= 0.9 and real == sum(len(ids[i]) for i in batch)
    for p, g in zip(grads(), padded_grads, strict=True):
        torch.testing.assert_close(p, g, rtol=1e-4, atol=1e-6)

    accumulated = 0.0
    for idx in micro_batches(batch, 5):
        value = soft_cross_entropy(model.batch_logits(ids, idx), targets[idx]) * (len(idx) / 32)
        value.backward()
        accumulated += value.item()
    assert accumulated == pytest.approx(padded.item(), rel=1e-5)
    for p, g in zip(grads(), padded_grads, strict=True):
        torch.testing.assert_close(p, g, rtol=1e-4, atol=1e-6)


def test_gradient_norm_is_clipped_at_1(tiny_decoder, monkeypatch):
    """The authors ran transformers' Trainer, whose default max_grad_norm is 1.0."""
    assert TrainConfig().max_grad_norm == 1.0
    model = build_classifier(tiny_decoder, lora_rank=4, seed=0)
    seen = []
    real = torch.nn.utils.clip_grad_norm_
    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", lambda p, n: seen.append(n) or real(p, n))
    data = StageData([[101, 2000 + i, 102] for i in range(8)], from_p1(np.tile([0.0, 1.0], 4)))
    cfg = TrainConfig(batch_size=4, example_visits=8)
    train_stage(model, data, None, Schedule.fixed_epochs(8, 1, cfg), cfg, lr=1e-2, seed=0, name="t")
    assert seen == [1.0, 1.0]


def collate(ids: list[list[int]], idx: np.ndarray, pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The reference batch packing is compared with: right-padded to the longest input."""
    width = max(len(ids[i]) for i in idx)
    input_ids = torch.full((len(idx), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(idx), width), dtype=torch.long)
    for row, i in enumerate(idx):
        input_ids[row, : len(ids[i])] = torch.tensor(ids[i])
        mask[row, : len(ids[i])] = 1
    return input_ids, mask


def pool_padded(hidden: torch.Tensor, mask: torch.Tensor, pooling: str) -> torch.Tensor:
    """(batch, tokens, hidden) -> (batch, hidden) over right-padded inputs."""
    if pooling == "last":  # right-padded: the last real token sees the whole input
        return hidden[torch.arange(len(hidden)), mask.sum(1) - 1]
    m = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * m).sum(1) / m.sum(1)


def test_collate_right_pads():
    ids, mask = collate([[5, 6, 7], [8]], np.array([0, 1]), pad_id=0)
    assert ids.tolist() == [[5, 6, 7], [8, 0, 0]] and mask.tolist() == [[1, 1, 1], [1, 0, 0]]


def test_best_state_is_restored(tiny_decoder, monkeypatch):
    """Validation is scripted to peak at the 2nd evaluation: the model must end in that state."""
    model = build_classifier(tiny_decoder, lora_rank=4, seed=0)
    states = {}
    script = iter([0.5, 0.9, 0.6, 0.55, 0.52, 0.51])

    def scripted(model, val, batch_size):
        states[len(states) + 1] = model.trainable_state()
        return next(script), "auroc"

    monkeypatch.setattr(train_mod, "validation_metric", scripted)
    data = StageData([[101, 2000 + i, 102] for i in range(16)], from_p1(np.tile([0.0, 1.0], 8)))
    cfg = TrainConfig(batch_size=4, example_visits=400, eval_every=2)
    schedule = Schedule.early_stopping(len(data), cfg)
    report = train_stage(model, data, data, schedule, cfg, lr=1e-2, seed=0, name="t")
    assert report.best_step == 4 and report.stopped_early and report.steps == 12
    final = model.trainable_state()
    assert all(torch.equal(final[k], states[2][k]) for k in final)
    assert not all(torch.equal(final[k], states[6][k]) for k in final)  # it did move on


def test_target_accuracy_stops_at_the_first_evaluation_at_or_above_it(tiny_decoder, monkeypatch):
    """`--weak-target-accuracy`: validation accuracy scripted 0.55, 0.62, 0.70, 0.9: with a target
    of 0.7 training stops at the 3rd evaluation (not the best one later) and keeps that state,
    never AUROC's early stopping; a target never reached trains every step."""
    model = build_classifier(tiny_decoder, lora_rank=4, seed=0)
    data = StageData([[101, 2000 + i, 102] for i in range(20)], from_p1(np.tile([0.0, 1.0], 10)))
    for target, stop_at in ((0.7, 3), (0.95, None)):
        script = iter([0.55, 0.62, 0.70, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9])
        states = {}

        def scripted(model, ids, batch_size, desc="", script=script, states=states):
            states[len(states) + 1] = model.trainable_state()
            right = round(next(script) * 20)  # that many of the 20 predicted right
            log_odds = np.where(np.arange(20) < right, np.tile([-1.0, 1.0], 10), np.tile([1.0, -1.0], 10))
            return np.stack([np.zeros(20), log_odds], axis=1)  # (n, K) logits

        monkeypatch.setattr(train_mod, "predict", scripted)
        monkeypatch.setattr(train_mod, "validation_metric", lambda *a: pytest.fail("AUROC stopping used"))
        cfg = TrainConfig(batch_size=4, eval_every=2)
        schedule = Schedule.fixed_epochs(len(data), 4, cfg, evaluate=True)
        assert schedule.eval_every == 2 and schedule.total_steps == 20
        report = train_stage(model, data, data, schedule, cfg, 1e-2, 0, "weak model", target_accuracy=target)
        if stop_at is None:
            assert report.steps == 20 and not report.stopped_early and len(report.evals) == 10
            continue
        assert report.evals == [(2, 0.55), (4, 0.6), (6, 0.7)] and report.stopped_early
        assert report.steps == 6 and report.best_step == 6 and report.metric == "accuracy"
        final = model.trainable_state()
        assert all(torch.equal(final[k], states[3][k]) for k in final)  # the state at the stop


def test_head_is_fp32_small_and_lora_is_the_only_trainable_backbone_part(tiny_decoder):
    model = build_classifier(tiny_decoder, lora_rank=4, dtype="bfloat16", seed=0)
    assert model.head.weight.dtype == torch.float32
    # transformers' score-layer init (normal, std 0.02), then x0.01 (the authors' `w2s/model.py`)
    assert float(model.head.weight.detach().std()) == pytest.approx(0.02 * 0.01, rel=0.3)
    assert float(model.head.weight.detach().mean()) == pytest.approx(0.0, abs=0.0001)
    assert next(model.backbone.parameters()).dtype == torch.bfloat16
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert "head.weight" in trainable
    assert all("lora_" in n for n in trainable if n != "head.weight")
    assert {n.split(".lora_")[0].rsplit(".", 1)[-1] for n in trainable if "lora_" in n} == {
        "q_proj",
        "k_proj",
        "v_proj",
        "o_proj",
        "gate_proj",
        "up_proj",
        "down_proj",
    }


@pytest.mark.parametrize(("eval_last_step", "evals"), [(False, [2, 4]), (True, [2, 4, 5])])
def test_evaluations_every_eval_every_steps_and_at_the_end_only_on_request(
    tiny_decoder, monkeypatch, eval_last_step, evals
):
    """The authors' Trainer evaluated every `eval_steps` only; `eval_last_step` adds the end."""
    model = build_classifier(tiny_decoder, lora_rank=4, seed=0)
    monkeypatch.setattr(train_mod, "validation_metric", lambda *a: (0.5, "auroc"))
    data = StageData([[101, 2000 + i, 102] for i in range(10)], from_p1(np.tile([0.0, 1.0], 5)))
    cfg = TrainConfig(batch_size=2, eval_every=2, eval_last_step=eval_last_step)
    schedule = Schedule(batch_size=2, total_steps=5, warmup_steps=2, eval_every=2)
    report = train_stage(model, data, data, schedule, cfg, lr=1e-2, seed=0, name="t")
    assert [step for step, _ in report.evals] == evals


def test_hq_stage_of_32_sst2_examples_pads_less_than_10_percent(tiny_decoder):
    """Issue 11's case: a random batch of 32 short and long SST-2 phrases (padded to its longest,
    efficiency ~0.3) is packed in rows at >= 0.9 efficiency."""
    import pandas as pd
    from conftest import SST2

    if not (SST2 / "train.tsv").exists():
        pytest.skip("SST-2 not present at ../shared/data/sst2")
    texts = pd.read_csv(SST2 / "train.tsv", sep="\t", quoting=3)["sentence"].tolist()[:32]
    model = build_classifier(tiny_decoder, lora_rank=4, seed=0)
    ids = model.tokenizer(texts)["input_ids"]
    data = StageData(ids, from_p1(np.tile([0.0, 1.0], 16)))
    cfg = TrainConfig()
    report = train_stage(
        model, data, None, Schedule.fixed_epochs(32, 2, cfg), cfg, lr=1e-3, seed=0, name="hq"
    )
    lengths = np.array([len(x) for x in ids])
    assert lengths.sum() / (32 * lengths.max()) < 0.5  # one padded batch would waste most of it
    assert report.real_tokens / report.padded_tokens >= 0.9
