"""Stage 8, sweeps: many runs from a grid, resumable, on one machine or a Ray cluster.

- `grid`: a run template plus axes, expanded into one config per run identity;
- `presets`: the paper's grid and the main job's (`demo`);
- `files`: sweep files (YAML/JSON);
- `sweep`: running what the store lacks, every config checked first;
- `executors`: the executor seam and the `local` executor; `ray`: the Ray executor.
"""

from labelbudget.sweeps import ray  # noqa: F401  (registers the ray executor; Ray loads lazily)
