"""Write a small results store with labelbudget as of commit 0e0ca7f (before the package
layout change), for tests/data/store_v2/. Tiny models, synthetic data."""

import dataclasses
import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, "/tmp/baseline/tests")
import os

os.environ["HF_HUB_OFFLINE"] = "1"
import torch
from conftest import _save_tiny, synthetic_texts
from labelbudget.store import Store
from labelbudget.sweep import Grid, expand, run_sweep

from labelbudget.analysis import points, table1
from labelbudget.config import RunConfig, TaskConfig, TrainConfig, WeakConfig
from labelbudget.models import EMBEDDED

out = Path(sys.argv[1])
work = Path(sys.argv[2])
shutil.rmtree(out, ignore_errors=True)
work.mkdir(parents=True, exist_ok=True)
tok = EMBEDDED["minilm-l6"].locate()
from transformers import BertConfig, BertModel, LlamaConfig, LlamaForCausalLM  # noqa: E402

torch.manual_seed(0)
dec = work / "tiny-llama"
if not dec.exists():
    _save_tiny(
        LlamaForCausalLM(
            LlamaConfig(
                vocab_size=30522,
                hidden_size=32,
                intermediate_size=64,
                num_hidden_layers=2,
                num_attention_heads=4,
                num_key_value_heads=2,
                max_position_embeddings=512,
                pad_token_id=0,
                tie_word_embeddings=True,
            )
        ),
        tok,
        dec,
    )
enc = work / "tiny-bert"
if not enc.exists():
    _save_tiny(
        BertModel(
            BertConfig(
                vocab_size=30522,
                hidden_size=32,
                intermediate_size=64,
                num_hidden_layers=2,
                num_attention_heads=4,
                max_position_embeddings=512,
            )
        ),
        tok,
        enc,
    )
csv = work / "synthetic.csv"
synthetic_texts(400).to_csv(csv, index=False)
template = RunConfig(
    task=TaskConfig(task=str(csv), test_size=40),
    weak=WeakConfig(weak_model=str(enc), weak_n_train=48, weak_n_val=16, weak_epochs=1),
    train=TrainConfig(example_visits=64, batch_size=8, eval_batch_size=32),
    strong_model=str(dec),
)
grids = [
    Grid(
        tasks=(str(csv),),
        methods=("probe_seq_sft", "probe_uncertainty", "probe_logconf"),
        budgets=(8, 16),
        hq_fractions=(0.0, 0.5, 1.0),
        seeds=(0, 1, 2),
    ),
    Grid(
        tasks=(str(csv),),
        methods=("seq_sft", "logconf", "uncertainty", "prompted_seq_sft"),
        budgets=(8,),
        hq_fractions=(0.0, 0.5, 1.0),
        seeds=(0,),
    ),
    Grid(tasks=(str(csv),), methods=("icl",), budgets=(0.3, 3), hq_fractions=(0.0,), seeds=(0,)),
]
configs = [c for g in grids for c in expand(template, g)]
configs = [c for c in configs if not (c.method == "icl" and c.budget == 3)]
configs.append(dataclasses.replace(template, method="icl", budget=3, hq_fraction=1.0))
configs.append(
    dataclasses.replace(
        template,
        method="uncertainty",
        budget=8,
        hq_fraction=0.5,
        options=dataclasses.replace(template.options, temperature=0.5),
    )
)
rep = run_sweep(configs, out, skip_unsupplied=True)
print(rep.summary(out))
shutil.rmtree(out / "artifacts", ignore_errors=True)
recs = Store(out).records()
t1 = table1(points(recs), budgets=(5, 9, 17))
t1.to_csv(out / "table1.csv", index=False)
(out / "configs.jsonl").write_text("".join(json.dumps(dataclasses.asdict(c)) + "\n" for c in configs))
print(t1.to_string())
