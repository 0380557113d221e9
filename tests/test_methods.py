"""Each elicitation method's semantics, on tiny models: prompts, payment, selection, losses,
schedules, and the person-as-oracle round trip."""

import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch

from labelbudget import methods
from labelbudget.budget import allocate
from labelbudget.config import MethodOptions
from labelbudget.errors import UserError
from labelbudget.labeling import LabelsNeeded
from labelbudget.losses import logconf_target
from labelbudget.methods.icl import LabelScorer, label_token_ids
from labelbudget.methods.uncertainty import binary_entropy, choose_uncertain
from labelbudget.prompts import few_shot_prompt, prompted
from labelbudget.run import run
from labelbudget.store import Store
from labelbudget.tasks import load_task
from labelbudget.train import Schedule


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
        label_token_ids(Splitting())


def test_last_position_scoring_equals_full_logits(tiny_decoder):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(tiny_decoder)
    tokenizer = AutoTokenizer.from_pretrained(tiny_decoder)
    scorer = LabelScorer(model, tokenizer)
    texts = ["a short one\n", "a much longer input with many more words in it\n", "mid length text\n"]
    ids = tokenizer(texts)["input_ids"]
    fast = scorer(ids, batch_size=2)
    zero, one = label_token_ids(tokenizer)
    for i, x in enumerate(ids):
        with torch.no_grad():
            logits = model(torch.tensor([x])).logits[0, -1]
        assert fast[i] == pytest.approx(float(logits[one] - logits[zero]), abs=1e-4)


def test_icl_pays_for_its_demonstrations(tiny_config, tmp_path, spy):
    cfg = with_options(dataclasses.replace(tiny_config, method="icl", budget=8, hq_fraction=0.5), k_shot=6)
    record, _ = run(cfg, tmp_path)
    # 4 HQ labels bought, then 2 weak ones fill the 6 demonstrations; nothing else is paid for
    assert (record.n_hq, record.n_weak) == (4, 2)
    assert record.spent == pytest.approx(4 + 2 * 0.1)
    assert [len(x) for x in spy["hq"]] == [4] and record.stages == []


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


def test_prompted_sft_needs_enough_weak_labels(tiny_config, tmp_path):
    cfg = with_options(dataclasses.replace(tiny_config, method="prompted_seq_sft", hq_fraction=1.0), k_shot=2)
    with pytest.raises(UserError, match="needs 2 weak labels"):
        run(cfg, tmp_path)


# --- log-confidence -------------------------------------------------------------------------


def test_logconf_target_on_a_hand_computed_minibatch():
    # p0 = softmax(logits)[:, 0] for log-odds (logit1 - logit0) of 2, -1, 0.5, -3
    logits = torch.tensor([[0.0, 2.0], [0.0, -1.0], [0.0, 0.5], [0.0, -3.0]])
    weak = torch.tensor([0.9, 0.4, 0.6, 0.1])  # prior = mean = 0.5
    p0 = torch.softmax(logits, -1)[:, 0]  # [0.119, 0.731, 0.378, 0.953]
    threshold = torch.quantile(p0, 0.5)  # between 0.378 and 0.731
    assert 0.378 < threshold < 0.731
    hardened = torch.tensor([1.0, 0.0, 1.0, 0.0])  # P(1) = [p0 < threshold]
    # step 100 of a 200-step warm-up: coef = 0.5 * 100 / 200 = 0.25
    expected = 0.75 * weak + 0.25 * hardened
    assert torch.allclose(logconf_target(logits, weak, step=100), expected)
    assert torch.allclose(logconf_target(logits, weak, step=0), weak)  # no auxiliary term yet
    assert torch.allclose(logconf_target(logits, weak, step=10_000), 0.5 * weak + 0.5 * hardened)


def test_logconf_method_uses_batches_of_8_in_the_weak_stage(tiny_config, tmp_path):
    cfg = dataclasses.replace(tiny_config, method="logconf", hq_fraction=0.0)
    record, _ = run(cfg, tmp_path)
    weak = record.stages[0]
    assert weak["n_train"] == 64
    assert (
        weak["total_steps"]
        == Schedule.early_stopping(64, dataclasses.replace(tiny_config.train, batch_size=8)).total_steps
    )


# --- uncertainty sampling -------------------------------------------------------------------


def test_entropy_and_top_k_selection():
    log_odds = np.array([5.0, 0.1, -0.2, 3.0, 0.0, -4.0])
    h = binary_entropy(log_odds)
    assert h[4] == pytest.approx(np.log(2)) and h.argmax() == 4
    chosen = choose_uncertain(h, 3, 0.0, np.random.default_rng(0))
    assert sorted(chosen.tolist()) == [1, 2, 4]


def test_temperature_sampling_never_repeats_and_favours_uncertainty():
    rng = np.random.default_rng(0)
    h = binary_entropy(np.linspace(-6, 6, 41))
    counts = np.zeros(41)
    for _ in range(300):
        chosen = choose_uncertain(h, 20, 0.5, rng)
        assert len(set(chosen.tolist())) == 20
        counts[chosen] += 1
    assert counts[18:23].mean() > 2 * counts[:5].mean()
    assert len(set(choose_uncertain(h, 41, 2.0, rng).tolist())) == 41  # may take everything


def test_uncertainty_labels_the_most_uncertain_candidates(tiny_config, tmp_path, spy, monkeypatch):
    from labelbudget.methods import uncertainty

    scored = {}
    predict, pool_texts = uncertainty.predict, methods.Elicitation.pool_texts

    def spy_predict(model, ids, batch_size, desc=""):
        scored["log_odds"] = predict(model, ids, batch_size, desc)
        return scored["log_odds"]

    def spy_pool_texts(self, ids):
        scored.setdefault("ids", []).append(np.asarray(ids).copy())
        return pool_texts(self, ids)

    monkeypatch.setattr(uncertainty, "predict", spy_predict)
    monkeypatch.setattr(methods.Elicitation, "pool_texts", spy_pool_texts)
    cfg = with_options(dataclasses.replace(tiny_config, method="uncertainty"), max_candidates=30)
    record, _ = run(cfg, tmp_path)
    (candidates,) = [ids for ids in scored["ids"] if len(ids) == 30]
    entropy = dict(zip(candidates.tolist(), binary_entropy(scored["log_odds"]), strict=True))
    hq = spy["hq"][0].tolist()
    assert record.n_hq == len(hq) == 4 and not set(hq) & set(np.concatenate(spy["weak"]).tolist())
    assert sorted(entropy[i] for i in hq) == sorted(entropy.values())[-4:]


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


def test_file_oracle_round_trip_and_refusals(tiny_config, tmp_path):
    cfg = with_options(dataclasses.replace(tiny_config, method="uncertainty"), oracle="file")
    with pytest.raises(LabelsNeeded) as paused:
        run(cfg, tmp_path)
    assert Store(tmp_path).records() == []
    request = pd.read_csv(paused.value.path)
    assert len(request) == 4 and request["label"].isna().all()
    task = load_task(cfg.task)
    assert request["text"].tolist() == [task.pool.texts[i] for i in request["id"]]

    answered = request.assign(label=[int(task.pool.labels[i]) for i in request["id"]])
    bad_ids = tmp_path / "bad_ids.csv"
    answered.assign(id=answered["id"] + 100000).to_csv(bad_ids, index=False)
    with pytest.raises(UserError, match="do not match"):
        run(cfg, tmp_path, labels_file=bad_ids)
    bad_labels = tmp_path / "bad_labels.csv"
    answered.assign(label=["1", "yes", "0", "1"]).to_csv(bad_labels, index=False)
    with pytest.raises(UserError, match="not 0 or 1"):
        run(cfg, tmp_path, labels_file=bad_labels)
    missing = tmp_path / "missing.csv"
    answered.iloc[:3].to_csv(missing, index=False)
    with pytest.raises(UserError, match="1 missing"):
        run(cfg, tmp_path, labels_file=missing)
    assert Store(tmp_path).records() == []

    good = tmp_path / "labeled.csv"
    answered.to_csv(good, index=False)
    record, ran = run(cfg, tmp_path, labels_file=good)
    assert ran and record.n_hq == 4 and record.spent == pytest.approx(8.0)
    assert [s["name"] for s in record.stages] == ["weak", "hq"]
    assert len(Store(tmp_path).records()) == 1


def test_labels_file_without_a_paused_run_is_refused(tiny_config, tmp_path):
    cfg = with_options(tiny_config, oracle="file")
    labels = tmp_path / "l.csv"
    labels.write_text("id,text,label\n1,x,1\n")
    with pytest.raises(UserError, match="no paused run"):
        run(cfg, tmp_path, labels_file=labels)


def test_method_options_validate():
    with pytest.raises(UserError, match="temperature"):
        MethodOptions(temperature=-1)
    with pytest.raises(UserError, match="k_shot"):
        MethodOptions(k_shot=0)
