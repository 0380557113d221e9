"""Stage 1, tasks: labeled texts by name or file, made into a balanced test set and a pool.

- `registry`: names -> loaders, and `load_task` (file paths too);
- `prepare`: deduplication, balancing and the seeded test/pool split (PROTOCOL, "Data");
- `files`: the user's CSV/TSV/JSONL files; `tweets`: the embedded offline default;
- `paper`: the paper's nine Hugging Face tasks with their exact templates.
"""

from labelbudget.tasks import paper, tweets  # noqa: F401  (each registers its tasks)
from labelbudget.tasks.prepare import Labeled, TaskData
from labelbudget.tasks.registry import TASKS, TaskSpec, load_task, register_task

__all__ = ["TASKS", "Labeled", "TaskData", "TaskSpec", "load_task", "register_task"]
