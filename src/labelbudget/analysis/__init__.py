"""Stage 9, analysis: answers from stored runs, as pure functions of records.

- `points`: records -> averaged, re-costed allocations per variant;
- `tables`: Table 1, the Pareto frontier, probe beside fine-tuning;
- `regimes`: the paper's regimes at each budget, and the answer in plain words;
- `plan`: what to buy at a new budget;
- `plots` and `report`: the figures and the HTML report.
"""
