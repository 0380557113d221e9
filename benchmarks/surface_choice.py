"""Which model of the accuracy surface: the GP (`analysis.surface`) or a parametric saturating
surface, by leave-one-allocation-out error and interval coverage on stored grids of real runs.

    python benchmarks/surface_choice.py results/bench_adaptive/demo results/bench_adaptive/sst2
    python benchmarks/surface_choice.py --smoke  # on bench_adaptive.py's smoke SST-2 grid (seconds)

For every variant, task and measured allocation: fit on every run except that allocation's, predict
the mean accuracy of its seeds, and check whether the measured seed mean lies inside the 95%
predictive interval (the surface's uncertainty of f plus a run's noise there, the seeds' spread
and the misfit, over the number of seeds). One JSON line per store, variant and model, then one
per model over all.

The parametric surface (4 parameters, least squares over every run): all-weak saturates at W
and all-HQ at A, and HQ labels take over from weak ones,
    f = 0.5 + (A - 0.5) u + (W - 0.5) (1 - exp(-n_weak / s_w)) (1 - u),  u = 1 - exp(-n_hq / s_h),
its uncertainty the parameters' covariance through the delta method plus the residual spread.
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from labelbudget.analysis.points import frame
from labelbudget.analysis.surface import fit_task
from labelbudget.runs.store import Store


def parametric(n_w, n_h, a, w, log_sw, log_sh):
    u = 1 - np.exp(-n_h / np.exp(log_sh))
    return 0.5 + (a - 0.5) * u + (w - 0.5) * (1 - np.exp(-n_w / np.exp(log_sw))) * (1 - u)


def fit_parametric(runs: pd.DataFrame):
    from scipy.optimize import curve_fit

    x = (runs["n_weak"].to_numpy(float), runs["n_hq"].to_numpy(float))
    y = runs["accuracy"].to_numpy(float)
    p0 = (y.max(), np.median(y), np.log(100.0), np.log(100.0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        params, cov = curve_fit(lambda X, *p: parametric(*X, *p), x, y, p0=p0, maxfev=20000)
    resid = float(np.var(y - parametric(*x, *params), ddof=len(params)))
    return params, cov, resid


def predict_parametric(fit, n_w: float, n_h: float) -> tuple[float, float]:
    params, cov, _ = fit
    mean = parametric(n_w, n_h, *params)
    eps = 1e-5
    grad = np.array([(parametric(n_w, n_h, *(params + eps * np.eye(4)[i])) - mean) / eps for i in range(4)])
    return float(mean), float(grad @ np.nan_to_num(cov) @ grad)


def loao(runs: pd.DataFrame) -> dict[str, list[tuple[float, bool]]]:
    """Per model: (|error|, covered) for each held-out allocation."""
    out = {"gp": [], "parametric": []}
    for (nw, nh), held in runs.groupby(["n_weak", "n_hq"]):
        rest = runs[~((runs["n_weak"] == nw) & (runs["n_hq"] == nh))]
        measured, k = float(held["accuracy"].mean()), len(held)
        gp = fit_task(rest)
        mean, cov = gp.posterior(np.array([[nw, nh]], float))
        sd = np.sqrt(max(cov[0, 0], 0) + gp.run_variance(np.array([[nw, nh]], float))[0] / k)
        out["gp"].append((abs(mean[0] - measured), abs(mean[0] - measured) <= 1.96 * sd))
        try:
            fit = fit_parametric(rest)
            m, var = predict_parametric(fit, nw, nh)
            sd = np.sqrt(max(var, 0) + fit[2] / k)
            out["parametric"].append((abs(m - measured), abs(m - measured) <= 1.96 * sd))
        except RuntimeError:  # no fit: counted as a miss at the worst error
            out["parametric"].append((1.0, False))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("stores", type=Path, nargs="*")
    parser.add_argument("--smoke", action="store_true", help="on bench_adaptive.py's tiny SST-2 grid")
    args = parser.parse_args()
    if args.smoke:
        from bench_adaptive import smoke_grids

        args.stores = [*args.stores, *smoke_grids(("sst2",)).values()]
    if not args.stores:
        parser.error("give the stores to compare the surfaces on (or --smoke)")
    total = {"gp": [], "parametric": []}
    for store in args.stores:
        df = frame([r for r in Store(store).records() if r.config["method"] != "icl"])
        for (label, task), runs in df.groupby(["label", "task"]):
            for model, rows in loao(runs).items():
                total[model] += rows
                err = np.array([e for e, _ in rows])
                print(
                    json.dumps(
                        {
                            "figure": "surface_loao",
                            "store": store.name,
                            "variant": label,
                            "task": task,
                            "model": model,
                            "allocations": len(rows),
                            "mae": round(float(err.mean()), 4),
                            "max_error": round(float(err.max()), 4),
                            "coverage_95": round(float(np.mean([c for _, c in rows])), 3),
                        }
                    ),
                    flush=True,
                )
    for model, rows in total.items():
        err = np.array([e for e, _ in rows])
        print(
            json.dumps(
                {
                    "figure": "surface_loao_all",
                    "model": model,
                    "allocations": len(rows),
                    "mae": round(float(err.mean()), 4),
                    "coverage_95": round(float(np.mean([c for _, c in rows])), 3),
                }
            )
        )


if __name__ == "__main__":
    main()
