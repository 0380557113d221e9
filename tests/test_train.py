"""The training stage: schedule arithmetic, early stopping, best-state restore, loss, batching."""

import numpy as np
import pytest
import torch

from labelbudget import train as train_mod
from labelbudget.batching import collate, length_grouped_batches
from labelbudget.config import TrainConfig
from labelbudget.losses import soft_cross_entropy
from labelbudget.models import build_classifier
from labelbudget.train import EarlyStopping, Schedule, StageData, train_stage


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
    # 0.64 beats 0.62 by >= 0.01 and resets the patience; four evaluations later it runs out
    assert [stop for _, stop in decisions] == [False] * 9 + [True]
    assert [best for best, _ in decisions] == [True, True] + [False] * 3 + [True] + [False] * 4
    assert stopper.best == 0.64


def test_early_stopping_small_new_bests_do_not_reset_patience():
    """As transformers' EarlyStoppingCallback: 0.705, 0.709, 0.712 are new bests (restored at the
    end) but not gains of 0.01, so the 4th of them stops the stage."""
    stopper = EarlyStopping(patience=4, min_delta=0.01)
    decisions = [stopper.update(m) for m in [0.60, 0.70, 0.705, 0.709, 0.712, 0.69]]
    assert [stop for _, stop in decisions] == [False] * 5 + [True]
    assert [best for best, _ in decisions] == [True] * 5 + [False]
    assert stopper.best == 0.712


def test_soft_cross_entropy_matches_hand_computation():
    logits = torch.tensor([[0.0, 2.0], [1.0, -1.0]])
    targets = torch.tensor([0.8, 0.3])
    p1 = torch.softmax(logits, -1)
    expected = (
        -(0.8 * p1[0, 1].log() + 0.2 * p1[0, 0].log() + 0.3 * p1[1, 1].log() + 0.7 * p1[1, 0].log()) / 2
    )
    assert soft_cross_entropy(logits, targets).item() == pytest.approx(expected.item(), rel=1e-6)
    # hard targets reduce to the usual cross-entropy
    hard = torch.tensor([1.0, 0.0])
    ce = torch.nn.functional.cross_entropy(logits, hard.long())
    assert soft_cross_entropy(logits, hard).item() == pytest.approx(ce.item(), rel=1e-6)


def test_length_grouped_batches_cover_each_example_once_and_pad_little():
    rng = np.random.default_rng(0)
    lengths = rng.integers(5, 120, 2000)
    batches = length_grouped_batches(lengths, 32, rng)
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == list(range(2000))
    grouped = sum(len(b) * lengths[b].max() for b in batches)
    shuffled = sum(len(b) * lengths[b].max() for b in np.array_split(rng.permutation(2000), 63))
    assert lengths.sum() / grouped > 0.9 > lengths.sum() / shuffled


def test_collate_right_pads():
    ids, mask = collate([[5, 6, 7], [8]], np.array([0, 1]), pad_id=0, device=torch.device("cpu"))
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
    data = StageData([[101, 2000 + i, 102] for i in range(16)], np.tile([0.0, 1.0], 8))
    cfg = TrainConfig(batch_size=4, example_visits=400, eval_every=2)
    schedule = Schedule.early_stopping(len(data), cfg)
    report = train_stage(model, data, data, schedule, cfg, lr=1e-2, seed=0, name="t")
    assert report.best_step == 4 and report.stopped_early and report.steps == 12
    final = model.trainable_state()
    assert all(torch.equal(final[k], states[2][k]) for k in final)
    assert not all(torch.equal(final[k], states[6][k]) for k in final)  # it did move on


def test_head_is_fp32_small_and_lora_is_the_only_trainable_backbone_part(tiny_decoder):
    model = build_classifier(tiny_decoder, lora_rank=4, dtype="bfloat16", seed=0)
    assert model.head.weight.dtype == torch.float32
    assert model.head.weight.abs().max() < 0.02
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
