"""Write tests/data/golden_k2/golden.json: binary runs of every method and learner on tiny models
with labelbudget as of 0724655 (before K classes and several sources), the reference that
`tests/test_golden_k2.py` holds today's code to (K = 2 with the default sources must give the
records it gave).

    PYTHONPATH=BEFORE/src python tests/data/golden_k2/make_golden.py WORK tests/data/golden_k2/golden.json
    LABELBUDGET_NATIVE_BF16=0 PYTHONPATH=BEFORE/src python ... WORK2 tests/data/golden_k2/golden_fp32.json

(the second: a probe's activations as a CPU without native bf16 extracts them).
"""

import json
import os
import sys
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from golden_cases import CASES, configs, summary, tiny_models  # noqa: E402

from labelbudget.runs.run import compute  # noqa: E402

work, out = Path(sys.argv[1]), Path(sys.argv[2])
work.mkdir(parents=True, exist_ok=True)
decoder, encoder, task = tiny_models(work)
golden = {}
for name, config in configs(decoder, encoder, task).items():
    record = compute(config, work / "results")
    golden[name] = summary(record, {"decoder": decoder, "encoder": encoder, "task": task})
    print(name, golden[name]["accuracy"])
out.write_text(json.dumps(golden, indent=1, sort_keys=True))
assert set(golden) == set(CASES)
