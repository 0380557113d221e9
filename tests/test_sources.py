"""Weak labels from outside labelbudget (`labels.external`): a column of the task file, or a
predictions file matched by id or by text; each refusal with its counts."""

import dataclasses

import numpy as np
import pandas as pd
import pytest
from conftest import synthetic_texts

from labelbudget.config import RunConfig, TaskConfig
from labelbudget.labels.sources import Setup, source_for, weak_of
from labelbudget.runs.identity import inputs
from labelbudget.tasks import load_task
from labelbudget.util.errors import UserError


@pytest.fixture
def task_file(tmp_path):
    df = synthetic_texts(200)
    df.insert(0, "id", [f"row{i}" for i in range(len(df))])
    rng = np.random.default_rng(0)
    df["p"] = np.round(np.clip(df["label"] * 0.7 + rng.uniform(0, 0.3, len(df)), 0, 1), 4)
    df["hard"] = 1 - df["label"]
    path = tmp_path / "task.csv"
    df.to_csv(path, index=False)
    return path, df


def sold(weak_labels: str, path, results, **task) -> tuple[dict[str, object], object]:
    """What the weak source sells, text -> value, for every id it offers: P(1) for two classes,
    the (K,) probabilities for more."""
    cfg = RunConfig(
        task=TaskConfig(task=str(path), test_size=task.pop("test_size", 40), **task), weak_labels=weak_labels
    )
    task = load_task(cfg.task)
    offer = np.arange(len(task.pool))
    source = source_for(cfg, "weak").build(Setup(cfg, task, offer, 20, results, "run"))
    values = source.answer(source.offer)
    assert values.shape == (len(source.offer), task.space.k) and np.allclose(values.sum(1), 1)
    value = (lambda v: float(v[1])) if task.space.k == 2 else (lambda v: tuple(np.round(v, 6)))
    return {task.pool.texts[i]: value(v) for i, v in zip(source.offer, values, strict=True)}, source


def test_a_probability_column_is_sold_soft_and_a_hard_one_as_0_1(task_file, tmp_path):
    path, df = task_file
    expected = dict(zip(df["text"], df["p"], strict=True))
    got, source = sold("column:p", path, tmp_path)
    assert got == {t: pytest.approx(expected[t]) for t in got}
    assert len({v for v in got.values()} - {0.0, 1.0}) > 10  # soft, not thresholded
    hard, _ = sold("column:hard", path, tmp_path)
    assert set(hard.values()) == {0.0, 1.0}
    assert all(hard[t] == 1 - lab for t, lab in zip(df["text"], df["label"], strict=True) if t in hard)
    assert source.info.test_probs is not None and not np.isnan(source.info.test_probs).any()


@pytest.mark.parametrize("key", ["id", "text"])
def test_a_predictions_file_is_matched_by_id_or_by_text(task_file, tmp_path, key):
    path, df = task_file
    preds = df[[key, "p"]].rename(columns={"p": "p1"}).sample(frac=1, random_state=0)  # any order
    file = tmp_path / "preds.jsonl"
    preds.to_json(file, orient="records", lines=True)
    got, _ = sold(f"file:{file}", path, tmp_path)
    from_column, _ = sold("column:p", path, tmp_path)
    assert got == from_column


def test_rows_without_a_weak_label_are_never_sold_and_are_counted(task_file, tmp_path):
    path, df = task_file
    df = df.assign(p=df["p"].astype(object))
    df.loc[df.index[:30], "p"] = ""
    df.to_csv(path, index=False)
    got, source = sold("column:p", path, tmp_path)
    unlabeled = set(df["text"][:30])
    assert not unlabeled & set(got)
    assert any("have no weak label and are never sold" in n for n in source.info.notes)


def write(tmp_path, rows, name="preds.csv"):
    file = tmp_path / name
    pd.DataFrame(rows).to_csv(file, index=False)
    return file


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda df, tmp: ("column:nope", None), "no weak-label column 'nope'"),
        (lambda df, tmp: ("column:text", None), r"values that are not a class of \['0', '1'\]"),
        (lambda df, tmp: ("column:q", {"q": df["label"] * 2}), r"not a class of .*or P\(1\) in \[0, 1\]"),
        (
            lambda df, tmp: (f"file:{write(tmp, {'id': ['row1', 'row1'], 'p1': [0.2, 0.3]})}", None),
            "2 .*repeated ids|1 repeated ids",
        ),
        (
            lambda df, tmp: (f"file:{write(tmp, {'id': ['row1', 'zzz'], 'p1': [0.2, 0.3]})}", None),
            "1 ids the task file does not",
        ),
        (
            lambda df, tmp: (f"file:{write(tmp, {'id': list(df['id'][:10]), 'p1': [0.5] * 10})}", None),
            r"labels \d+ of the pool's \d+ texts",
        ),
        (
            lambda df, tmp: (f"file:{write(tmp, {'text': [df['text'][0]] * 2, 'p1': [0.1, 0.9]})}", None),
            "gives 1 texts two different weak labels",
        ),
        (lambda df, tmp: ("file:/no/such.csv", None), "does not exist"),
        (lambda df, tmp: ("column:", None), "needs an argument after the colon"),
    ],
)
def test_bad_weak_label_input_is_refused_with_its_counts(task_file, tmp_path, make, match):
    from labelbudget.runs.run import check

    path, df = task_file
    spec, change = make(df, tmp_path)
    if change:
        df.assign(**change).to_csv(path, index=False)
    with pytest.raises(UserError, match=match):
        sold(spec, path, tmp_path)
    with pytest.raises(UserError, match=match):  # and by the checks before any run
        check(RunConfig(task=TaskConfig(task=str(path), test_size=40), weak_labels=spec))


def test_a_sweep_on_bad_weak_labels_is_refused_before_it_writes_anything(task_file, tiny_config, tmp_path):
    """The clash is the source's own (seen only on reading the file): refused by every run's
    checks, before the sweep claims a run, so no store is left behind."""
    from labelbudget.sweeps.grid import Grid, expand
    from labelbudget.sweeps.sweep import run_sweep

    path, df = task_file
    clash = df.iloc[[7]].assign(p=1 - df["p"].iloc[7])
    pd.concat([df, clash]).to_csv(path, index=False)  # text 7 twice, with p and 1 - p
    base = dataclasses.replace(
        tiny_config,
        learner="probe",
        task=dataclasses.replace(tiny_config.task, task=str(path)),
        weak_labels="column:p",
    )
    configs = expand(base, Grid(tasks=(str(path),), budgets=(8,), hq_fractions=(0.0, 0.5), seeds=(0,)))
    with pytest.raises(UserError, match="gives 1 texts two different weak labels"):
        run_sweep(configs, tmp_path / "r")
    assert not (tmp_path / "r").exists()


def test_too_few_weak_labels_for_the_allocation_is_refused(task_file, tmp_path):
    path, df = task_file
    df.assign(p=[0.9] * 120 + [""] * 80).to_csv(path, index=False)
    cfg = RunConfig(task=TaskConfig(task=str(path), test_size=40), weak_labels="column:p")
    task = load_task(cfg.task)
    with pytest.raises(UserError, match=r"has \d+ labels on this run's side of the pool, 150 needed"):
        source_for(cfg, "weak").build(Setup(cfg, task, np.arange(len(task.pool)), 150, tmp_path, "r"))


def test_a_changed_predictions_file_is_a_new_run(task_file, tmp_path):
    path, df = task_file
    file = write(tmp_path, {"id": df["id"], "p1": df["p"]})
    cfg = RunConfig(task=TaskConfig(task=str(path)), weak_labels=f"file:{file}")
    before = inputs(cfg)
    write(tmp_path, {"id": df["id"], "p1": 1 - df["p"]})
    assert inputs(cfg)["weak_file"] != before["weak_file"] and inputs(cfg)["task_file"] == before["task_file"]


def test_a_run_on_column_weak_labels_measures_their_accuracy(task_file, tiny_config, tmp_path):
    """End to end (probe learner): gold as the weak column gives weak accuracy 1, flipped 0."""
    from labelbudget.runs.run import run

    path, df = task_file
    base = dataclasses.replace(
        tiny_config, learner="probe", task=dataclasses.replace(tiny_config.task, task=str(path))
    )
    df.assign(gold=df["label"]).to_csv(path, index=False)
    good, _ = run(dataclasses.replace(base, weak_labels="column:gold"), tmp_path / "r")
    assert good.weak_accuracy == 1.0 and good.n_weak > 0
    flipped, _ = run(dataclasses.replace(base, weak_labels="column:hard"), tmp_path / "r")
    assert flipped.weak_accuracy == 0.0
    assert any("weak labels from column:hard" in n for n in flipped.notes)


def test_shuffled_errors_keep_the_error_sizes_and_the_accuracy_but_move_them():
    from labelbudget.labels.trained import shuffle_errors

    rng = np.random.default_rng(0)
    gold = rng.integers(0, 2, 500).astype(float)
    probs = np.clip(gold * 0.8 + rng.normal(0.1, 0.25, 500), 0, 1)
    shuffled = shuffle_errors(probs, gold, seed=3)
    np.testing.assert_allclose(np.sort(np.abs(shuffled - gold)), np.sort(np.abs(probs - gold)))
    assert ((shuffled > 0.5) == gold).mean() == ((probs > 0.5) == gold).mean()
    wrong_before, wrong_after = (probs > 0.5) != gold, (shuffled > 0.5) != gold
    assert (wrong_before != wrong_after).sum() > 20  # other examples are wrong now


def test_a_run_on_shuffled_error_weak_labels_keeps_the_weak_accuracy(tiny_config, tmp_path):
    from labelbudget.runs.run import run

    base = dataclasses.replace(tiny_config, learner="probe")
    plain, _ = run(base, tmp_path)
    shuffled, _ = run(dataclasses.replace(base, weak_labels="trained-shuffled"), tmp_path)
    assert shuffled.config_hash != plain.config_hash and shuffled.weak_key != plain.weak_key
    assert any("errors shuffled" in n for n in shuffled.notes)
    assert abs(shuffled.weak_accuracy - plain.weak_accuracy) < 1e-9


def test_a_weak_target_accuracy_stops_the_weak_model_and_records_it(tiny_config, tmp_path):
    """`--weak-target-accuracy`: the weak model (MiniLM, which learns the synthetic texts fast)
    evaluates on its validation texts and stops at 0.75, well before its 20 epochs end; another
    target is another weak labeler and run; the record's weak quality is against the test split."""
    from labelbudget.runs.run import run

    base = dataclasses.replace(tiny_config, learner="probe")
    weak = dataclasses.replace(base.weak, weak_model="minilm-l6", weak_epochs=20.0, weak_target_accuracy=0.75)
    record, _ = run(dataclasses.replace(base, weak=weak), tmp_path)
    (note,) = [n for n in record.notes if n.startswith("weak model ")]
    assert "(--weak-target-accuracy)" in note, note
    assert int(note.split(" at step ")[1].split()[0]) < int(note.split(" of ")[1].split(":")[0])
    untargeted = dataclasses.replace(weak, weak_target_accuracy=None, weak_epochs=1.0)
    plain, _ = run(dataclasses.replace(base, weak=untargeted), tmp_path)
    assert plain.weak_key != record.weak_key and plain.config_hash != record.config_hash
    assert not [n for n in plain.notes if n.startswith("weak model stopped")]
    q = record.weak_quality
    assert q["against"] == "test split" and q["n"] == record.n_test
    assert q["accuracy"] == pytest.approx(record.weak_accuracy)
    assert sum(map(sum, q["confusion"])) == q["n"]


def test_prompt_weak_labels_are_icls_scores_of_the_same_prompt_and_model(tiny_config, tmp_path):
    import torch

    from labelbudget.labels.prompt import prompt_scores
    from labelbudget.methods.icl import LabelScorer
    from labelbudget.models.backbone import load_causal_lm
    from labelbudget.models.packing import Encoder
    from labelbudget.prompts import few_shot_prompt

    cfg = dataclasses.replace(tiny_config, weak_labels=f"prompt:{tiny_config.strong_model}")
    task = load_task(cfg.task)
    got, source = sold(cfg.weak_labels, cfg.task.task, tmp_path)  # sold soft, P(1)
    model, tokenizer = load_causal_lm(tiny_config.strong_model, torch.float32)
    texts = task.pool.texts[:16]
    question = task.space.ask  # zero-shot: the question naming the classes, the class names answer
    prompts = [few_shot_prompt([], t, task.space.names, question) for t in texts]
    icl = LabelScorer(model, tokenizer, task.space.names)(Encoder(tokenizer, 512)(prompts), 8)
    scores = prompt_scores(
        tiny_config.strong_model, texts, "float32", words=task.space.names, question=question
    )
    np.testing.assert_allclose(scores, icl, atol=1e-4)
    icl = icl[:, 1] - icl[:, 0]
    from labelbudget.models.backbone import native_bf16, pick_device

    tol = 2e-2 if native_bf16(pick_device()) else 1e-4  # the source runs in the machine's dtype
    for t, s in zip(texts, icl, strict=True):
        if t in got:
            assert got[t] == pytest.approx(1 / (1 + np.exp(-s)), abs=tol)
    assert source.info.test_probs.shape == (len(task.test), 2)


def test_a_few_shot_prompt_scores_as_icl_behind_its_hq_demonstrations(tiny_config, tmp_path, spy):
    """prompt:MODEL:K: K pool examples drawn once per task, labeled by the HQ source, kept out of
    the pool, paid once outside the budget; the scores are icl's behind those demonstrations."""
    import torch

    from labelbudget.labels.prompt import demo_ids, prompt_scores
    from labelbudget.methods.icl import LabelScorer
    from labelbudget.models.backbone import load_causal_lm
    from labelbudget.models.packing import Encoder
    from labelbudget.prompts import prompted
    from labelbudget.runs.run import run

    cfg = dataclasses.replace(tiny_config, weak_labels=f"prompt:{tiny_config.strong_model}:4")
    task = load_task(cfg.task)
    me = weak_of(cfg)
    ids = demo_ids(cfg, task, me)
    assert len(ids) == 4 and (ids == demo_ids(dataclasses.replace(cfg, seed=9), task, me)).all()
    demos = [(task.pool.texts[i], int(task.pool.labels[i])) for i in ids]
    model, tokenizer = load_causal_lm(tiny_config.strong_model, torch.float32)
    texts = task.test.texts[:12]
    prompts = prompted(texts, demos, np.random.default_rng(0))
    icl = LabelScorer(model, tokenizer)(Encoder(tokenizer, 512)(prompts), 8)
    got = prompt_scores(tiny_config.strong_model, texts, "float32", demos=demos)
    np.testing.assert_allclose(got, icl, atol=1e-4)
    assert np.abs(got - prompt_scores(tiny_config.strong_model, texts, "float32")).max() > 1e-3

    record, _ = run(cfg, tmp_path)
    first, *rest = spy["hq"]
    assert sorted(first.tolist()) == ids.tolist()  # the demonstrations, bought first from the HQ source
    sold_after = np.concatenate(rest + spy["weak"])
    assert not set(sold_after.tolist()) & set(ids.tolist())  # kept out of the pool
    assert record.weak_spent_once == 4 and record.spent == pytest.approx(8.0)
    assert record.n_hq == 4 and any("4-shot prompt" in n for n in record.notes)
    zero, _ = run(dataclasses.replace(cfg, weak_labels=f"prompt:{tiny_config.strong_model}"), tmp_path)
    assert zero.weak_key != record.weak_key and zero.weak_spent_once is None
    from labelbudget.analysis.report import write_report

    html = write_report(tmp_path).read_text()
    assert "bought once (outside budgets)" in html and "$4 of HQ demonstrations" in html
    with pytest.raises(UserError, match="asks for 999 demonstrations"):
        run(dataclasses.replace(cfg, weak_labels=f"prompt:{tiny_config.strong_model}:999"), tmp_path)


def test_a_pool_too_small_names_what_its_weak_source_keeps_out(tiny_config):
    from labelbudget.labels.budget import Allocation
    from labelbudget.runs.run import _check_pool
    from labelbudget.util.errors import PoolTooSmall

    task = load_task(tiny_config.task)
    too_many = Allocation.pair(len(task.pool) + 1, 0)
    cases = {
        "trained": ("(weak pool: ", "--weak-pool paper"),
        f"prompt:{tiny_config.strong_model}:4": ("(4 demonstrations kept out)", "fewer demonstrations"),
        "column:label": (f"has {len(task.pool)}", None),
    }
    for weak_labels, (problem, fix) in cases.items():
        with pytest.raises(PoolTooSmall) as e:
            _check_pool(dataclasses.replace(tiny_config, weak_labels=weak_labels), too_many, task)
        assert problem in e.value.problem, e.value.problem
        assert (
            (fix in e.value.fix)
            if fix
            else ("--weak-pool" not in e.value.fix and "demonstr" not in e.value.fix)
        )


def test_k_class_weak_labels_from_class_names_ids_and_p_columns(tmp_path):
    """Three classes: a column of class names, one of ids, and p_<class> columns all sell (n, 3)
    probabilities (names and ids one-hot, p_ rows normalised); a value outside the classes is
    refused with its count."""
    rng = np.random.default_rng(0)
    names = ("neg", "neu", "pos")
    df = synthetic_texts(240)
    df["label"] = [names[i % 3] for i in range(len(df))]
    df["llm"] = [names[(i + (i % 5 == 0)) % 3] for i in range(len(df))]
    df["llm_id"] = [(i + (i % 5 == 0)) % 3 for i in range(len(df))]
    p = rng.dirichlet([1, 1, 1], len(df))
    for c, n in enumerate(names):
        df[f"p_{n}"] = 2 * p[:, c]  # unnormalised: rows are normalised
    path = tmp_path / "three.csv"
    df.to_csv(path, index=False)
    by_name, _ = sold("column:llm", path, tmp_path, test_size=30)
    by_id, _ = sold("column:llm_id", path, tmp_path, test_size=30)
    assert by_name == by_id and set(by_name.values()) == {(1, 0, 0), (0, 1, 0), (0, 0, 1)}
    expected = {t: tuple(np.round(r, 6)) for t, r in zip(df["text"], p, strict=True)}
    soft, source = sold("column:p_*", path, tmp_path, test_size=30)
    assert all(v == pytest.approx(expected[t], abs=1e-5) for t, v in soft.items())
    assert source.info.test_probs.shape == (30, 3)
    df.loc[0, "llm"] = "other"
    df.to_csv(path, index=False)
    with pytest.raises(UserError, match=r"1 values that are not a class of \['neg', 'neu', 'pos'\]"):
        sold("column:llm", path, tmp_path, test_size=30)


def test_a_lone_p_class_column_is_never_read_as_p1(tmp_path):
    """`column:p_*` (or a predictions file's p_<class> columns) needs one column per class: a
    lone p_neg is refused, never read as P(class 1) (which would invert the labels)."""
    df = synthetic_texts(200)
    df["p_0"] = 1.0 - df["label"]
    df.to_csv(tmp_path / "t.csv", index=False)
    cfg = RunConfig(task=TaskConfig(task=str(tmp_path / "t.csv"), test_size=20), weak_labels="column:p_*")
    task = load_task(cfg.task)
    with pytest.raises(UserError, match="p_1"):
        source_for(cfg, "weak").check(cfg, task, weak_of(cfg))
        source_for(cfg, "weak").build(
            Setup(cfg, task, np.arange(len(task.pool)), 0, tmp_path, "x", source=weak_of(cfg))
        )
