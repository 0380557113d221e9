"""The `ray` executor: each run a Ray task with declared CPUs and GPUs (`pip install
'labelbudget[ray]'`); Ray is imported only when this executor runs."""

from __future__ import annotations

from pathlib import Path

from labelbudget.config import RunConfig, to_dict
from labelbudget.runs.identity import weak_stage_key
from labelbudget.sweeps.executors import Progress, register_executor
from labelbudget.util.errors import UserError
from labelbudget.util.hashing import stable_hash


def _warm_task(config: RunConfig, results: str) -> None:
    from labelbudget.labels.sources import source_for
    from labelbudget.tasks import load_task

    source_for(config, "weak").warm(config, load_task(config.task), Path(results))


def _compute_task(config: RunConfig, results: str, share: bool):
    from labelbudget.runs.run import compute

    return compute(config, results, share_weak_stages=share)


def run_ray(todo: list[RunConfig], progress: Progress) -> None:
    """Each run a Ray task with its declared CPUs and GPUs, on a local or remote cluster.

    Each run is a Ray task with declared CPU/GPU needs; the driver claims each run before it
    submits it and writes the store. Workers must see `results` (one machine, or a shared
    filesystem). Weak labels are made first, one task per weak labeler; runs that may share a
    weak stage are chained so the later ones branch."""
    results, share, bar = progress.results, progress.share, progress.bar
    address, cpus, gpus = (
        progress.options.ray_address,
        progress.options.cpus_per_run,
        progress.options.gpus_per_run,
    )
    try:
        import ray
    except ImportError as e:
        raise UserError("--executor ray needs Ray", "pip install 'labelbudget[ray]'") from e

    if not ray.is_initialized():
        ray.init(
            address=address,
            include_dashboard=False,
            log_to_driver=False,
            ignore_reinit_error=True,
            runtime_env={"env_vars": {"TOKENIZERS_PARALLELISM": "false"}},
        )
    results_str = str(Path(results).resolve())
    warm_remote = ray.remote(num_cpus=cpus, num_gpus=gpus)(_warm_task)
    run_remote = ray.remote(num_cpus=cpus, num_gpus=gpus)(_compute_task)
    sources = {stable_hash([to_dict(c.task), to_dict(c.weak), c.weak_labels]): c for c in todo}
    ray.get([warm_remote.remote(c, results_str) for c in sources.values()])

    groups: dict[str, list[RunConfig]] = {}
    for cfg in todo:
        groups.setdefault(weak_stage_key(cfg), []).append(cfg)
    in_flight: dict = {}

    def submit(queue: list[RunConfig]) -> None:
        while queue:
            cfg = queue.pop(0)
            if progress.claim(cfg):
                in_flight[run_remote.remote(cfg, results_str, share)] = (cfg, queue)
                return

    for group in groups.values():
        submit(list(group))
    while in_flight:
        (ready,), _ = ray.wait(list(in_flight), num_returns=1)
        cfg, queue = in_flight.pop(ready)
        try:
            record = ray.get(ready)
        except BaseException:
            progress.claims.release(cfg)
            raise
        progress.stored(cfg, record)
        submit(queue)
        bar.set_postfix_str(f"{len(in_flight)} runs in flight")


register_executor("ray", run_ray)
