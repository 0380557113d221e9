"""Stage 7, runs: one budgeted run end to end, and what keeps its result.

- `run`: checks everything up front, builds the label sources, fits the method, scores the test
  set, and returns the record (`compute`) or stores it (`run`);
- `identity`: what identifies a run, a variant and a shared weak stage;
- `record`: the record, one flat row with provenance;
- `store`: the SQLite results store (atomic, versioned);
- `claims`: runs in progress, so that concurrent sweeps divide the work.
"""
