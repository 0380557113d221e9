"""Each elicitation method's semantics, on tiny models: prompts, payment, selection, losses,
schedules, and the person-as-oracle round trip."""

import dataclasses

import numpy as np
import pytest
import torch

from labelbudget import methods
from labelbudget.config import MethodOptions, TrainConfig
from labelbudget.labels.budget import allocate
from labelbudget.labelspace import from_p1
from labelbudget.methods.icl import LabelScorer, answer_token_ids
from labelbudget.methods.uncertainty import choose_uncertain, entropy
from labelbudget.prompts import few_shot_prompt, prompted
from labelbudget.runs.run import run
from labelbudget.runs.store import Store
from labelbudget.training.losses import LOSSES, logconf_target
from labelbudget.training.schedule import Schedule
from labelbudget.training.stage import StageData, train_stage
from labelbudget.util.errors import UserError


def with_options(config, **options):
    return dataclasses.replace(config, options=dataclasses.replace(config.options, **options))


# --- prompts and ICL -------------------------------------------------------------------------


def test_icl_prompt_is_exactly_the_papers():
    demos = [("what a great day", 1), ("I hate waiting", 0)]
    assert few_shot_prompt(demos, "not bad at all") == (
        "what a great day\n1\n\nI hate waiting\n0\n\nnot bad at all\n"
    )
    assert few_shot_prompt([], "x") == "x\n"


def test_demonstrations_are_reshuffled_for_every_input():
    demos = [(f"demo {i}", i % 2) for i in range(4)]
    prompts = prompted(["same input"] * 60, demos, np.random.default_rng(0))
    orders = {tuple(p.index(f"demo {i}") for i in range(4)) for p in prompts}
    assert len(orders) > 10  # 24 possible orders
    assert all(all(p.count(f"demo {i}\n{i % 2}\n\n") == 1 for i in range(4)) for p in prompts)


def test_label_tokens_must_be_single():
    class Splitting:
        def encode(self, text, add_special_tokens=False):
            return [7, 8]

    with pytest.raises(UserError, match="single tokens"):
        answer_token_ids(Splitting())


def test_last_position_scoring_equals_full_logits(tiny_decoder):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(tiny_decoder)
    tokenizer = AutoTokenizer.from_pretrained(tiny_decoder)
    scorer = LabelScorer(model, tokenizer)
    texts = ["a short one\n", "a much longer input with many more words in it\n", "mid length text\n"]
    ids = tokenizer(texts)["input_ids"]
    fast = scorer(ids, batch_size=2)
    zero, one = answer_token_ids(tokenizer)
    for i, x in enumerate(ids):
        with torch.no_grad():
            logits = model(torch.tensor([x])).logits[0, -1]
        assert fast[i, 1] - fast[i, 0] == pytest.approx(float(logits[one] - logits[zero]), abs=1e-4)


def test_icl_scores_k_class_words_at_the_last_position(tiny_decoder):
    """K answer words (their first tokens, which must differ): the LM's logits of each at the last
    position, as its full output gives them."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(tiny_decoder)
    tokenizer = AutoTokenizer.from_pretrained(tiny_decoder)
    words = ("world", "sports", "business", "science")
    scorer = LabelScorer(model, tokenizer, words)
    ids = tokenizer(["stocks fell\n", "the match ended\n"])["input_ids"]
    fast = scorer(ids, batch_size=2)
    tokens = answer_token_ids(tokenizer, words)
    assert fast.shape == (2, 4) and len(set(tokens)) == 4
    for i, x in enumerate(ids):
        with torch.no_grad():
            logits = model(torch.tensor([x])).logits[0, -1]
        assert fast[i] == pytest.approx(logits[tokens].numpy(), abs=1e-4)
    with pytest.raises(UserError, match="distinct first tokens"):
        answer_token_ids(tokenizer, ("sports", "sports"))


def test_icl_uses_every_label_bought_as_a_demonstration(tiny_config, tmp_path, spy):
    """As the authors' ICL sweep (`cost_sweep_few_shot.py`): the budget sets the shots."""
    cfg = dataclasses.replace(tiny_config, method="icl", budget=1.5, hq_fraction=0.5)
    record, _ = run(cfg, tmp_path)
    alloc = allocate(1.5, 0.1, 0.5)
    assert (record.n_weak, record.n_hq) == (alloc.n_weak, alloc.n_hq) == (15, 0)
    assert record.spent == pytest.approx(1.5) and record.stages == []
    cfg = dataclasses.replace(tiny_config, method="icl", budget=3, hq_fraction=1.0)
    record, _ = run(cfg, tmp_path)
    assert (record.n_weak, record.n_hq) == (0, 3) and [len(x) for x in spy["hq"]] == [3]
    with pytest.raises(UserError, match="--k-shot does not apply"):
        run(with_options(cfg, k_shot=2), tmp_path)


def test_icl_refuses_an_encoder(tiny_config, tiny_encoder, tmp_path):
    cfg = dataclasses.replace(tiny_config, method="icl", strong_model=tiny_encoder)
    with pytest.raises(UserError, match="not a causal LM"):
        run(cfg, tmp_path)
    assert Store(tmp_path).records() == []


# --- prompted sequential SFT ----------------------------------------------------------------


def test_prompted_sft_demonstrations_count_toward_weak_labels(tiny_config, tmp_path, spy):
    cfg = with_options(dataclasses.replace(tiny_config, method="prompted_seq_sft"), k_shot=2)
    record, _ = run(cfg, tmp_path)
    alloc = allocate(8, 0.1, 0.5)
    assert record.n_weak == alloc.n_weak == 40 and record.spent == pytest.approx(8.0)
    assert [len(x) for x in spy["weak"]] == [2, 38]  # demonstrations first, then the stage
    weak = {s["name"]: s for s in record.stages}["weak"]
    assert weak["n_train"] + weak["n_val"] == 38


def test_prompted_sft_all_hq_takes_its_demonstrations_from_the_oracle(tiny_config, tmp_path, spy):
    """With no weak labels bought, the 2 demonstrations are HQ labels (the authors'
    `FewShotPromptedSFTReporter` drew its prompt from the oracle) and the HQ stage gets the rest."""
    cfg = dataclasses.replace(tiny_config, method="prompted_seq_sft", hq_fraction=1.0)
    record, _ = run(cfg, tmp_path)
    assert (record.n_weak, record.n_hq) == (0, 8) and record.spent == pytest.approx(8.0)
    assert [len(x) for x in spy["hq"]] == [2, 6] and sum(len(x) for x in spy["weak"]) == 0
    (hq,) = record.stages
    assert hq["name"] == "hq" and hq["n_train"] + hq["n_val"] == 6
    cfg = with_options(
        dataclasses.replace(tiny_config, method="prompted_seq_sft", budget=4, hq_fraction=1.0), k_shot=2
    )
    with pytest.raises(UserError, match="after its 2 demonstrations"):
        run(dataclasses.replace(cfg, budget=4), tmp_path)


# --- log-confidence -------------------------------------------------------------------------


def test_logconf_target_on_a_hand_computed_minibatch():
    # p0 = softmax(logits)[:, 0] for log-odds (logit1 - logit0) of 2, -1, 0.5, -3
    logits = torch.tensor([[0.0, 2.0], [0.0, -1.0], [0.0, 0.5], [0.0, -3.0]])
    weak = torch.tensor([0.9, 0.4, 0.6, 0.1])  # prior = mean = 0.5
    targets = torch.from_numpy(from_p1(weak.numpy()))
    p0 = torch.softmax(logits, -1)[:, 0]  # [0.119, 0.731, 0.378, 0.953]
    threshold = torch.quantile(p0, 0.5)  # between 0.378 and 0.731
    assert 0.378 < threshold < 0.731
    hardened = torch.tensor([1.0, 0.0, 1.0, 0.0])  # P(1) = [p0 < threshold]
    # step 100 of a 200-step warm-up: coef = 0.5 * 100 / 200 = 0.25
    expected = 0.75 * weak + 0.25 * hardened
    assert torch.allclose(logconf_target(logits, targets, step=100)[:, 1], expected)
    assert torch.allclose(logconf_target(logits, targets, step=0), targets)  # no auxiliary term yet
    got = logconf_target(logits, targets, step=10_000)
    assert torch.allclose(got[:, 1], 0.5 * weak + 0.5 * hardened) and torch.allclose(
        got.sum(1), torch.ones(4)
    )


def test_logconf_for_k_classes_hardens_to_the_weak_labels_mix():
    """K classes (the README's stated generalisation): the hardened labels are the model's most
    probable classes with the weak labels' class mix (here 2 of class 0, 1 each of 1 and 2),
    assigned to maximise the log-probabilities; two classes pick the quantile rule's examples."""
    from labelbudget.training.losses import matched_mix

    logits = torch.tensor([[3.0, 0.0, 0.0], [2.0, 0.0, 0.0], [1.0, 0.5, 0.0], [0.0, 0.0, 2.0]])
    weak = torch.tensor([[1.0, 0, 0], [1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0]])
    hard = matched_mix(torch.softmax(logits, -1), weak)
    assert hard.tolist() == [0, 0, 1, 2]  # row 2 prefers class 0, but the mix has two of it
    target = logconf_target(logits, weak, step=10_000)
    assert torch.allclose(target, 0.5 * weak + 0.5 * torch.eye(3)[hard])
    # the binary case: the quantile rule's hardening, and the assignment, agree
    two = torch.tensor([[0.0, 2.0], [0.0, -1.0], [0.0, 0.5], [0.0, -3.0]])
    weak2 = torch.from_numpy(from_p1(np.array([0.9, 0.4, 0.6, 0.1], np.float32)))
    quantile = logconf_target(two, weak2, step=10_000)[:, 1] * 2 - weak2[:, 1]
    assert matched_mix(torch.softmax(two, -1), weak2).tolist() == quantile.round().long().tolist()


class StubClassifier(torch.nn.Module):
    """A fast stand-in with `Classifier`'s interface, for schedule-level tests."""

    def __init__(self):
        super().__init__()
        self.emb = torch.nn.EmbeddingBag(5000, 4)
        self.head = torch.nn.Linear(4, 2)
        self.tokenizer = type("T", (), {"pad_token_id": 0})()

    def batch_logits(self, ids, idx):
        return self.head(self.emb(torch.tensor([ids[i] for i in idx])))

    def trainable_state(self):
        return {k: v.clone() for k, v in self.state_dict().items()}

    def load_trainable_state(self, state):
        self.load_state_dict(state)


def test_logconf_runs_as_the_authors_8_x_4_accumulation(monkeypatch):
    """8,000 weak training examples: 625 optimizer steps of 32 (2.5 epochs, 20,000 visits), each
    of 4 micro-batches of 8 whose prior and quantile are their own; the coefficient ramp counts
    optimizer steps, reaching 0.5 at step 200."""
    from labelbudget.training import losses

    seen = []
    real = losses.logconf_target

    def spy(logits, targets, step, **kw):
        seen.append((step, len(targets)))
        return real(logits, targets, step, **kw)

    monkeypatch.setattr(losses, "logconf_target", spy)
    rng = np.random.default_rng(0)
    data = StageData([[int(x)] for x in rng.integers(1, 5000, 8000)], from_p1(rng.random(8000)))
    cfg = TrainConfig()
    schedule = Schedule.early_stopping(len(data), cfg)
    assert (schedule.batch_size, schedule.total_steps) == (32, 625)
    report = train_stage(
        StubClassifier(), data, None, schedule, cfg, lr=1e-3, seed=0, name="w", loss=LOSSES["logconf"]
    )
    assert report.steps == 625
    assert len(seen) == 625 * 4 and {n for _, n in seen} == {8}
    assert [s for s, _ in seen[:8]] == [1, 1, 1, 1, 2, 2, 2, 2]
    coef = {s: 0.5 * min(1.0, s / 200) for s, _ in seen}
    assert coef[199] < 0.5 and coef[200] == 0.5 == coef[625]
    # a one-example micro-batch (prior 0.5): its own quantile is itself, so it is hardened to 0
    one = real(torch.tensor([[0.0, 1.0]]), torch.tensor([[0.1, 0.9]]), step=200)
    assert one[0, 1].item() == pytest.approx(0.45)


def test_logconf_method_uses_micro_batches_of_8_in_the_weak_stage(tiny_config, tmp_path):
    cfg = dataclasses.replace(tiny_config, method="logconf", hq_fraction=0.0)
    record, _ = run(cfg, tmp_path)
    weak = record.stages[0]
    assert weak["n_train"] == 64
    assert weak["total_steps"] == Schedule.early_stopping(64, tiny_config.train).total_steps


# --- uncertainty sampling -------------------------------------------------------------------


def test_entropy_and_top_k_selection():
    log_odds = np.array([5.0, 0.1, -0.2, 3.0, 0.0, -4.0])
    h = entropy(np.stack([np.zeros(6), log_odds], 1))
    assert h[4] == pytest.approx(np.log(2)) and h.argmax() == 4
    chosen = choose_uncertain(h, 3, 0.0, np.random.default_rng(0))
    assert sorted(chosen.tolist()) == [1, 2, 4]


def test_temperature_sampling_never_repeats_and_favours_uncertainty():
    rng = np.random.default_rng(0)
    h = entropy(np.stack([np.zeros(41), np.linspace(-6, 6, 41)], 1))
    counts = np.zeros(41)
    for _ in range(300):
        chosen = choose_uncertain(h, 20, 0.5, rng)
        assert len(set(chosen.tolist())) == 20
        counts[chosen] += 1
    assert counts[18:23].mean() > 2 * counts[:5].mean()
    assert len(set(choose_uncertain(h, 41, 2.0, rng).tolist())) == 41  # may take everything


def test_uncertainty_ranks_only_the_hq_side_of_the_pool(tiny_config, tmp_path, spy, monkeypatch):
    """The HQ side is the pool's share n_hq / (n_weak + n_hq) (the authors' `w2s/utils.py`), and
    the n_hq most uncertain of it get HQ labels."""
    from labelbudget.learners.lora import LoRALearner

    scored = {}
    predict, pool_texts = LoRALearner.predict, methods.Elicitation.pool_texts

    def spy_predict(self, inputs, desc=""):
        out = predict(self, inputs, desc)
        if desc == "scoring HQ candidates":
            scored["log_odds"] = out
        return out

    def spy_pool_texts(self, ids):
        scored.setdefault("ids", []).append(np.asarray(ids).copy())
        scored["available"] = len(self.hq_candidates) + len(self.weak.offer)
        return pool_texts(self, ids)

    monkeypatch.setattr(LoRALearner, "predict", spy_predict)
    monkeypatch.setattr(methods.Elicitation, "pool_texts", spy_pool_texts)
    cfg = dataclasses.replace(tiny_config, method="uncertainty")
    record, _ = run(cfg, tmp_path)
    alloc = allocate(8, 0.1, 0.5)
    side = round(scored["available"] * alloc.n_hq / (alloc.n_weak + alloc.n_hq))
    (candidates,) = [ids for ids in scored["ids"] if len(ids) == len(scored["log_odds"])]
    assert len(candidates) == side
    h = dict(zip(candidates.tolist(), entropy(scored["log_odds"]), strict=True))
    hq = spy["hq"][0].tolist()
    assert record.n_hq == len(hq) == 4 and not set(hq) & set(np.concatenate(spy["weak"]).tolist())
    assert sorted(h[i] for i in hq) == sorted(h.values())[-4:]


def test_entropy_over_k_classes_picks_the_most_uncertain():
    """Entropy of the K-class distribution: a uniform row is the most uncertain, a confident one
    the least; two classes give the binary entropy of the log-odds."""
    logits = np.array([[0.0, 0.0, 0.0], [5.0, 0.0, 0.0], [1.0, 1.0, -9.0], [0.2, 0.0, 0.1]])
    h = entropy(logits)
    assert h[0] == pytest.approx(np.log(3)) and h[2] == pytest.approx(np.log(2), abs=1e-3)
    assert choose_uncertain(h, 2, 0.0, np.random.default_rng(0)).tolist() in ([0, 3], [3, 0])
    p = 1 / (1 + np.exp(-2.0))
    assert entropy(np.array([[0.0, 2.0]]))[0] == pytest.approx(-(p * np.log(p) + (1 - p) * np.log(1 - p)))


# --- the OpenAI-API-like schedule -----------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "batch", "steps"),
    [(10, 1, 100), (29, 1, 116), (100, 1, 300), (2000, 2, 3000), (5000, 8, 1250), (20000, 8, 2500)],
)
def test_openai_schedule(n, batch, steps):
    s = Schedule.openai(n)
    assert (s.batch_size, s.total_steps, s.eval_every) == (batch, steps, None)


def test_openai_schedule_trains_on_every_label(tiny_config, tmp_path):
    cfg = with_options(dataclasses.replace(tiny_config, budget=2, hq_fraction=1.0), schedule="openai")
    record, _ = run(cfg, tmp_path)  # 2 HQ labels: too few to split, fine without validation
    (hq,) = record.stages
    assert (hq["n_train"], hq["n_val"], hq["total_steps"], hq["evals"]) == (2, 0, 100, [])


# --- a person as the oracle -----------------------------------------------------------------


def test_method_options_validate():
    with pytest.raises(UserError, match="temperature"):
        MethodOptions(temperature=-1)
    with pytest.raises(UserError, match="k_shot"):
        MethodOptions(k_shot=0)
