"""The package's layout: folders by pipeline stage, no import cycle, small modules, and each
seam (task, label source, learner, method, executor) extended by one registration."""

import ast
import dataclasses
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import labelbudget

PACKAGE = Path(labelbudget.__file__).parent
STAGES = (
    "tasks",
    "labels",
    "models",
    "learners",
    "training",
    "methods",
    "runs",
    "sweeps",
    "analysis",
    "util",
)


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _imports(path: Path) -> set[str]:
    """Every labelbudget module this file imports, at the top or inside functions."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [
                f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in MODULES else node.module
                for a in node.names
            ]
        else:
            continue
        out.update(n for n in names if n.startswith("labelbudget"))
    return out


def test_no_import_cycle():
    graph = {m: {i for i in _imports(p) if i in MODULES and i != m} for m, p in MODULES.items()}
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        path.append(m)
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                cycle = path[path.index(n) :] + [n]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if n not in state:
                visit(n)
        path.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)


def test_folders_are_the_pipeline_and_modules_are_small():
    folders = sorted(p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists())
    assert folders == sorted(STAGES)
    flat = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert flat == [
        "__init__.py",
        "__main__.py",
        "allocation.py",
        "cli.py",
        "config.py",
        "labelspace.py",
        "metrics.py",
        "prompts.py",
    ]
    long = {m: n for m, p in MODULES.items() if (n := len(p.read_text().splitlines())) > 400}
    assert not long, long
    for stage in STAGES:
        doc = ast.get_docstring(ast.parse((PACKAGE / stage / "__init__.py").read_text()))
        assert doc and len(doc) > 80, f"{stage}/__init__.py says which stage it is and what it holds"


def test_import_labelbudget_is_light():
    """The public API is lazy: importing the package loads none of torch, pandas, transformers."""
    heavy = "('torch', 'pandas', 'transformers')"
    code = f"import sys, labelbudget; print(sorted(m for m in {heavy} if m in sys.modules))"
    assert (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
        == "[]\n"
    )
    for name in labelbudget.__all__:
        assert getattr(labelbudget, name) is not None


def test_registries_refuse_a_name_given_twice():
    from labelbudget.learners import register_learner
    from labelbudget.learners.lora import LoRALearner
    from labelbudget.methods import register_method
    from labelbudget.methods.seq_sft import SequentialSFT
    from labelbudget.sweeps.executors import register_executor, run_local
    from labelbudget.tasks import register_task

    with pytest.raises(ValueError, match="registered twice"):
        register_method("seq_sft", "again", SequentialSFT)
    with pytest.raises(ValueError, match="registered twice"):
        register_task("tweet-sentiment", "again", lambda cfg: None)
    with pytest.raises(ValueError, match="registered twice"):
        register_learner("lora", "again", LoRALearner)
    with pytest.raises(ValueError, match="registered twice"):
        register_executor("local", run_local)


# --- each seam, extended by one registration (the README's "how to add") ----------------------


@pytest.fixture
def registered():
    """Registers toys for the test and takes them out again."""
    from labelbudget.labels.sources import SOURCES
    from labelbudget.learners import LEARNERS
    from labelbudget.methods import METHODS
    from labelbudget.sweeps.executors import EXECUTORS
    from labelbudget.tasks import TASKS

    before = {id(r): set(r) for r in (SOURCES, LEARNERS, METHODS, EXECUTORS, TASKS)}
    yield
    for r in (SOURCES, LEARNERS, METHODS, EXECUTORS, TASKS):
        for name in set(r) - before[id(r)]:
            del r[name]


def test_a_new_task_label_source_learner_method_and_executor_run_end_to_end(
    tiny_config, tmp_path, registered
):
    """A toy of each kind, each registered by one call, run together through a sweep."""
    import torch
    from conftest import synthetic_texts

    from labelbudget.labels.sources import Fixed, SourceSpec, WeakInfo, register_source
    from labelbudget.learners import register_learner
    from labelbudget.learners.base import TrainableState
    from labelbudget.methods import Method, register_method
    from labelbudget.runs.store import Store
    from labelbudget.sweeps.executors import register_executor, run_local
    from labelbudget.sweeps.grid import Grid, expand
    from labelbudget.sweeps.sweep import run_sweep
    from labelbudget.tasks import Labeled, register_task
    from labelbudget.training.stage import predict

    def load(cfg):  # a task: texts with gold labels
        df = synthetic_texts(300, seed=1)
        return Labeled(df["text"].tolist(), df["label"].to_numpy()), None, ("toy task",)

    register_task("toy-task", "synthetic texts", load)

    def keyword_labels(setup):  # a weak source: class probabilities from a keyword heuristic
        def probs(texts):
            p1 = np.array([0.8 if any(w in t for w in ("good", "great", "nice")) else 0.3 for t in texts])
            return np.stack([1 - p1, p1], axis=1).astype(np.float32)

        source = Fixed("weak", setup.config.weak_cost, setup.limit, probs(setup.task.pool.texts), setup.offer)
        source.info = WeakInfo(probs(setup.task.test.texts), key="keywords-v1")
        return source

    register_source(SourceSpec("keywords", "weak", "a keyword heuristic", keyword_labels))

    class BagOfWords(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.emb, self.head = torch.nn.EmbeddingBag(997, 8), torch.nn.Linear(8, 2)

        def batch_logits(self, ids, idx):
            rows = [torch.tensor(ids[i]) for i in idx]
            offsets = torch.tensor([0, *np.cumsum([len(r) for r in rows])[:-1]])
            return self.head(self.emb(torch.cat(rows), offsets))

        def trainable_state(self):
            return {k: v.detach().clone() for k, v in self.named_parameters()}

        def load_trainable_state(self, state):
            self.load_state_dict(state)

    class BagOfWordsLearner(TrainableState):  # a learner: hashed words, no backbone at all
        def setup(self, ctx):
            torch.manual_seed(ctx.config.seed)
            self.model = BagOfWords()

        def encode(self, texts):
            return [[hash(w) % 997 for w in t.split()] or [0] for t in texts]

        def lr(self, config):
            return 1e-2

        def predict(self, inputs, desc="scoring"):
            return predict(self.model, inputs, 64, desc)

        notes = ["bag of words"]

    register_learner("bow", "hashed bag of words", BagOfWordsLearner)

    class MajorityOfWeak(Method):  # a method: buys weak labels only, predicts their majority
        def fit(self, ctx):
            _, probs = ctx.weak.buy(ctx.allocation.n_weak)
            self.logits = np.log(probs.mean(0))

        def score(self, texts):  # (n, K) logits
            return np.tile(self.logits, (len(texts), 1))

    register_method("majority", "the weak labels' majority class", MajorityOfWeak, learner=False)

    calls = []

    def recording(todo, progress):  # an executor: the local one, counting what it ran
        calls.append(len(todo))
        run_local(todo, progress)

    register_executor("recording", recording)

    template = dataclasses.replace(tiny_config, weak_labels="keywords", learner="bow")
    grid = Grid(
        tasks=("toy-task",),
        methods=("seq_sft", "majority"),
        budgets=(8,),
        hq_fractions=(0.0, 0.5),
        seeds=(0,),
    )
    configs = expand(template, grid)
    report = run_sweep(configs, tmp_path, executor="recording")
    assert calls == [4] and report.ran == 4
    records = {(r.method, r.hq_fraction): r for r in Store(tmp_path).records()}
    assert set(records) == {("bow_seq_sft", 0.0), ("bow_seq_sft", 0.5), ("majority", 0.0), ("majority", 0.5)}
    sft = records[("bow_seq_sft", 0.5)]
    assert sft.task == "toy-task" and sft.weak_key == "keywords-v1" and "bag of words" in sft.notes
    assert (sft.n_weak, sft.n_hq) == (40, 4) and [s["name"] for s in sft.stages] == ["weak", "hq"]
    assert sft.weak_accuracy > 0.5  # the keyword heuristic carries the label
