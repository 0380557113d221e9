"""The adaptive sweep: its initial design, that it reaches a full grid's decisions with a fraction
of the grid's runs (replayed on hand-made records with a known surface), and the real command."""

import dataclasses

import numpy as np
import pytest
from conftest import make_record
from test_surface import FIGURE1

from labelbudget.config import RunConfig, TaskConfig, run_config_from_dict
from labelbudget.labels.budget import allocation_of
from labelbudget.runs.identity import run_key
from labelbudget.sweeps.adaptive import Adaptive, run_adaptive
from labelbudget.sweeps.grid import Grid, expand

BUDGETS = (16, 256, 1024)
SEEDS = 8


def grid_records(sd=0.01, seed=0):
    """A full grid on FIGURE1's surface at three budgets (quantity-dominant, mixed,
    quality-dominant), 8 seeds per allocation, keyed by run key."""
    rng = np.random.default_rng(seed)
    out = {}
    for budget in BUDGETS:
        for f, acc in FIGURE1[budget].items():
            for s in range(SEEDS):
                r = make_record(budget=budget, f=f, seed=s, accuracy=float(acc + rng.normal(0, sd)))
                out.setdefault(run_key(run_config_from_dict(r.config)), r)
    return out


def test_initial_design_is_both_ends_and_the_middle_mix_at_two_seeds():
    configs = expand(
        RunConfig(task=TaskConfig(task="t")), Grid(tasks=("t",), budgets=(64,), seeds=tuple(range(5)))
    )
    design = Adaptive(configs).initial()
    # 0.4 and 0.6 are equally near half the budget: the one with fewer HQ labels is taken
    assert sorted((c.hq_fraction, c.seed) for c in design) == [
        (0.0, 0),
        (0.0, 1),
        (0.4, 0),
        (0.4, 1),
        (1.0, 0),
        (1.0, 1),
    ]
    assert len({allocation_of(c) for c in design}) == 3


def test_a_run_under_two_names_is_run_once_counted_once_and_worth_both_lines():
    """All-weak uncertainty sampling is all-weak seq_sft and all-HQ logconf all-HQ seq_sft: the
    initial design names both, the sweep runs each once (`run_sweep` stores the copy), and the
    adaptive sweep counts it once and values it on both lines."""
    grid = Grid(tasks=("t",), methods=("seq_sft", "uncertainty", "logconf"), budgets=(64,), seeds=(0, 1))
    adaptive = Adaptive(expand(RunConfig(task=TaskConfig(task="t")), grid))
    design = adaptive.initial()
    assert len(design) == 18  # 3 methods x (both ends and the middle mix) x 2 seeds
    records = [make_record(method=c.method, f=c.hq_fraction, seed=c.seed) for c in design]
    assert adaptive.runs(records) == 14 and adaptive.runs(records[:1]) == 1
    assert len(adaptive.members) == len(adaptive.keys) - 2 * 2 * 1  # 2 ends x 2 seeds, one budget
    batch, _ = adaptive.next_batch(records)
    assert adaptive.with_twins(batch) == batch  # a run is asked with all its names


def test_a_run_under_two_names_is_worth_its_value_on_both_lines(monkeypatch):
    """A twin worth 0.3 on each of its two lines (0.6 in all) goes before a run worth 0.5 on one:
    `next_batch` sums a run's value over its names' lines."""
    from labelbudget.sweeps.adaptive import LineState, line_of

    grid = Grid(
        tasks=("t",), methods=("seq_sft", "uncertainty"), budgets=(64,), hq_fractions=(0.0, 0.5), seeds=(0,)
    )
    adaptive = Adaptive(expand(RunConfig(task=TaskConfig(task="t")), grid), batch=1)
    by = {(c.method, c.hq_fraction): c for c in adaptive.candidates}
    twin_seq, twin_unc = by[("seq_sft", 0.0)], by[("uncertainty", 0.0)]  # all weak: one run
    single = by[("seq_sft", 0.5)]
    assert {id(c) for c in adaptive.with_twins([twin_seq])} == {id(twin_seq), id(twin_unc)}
    seq, unc = line_of(twin_seq), line_of(twin_unc)

    def states(records):
        adaptive._value = {seq: [(0.3, twin_seq), (0.5, single)], unc: [(0.3, twin_unc)]}
        return {k: LineState(k, "x", "undetermined", 0.5, 0, 0, 0, 0.1, thin=1) for k in (seq, unc)}

    monkeypatch.setattr(adaptive, "states", states)
    batch, _ = adaptive.next_batch([])
    assert {id(c) for c in batch} == {id(twin_seq), id(twin_unc)}  # 0.3 + 0.3 > 0.5

    def one_line(records):  # without its second line's value, the single run goes first
        out = states(records)
        adaptive._value[unc] = []
        return out

    monkeypatch.setattr(adaptive, "states", one_line)
    batch, _ = adaptive.next_batch([])
    assert [id(c) for c in batch] == [id(single)]


@pytest.mark.parametrize("seed", [0, 1])
def test_replayed_adaptive_sweep_reaches_the_full_grids_decisions_with_a_fraction_of_its_runs(seed):
    """Every line's regime as the full grid decides it, from at most half its runs, and the
    recommended allocation within 0.01 of the grid's best measured mean."""
    full = grid_records(seed=seed)
    candidates = [run_config_from_dict(r.config) for r in full.values()]
    truth = Adaptive(candidates).states(list(full.values()))
    assert {k[2]: s.regime for k, s in truth.items()} == {
        16: "quantity-dominant",
        256: "mixed",
        1024: "quality-dominant",
    }
    revealed: set[str] = set()
    batches = []
    final = run_adaptive(
        Adaptive(candidates),
        lambda cs: (batches.append(len(cs)), revealed.update(run_key(c) for c in cs)),
        lambda: [full[k] for k in revealed],
        max_runs=len(full),
    )
    assert {k[2]: s.regime for k, s in final.items()} == {k[2]: s.regime for k, s in truth.items()}
    assert len(revealed) <= len(full) / 2, (len(revealed), len(full))
    assert max(batches[1:], default=0) <= 8  # batches of at most 8 after the initial design
    for key, state in final.items():
        means = {}
        for r in full.values():
            c = run_config_from_dict(r.config)
            if c.budget == key[2]:
                means.setdefault((r.n_weak, r.n_hq), []).append(r.accuracy)
        best = max(np.mean(v) for v in means.values())
        assert best - np.mean(means[(state.n_weak, state.n_hq)]) <= 0.01


def test_a_line_does_not_settle_on_an_allocation_with_few_seeds():
    """The mixed line with 3 seeds of every mix (8 of each end) is decided and its best mix is
    expected to lose little, but the allocation it would buy has 3 runs: lucky seeds there are what
    a plan is most often wrong about, so it takes `PLAN_SEEDS` before the line settles."""
    from labelbudget.sweeps.adaptive import PLAN_SEEDS

    full = grid_records()
    adaptive = Adaptive([run_config_from_dict(r.config) for r in full.values()])

    def shown(r) -> bool:
        c = run_config_from_dict(r.config)
        return c.budget != 256 or c.hq_fraction in (0.0, 1.0) or r.seed < 3

    batch, states = adaptive.next_batch([r for r in full.values() if shown(r)])
    (state,) = [s for k, s in states.items() if k[2] == 256]
    assert state.decided and state.expected_loss <= 0.005 and not state.settled
    assert PLAN_SEEDS > 3
    first = allocation_of(batch[0])  # its seeds come first
    assert (first.n_weak, first.n_hq) == (state.n_weak, state.n_hq)


def test_max_runs_caps_the_adaptive_sweep():
    full = grid_records()
    candidates = [run_config_from_dict(r.config) for r in full.values()]
    for cap in (10, 20):  # inside the initial design (18 runs), and a batch cut to what is left
        revealed: set[str] = set()
        run_adaptive(
            Adaptive(candidates),
            lambda cs, seen=revealed: seen.update(run_key(c) for c in cs),
            lambda seen=revealed: [full[k] for k in seen],
            max_runs=cap,
        )
        assert len(revealed) == cap


def test_sweep_adaptive_runs_real_records_and_resumes(tiny_config, tmp_path, capsys):
    from labelbudget.runs.store import Store
    from labelbudget.sweeps.adaptive import adaptive_sweep

    grid = Grid(
        tasks=(tiny_config.task.task,),
        methods=("probe_seq_sft",),
        budgets=(8,),
        hq_fractions=(0.0, 0.5, 1.0),
        seeds=(0, 1, 2),
    )
    configs = expand(dataclasses.replace(tiny_config, learner="probe"), grid)
    states = adaptive_sweep(configs, tmp_path, max_runs=7, batch=2)
    stored = Store(tmp_path).records()
    assert 6 <= len(stored) <= 7  # the initial design (3 allocations x 2 seeds), then what fits
    out = capsys.readouterr().out
    assert "adaptive round 0" in out and "budget lines settled" in out
    assert len(states) == 1
    again = adaptive_sweep(configs, tmp_path, max_runs=7, batch=2)  # resumes: nothing past the cap
    assert len(Store(tmp_path).records()) == len(stored)
    assert again.keys() == states.keys()


def test_projected_covariance_is_the_posterior_with_the_runs_added():
    """A GP's posterior covariance does not depend on the values it sees: refitting with the runs
    added (the kernel and its calibration fixed) gives what `projected_cov` predicts, and more
    runs shrink it."""
    from sklearn.base import clone
    from test_surface import surface_of

    from labelbudget.analysis.surface import features

    surface = surface_of(list(grid_records().values())[::3])
    part, allocs = surface.parts[0], np.array([[160.0, 0.0], [80.0, 8.0], [0.0, 16.0]])
    _, now = surface.posterior(allocs)
    np.testing.assert_allclose(surface.projected_cov(allocs, np.zeros((0, 2))), now, atol=1e-9)
    extra = np.repeat(allocs[1:2], 5, axis=0)
    later = surface.projected_cov(allocs, extra)
    assert later[1, 1] < 0.75 * now[1, 1] and np.all(np.diag(later) <= np.diag(now) + 1e-12)
    gp = part.gp
    added = features(extra[:, 0], extra[:, 1])
    alpha = np.append(gp.alpha, part.alpha(added))  # the new runs' seed noise too
    refit = clone(gp).set_params(kernel=gp.kernel_, optimizer=None, normalize_y=False, alpha=alpha)
    x = np.vstack([gp.X_train_, added])
    refit.fit(x, np.zeros(len(x)))  # any values: the covariance is the same
    _, cov = refit.predict(features(allocs[:, 0], allocs[:, 1]), return_cov=True)
    white = gp.kernel_.k2.noise_level
    np.testing.assert_allclose((cov - white * np.eye(3)) * gp._y_train_std**2 * part.scale, later, atol=1e-9)


def test_a_flat_top_is_undecidable_and_a_clear_peak_is_not():
    """The preposterior: a line whose best mix beats all-weak by just the margin a mix must win by
    (a tie between two regimes), 9 of its grid's 10 seeds run, cannot be decided by the last;
    one with a peak 4 points above both ends can be, from 3 seeds."""
    from test_surface import FRACTIONS, between, curve_records, surface_of

    from labelbudget.analysis.regimes import decidable, line

    allocs = line(256, 0.1, FRACTIONS)
    edge = dict(zip(FRACTIONS, (0.75, 0.752, 0.756, 0.76, 0.756, 0.74, 0.70), strict=True))
    flat = surface_of(curve_records({256: edge}, seeds=9))
    peak = surface_of(curve_records({256: between(0.74, 0.68, peak=0.78, at=0.6)}, seeds=3))
    rng = np.random.default_rng(0)
    assert decidable(flat, allocs, allocs, 0.95, rng) < 0.1
    assert decidable(flat, allocs, np.zeros((0, 2)), 0.95, rng) == 0  # undecided now, no runs left
    assert decidable(peak, allocs, np.repeat(allocs, 7, axis=0), 0.95, rng) > 0.5


def test_a_line_without_runs_says_so():
    from labelbudget.sweeps.adaptive import LineState

    assert (
        "no runs stored yet" in LineState(("v", "t", 64.0, 0.1), "?", "undetermined", 0.0, 0, 0, 0).describe()
    )


def test_a_tie_is_not_given_up_while_a_contender_is_short_of_seeds(monkeypatch):
    """A top at $256 shared by the 40-60% mixes (8 seeds, the best mean) and all-HQ (2 points
    behind, 2 seeds) that the preposterior calls undecidable: it settles as a tie only once every
    allocation that is the peak with P >= `CONTENDER` has `PLAN_SEEDS` seeds, and all-HQ's seeds
    come first (on SST-2 a tie given up with all-HQ at 2 seeds bought a mix 0.039 worse)."""
    from test_surface import FRACTIONS

    import labelbudget.sweeps.adaptive as adaptive_module
    from labelbudget.sweeps.adaptive import PLAN_SEEDS

    monkeypatch.setattr(adaptive_module, "decidable", lambda *a, **k: 0.0)  # "every run left: a tie"
    top = dict(zip(FRACTIONS, (0.70, 0.71, 0.73, 0.79, 0.79, 0.785, 0.77), strict=True))
    rng = np.random.default_rng(0)
    full = {}
    for f, acc in top.items():
        for s in range(SEEDS):
            r = make_record(budget=256, f=f, seed=s, accuracy=float(acc + rng.normal(0, 0.01)))
            full[run_key(run_config_from_dict(r.config))] = r
    adaptive = Adaptive([run_config_from_dict(r.config) for r in full.values()])

    def state_with(hq_seeds: int):
        shown = [r for r in full.values() if r.config["hq_fraction"] != 1.0 or r.seed < hq_seeds]
        batch, states = adaptive.next_batch(shown)
        (state,) = states.values()
        return batch, state

    batch, state = state_with(2)
    assert not state.decided and state.n_weak and state.n_hq  # a mix has the best mean
    assert state.thin and not state.settled
    assert allocation_of(batch[0]).n_weak == 0  # all-HQ's seeds first
    _, state = state_with(PLAN_SEEDS)
    assert not state.decided and state.settled  # now a tie, given up


def test_a_tie_is_given_up_only_once_its_plan_is_settled_too():
    """An undecided line that the preposterior calls undecidable, nothing thin: it settles only
    once its best allocation is expected to lose at most `TIE_LOSS` (on a 10-seed replay a tie
    given up at 19 of 70 runs bought a mix 0.013 below all-HQ, whose regime the full grid
    decides); a decided line keeps `PLAN_LOSS`."""
    from labelbudget.sweeps.lines import PLAN_LOSS, TIE_LOSS, LineState

    def state(regime: str, loss: float, chance: float = 0.0, thin: int = 0) -> LineState:
        return LineState(("v", "t", 64.0, 0.1), "seq_sft", regime, 0.6, 130, 51, 20, loss, thin, chance)

    assert PLAN_LOSS < TIE_LOSS
    assert state("undetermined", TIE_LOSS / 2).settled
    assert not state("undetermined", TIE_LOSS * 1.5).settled  # a coin-toss plan: more runs
    assert not state("undetermined", TIE_LOSS / 2, chance=0.5).settled  # still decidable
    assert not state("undetermined", TIE_LOSS / 2, thin=1).settled
    assert state("quality-dominant", PLAN_LOSS).settled
    assert not state("quality-dominant", (PLAN_LOSS + TIE_LOSS) / 2).settled


def test_a_tie_open_for_its_plan_values_its_runs_as_a_decided_line_does(monkeypatch):
    """Two ends tied at the top of a noisy line that the preposterior calls hard to decide: while
    its plan may lose more than `TIE_LOSS`, its runs are worth what they would be on a decided line
    (they settle the plan that the line must settle before it stops), not discounted by the small
    chance of deciding the regime (which left such a line only the runs nobody else wanted); once
    its plan is within `TIE_LOSS`, only the regime is left to win and that chance weighs its runs."""
    from test_surface import FRACTIONS

    import labelbudget.sweeps.adaptive as adaptive_module
    from labelbudget.sweeps.adaptive import TIE_LOSS

    top = dict(zip(FRACTIONS, (0.76, 0.70, 0.72, 0.74, 0.72, 0.70, 0.76), strict=True))

    def line_at(sd: float, chance: float):
        monkeypatch.setattr(adaptive_module, "decidable", lambda *a, **k: chance)
        rng = np.random.default_rng(0)
        full = [
            make_record(budget=256, f=f, seed=s, accuracy=float(acc + rng.normal(0, sd)))
            for f, acc in top.items()
            for s in range(10)
        ]
        adaptive = Adaptive([run_config_from_dict(r.config) for r in full])
        (state,) = adaptive.states([r for r in full if r.seed < 3]).values()
        (values,) = adaptive._value.values()
        return state, np.array([v % 1 for v, _ in values])  # less the +1 of a thin allocation

    coin, coin_values = line_at(0.1, chance=0.05)
    assert not coin.decided and coin.expected_loss > TIE_LOSS and coin_values.max() > 0
    assert np.allclose(line_at(0.1, chance=0.1)[1], coin_values)  # the chance does not weigh them
    tie, tie_values = line_at(0.05, chance=0.05)
    assert not tie.decided and tie.expected_loss <= TIE_LOSS and tie_values.max() > 0
    assert np.allclose(line_at(0.05, chance=0.1)[1], 2 * tie_values)


def test_a_line_of_one_kind_buys_its_best_allocation_not_nothing():
    """A budget line whose grid holds only all-HQ runs (the pool cannot supply its weak labels)
    has no regime to decide; it settles at once and names what it would buy (it said "buy 0 weak
    + 0 HQ")."""
    from test_surface import FRACTIONS

    rng = np.random.default_rng(0)
    edge = dict(zip(FRACTIONS, (0.74, 0.75, 0.76, 0.78, 0.76, 0.72, 0.68), strict=True))
    records = [
        make_record(budget=256, f=f, seed=s, accuracy=float(acc + rng.normal(0, 0.01)))
        for f, acc in edge.items()
        for s in range(3)
    ] + [make_record(budget=1024, f=1.0, seed=s, accuracy=0.85 + 0.01 * s) for s in range(3)]
    adaptive = Adaptive([run_config_from_dict(r.config) for r in records])
    one = next(s for k, s in adaptive.states(records).items() if k[2] == 1024)
    assert one.regime == "one kind" and one.settled
    assert (one.n_weak, one.n_hq) == (0, 1024)
    assert "buy 0 weak + 1024 HQ" in one.describe()
