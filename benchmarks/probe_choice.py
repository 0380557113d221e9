"""How the demo's probe was chosen: layer and pooling by cross-validation on POOL examples only.

For each pooling and each layer of the strong model, a logistic-regression read-out is trained
on n ground-truth pool labels and scored on held-out pool examples (5 folds); the test split is
never loaded into the comparison. One JSON line per (pooling, layer, n).

    python benchmarks/probe_choice.py                      # the demo's task and model, mean pooling
    python benchmarks/probe_choice.py --poolings mean last # also the last token (a second pass)
    python benchmarks/probe_choice.py --smoke              # tiny model and synthetic texts (seconds)
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

from labelbudget.models.activations import activations
from labelbudget.sweeps.presets import TEMPLATE
from labelbudget.tasks import load_task


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--poolings", nargs="+", default=["mean"])
    parser.add_argument("--results", default="results/demo")
    parser.add_argument("--sizes", nargs="+", type=int, default=[64, 256, 1024])
    parser.add_argument("--smoke", action="store_true", help="tiny model and synthetic texts")
    args = parser.parse_args()
    template, results = TEMPLATE, Path(args.results)
    if args.smoke:
        import _smoke

        template, results, args.sizes = _smoke.tiny(TEMPLATE), _smoke.folder() / "results", [16, 64]
    task = load_task(template.task)
    y = task.pool.labels
    folds = np.array_split(np.random.default_rng(0).permutation(len(y)), 5)
    for pooling in args.poolings:
        acts = activations(task, template.strong_model, "{text}", pooling, results / "artifacts")
        best = None
        for layer in range(acts.n_layers + 1):
            x = np.asarray(acts.pool[:, layer], dtype=np.float32)
            for n in args.sizes:
                scores = []
                for k, held in enumerate(folds):
                    train = np.concatenate([f for j, f in enumerate(folds) if j != k])[:n]
                    mean, std = x[train].mean(0), x[train].std(0) + 1e-6
                    clf = LogisticRegression(C=0.1, max_iter=2000).fit((x[train] - mean) / std, y[train])
                    scores.append(float((clf.predict((x[held] - mean) / std) == y[held]).mean()))
                row = {
                    "figure": "probe_choice_cv_accuracy",
                    "model": template.strong_model,
                    "pooling": pooling,
                    "layer": layer,
                    "depth": round(layer / acts.n_layers, 3),
                    "n_labels": n,
                    "accuracy": round(float(np.mean(scores)), 4),
                    "sd_over_folds": round(float(np.std(scores)), 4),
                }
                print(json.dumps(row), flush=True)
                if n == max(args.sizes) and (best is None or row["accuracy"] > best["accuracy"]):
                    best = row
        print(
            json.dumps(
                {
                    "figure": "probe_choice_best",
                    **{k: best[k] for k in ("pooling", "layer", "depth", "accuracy")},
                }
            )
        )


if __name__ == "__main__":
    main()
