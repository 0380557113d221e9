"""The paper's tasks: hand-written records in each dataset's own schema become the exact template
text and label; binarization is seeded and balanced; offline gives an actionable error."""

import numpy as np
import pytest

from labelbudget.config import TaskConfig
from labelbudget.models.packing import Encoder
from labelbudget.tasks import TASKS, load_task
from labelbudget.tasks.paper import HUB_TASKS, binarize
from labelbudget.util.errors import UserError

FORMAT = {t.name: t.format for t in HUB_TASKS}


class Gold:
    """An RNG stand-in that always shows the gold answer (random() < 0.5)."""

    def random(self):
        return 0.0


class Distractor:
    """Always shows a distractor, the `pick`-th one."""

    def __init__(self, pick):
        self.pick = pick

    def random(self):
        return 0.9

    def integers(self, n):
        return self.pick


def test_all_nine_tasks_are_registered():
    assert {
        "boolq",
        "hellaswag",
        "sciq",
        "cola",
        "cosmos_qa",
        "quail",
        "social_i_qa",
        "mmlu",
        "amazon_polarity",
    } <= set(TASKS)


def test_boolq():
    r = {"question": "is the sky blue", "answer": True, "passage": "The sky is blue."}
    assert FORMAT["boolq"](r, Gold()) == ("Passage: The sky is blue.\nQuestion: is the sky blue", 1)
    assert FORMAT["boolq"]({**r, "answer": False}, Gold())[1] == 0


def test_hellaswag():
    r = {
        "ctx": "A man sits down.",
        "endings": ["He eats.", "He flies.", "He melts.", "He sings."],
        "label": "0",
        "activity_label": "x",
    }
    listed = "He eats.\nHe flies.\nHe melts.\nHe sings."
    head = f"Context:\nA man sits down.\n\nContinuations:\n\n{listed}\n\n"
    assert FORMAT["hellaswag"](r, Gold()) == (head + 'Q: Is "He eats." the best continuation?', 1)
    assert FORMAT["hellaswag"](r, Distractor(1)) == (head + 'Q: Is "He melts." the best continuation?', 0)


def test_sciq():
    r = {
        "question": "What is H2O?",
        "distractor1": "salt",
        "distractor2": "air",
        "distractor3": "fire",
        "correct_answer": "water",
        "support": "...",
    }
    assert FORMAT["sciq"](r, Gold()) == ("Q: What is H2O? A: water", 1)
    assert FORMAT["sciq"](r, Distractor(2)) == ("Q: What is H2O? A: fire", 0)


def test_cola():
    assert FORMAT["cola"]({"sentence": "The cat sat.", "label": 1, "idx": 0}, Gold()) == ("The cat sat.", 1)


def test_cosmos_qa():
    r = {
        "context": "It rained.",
        "question": "Why wet?",
        "answer0": "rain",
        "answer1": "sun",
        "answer2": "wind",
        "answer3": "snow",
        "label": 0,
        "id": "a",
    }
    assert FORMAT["cosmos_qa"](r, Gold()) == ("Context: It rained.\nQuestion: Why wet?\nAnswer: rain", 1)
    assert FORMAT["cosmos_qa"](r, Distractor(0)) == (
        "Context: It rained.\nQuestion: Why wet?\nAnswer: sun",
        0,
    )
    # "None of the above choices ." as gold: always label 0 with a distractor shown, even when the
    # coin says gold (the authors' `format_cosmosqa`, `w2s/ds_registry.py`)
    none = {**r, "answer2": "None of the above choices .", "label": 2}

    class GoldCoin(Distractor):
        def random(self):
            return 0.0

    assert FORMAT["cosmos_qa"](none, GoldCoin(0)) == (
        "Context: It rained.\nQuestion: Why wet?\nAnswer: rain",
        0,
    )


def test_quail():
    r = {
        "context": "Once upon a time.",
        "question": "When?",
        "answers": ["now", "then", "never", "later"],
        "correct_answer_id": 1,
        "id": "q",
    }
    assert FORMAT["quail"](r, Gold()) == (
        'Passage:\n\nOnce upon a time.\n\nQ: "When?" Is the answer "then"?',
        1,
    )
    assert FORMAT["quail"](r, Distractor(2))[0].endswith('Is the answer "later"?')


def test_social_i_qa():
    r = {
        "context": "Sam helped.",
        "question": "How is Sam?",
        "answerA": "kind",
        "answerB": "mean",
        "answerC": "tired",
        "label": "1",
    }
    expected = (
        'Context:\nSam helped.\n\nQuestion: "How is Sam?"\n\nChoices:\nkind\nmean\ntired\n\n'
        'Is the answer "kind"?'
    )
    assert FORMAT["social_i_qa"](r, Gold()) == (expected, 1)
    text, label = FORMAT["social_i_qa"]({**r, "label": "3"}, Distractor(0))
    assert text.endswith('Is the answer "kind"?') and label == 0  # labels "1".."3" are 1-based


def test_mmlu():
    r = {"question": "2+2?", "subject": "math", "choices": ["3", "4", "5", "6"], "answer": 1}
    assert FORMAT["mmlu"](r, Gold()) == ("2+2?\n\n3\n4\n5\n6\n\nA: 4.", 1)
    assert FORMAT["mmlu"](r, Distractor(2)) == ("2+2?\n\n3\n4\n5\n6\n\nA: 6.", 0)


def test_amazon_polarity():
    r = {"title": "Great", "content": "Loved it.", "label": 1}
    assert FORMAT["amazon_polarity"](r, Gold()) == ("Great Loved it.", 1)


def test_binarization_is_seeded_and_about_balanced():
    choices = ["a", "b", "c", "d"]
    draws = [binarize(choices, 2, np.random.default_rng(7)) for _ in range(3)]
    assert draws[0] == draws[1] == draws[2]  # same seed, same draw
    rng = np.random.default_rng(0)
    out = [binarize(choices, 2, rng) for _ in range(4000)]
    labels = np.array([y for _, y in out])
    assert abs(labels.mean() - 0.5) < 0.03
    assert all(t == "c" for t, y in out if y == 1) and all(t != "c" for t, y in out if y == 0)
    distractors = [t for t, y in out if y == 0]
    assert {d: distractors.count(d) for d in "abd"}.keys() == {"a", "b", "d"}


def test_local_copy_is_loaded_binarized_and_balanced(tmp_path):
    datasets = pytest.importorskip("datasets")
    rows = [
        {
            "context": f"Story {i}.",
            "question": f"Q{i}?",
            "answer0": f"a{i}",
            "answer1": f"b{i}",
            "answer2": f"c{i}",
            "answer3": f"d{i}",
            "label": i % 4,
            "id": str(i),
        }
        for i in range(400)
    ]
    dd = datasets.DatasetDict(
        {
            "train": datasets.Dataset.from_list(rows[:300]),
            "validation": datasets.Dataset.from_list(rows[300:]),
        }
    )
    dd.save_to_disk(str(tmp_path / "cosmos"))
    cfg = TaskConfig(task="cosmos_qa", data_dir=str(tmp_path / "cosmos"), test_size=40)
    task = load_task(cfg)
    assert np.bincount(task.test.labels).tolist() == [20, 20]
    assert task.pool.labels.mean() == 0.5
    assert all(t.startswith("Context: Story ") for t in task.test.texts)
    assert load_task(cfg).pool.texts == task.pool.texts  # seeded
    other = load_task(
        TaskConfig(task="cosmos_qa", data_dir=str(tmp_path / "cosmos"), test_size=40, data_seed=1)
    )
    assert other.pool.texts != task.pool.texts


def test_offline_hub_task_says_how_to_use_a_local_copy(monkeypatch):
    pytest.importorskip("datasets")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(UserError) as e:
        load_task(TaskConfig(task="boolq"))
    assert "--data-dir" in str(e.value) and "save_to_disk" in str(e.value)


def test_over_long_texts_are_an_error_or_truncated_and_counted(tokenizer_dir):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    texts = ["short text", "word " * 50 + "final question"]
    with pytest.raises(UserError, match="exceed the model's context of 16"):
        Encoder(tokenizer, 16)(texts)
    encoder = Encoder(tokenizer, 16, truncate=True)
    ids = encoder(texts)
    assert len(ids[1]) == 16 and encoder.truncated == 1 and "1 texts truncated" in encoder.note
    assert ids[1][0] == tokenizer.cls_token_id  # the leading special token is kept...
    assert tokenizer.decode(ids[1][-3:-1]) == "final question"  # ...and so is the end
    assert ids[0] == tokenizer(["short text"])["input_ids"][0]
