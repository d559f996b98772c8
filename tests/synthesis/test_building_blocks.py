"""The joint model's building blocks against closed forms and brute force."""

from __future__ import annotations

import itertools
from dataclasses import replace
from importlib.resources import files
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crowdcensus.synthesis.activity import (
    EDGES,
    MONTHLY,
    bin_band,
    bin_category,
    bin_points,
    bin_rates,
)
from crowdcensus.synthesis.priors import beta_from, stated_moments


def test_bins_respect_every_threshold():
    """Each threshold of the tiers and answers is a bin edge; bands and answers follow."""
    for threshold in (MONTHLY, 1.0, 2.0):
        assert np.isclose(EDGES, threshold).any()
    rates = bin_rates()
    assert ((EDGES[:-1] <= rates) & (rates < EDGES[1:])).all()
    band = bin_band()
    assert ((rates >= 1) == (band == 0)).all()
    assert (((rates >= MONTHLY) & (rates < 1)) == (band == 1)).all()
    cat = bin_category()
    assert ((rates >= 2) == (cat == 0)).all() and ((rates < MONTHLY) == (cat == 3)).all()


def test_open_bin_points_are_a_point_at_three_and_quantiles_of_its_tail():
    """Closed bins are evaluated at their rate; the open bin above 2 visits a week at 3
    visits a week (one share of its workers) and at rates that split an exponential tail
    of log(rate / 2) with mean tau into equal shares (the rest): the share of the tail
    below each of these rates is the middle of its slice."""
    tau = 0.7
    rates, bins = bin_points(tail=tau)
    top = bins == len(EDGES) - 2
    assert np.array_equal(rates[~top], bin_rates()[:-1])
    assert np.array_equal(bins[~top], np.arange(len(EDGES) - 2))
    assert rates[top][0] == bin_rates()[-1] == 3.0
    tail = rates[top][1:]
    assert len(tail) >= 2
    below = 1 - np.exp(-np.log(tail / 2.0) / tau)
    assert below == pytest.approx((np.arange(len(tail)) + 0.5) / len(tail))


def test_beta_prior_matches_the_stated_moments():
    a, b = beta_from(0.3, 0.1)
    mean = a / (a + b)
    var = a * b / ((a + b) ** 2 * (a + b + 1))
    assert mean == pytest.approx(0.3) and np.sqrt(var) == pytest.approx(0.1)


def test_stated_triangular_moments_against_sampling():
    from crowdcensus.study import Quantity

    q = Quantity(value=1.0, low=0.75, high=1.0, status="assumed")
    mean, sd = stated_moments(q)
    x = np.random.default_rng(0).triangular(0.75, 1.0, 1.0, 400_000)
    assert mean == pytest.approx(x.mean(), abs=2e-3) and sd == pytest.approx(x.std(), rel=1e-2)
    u = Quantity(value=2.0, low=1.0, high=3.0, distribution="uniform", status="assumed")
    assert stated_moments(u) == pytest.approx((2.0, 2 / np.sqrt(12)))


def _arrays(t: int, churn: bool = False) -> dict:
    from crowdcensus.synthesis.inference import _jax

    _jax()  # 64-bit floats, as the fits use
    import jax.numpy as jnp

    pats = np.array(list(itertools.product((0, 1), repeat=t)), dtype=float)
    caught = pats > 0
    first = np.where(caught.any(1), caught.argmax(1), t)
    last = np.where(caught.any(1), t - 1 - caught[:, ::-1].argmax(1), -1)
    nodes, weights = np.polynomial.hermite_e.hermegauss(5)
    a = {"lam": jnp.array([0.05, 0.5, 3.0]), "share_values": jnp.array([0.5, 1.0]),
         "wave_days": jnp.array([7.0, 3.0, 7.0, 10.0][:t]),
         "H": jnp.array(pats), "C": jnp.array((np.cumsum(pats, 1) - pats > 0).astype(float)),
         "first_caught": jnp.array(first), "last_caught": jnp.array(last),
         "het_nodes": jnp.array(nodes), "het_logw": jnp.array(np.log(weights / weights.sum()))}
    if churn:
        a["wave_mid"] = jnp.array([30.0, 90.0, 200.0, 300.0][:t])
        a["reference_days"] = jnp.array(364.0)
    return a, pats


def _stays(arrive, leave, mids, length):
    """Every stay (first and last wave present, 0-based) with its log chance, from the
    likelihood's factors, and the log chance of being present at no wave."""
    from crowdcensus.methods.capture_likelihood import stay_factors

    arrival, departure, log_none = stay_factors(arrive, leave, mids, length)
    first, last = np.triu_indices(len(mids))
    stays = np.sum(np.asarray(arrival)[:, first] * np.asarray(departure)[:, last], axis=0)
    return np.log(stays), first, last, float(log_none)


PARAMS = {"sight": 0.8, "takeup": 0.3, "wave": np.array([0.1, -0.2, 0.0, 0.3]),
          "het": 0.6, "after": -0.5}


@pytest.mark.parametrize("spread", [1.0, 30.0, 3000.0])
def test_pair_log_sums_are_each_pairs_log_sum_exp_with_its_gradient(spread, monkeypatch):
    """Every pair's log-sum-exp and its gradient as the gathered rows give them, from rows
    of log terms a few units apart to rows whose peaks lie thousands apart (the product of
    exponentials underflows there and the exact form takes over), with -inf terms."""
    import jax
    import jax.numpy as jnp
    from jax.scipy.special import logsumexp

    import crowdcensus.methods.capture_likelihood as likelihood
    from crowdcensus.methods.capture_likelihood import pair_log_sums
    from crowdcensus.synthesis.inference import _jax

    _jax()
    rng = np.random.default_rng(int(spread))
    left = spread * rng.standard_normal((7, 11))
    right = spread * rng.standard_normal((5, 11))
    left[2, :4] = right[1, :3] = -np.inf
    rows, cols = rng.integers(0, 7, 40), rng.integers(0, 5, 40)
    weights = rng.random(40)

    def direct(x, y):
        return jnp.sum(weights * logsumexp(x[rows] + y[cols], axis=1))

    def paired(x, y):
        return jnp.sum(weights * pair_log_sums(x, y, rows, cols))

    (v0, (gl0, gr0)), (v1, (gl1, gr1)) = (jax.value_and_grad(f, argnums=(0, 1))(left, right)
                                          for f in (direct, paired))
    for want, got in ((v0, v1), (gl0, gl1), (gr0, gr1)):
        np.testing.assert_allclose(np.asarray(got, dtype=float), np.asarray(want, dtype=float),
                                   rtol=1e-10, atol=1e-12)
    # which form answered: a stand-in for the exact form shows whether it was called
    each = np.asarray(logsumexp(left[rows] + right[cols], axis=1))
    monkeypatch.setattr(likelihood, "gathered_log_sums",
                        lambda *args: jnp.full(40, jnp.nan))
    used_exact = np.isnan(float(paired(left, right)))
    assert used_exact == (spread > 100)
    # pairs that are not needed may underflow (to -inf) without calling the exact form
    kept = pair_log_sums(left, right, rows, cols, needed=np.zeros(40, dtype=bool))
    kept = np.asarray(kept)
    assert not np.isnan(kept).any()
    held = np.isfinite(kept)
    assert held.sum() >= (40 if spread < 100 else 1)
    np.testing.assert_allclose(kept[held], each[held], rtol=1e-12)
    # what was dropped is negligible beside the largest terms of its two rows
    tops = left.max(axis=1)[rows] + right.max(axis=1)[cols]
    assert (kept[~held] == -np.inf).all() and (each[~held] < tops[~held] - 600).all()


@pytest.mark.parametrize("churn", [False, True])
def test_history_probabilities_add_up_to_one(churn):
    from crowdcensus.methods.capture_likelihood import history_log_prob

    a, _ = _arrays(4, churn)
    params = {**PARAMS, "wave": PARAMS["wave"][:4]}
    lp = np.asarray(history_log_prob(a, params, (0.3, 0.2) if churn else None))
    assert np.exp(lp).sum(axis=0) == pytest.approx(np.ones((2, 3)), abs=1e-9)


@pytest.mark.parametrize("churn, here", [(False, False), (True, False), (False, True),
                                         (True, True)])
def test_a_take_up_slope_is_each_rates_take_up_shifted_by_slope_times_log_rate(churn, here):
    """``slope`` gamma: at each rate lambda the histories' chances are those of a take-up
    logit shifted by gamma log lambda (closed or open population, one ID per worker or
    per platform); a slope of 0 changes nothing."""
    from crowdcensus.methods.capture_likelihood import history_log_prob

    a, _ = _arrays(4, churn)
    base = {**PARAMS, "wave": PARAMS["wave"][:4]}
    if here:
        base["answer_here"] = np.log(np.array([0.4, 1.0]))
    open_ = (0.3, 0.2) if churn else None
    sloped = np.asarray(history_log_prob(a, {**base, "slope": 0.7}, open_))
    for g, lam in enumerate(np.asarray(a["lam"])):
        shifted = {**base, "takeup": base["takeup"] + 0.7 * np.log(lam)}
        np.testing.assert_allclose(sloped[:, :, g],
                                   np.asarray(history_log_prob(a, shifted, open_))[:, :, g],
                                   rtol=1e-10, atol=1e-12)
    flat = np.asarray(history_log_prob(a, {**base, "slope": 0.0}, open_))
    np.testing.assert_allclose(flat, np.asarray(history_log_prob(a, base, open_)), rtol=1e-12)


#: Capture parameters without heterogeneity, for the hand computations below.
BY_HAND = {"sight": 0.8, "takeup": 0.3, "wave": np.array([0.1, -0.2, 0.0]), "het": 0.0,
           "after": -0.5}


def _history_by_hand(pattern, see) -> float:
    """The product over waves of the chance of answering (seeing, ``see[t]``, then taking
    the task) or not, with the behavioural effect after the first answer."""
    prob, before = 1.0, False
    for t, answered in enumerate(pattern):
        take = 1 / (1 + np.exp(-(0.3 + BY_HAND["wave"][t] + (-0.5 if before else 0.0))))
        p = see[t] * take
        prob *= p if answered else 1 - p
        before = before or bool(answered)
    return prob


def test_history_probability_by_hand():
    """No heterogeneity: the product over waves of the per-wave chances, with the
    behavioural effect after the first answer."""
    from crowdcensus.methods.capture_likelihood import history_log_prob

    a, pats = _arrays(3)
    lp = np.asarray(history_log_prob(a, BY_HAND))
    lam, s, days = 0.5, 0.5, np.array([7.0, 3.0, 7.0])
    see = 1 - np.exp(-0.8 * lam * s * days / 7)
    for row, pat in enumerate(pats):
        assert np.exp(lp[row, 0, 1]) == pytest.approx(_history_by_hand(pat, see), rel=1e-10)


def test_history_probability_with_shares_by_wave_by_hand():
    """Waves posted on different platforms: each share class has its share of visits to
    the posted platforms wave by wave; a wave posted where the class sends no visit cannot
    bring it an answer, and shares alike in every wave are the shares of one posting."""
    from crowdcensus.methods.capture_likelihood import history_log_prob

    a, pats = _arrays(3)
    by_wave = np.array([[0.5, 1.0], [0.0, 1.0], [0.25, 0.5]])         # (T, U)
    lp = np.asarray(history_log_prob(a, {**BY_HAND, "shares": by_wave}))
    lam, days = 0.5, np.array([7.0, 3.0, 7.0])
    for u in range(2):
        see = 1 - np.exp(-0.8 * lam * by_wave[:, u] * days / 7)
        for row, pat in enumerate(pats):
            assert np.exp(lp[row, u, 1]) == pytest.approx(_history_by_hand(pat, see),
                                                          rel=1e-10, abs=1e-300)
    assert np.exp(lp[pats[:, 1] > 0, 0]).max() < 1e-100      # nothing posted for class 0
    alike = np.asarray(history_log_prob(a, {**BY_HAND, "shares": np.tile([0.5, 1.0], (3, 1))}))
    assert alike == pytest.approx(np.asarray(history_log_prob(a, BY_HAND)), rel=1e-12)


def _one_platform_by_brute_force(see, go, waves):
    """The chance of each history of one platform's answers over ``waves`` (0-based, the
    waves a worker is present at) by listing every way the worker's waves can go (no
    answer, an answer on this platform, one on another), with the behavioural effect the
    worker's, keyed by the set of waves answered on this platform."""
    out: dict = {}
    for outcome in itertools.product((0, 1, 2), repeat=len(waves)):  # none, here, elsewhere
        prob, before = 1.0, False
        for t, o in zip(waves, outcome):
            take = see[t] / (1 + np.exp(-(0.3 + BY_HAND["wave"][t] + (-0.5 if before else 0.0))))
            prob *= (1 - take, take * go[t], take * (1 - go[t]))[o]
            before = before or o > 0
        key = frozenset(t for t, o in zip(waves, outcome) if o == 1)
        out[key] = out.get(key, 0.0) + prob
    return out


@pytest.mark.parametrize("churn", [False, True])
@pytest.mark.parametrize("by_wave", [False, True])
def test_one_platforms_history_by_brute_force(by_wave, churn):
    """IDs per platform: a platform's history is the worker's answers there, and the
    behavioural effect is the worker's. Listing every way a worker's waves can go and
    summing those that show the platform's history (with churn, over every stay as well)
    gives the likelihood's chance of it, which lists no way."""
    from crowdcensus.methods.capture_likelihood import history_log_prob

    t = 3
    a, pats = _arrays(t, churn)
    params = {**BY_HAND, "wave": BY_HAND["wave"][:t]}
    lam, days = 0.5, np.array([7.0, 3.0, 7.0])
    shares = np.array([0.5, 1.0])
    # the share of a worker's answers that goes to the platform: by wave (the second
    # wave not posted there: no answer can go to it), or alike in every wave
    here = (np.array([[0.3, 0.6], [0.0, 0.6], [0.7, 0.6]]) if by_wave
            else np.array([0.3, 0.6]))
    log_here = np.log(np.clip(here, 1e-300, None))
    stays = [(1.0, 0, t - 1)]
    log_none = -np.inf
    if churn:
        log_stay, firsts, lasts, log_none = _stays(0.3, 0.2, a["wave_mid"], 364.0)
        stays = list(zip(np.exp(np.asarray(log_stay)), firsts, lasts))
    lp = np.asarray(history_log_prob(a, {**params, "answer_here": log_here},
                                     (0.3, 0.2) if churn else None))
    for u in range(2):
        see = 1 - np.exp(-0.8 * lam * shares[u] * days / 7)
        go = here[:, u] if by_wave else np.full(t, here[u])
        want = np.where(pats.any(axis=1), 0.0, np.exp(log_none))
        for stay, first, last in stays:
            chances = _one_platform_by_brute_force(see, go, range(first, last + 1))
            for row, pat in enumerate(pats):
                want[row] += stay * chances.get(frozenset(np.flatnonzero(pat).tolist()), 0.0)
        np.testing.assert_allclose(np.exp(lp[:, u, 1]), want, rtol=1e-10, atol=1e-300)
    # every answer on the one platform there is: the worker's own history
    whole = np.asarray(history_log_prob(a, {**params, "answer_here": np.zeros(2)},
                                        (0.3, 0.2) if churn else None))
    alone = np.asarray(history_log_prob(a, params, (0.3, 0.2) if churn else None))
    assert whole == pytest.approx(alone, rel=1e-9)


def test_churn_with_nobody_arriving_or_leaving_is_the_closed_population():
    """Everyone present at every wave: the open-population sum over stays reduces to the
    closed-population chance of each history."""
    from crowdcensus.methods.capture_likelihood import history_log_prob

    a, _ = _arrays(4, churn=True)
    params = {**PARAMS, "wave": PARAMS["wave"][:4]}
    open_pop = np.asarray(history_log_prob(a, params, (0.0, 0.0)))
    closed = np.asarray(history_log_prob(a, params))
    assert open_pop == pytest.approx(closed, abs=1e-9)


def test_churn_history_probability_by_hand():
    """With arrivals and departures, no heterogeneity: the chance of each history is the
    sum, over the stays (first and last wave present) that hold all its answers, of the
    stay's chance times the waves' chances within it (plus, for the empty history, the
    chance of being present at no wave): what the likelihood's prefix and suffix sums
    over the waves compute without listing the stays."""
    from crowdcensus.methods.capture_likelihood import history_log_prob

    t = 4
    a, pats = _arrays(t, churn=True)
    params = {**PARAMS, "wave": PARAMS["wave"][:t], "het": 0.0}
    lp = np.asarray(history_log_prob(a, params, (0.3, 0.2)))
    log_stay, firsts, lasts, log_none = _stays(0.3, 0.2, a["wave_mid"], 364.0)
    lam, s, days = 3.0, 1.0, np.array([7.0, 3.0, 7.0, 10.0])
    see = 1 - np.exp(-0.8 * lam * s * days / 7)
    for row, pat in enumerate(pats):
        total = float(np.exp(log_none)) if not pat.any() else 0.0
        for stay, first, last in zip(np.exp(np.asarray(log_stay)), firsts, lasts):
            if pat[:first].any() or pat[last + 1:].any():
                continue
            prob, before = float(stay), False
            for w in range(first, last + 1):
                take = 1 / (1 + np.exp(-(0.3 + params["wave"][w] + (-0.5 if before else 0.0))))
                p = see[w] * take
                prob *= p if pat[w] else 1 - p
                before = before or bool(pat[w])
            total += prob
        assert np.exp(lp[row, 1, 2]) == pytest.approx(total, rel=1e-10)


#: ``subset`` with waves posted on different platforms (mturk in two of six) and a third
#: of the respondents silent on their platforms: the answers counted by posting
BY_WAVE = {"platforms": None, "unstated": 0.3,
           "posted_waves": [["clickworker", "mturk"], ["clickworker"], ["clickworker"],
                            ["clickworker", "mturk"], ["clickworker"], ["clickworker"]]}


@pytest.mark.parametrize("scenario", ["heterogeneous", "subset", "by_wave", "inattentive"])
def test_dense_and_grouped_layouts_give_one_posterior(scenario, tmp_path, monkeypatch):
    """The experiment's likelihood over a dense table of cells or over the respondents'
    distinct groups, the groups' sums over rates from the table of row pairs or from
    their own gathered rows: the same potential and gradient (each is a speed choice);
    also with respondents whose answer is not known (failed the attention check)."""
    import crowdcensus.methods.experiment as experiment
    import crowdcensus.synthesis.model as model
    from crowdcensus.pipeline import _read
    from crowdcensus.simulate.outputs import write_simulation
    from crowdcensus.simulate.world import generate_world
    from crowdcensus.study import load_study
    from crowdcensus.synthesis.data import synthesis_data
    from crowdcensus.synthesis.inference import CompiledModel, _jax
    from tests.simulate.conftest import small

    _jax()
    import jax.numpy as jnp

    scenario_ = (small("subset", workers=2000, experiment=BY_WAVE) if scenario == "by_wave"
                 else small("subset", workers=2000, activity={"inattentive": 0.2,
                                                               "misreport": 0.1},
                            experiment={"unstated": 0.3})
                 if scenario == "inattentive" else small(scenario, workers=2000))
    world = generate_world(scenario_, np.random.default_rng(3))
    study = load_study(write_simulation(world, tmp_path))
    data = synthesis_data(study, _read(study)[0])
    assert data.capture.posting_varies == (scenario == "by_wave")
    assert (data.priors.platform_omission is None) == (scenario == "heterogeneous")
    # the dense table holds the sets named: without platforms left out (with them, every
    # respondent's terms are sums over sets, test_a_vanishing_omission_...)
    data = replace(data, priors=replace(data.priors, platform_omission=None))
    out = {}
    for layout in ("dense", "grouped", "gathered"):
        monkeypatch.setattr(model, "use_dense", lambda cells, groups, d=layout: d == "dense")
        if layout == "gathered":   # a model compiled anew, with no table of pairs
            monkeypatch.setattr(experiment, "PAIR_ROWS_PER_KIND", 0.0)
            monkeypatch.setattr(CompiledModel, "_cache", {})
        cfg, arrays = model.model_inputs(data)
        assert cfg.dense == (layout == "dense")
        assert cfg.unknown_reports == (scenario == "inattentive")
        arrays = {k: jnp.asarray(v) for k, v in arrays.items()}
        compiled = CompiledModel.get(cfg, arrays)
        z = jnp.asarray(np.random.default_rng(0).normal(0, 0.3, compiled.size))
        value, grad = compiled.value_and_grad(z, arrays)
        out[layout] = float(value), np.asarray(grad)
    for other in ("grouped", "gathered"):
        assert out["dense"][0] == pytest.approx(out[other][0], rel=1e-10, abs=1e-8)
        assert out["dense"][1] == pytest.approx(out[other][1], rel=1e-8, abs=1e-8)


def _with_assumption(study, **fields):
    """``study`` with some ``[assumptions]`` fields stated."""
    return study.model_copy(update={"assumptions": study.assumptions.model_copy(
        update=fields)})


def _check_stated_share(study, responses, name: str, share) -> None:
    """A share stated under ``[assumptions]`` becomes the joint model's prior of ``name``:
    a Beta with the stated distribution's moments, its origin the field."""
    from crowdcensus.synthesis.data import synthesis_data

    prior = getattr(synthesis_data(_with_assumption(study, **{name: share}), responses).priors,
                    name)
    assert prior.origin == f"assumptions.{name}"
    assert prior.params == pytest.approx(beta_from(*stated_moments(share)))


def _omission_study(tmp_path, omission: float, workers: int = 2000, **experiment):
    from crowdcensus.pipeline import _read
    from crowdcensus.simulate.outputs import write_simulation
    from crowdcensus.simulate.world import generate_world
    from crowdcensus.study import load_study
    from tests.simulate.conftest import small

    world = generate_world(small("subset", workers=workers, experiment={
        "platform_omission": omission, **experiment}), np.random.default_rng(3))
    study = load_study(write_simulation(world, tmp_path))
    return world, study, _read(study)[0]


def test_what_the_first_answers_say_of_the_platforms_they_leave_out(tmp_path):
    """The counts that inform the chance of leaving out a platform, against a count made
    from the responses file by hand: beyond the platform of a respondent's first answer,
    the platforms that answer names, and the platforms answered on later that it does not
    name; the default prior where the task was posted on some platforms, a stated one,
    none where it was posted on all, and a chance of 1 refused."""
    from crowdcensus.errors import InputError
    from crowdcensus.study import Share
    from crowdcensus.synthesis.data import synthesis_data
    from crowdcensus.synthesis.model import model_inputs

    world, study, responses = _omission_study(tmp_path, 0.4)
    data = synthesis_data(study, responses)
    frame = pd.read_csv(study.responses_path(), dtype=str, keep_default_na=False)
    frame["rank"] = frame["wave"].str[1:].astype(int)
    named = unnamed = 0
    for _, rows in frame.sort_values("rank").groupby("worker_hash"):
        first = rows.iloc[0]
        said = set(first["platforms_registered"].split(",")) - {first["platform"]}
        named += len(said)
        unnamed += len(set(rows["platform"]) - {first["platform"]} - said)
    assert unnamed > 5 and named > 100
    assert (data.capture.named_platforms, data.capture.unnamed_answered) == (named, unnamed)
    prior = data.priors.platform_omission
    assert (prior.kind, prior.params, prior.origin) == ("beta", (1.0, 9.0), "default")
    cfg, arrays = model_inputs(data)
    assert cfg.platform_omission and not cfg.dense
    assert arrays["named_platforms"] == named and arrays["unnamed_answered"] == unnamed
    # every respondent's terms are sums over sets, which read where they answered
    assert arrays["u_count"].sum() == data.capture.n_captured
    assert not arrays["answer_platforms"].any()
    _check_stated_share(study, responses, "platform_omission",
                        Share(value=0.2, low=0.1, high=0.4, status="assumed"))
    every = _with_assumption(study, platform_omission=Share(value=1.0, status="assumed"))
    with pytest.raises(InputError, match="assumptions.platform_omission"):
        synthesis_data(every, responses)
    _, everywhere, answers = _omission_study(tmp_path / "all", 0.4,
                                             platforms=["clickworker", "mturk", "wirk",
                                                        "appen", "prolific"])
    assert synthesis_data(everywhere, answers).priors.platform_omission is None


def test_a_chance_stated_0_leaves_its_part_of_the_model_out(tmp_path):
    """`misreport`, `random_answers` and `platform_omission` may be stated 0 (a negative
    chance is still refused). Held at 0, each is a fixed prior (the report lists it), and
    the part of the model it drives is left out: no misreporting site, no spread of random
    answers, no chance of leaving out a platform (each list read as complete with the
    platforms answered on added, as where nobody leaves one out); where later answers came
    from platforms the lists left out, the report says what the model did with them."""
    from numpyro.handlers import seed, trace

    from crowdcensus.pipeline import omission_held_warning
    from crowdcensus.study import Assumptions, Chance
    from crowdcensus.synthesis.data import synthesis_data
    from crowdcensus.synthesis.model import joint_model, model_inputs, random_answer_shares

    base = {"multihoming": {"value": "estimate", "status": "assumed"}}
    for name in ("misreport", "random_answers", "platform_omission"):
        Assumptions.model_validate({**base, name: {"value": 0, "status": "assumed"}})
        Assumptions.model_validate({**base, name: {"value": 0.1, "low": 0, "high": 0.2,
                                                   "status": "assumed"}})
        with pytest.raises(ValueError, match=name):
            Assumptions.model_validate({**base, name: {"value": -0.1, "status": "assumed"}})
    world, study, responses = _omission_study(tmp_path, 0.4)
    zero = Chance(value=0, status="assumed")
    free = synthesis_data(_with_assumption(study, random_answers=Chance(
        value=0.05, low=0.01, high=0.1, status="assumed")), responses)
    held = synthesis_data(_with_assumption(study, misreport=zero, random_answers=zero,
                                           platform_omission=zero), responses)
    for name in ("misreport", "random_answers", "platform_omission"):
        prior = getattr(held.priors, name)
        assert (prior.kind, prior.params, prior.origin) == ("fixed", (0.0,),
                                                           f"assumptions.{name}")
    assert random_answer_shares(free) and not random_answer_shares(held)
    cfg_free, arrays_free = model_inputs(free)
    cfg, arrays = model_inputs(held)
    assert cfg_free.platform_omission and not cfg.platform_omission
    assert "named_platforms" in arrays_free and "named_platforms" not in arrays
    # the platforms of each answer read apart from the sets only where lists may omit
    assert not arrays_free["answer_platforms"].any() and arrays["answer_platforms"].any()
    sites = {name: {k for k, v in trace(seed(joint_model, 0)).get_trace(c, a).items()
                    if v["type"] == "sample" and not v.get("is_observed")}
             for name, (c, a) in (("free", (cfg_free, arrays_free)), ("held", (cfg, arrays)))}
    for site in ("misreport", "random_answers", "random_answer_shares", "platform_omission"):
        # a Beta(1, b) prior is sampled through its quantile, as `{site}_z`
        assert {site, f"{site}_z"} & sites["free"] and not {site, f"{site}_z"} & sites["held"]
    unnamed = held.capture.unnamed_answered
    assert unnamed > 5
    said = omission_held_warning(held)
    assert said is not None and f"{unnamed:,.0f} later answers" in said
    assert omission_held_warning(free) is None


@pytest.mark.parametrize("ids", ["linked", "per_platform"])
def test_a_vanishing_omission_gives_the_model_of_sets_named_in_full(tmp_path, ids):
    """With a chance of leaving out a platform held at 1e-12, each respondent's sum over
    the sets holding theirs (their answers' platforms read inside it) is the model that
    takes the sets as named in full (the answers' platforms a term apart): the same
    potential but for the platforms answered on later and left out, log(1e-12) each, and
    the same gradient; at 0.3 they differ."""
    import crowdcensus.synthesis.model as model
    from crowdcensus.synthesis.data import capture_data, synthesis_data
    from crowdcensus.synthesis.inference import CompiledModel, _jax
    from crowdcensus.synthesis.priors import Prior

    _jax()
    import jax.numpy as jnp

    _, study, responses = _omission_study(
        tmp_path, 0.3, linked_across_platforms=ids == "linked")
    data = synthesis_data(study, responses)
    assert data.capture.per_platform_ids == (ids == "per_platform")
    in_full = replace(data, priors=replace(data.priors, platform_omission=None),
                      capture=capture_data(study, responses, data.subsets))
    values = {}
    for name, omit in (("in full", None), ("vanishing", 1e-12), ("0.3", 0.3)):
        d = in_full if omit is None else replace(data, priors=replace(
            data.priors, platform_omission=Prior("platform_omission", "", "fixed", (omit,))))
        cfg, arrays = model.model_inputs(d)
        assert cfg.platform_omission == (omit is not None)
        arrays = {k: jnp.asarray(v) for k, v in arrays.items()}
        compiled = CompiledModel.get(cfg, arrays)
        z = jnp.asarray(np.random.default_rng(0).normal(0, 0.3, compiled.size))
        value, grad = compiled.value_and_grad(z, arrays)
        values[name] = float(value), np.asarray(grad)
    left_out = data.capture.unnamed_answered
    assert (left_out > 0) == (ids == "linked")       # with IDs per platform, one platform
    assert values["vanishing"][0] == pytest.approx(
        values["in full"][0] - left_out * np.log(1e-12), rel=1e-9)
    assert values["vanishing"][1] == pytest.approx(values["in full"][1], rel=1e-6, abs=1e-6)
    assert abs(values["0.3"][0] - values["in full"][0]) > 10


def test_setting_inputs_aside_removes_them_from_the_model(tmp_path):
    from crowdcensus.errors import InputError
    from crowdcensus.pipeline import _read
    from crowdcensus.simulate.outputs import write_simulation
    from crowdcensus.simulate.world import generate_world
    from crowdcensus.study import load_study
    from crowdcensus.synthesis.data import set_aside, synthesis_data
    from crowdcensus.synthesis.model import model_inputs
    from tests.simulate.conftest import small

    world = generate_world(small("heterogeneous", workers=2000), np.random.default_rng(3))
    study = load_study(write_simulation(world, tmp_path))
    data = synthesis_data(study, _read(study)[0])
    cfg, _ = model_inputs(data)
    assert cfg.has_hours and all(cfg.declared_mask) and all(cfg.audience_mask)
    cfg, arrays = model_inputs(set_aside(data, ["hours", "declared"]))
    assert not cfg.has_hours and not any(cfg.declared_mask) and all(cfg.audience_mask)
    # the histories and answers stay: the same respondents, in the same groups
    assert arrays["n_captured"] == data.capture.n_captured
    cfg, _ = model_inputs(set_aside(data, ["audience"]))
    assert cfg.has_hours and all(cfg.declared_mask) and not any(cfg.audience_mask)
    with pytest.raises(InputError, match="cannot set aside experiment"):
        set_aside(data, ["experiment"])


def _churn_draws(arrive, leave, length, mids, seed, n=400_000):
    """Draws of the churn model's workers: each one's first day, and whether they are
    present at each of the days ``mids`` (arriving and leaving at uniform times; both,
    present between the two)."""
    rng = np.random.default_rng(seed)
    start = np.where(rng.random(n) < arrive, rng.uniform(0, length, n), 0.0)
    end = np.where(rng.random(n) < leave, rng.uniform(0, length, n), length)
    both = (start > 0) & (end < length)
    start[both], end[both] = np.minimum(start[both], end[both]), np.maximum(start[both],
                                                                              end[both])
    return start, (start[:, None] <= mids[None, :]) & (mids[None, :] <= end[:, None])


def test_stays_by_monte_carlo():
    """Arrival and departure at uniform times: the chance of each run of waves present."""
    import jax.numpy as jnp

    mids, length, arrive, leave = np.array([40.0, 150.0, 260.0]), 364.0, 0.3, 0.4
    log_p, first, last, log_none = _stays(arrive, leave, jnp.array(mids), jnp.array(length))
    p = np.exp(np.asarray(log_p))
    assert p.sum() + np.exp(float(log_none)) == pytest.approx(1.0)
    _, present = _churn_draws(arrive, leave, length, mids, seed=1)
    for prob, f, la in zip(p, first, last, strict=True):
        runs = present[:, f:la + 1].all(1) & ~present[:, :f].any(1) & ~present[:, la + 1:].any(1)
        assert runs.mean() == pytest.approx(prob, abs=3e-3)
    assert (~present.any(1)).mean() == pytest.approx(np.exp(float(log_none)), abs=3e-3)


def test_stays_split_by_whether_the_worker_was_there_from_the_start():
    """The stays of the workers present from the period's start and of those who arrived
    during it add up to every worker's, and each is the share of the draws of the churn
    model's workers with that start (by Monte Carlo, as above)."""
    import jax.numpy as jnp

    from crowdcensus.methods.capture_likelihood import stay_factors

    mids, length, arrive, leave = np.array([40.0, 150.0, 260.0]), 364.0, 0.3, 0.4
    arrival, departure, _ = stay_factors(arrive, leave, jnp.array(mids), jnp.array(length),
                                         split=True)
    arrival, departure = np.asarray(arrival), np.asarray(departure)
    np.testing.assert_allclose(arrival[0], arrival[1] + arrival[2], rtol=1e-12)
    first, last = np.triu_indices(len(mids))
    start, present = _churn_draws(arrive, leave, length, mids, seed=2)
    for kind, who in ((1, start == 0), (2, start > 0)):
        stays = np.sum(arrival[kind][:, first] * departure[:, last], axis=0)
        for prob, f, la in zip(stays, first, last, strict=True):
            runs = (present[:, f:la + 1].all(1) & ~present[:, :f].any(1)
                    & ~present[:, la + 1:].any(1))
            assert (runs & who).mean() == pytest.approx(prob, abs=3e-3)


@pytest.mark.parametrize("here", [False, True])
def test_histories_split_by_when_the_respondent_began(here):
    """A history's chance for respondents who say they worked from the period's start and
    for those who say they began during it add up to its chance whatever the stay; with
    nobody arriving, the first is the whole of it and the second nothing; with IDs per
    platform (``answer_here``) the same. Where a share of those there from the start say
    they began during it (``misdated``), that share of the first moves to the second."""
    from crowdcensus.methods.capture_likelihood import history_log_prob

    t = 3 if here else 4
    a, pats = _arrays(t, churn=True)
    n = len(pats)
    rows = {k: jnp_concat([a[k]] * 3) for k in ("H", "C", "first_caught", "last_caught")}
    split = {**a, **rows, "row_started": np.repeat(np.array([-1, 0, 1], dtype=np.int32), n)}
    params = {**PARAMS, "wave": PARAMS["wave"][:t]}
    if here:
        params["answer_here"] = np.log(np.array([0.3, 0.6]))
    for churn in ((0.3, 0.2), (0.0, 0.2)):
        whole = np.exp(np.asarray(history_log_prob(a, params, churn)))
        lp = np.exp(np.asarray(history_log_prob(split, params, churn, started=True)))
        anyone, there, came = lp[:n], lp[n:2 * n], lp[2 * n:]
        np.testing.assert_allclose(anyone, whole, rtol=1e-10)
        seen = pats.any(axis=1)
        np.testing.assert_allclose((there + came)[seen], whole[seen], rtol=1e-9)
        if churn[0] == 0:
            assert (came[seen] < 1e-200).all()
            np.testing.assert_allclose(there[seen], whole[seen], rtol=1e-9)
        else:
            assert (came[seen] > 1e-6 * whole[seen]).all()
        # a share rho of those there from the start say they began during it: their rows
        # move from the one answer to the other, the history's chance unchanged
        rho = 0.2
        moved = np.exp(np.asarray(history_log_prob(split, {**params, "misdated": rho}, churn,
                                                   started=True)))
        np.testing.assert_allclose(moved[:n], whole, rtol=1e-10)
        np.testing.assert_allclose(moved[n:2 * n][seen], (1 - rho) * there[seen], rtol=1e-9)
        np.testing.assert_allclose(moved[2 * n:][seen], (came + rho * there)[seen], rtol=1e-9)


@pytest.mark.parametrize("ids", ["linked", "per_platform"])
def test_the_fit_reads_the_rows_respondents_gave_and_the_checks_every_history(tmp_path, ids):
    """Where respondents say when they began, the fit's rows are those some respondent
    gave and the empty history, fewer than every history's; the checks' rows
    (``check_rows``) are every history's, with every history's row of a stay begun
    during the period. The potential and its gradient are the same with either, and the
    checks' respondents expected by number of answers add up to the respondents expected
    (with the fit's rows alone, they would add up to 0); some of them, not all, began
    during the period."""
    import crowdcensus.synthesis.model as model
    from crowdcensus.pipeline import _read
    from crowdcensus.simulate.outputs import write_simulation
    from crowdcensus.simulate.world import generate_world
    from crowdcensus.study import load_study
    from crowdcensus.synthesis.data import synthesis_data
    from crowdcensus.synthesis.inference import CompiledModel, _jax
    from tests.simulate.conftest import small

    _jax()
    import jax.numpy as jnp

    world = generate_world(small("heterogeneous", workers=1500, churn={"arrivals": 0.15},
                                 experiment={"started_column": True,
                                             "linked_across_platforms": ids == "linked"}),
                           np.random.default_rng(3))
    study = load_study(write_simulation(world, tmp_path))
    data = synthesis_data(study, _read(study)[0])
    assert data.capture.per_platform_ids == (ids == "per_platform")
    assert model.every_history_rows(data)
    cfg, arrays = model.model_inputs(data)
    rows = model.check_rows(data)
    assert cfg.started and float(arrays["all_patterns"]) == 0 == 1 - float(rows["all_patterns"])
    t = data.capture.n_waves
    real = rows["row_any"] > 0          # every history once, whatever the stay
    assert int(real.sum()) == 2 ** t
    assert len(np.unique(rows["H"][real], axis=0)) == 2 ** t
    # the checks' rows of a stay begun during the period: every history's once; those of
    # a stay from the start, the respondents' as in the fit
    came = rows["row_started"] == 1
    assert int(came.sum()) == 2 ** t == len(np.unique(rows["H"][came], axis=0))
    assert 0 < (arrays["row_started"] == 1).sum() < 2 ** t
    assert (arrays["row_started"] == 0).sum() == (rows["row_started"] == 0).sum() > 0
    assert arrays["H"].shape[0] < rows["H"].shape[0]
    np.testing.assert_array_equal(arrays["H"][0], np.zeros(t))   # the empty history first
    fit = {k: jnp.asarray(v) for k, v in arrays.items()}
    checks = {**fit, **{k: jnp.asarray(v) for k, v in rows.items()}}
    compiled = CompiledModel.get(cfg, fit)
    z = jnp.asarray(np.random.default_rng(0).normal(0, 0.3, compiled.size))
    value, grad = compiled.value_and_grad(z, fit)
    value_all, grad_all = compiled.value_and_grad(z, checks)
    assert float(value) == pytest.approx(float(value_all), rel=1e-10)
    np.testing.assert_allclose(np.asarray(grad), np.asarray(grad_all), rtol=1e-7, atol=1e-8)
    zs = z[None]
    for arr, share in ((checks, 1.0), (fit, 0.0)):
        pred = compiled.predictive(zs, arr)
        seen = float(np.asarray(pred["expected_respondents"])[0])
        by_k = np.asarray(pred["expected_by_answers"])[0]
        assert by_k.sum() == pytest.approx(share * seen, rel=1e-6, abs=1e-9)
        # those of them who began during the period: some at every number of answers, not
        # all (the fit's rows alone give none)
        came = np.asarray(pred["expected_by_answers_arrived"])[0]
        if share:
            assert ((came > 0) & (came < by_k)).all(), (came, by_k)
        else:
            assert not came.any()


def jnp_concat(parts):
    import jax.numpy as jnp

    return jnp.concatenate(parts)


def test_mode_search_restarts_leave_a_local_mode():
    """A double well, started in the shallow basin: the search from the start alone stays
    there; every jittered restart (normal, sd 0.5, seeded by ``[seed, 2]``) is searched,
    even when the first ends where the start did, and the best is kept (the same seed,
    the same mode)."""
    import jax.numpy as jnp

    from crowdcensus.synthesis.inference import _jax, find_mode

    jax = _jax()

    def energy(x, _arrays):  # wells at x0 = -0.84 (-0.07) and x0 = 1.11 (-2.06)
        return (x[0] ** 2 - 1) ** 2 - (x[0] + 1) + 0.5 * jnp.sum(x[1:] ** 2)

    seen: list[np.ndarray] = []
    value_and_grad = jax.jit(jax.value_and_grad(energy))

    class Wells:
        @staticmethod
        def value_and_grad(x, arrays):
            seen.append(np.asarray(x).copy())
            return value_and_grad(x, arrays)

    start = np.array([-0.45, 0.3])   # the barrier is at -0.27: 36% of restarts cross
    alone = find_mode(Wells, {}, start, restarts=0)
    assert alone.x[0] == pytest.approx(-0.84, abs=0.05)

    def deep(x0):  # which well a search from x0 ends in
        return find_mode(Wells, {}, x0, restarts=0).x[0] > 0

    rescued = 0
    for seed in range(30):
        jitter = 0.5 * np.random.default_rng([seed, 2]).standard_normal((2, 2))
        first, second = start + jitter[0], start + jitter[1]
        seen.clear()
        res = find_mode(Wells, {}, start, seed=seed, restarts=2)
        assert any(np.array_equal(x, first) for x in seen)
        assert any(np.array_equal(x, second) for x in seen)
        wells = [deep(first), deep(second)]
        assert (res.x[0] > 0) == any(wells)
        assert res.x[0] == pytest.approx(1.11 if any(wells) else -0.84, abs=0.05)
        assert find_mode(Wells, {}, start, seed=seed, restarts=2).x == pytest.approx(res.x)
        rescued += (not wells[0]) and wells[1]
    # the case an early stop got wrong: the first restart stayed in the start's shallow
    # well, the second found the deep one
    assert rescued > 0


def test_mode_search_from_a_close_models_hessian_takes_fewer_gradients():
    """A search given the Hessian near its start (as the second take-up reading is given
    the first's) ends at the mode the search from the identity finds, with fewer
    gradients; a Hessian of the wrong shape is ignored, and the jittered searches still
    start from the identity."""
    import jax.numpy as jnp

    from crowdcensus.synthesis.inference import _jax, find_mode

    jax = _jax()
    # an ill-conditioned, slightly non-quadratic bowl in 6 dimensions, its minimum at
    # `centre`
    rng = np.random.default_rng(3)
    q, _ = np.linalg.qr(rng.standard_normal((6, 6)))
    curvature = jnp.asarray(q @ np.diag([1e4, 3e3, 100.0, 10.0, 1.0, 0.3]) @ q.T)
    centre = jnp.asarray(rng.standard_normal(6))

    def energy(x, _arrays):
        d = x - centre
        return 0.5 * d @ curvature @ d + 0.1 * jnp.sum(d ** 4)

    value_and_grad = jax.jit(jax.value_and_grad(energy))
    calls = [0]

    class Bowl:
        @staticmethod
        def value_and_grad(x, arrays):
            calls[0] += 1
            return value_and_grad(x, arrays)

    start = np.asarray(centre) + 0.3
    near = np.asarray(jax.hessian(energy)(jnp.asarray(start), {}))

    def search(**kw):
        calls[0] = 0
        res = find_mode(Bowl, {}, start, restarts=0, **kw)
        return res, calls[0]

    plain, n_plain = search()
    warm, n_warm = search(precision=near)
    wrong, n_wrong = search(precision=np.eye(3))
    # a search stops where no gradient component exceeds 1e-4: within 1e-4 / 0.3 of the
    # minimum along the flattest direction
    assert plain.x == pytest.approx(np.asarray(centre), abs=1e-3)
    assert warm.x == pytest.approx(plain.x, abs=1e-3)
    assert n_warm < n_plain / 2
    assert n_wrong == n_plain and np.array_equal(wrong.x, plain.x)
    # the jittered searches do not take it: they cost what they cost without it
    calls[0] = 0
    find_mode(Bowl, {}, start, seed=4, restarts=2)
    jittered = calls[0] - n_plain
    calls[0] = 0
    both = find_mode(Bowl, {}, start, seed=4, restarts=2, precision=near)
    assert calls[0] - n_warm == jittered > 0
    assert both.x == pytest.approx(plain.x, abs=1e-3)


def _population_alone(j: int, subset: bool):
    """The configuration and arrays of the latent population alone, on j platforms; the
    task posted on the first platform only (``subset``) or everywhere."""
    from crowdcensus.synthesis.data import all_subsets
    from crowdcensus.synthesis.inference import _jax
    from crowdcensus.synthesis.model import ModelConfig

    _jax()
    subsets = all_subsets(j).astype(float)
    cfg = ModelConfig(has_capture=False, aggregate=False, n_platforms=j,
                      declared_mask=(False,) * j, audience_mask=(False,) * j, priors=(),
                      stated_multihoming=False, shares=(), share_base="",
                      visit_weights=subset, posted_on_subset=subset)
    a = {"lam": bin_rates(), "log_width": np.ones(len(bin_rates())),
         "bin_band": bin_band(), "smoothness": np.ones(len(bin_rates()) - 2),
         "subsets": subsets, "subset_size": subsets.sum(axis=1),
         "posted": np.eye(j)[0] if subset else np.ones(j)}
    return cfg, a, subsets


def _registrations(mix: float, first: list[float], level: list[float], subset: bool = True):
    """The registration model of the latent population with its parameters set:
    (P(set | bin) for every non-empty set, P(platform in set | bin), the sets).
    ``subset``: the task was posted on the first platform only (else everywhere)."""
    from numpyro.handlers import seed, substitute, trace

    from crowdcensus.synthesis.population import latent_population

    j = len(first)
    cfg, a, subsets = _population_alone(j, subset)
    values = {"log_workers": 8.0, "activity_shape": np.zeros(len(bin_rates()) - 1),
              "registration_level": np.array(level), "registration_activity": 0.4,
              "registration_activity_platform": np.zeros(len(first)),
              "first_platform_path": np.append(mix * np.array(first), 1.0 - mix),
              "visit_weights": np.full(j, 1.0 / j)}
    model = substitute(seed(latent_population, 0), data=values)
    tr = trace(model).get_trace(cfg, a, {})
    pop = model(cfg, a, {})
    assert ("first_platform_share" in tr) == subset
    return np.exp(np.asarray(pop.log_pr)), pop, subsets


def test_registration_mixture_by_hand():
    """Two platforms, all workers on the first-platform path: P({1}) = w1 (1 - q2),
    P({1, 2}) = w1 q2 + w2 q1; the independent path: q1 q2 / (1 - (1-q1)(1-q2))."""
    from crowdcensus.synthesis.population import RATE_CENTRE

    level, first = [-0.5, 0.7], [0.3, 0.7]
    x = np.clip(np.log(bin_rates()), np.log(0.01), np.log(10.0)) - RATE_CENTRE
    # at least one of a Poisson number of sign-ups of mean exp(level) lam^0.4 (centred)
    q = -np.expm1(-np.exp(np.array(level)[None, :] + 0.4 * x[:, None]))  # (G, 2)
    for mix in (1.0 - 1e-12, 1e-12, 0.3):
        pr, _, subsets = _registrations(mix, first, level)
        assert subsets.tolist() == [[1, 0], [0, 1], [1, 1]]
        via_first = np.stack([first[0] * (1 - q[:, 1]), first[1] * (1 - q[:, 0]),
                              first[0] * q[:, 1] + first[1] * q[:, 0]])
        some = 1 - (1 - q[:, 0]) * (1 - q[:, 1])
        indep = np.stack([q[:, 0] * (1 - q[:, 1]), q[:, 1] * (1 - q[:, 0]),
                          q[:, 0] * q[:, 1]]) / some
        assert pr == pytest.approx(mix * via_first + (1 - mix) * indep, rel=1e-9)
        # posted on both platforms: nobody is out of reach, registrations independent
        everywhere, _, _ = _registrations(mix, first, level, subset=False)
        assert everywhere == pytest.approx(indep, rel=1e-9)


def test_first_platform_prior_keeps_uniform_weights_and_a_share_centred_on_one_half():
    """The first-platform path is sampled as one simplex (m w, 1 - m) ~ Dirichlet(1, ..., 1, J):
    the weights w are Dirichlet(1) and the share m is Beta(J, J), independent of them."""
    import jax
    from numpyro.handlers import seed, substitute, trace

    from crowdcensus.synthesis.population import latent_population

    j, n = 4, 20000
    cfg, a, _ = _population_alone(j, subset=True)
    fixed = {"log_workers": 8.0, "activity_shape": np.zeros(len(bin_rates()) - 1)}
    tr = trace(substitute(seed(latent_population, 0), data=fixed)).get_trace(cfg, a, {})
    path = np.asarray(tr["first_platform_path"]["value"])
    # the share and weights the model reports are those of the simplex it samples
    assert float(tr["first_platform_share"]["value"]) == pytest.approx(1 - path[j])
    assert np.asarray(tr["first_platform"]["value"]) == pytest.approx(path[:j] / (1 - path[j]))
    # ...and the simplex's prior, drawn many times
    draws = np.asarray(tr["first_platform_path"]["fn"].sample(jax.random.PRNGKey(1), (n,)))
    mix = 1 - draws[:, j]
    first = draws[:, :j] / mix[:, None]
    se = 4 / np.sqrt(n)
    assert mix.mean() == pytest.approx(0.5, abs=se * 0.2)
    assert mix.var() == pytest.approx(1 / (4 * (2 * j + 1)), rel=se * 1.5)  # Beta(J, J)
    assert first.sum(axis=1) == pytest.approx(np.ones(n), abs=1e-6)
    assert first.mean(axis=0) == pytest.approx(np.full(j, 1 / j), abs=se * 0.2)
    assert first.var(axis=0) == pytest.approx(np.full(j, (j - 1) / (j * j * (j + 1))),
                                               rel=se * 1.5)  # Dirichlet(1)
    assert abs(np.corrcoef(mix, first[:, 0])[0, 1]) < se


@pytest.mark.parametrize("mix", [0.0, 0.5, 1.0])
def test_registration_sets_add_up_and_platforms_follow(mix):
    """Four platforms: the chances of the 15 sets add up to one in every bin, and the
    chance of holding a platform is the sum over the sets that hold it."""
    mix = min(max(mix, 1e-12), 1 - 1e-12)
    pr, pop, subsets = _registrations(mix, [0.1, 0.2, 0.3, 0.4], [-1.0, 0.0, 0.5, -2.0])
    assert pr.sum(axis=0) == pytest.approx(np.ones(pr.shape[1]), abs=1e-12)
    pi = np.asarray(pop.pi)
    registered = np.asarray(pop.registered) / float(pop.total)
    assert registered == pytest.approx(pi @ (pr.T @ subsets), rel=1e-9)
    assert float(pop.platforms_per_worker) == pytest.approx(float((pi @ pr.T) @ subsets.sum(1)))


def test_predictive_sites_apart_from_the_draws(tmp_path):
    """The predictive checks' expected counts come from their own compiled function, on a
    subset of the draws: the same values as the model's full set of derived quantities,
    and every other quantity on every draw; they add up to the respondents expected."""
    from numpyro.infer.util import constrain_fn

    import crowdcensus.synthesis.model as model
    from crowdcensus.methods.experiment import TaskExperiment
    from crowdcensus.pipeline import _read
    from crowdcensus.simulate.outputs import write_simulation
    from crowdcensus.simulate.world import generate_world
    from crowdcensus.study import Factor, load_study
    from crowdcensus.synthesis.data import synthesis_data
    from crowdcensus.synthesis.inference import PREDICTIVE_DRAWS, CompiledModel, _jax, fit_joint
    from tests.simulate.conftest import small

    jax = _jax()
    import jax.numpy as jnp

    world = generate_world(small("subset", workers=2000), np.random.default_rng(5))
    study = load_study(write_simulation(world, tmp_path))
    # a stated inflation (the default has none: the dormant share carries it all)
    stated = Factor(value=1.1, low=1.0, high=1.4, status="assumed")
    study = study.model_copy(update={"assumptions": study.assumptions.model_copy(
        update={"declaration_inflation": stated})})
    data = synthesis_data(study, _read(study)[0])
    assert data.priors.declaration_inflation.kind == "lognormal_ge1"
    cfg, arrays = model.model_inputs(data)
    arrays = {k: jnp.asarray(v) for k, v in arrays.items()}
    compiled = CompiledModel.get(cfg, arrays)
    zs = jnp.asarray(np.random.default_rng(1).normal(0, 0.3, (4, compiled.size)))
    # compiled as one program (op by op, each process compiled hundreds of small ones)
    every = jax.jit(lambda z, arr: constrain_fn(
        model.joint_model, (cfg, arr), {}, jax.vmap(compiled.unravel)(z),
        return_deterministic=True, batch_ndims=1))(zs, arrays)
    main, predictive = compiled.constrain(zs, arrays), compiled.predictive(zs, arrays)
    # every predictive site but the one of respondents who say when they began (none here)
    assert set(TaskExperiment.predictive_sites) - set(predictive) == {
        "expected_by_answers_arrived"} and set(predictive) < set(TaskExperiment.predictive_sites)
    assert set(main) | set(predictive) == set(every) and not set(main) & set(predictive)
    for k, v in (main | predictive).items():
        assert np.asarray(v) == pytest.approx(np.asarray(every[k]), rel=1e-10), k
    # the respondents by number of answers and by answer add up to the respondents (the
    # sets on no posted platform, never seen, counted in every history until 2026-12-04)
    seen = np.asarray(predictive["expected_respondents"])
    for key in ("expected_by_answers", "expected_by_report"):
        assert np.asarray(predictive[key]).sum(axis=1) == pytest.approx(seen, rel=1e-6), key

    # the Hessian by forward differences of the gradient equals JAX's by differentiating
    # twice, to the first order of the step
    x = zs[0]
    exact = np.asarray(jax.hessian(compiled.potential)(x, arrays))
    assert np.abs(compiled.hessian(x, arrays) - exact).max() < 1e-5 * np.abs(exact).max()

    post = fit_joint(data, method="laplace", seed=2)
    assert len(post.samples["workers"]) == 1000
    # its precision is the Laplace draws': a parameter on the real line spreads as the
    # inverse of the precision says (1,000 draws: a standard deviation within 10%)
    cov = np.linalg.inv(post.precision)
    assert post.precision.shape == (compiled.size, compiled.size)
    real = [k for k in ("takeup_logit", "log_sight", "registration_activity")
            if k in post.samples and np.ndim(post.samples[k]) == 1]
    assert real
    for k in real:
        i = compiled.slices[k].start
        assert np.std(post.samples[k]) == pytest.approx(np.sqrt(cov[i, i]), rel=0.1), k
    assert {len(v) for v in post.predictive.values()} == {PREDICTIVE_DRAWS}
    assert not set(post.samples) & set(post.predictive)

    # without the checks (as validation runs): the same draws and figures, no checks
    from crowdcensus.synthesis.summary import summarise

    bare = fit_joint(data, method="laplace", seed=2, predictive=False)
    assert bare.predictive == {}
    np.testing.assert_array_equal(bare.samples["workers"], post.samples["workers"])
    full, lean = summarise(post, data, 0.95, seed=2), summarise(bare, data, 0.95, seed=2,
                                                                checks=False)
    assert lean.checks.empty and list(lean.checks.columns) == list(full.checks.columns)
    assert (full.checks["method"] == "experiment").any()
    assert lean.tiers == full.tiers
    pd.testing.assert_frame_equal(lean.shifts, full.shifts)

    # the stated inflation is the country's: one prior-to-posterior row, for the common
    # factor, and each platform's inflation among the biases
    label = data.priors.declaration_inflation.label
    rows = full.shifts[full.shifts["assumption"].str.startswith(label)]
    assert len(rows) == 1 and rows.iloc[0]["assumption"] == label
    assert rows.iloc[0]["posterior"] == pytest.approx(
        float(np.median(post.samples["inflation_common"])), rel=1e-9)
    per_platform = full.biases[full.biases["quantity"].str.endswith(": declaration inflation")]
    assert len(per_platform) == data.n_platforms == 5
    assert (per_platform["low"] >= 1).all()


def _inflation_prior(spec: tuple, platforms: int, n: int = 4000) -> np.ndarray:
    import jax
    from numpyro.infer import Predictive

    from crowdcensus.methods.declared import _inflation

    def model():
        _inflation(spec, platforms)

    draws = Predictive(model, num_samples=n)(jax.random.PRNGKey(3))
    return np.asarray(draws["declaration_inflation"])


def test_declaration_inflation_is_the_countrys_on_every_platform():
    """The stated inflation is one country-level factor: a study with more platforms does
    not know their average inflation better a priori (with one independent prior per
    platform, the spread of the average of five would be 1/sqrt(5) = 0.45 of one's)."""
    sd = 0.2
    one = _inflation_prior(("declaration_inflation", "lognormal_ge1", (0.0, sd)), 1)
    five = _inflation_prior(("declaration_inflation", "lognormal_ge1", (0.0, sd)), 5)
    assert one.shape == (4000, 1) and five.shape == (4000, 5)
    assert (one >= 1).all() and (five >= 1).all()
    # one platform: the stated prior itself (log inflation half-normal: median 0.674 sd)
    assert np.median(np.log(one)) == pytest.approx(0.674 * sd, rel=0.06)
    average = np.log(five).mean(axis=1)
    assert np.std(average) > 0.8 * np.std(np.log(one))
    # the platforms differ around the country's factor, but move with it
    logs = np.log(five)
    assert np.corrcoef(logs[:, 0], logs[:, 1])[0, 1] > 0.6
    assert np.std(np.log(logs[:, 0] / logs[:, 1])) == pytest.approx(0.3 * np.sqrt(2), rel=0.1)


def test_a_fixed_inflation_is_the_same_on_every_platform():
    draws = _inflation_prior(("declaration_inflation", "fixed", (1.3,)), 3, n=10)
    assert np.allclose(draws, 1.3, rtol=1e-6, atol=0)


@pytest.mark.parametrize(("mu", "sd"), [(0.0, 0.2), (0.3, 0.15), (-0.2, 0.4)])
def test_a_factors_coordinate_is_its_priors_normal_quantile(mu, sd):
    """A factor >= 1 is sampled through the standard normal quantile of its prior: the map
    is scipy's truncated normal quantile, reaches 0 (a factor of 1) smoothly and keeps a
    finite slope there, so the sampler's coordinate has no tail running off to minus
    infinity."""
    from scipy.stats import norm, truncnorm

    from crowdcensus.synthesis.inference import _jax
    from crowdcensus.synthesis.population import truncated_log

    jax = _jax()  # 64-bit floats, as in every fit

    z = np.linspace(-6.0, 6.0, 49)
    expected = truncnorm.ppf(norm.cdf(z), (0.0 - mu) / sd, np.inf, loc=mu, scale=sd)
    got = np.asarray(jax.vmap(lambda v: truncated_log(mu, sd, v))(z))
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-12)
    assert (got >= 0).all() and np.all(np.diff(got) > 0)
    slope = np.asarray(jax.vmap(jax.grad(lambda v: truncated_log(mu, sd, v)))(z))
    assert np.isfinite(slope).all() and (slope > 0).all()
    # at the prior's median the factor is the truncated normal's median
    assert float(truncated_log(mu, sd, 0.0)) == pytest.approx(
        truncnorm.median((0.0 - mu) / sd, np.inf, loc=mu, scale=sd), rel=1e-9)


@pytest.mark.parametrize("b", [3.0, 1.0, 7.5])
def test_a_beta_1_b_share_is_sampled_through_its_quantile(b):
    """A share with prior Beta(1, b) (the default dormant share's) is sampled through the
    standard normal quantile of its prior: its value at z is scipy's Beta quantile at
    Phi(z), its log-odds keep a finite slope in z, and draws of z ~ N(0, 1) are Beta(1, b)."""
    import numpyro
    from numpyro.handlers import seed, substitute, trace
    from scipy.stats import beta, kstest, norm

    from crowdcensus.synthesis.inference import _jax
    from crowdcensus.synthesis.population import prior_site
    from crowdcensus.synthesis.priors import Prior

    jax = _jax()
    kind = Prior("share", "", "beta", (1.0, b)).model_kind
    assert kind == "beta1" and Prior("share", "", "beta", (1.5, b)).model_kind == "beta"
    spec = ("share", kind, jax.numpy.asarray([1.0, b]))

    def share_at(z):
        model = substitute(lambda: prior_site("share", spec), data={"share_z": z})
        return trace(seed(model, 0)).get_trace()["share"]["value"]

    z = np.linspace(-6.0, 6.0, 49)
    got = np.asarray(jax.vmap(share_at)(z))
    np.testing.assert_allclose(got, beta.ppf(norm.cdf(z), 1.0, b), rtol=1e-9, atol=1e-15)
    slope = np.asarray(jax.vmap(jax.grad(lambda v: jax.numpy.log(share_at(v))
                                         - jax.numpy.log1p(-share_at(v))))(z))
    assert np.isfinite(slope).all() and (slope > 0).all()
    draws = numpyro.infer.Predictive(lambda: prior_site("share", spec), num_samples=4000)(
        jax.random.PRNGKey(1))["share"]
    assert kstest(np.asarray(draws), beta(1.0, b).cdf).pvalue > 0.01


def test_laplace_bands_move_their_log_totals_linearly():
    """Within each band the draws keep their shares; the band's log total is the mode's
    plus the mode's shares times the step, so it is normal and centred on the mode's (a
    sum of log-normal terms drifts above it); every other coordinate is untouched."""
    from types import SimpleNamespace

    from scipy.special import logsumexp, softmax

    from crowdcensus.synthesis.inference import _bins_by_band_total

    rng = np.random.default_rng(4)
    model = SimpleNamespace(slices={"activity_log_counts": slice(2, 8), "other": slice(0, 2)})
    band = np.array([2, 2, 2, 1, 1, 0])
    x_mode = np.concatenate([[0.3, -1.0], [2.0, 4.0, 5.0, 6.0, 5.5, 7.0]])
    step = rng.normal(0, 1.0, (20_000, 8))
    out = _bins_by_band_total(model, x_mode, x_mode + step, band)
    np.testing.assert_allclose(_bins_by_band_total(model, x_mode, x_mode[None], band),
                               x_mode[None], rtol=1e-14)
    np.testing.assert_array_equal(out[:, [0, 1]], (x_mode + step)[:, [0, 1]])
    # a band of one bin: its log count is already its log total
    np.testing.assert_allclose(out[:, 7], (x_mode + step)[:, 7], rtol=1e-12)
    for cols in ([2, 3, 4], [5, 6]):
        np.testing.assert_allclose(softmax(out[:, cols], axis=1),
                                   softmax((x_mode + step)[:, cols], axis=1), rtol=1e-12)
        log_total = logsumexp(out[:, cols], axis=1)
        share = softmax(x_mode[cols])
        np.testing.assert_allclose(log_total, logsumexp(x_mode[cols]) + step[:, cols] @ share,
                                   rtol=1e-12)
        assert abs(log_total.mean() - logsumexp(x_mode[cols])) < 0.02
        assert logsumexp((x_mode + step)[:, cols], axis=1).mean() > logsumexp(x_mode[cols]) + 0.1
    # without capture histories there are no bins' log counts: nothing changes
    bare = SimpleNamespace(slices={"log_workers": slice(0, 1)})
    np.testing.assert_array_equal(_bins_by_band_total(bare, x_mode[:1], step[:, :1], band),
                                  step[:, :1])


@pytest.mark.parametrize(("answers", "step"), [
    ([0.0, 1.0, 12.0, np.nan], 1.0),
    ([0.5, 2.0, 7.5], 0.5),
    ([0.25, 0.75, 3.0], 0.25),
    ([0.3, 2.0, 0.0], 0.1),
    ([0.05, 1.15], 0.05),
    ([0.01, 0.37], 0.01),
    ([0.125, 1.0], 0.0),
])
def test_recording_step_is_the_coarsest_grid_of_the_answers(answers, step):
    from crowdcensus.synthesis.data import recording_step

    assert recording_step(np.array(answers)) == step


def test_rounded_answers_fall_in_the_bands_of_the_true_edges():
    """An answer rounded to the step is in the band [E_j, E_j+1) exactly when the true
    figure is in the band of the true edges: checked on every true figure of a fine grid
    away from rounding ties."""
    from crowdcensus.synthesis.data import HOUR_EDGES, HOUR_STEPS, true_hour_edges

    for step in HOUR_STEPS:
        x = np.arange(0.0, 60.0, step / 7.3)
        frac = x / step - np.floor(x / step)
        x = x[np.abs(frac - 0.5) > 1e-6]                       # no ties
        answer = np.floor(x / step + 0.5) * step
        band_of_answer = np.searchsorted(HOUR_EDGES, answer + 1e-9, side="right") - 1
        band_of_truth = np.searchsorted(true_hour_edges(step), x, side="right") - 1
        assert np.array_equal(band_of_answer, band_of_truth), step
        assert np.all(np.diff(true_hour_edges(step)) >= 0)
    assert np.array_equal(true_hour_edges(0.0), HOUR_EDGES)


def test_band_chances_of_rounded_log_normal_hours():
    """The model's chance of each band of answers, with the edges moved for rounding,
    against simulated answers rounded to a tenth and to whole hours. Read as true figures,
    the answers' own edges are off by 0.057 (a tenth: a quarter of the band 0.25-0.5) and
    0.44 (whole hours)."""
    from scipy.stats import norm

    from crowdcensus.synthesis.data import HOUR_EDGES, true_hour_edges

    rng = np.random.default_rng(11)
    x = 0.7 * np.exp(0.6 * rng.standard_normal(400_000))    # true hours, median 0.7
    for step in (0.1, 1.0):
        answer = np.round(x / step) * step
        seen = np.bincount(np.searchsorted(HOUR_EDGES, answer + 1e-9, side="right") - 1,
                           minlength=len(HOUR_EDGES) - 1) / len(x)
        z = (np.log(np.clip(true_hour_edges(step), 1e-300, None)) - np.log(0.7)) / 0.6
        model = np.diff(norm.cdf(z))
        assert np.abs(seen - model).max() < 0.003, step
        naive = np.diff(norm.cdf((np.log(np.clip(HOUR_EDGES, 1e-300, None)) - np.log(0.7))
                                 / 0.6))
        assert np.abs(seen - naive).max() > 0.03, step


def test_the_bands_of_hours_hold_every_figure_however_small_or_spread():
    """The model's bands of hours (their log edges) hold all of a log-normal's mass, for
    medians from 0.0001 to 100 hours a week and log-scale spreads from 0.1 to 3: the
    first band, answers of 0, holds every figure below 0.05 hours (once clipped at 0.001
    hours, it lost 4.5% of the answers of workers with a median of 0.03 and spread 2)."""
    from scipy.stats import norm

    from crowdcensus.synthesis.data import HOUR_STEPS
    from crowdcensus.synthesis.model import log_hour_edges

    for step in (*HOUR_STEPS, 0.0):
        edges = log_hour_edges(step)
        assert np.all(np.isfinite(edges)) and np.all(np.diff(edges) >= 0)
        for median in (1e-4, 0.01, 0.03, 1.0, 100.0):
            for sd in (0.1, 0.5, 2.0, 3.0):
                chances = np.diff(norm.cdf((edges - np.log(median)) / sd))
                assert chances.sum() == pytest.approx(1.0, abs=1e-9), (step, median, sd)
    first = norm.cdf((log_hour_edges(0.1)[1] - np.log(0.03)) / 2.0)
    assert first == pytest.approx(norm.cdf((np.log(0.05) - np.log(0.03)) / 2.0), abs=1e-9)


def test_a_warning_names_the_figures_the_model_does_not_reproduce():
    """Predictive checks below p = 0.01 are named in one warning, the smallest p first,
    three at most; none below, no warning."""
    from crowdcensus.synthesis.summary import check_warning

    checks = pd.DataFrame({
        "method": ["declared", "audience", "experiment", "experiment", "declared"],
        "observed_figure": ["a: declared registrations", "a: monthly unique visitors",
                            "respondents who answered 1 wave", "respondents answering 'weekly'",
                            "b: declared registrations"],
        "observed": [5864.0, 1374.0, 2077.0, 900.0, 10.0],
        "replicated": [6700.0, 1900.0, 1830.0, 1000.0, 11.0],
        "low": [6010.0, 1661.0, 1712.0, 850.0, 8.0], "high": [7469.0, 2560.0, 1949.0, 1150.0,
                                                            14.0],
        "p_value": [0.006, 0.0, 0.0004, 0.009, 0.2]})
    said = check_warning(checks)
    assert said.startswith("the joint model does not reproduce 4 of the figures the sources "
                           "report (a: monthly unique visitors: 1,374 observed, 1,661-2,560 "
                           "replicated, p < 0.001; respondents who answered 1 wave: 2,077 "
                           "observed, 1,712-1,949 replicated, p < 0.001; a: declared "
                           "registrations: 5,864 observed, 6,010-7,469 replicated, p = 0.006; "
                           "and 1 more):")
    one = check_warning(checks.iloc[[0, 4]])
    assert "does not reproduce one of the figures the sources report (a: declared" in one
    assert check_warning(checks.assign(p_value=0.01)) is None


def test_random_answers_are_stated_or_read_from_the_attention_check(tmp_path):
    """`assumptions.random_answers`: stated, its prior is the stated share's; else, when
    some respondents failed the attention check, a Beta whose mean and sd are a third of
    them over those who passed; with a check nobody failed, no such term; with no check
    read, the default Beta(1, 19)."""
    from crowdcensus.pipeline import _read
    from crowdcensus.simulate.outputs import write_simulation
    from crowdcensus.simulate.world import generate_world
    from crowdcensus.study import Share, load_study
    from crowdcensus.synthesis.data import synthesis_data
    from crowdcensus.synthesis.priors import beta_from
    from tests.simulate.conftest import small

    world = generate_world(small(workers=2000, activity={"inattentive": 0.3}),
                           np.random.default_rng(3))
    study = load_study(write_simulation(world, tmp_path / "a"))
    responses = _read(study)[0]
    derived = synthesis_data(study, responses).priors.random_answers
    f, n = responses.inattentive, responses.n_respondents
    assert f > 50
    assert derived.params == pytest.approx(beta_from(f / 3 / (n - f), f / 3 / (n - f)))
    _check_stated_share(study, responses, "random_answers",
                        Share(value=0.1, low=0.05, high=0.2, status="assumed"))
    plain = generate_world(small(workers=2000), np.random.default_rng(3))
    study = load_study(write_simulation(plain, tmp_path / "b"))
    assert synthesis_data(study, _read(study)[0]).priors.random_answers is None
    unread = generate_world(small(workers=2000, experiment={"attention_column": False}),
                            np.random.default_rng(3))
    study = load_study(write_simulation(unread, tmp_path / "c"))
    assert study.experiment.columns.attention == ""
    default = synthesis_data(study, _read(study)[0]).priors.random_answers
    assert (default.kind, default.params, default.origin) == ("beta", (1.0, 19.0), "default")


@pytest.mark.parametrize("path", ["visits split by weight", "visits split evenly",
                                  "registrations in aggregate"])
def test_a_window_of_one_month_holds_the_months_visitors(path):
    """A declared figure of the accounts active in a window of 364/12 days counts, with
    nobody arriving or leaving, exactly the workers who visit the platform in a month that
    the audience reads (two computations, one quantity), on each way the model splits a
    worker's visits; a week's window holds fewer, a year's more."""
    from numpyro.handlers import seed, substitute

    from crowdcensus.synthesis.population import latent_population

    j = 3
    cfg, a, _ = _population_alone(j, subset=path == "visits split by weight")
    if path == "registrations in aggregate":
        cfg = replace(cfg, aggregate=True)
    values = {"log_workers": 8.0, "activity_shape": np.linspace(-1, 1, len(bin_rates()) - 1),
              "registration_level": np.array([-0.5, 0.2, -1.5]), "registration_activity": 0.4,
              "registration_activity_platform": np.zeros(3),
              "first_platform_path": np.array([0.2, 0.1, 0.2, 0.5]),
              "visit_weights": np.array([0.5, 0.3, 0.2]),
              "platform_split": np.array([0.5, 0.3, 0.2])}
    counted = {}
    for days in (7.0, 364 / 12, 364.0):
        arrays = {**a, "declared_weeks": np.array([days, days, days]) / 7,
                  "window_start": np.full(j, 1 - days / 364), "declared_taken": np.ones(j)}
        pop = substitute(seed(latent_population, 0), data=values)(
            replace(cfg, declared_active=(True,) * j), arrays, {})
        counted[days] = np.asarray(pop.active)
    assert counted[364 / 12] == pytest.approx(np.asarray(pop.monthly), rel=1e-9)
    assert (counted[7.0] < counted[364 / 12]).all()
    assert (counted[364.0] > counted[364 / 12]).all()
    # a year's window cannot hold more workers than the platform has
    assert (counted[364.0] < np.asarray(pop.registered)).all()


def test_window_presence_and_arrivals_by_monte_carlo():
    """The mean share of a window of the reference period that a worker is present, and
    the share of the workers started by a day, against the simulator's arrivals and
    departures drawn many times: windows at the end of the period and ending earlier."""
    from types import SimpleNamespace

    from crowdcensus.simulate.world import _presence
    from crowdcensus.synthesis.population import arrived_by, window_presence

    arrive, leave, days, n = 0.3, 0.4, 364.0, 400_000
    sc = SimpleNamespace(scenario=SimpleNamespace(reference_days=days),
                         churn=SimpleNamespace(arrivals=arrive, departures=leave,
                                               arrival_power=1.0))
    start, end = _presence(np.random.default_rng(2), n, sc)
    for taken, window in ((364.0, 7.0), (364.0, 30.0), (364.0, 91.0), (364.0, 364.0),
                          (182.0, 30.0), (100.0, 100.0)):
        overlap = np.clip(np.minimum(end, taken) - np.maximum(start, taken - window), 0, None)
        expected = float(window_presence((taken - window) / days, taken / days,
                                         (arrive, leave)))
        assert (overlap / window).mean() == pytest.approx(expected, abs=4e-3), (taken, window)
    for taken in (1.0, 91.0, 182.0, 300.0, 364.0):
        assert (start <= taken).mean() == pytest.approx(
            float(arrived_by(taken / days, (arrive, leave))), abs=4e-3), taken
    assert window_presence(0.2, 0.5, None) == 1.0 and arrived_by(0.5, None) == 1.0


def test_intervals_apart_are_noted_with_what_the_study_says_fails():
    """Two methods' intervals that do not overlap give one note per tier, intervals that
    overlap none; an assumption the study says fails for one method (declared figures of
    active accounts, which its arithmetic reads as registrations) is said in the notes
    where that method is one of the two, and only there."""
    from crowdcensus.methods.montecarlo import Interval
    from crowdcensus.synthesis.baseline import disagreements

    intervals = {"declared": {"occasional": Interval(8300, 7900, 8700)},
                 "experiment": {"occasional": Interval(20000, 14000, 26000),
                                "regular": Interval(8500, 7500, 9500)},
                 "audience": {"regular": Interval(5600, 5400, 5800)}}
    plain = disagreements(intervals)
    assert sorted(n.split(":")[0] for n in plain) == ["the occasional tier", "the regular tier"]
    said = disagreements(intervals, {"declared": "it counts active accounts"})
    occasional = [n for n in said if n.startswith("the occasional tier")]
    regular = [n for n in said if n.startswith("the regular tier")]
    assert len(occasional) == 1 and occasional[0].endswith(" (it counts active accounts)")
    assert len(regular) == 1 and "active accounts" not in regular[0]
    overlapping = {"declared": {"occasional": Interval(18000, 15000, 21000)},
                   "experiment": {"occasional": Interval(20000, 14000, 26000)}}
    assert disagreements(overlapping, {"declared": "x"}) == []


def test_visitors_per_person_stated_below_one_are_a_whole_log_normal():
    """A panel's visitors per person stated with a range below 1 (a panel that misses
    visits) become a log-normal prior with the stated mean and sd, not truncated at 1: its
    draws, its sampled coordinate (the standard normal quantile, as for every factor) and
    its density agree; a range that stays at 1 or above keeps the prior truncated at 1,
    and a value of 0 is refused."""
    from numpyro.handlers import seed, substitute, trace

    from crowdcensus.errors import InputError
    from crowdcensus.study import PositiveFactor
    from crowdcensus.synthesis.inference import _jax
    from crowdcensus.synthesis.population import prior_site
    from crowdcensus.synthesis.priors import factor_prior
    from crowdcensus.synthesis.sensitivity import log_density

    _jax()
    stated = PositiveFactor(value=0.6, low=0.4, high=0.8, status="assumed")
    prior = factor_prior("visitors_per_person", "V", stated, None, "assumptions.v")
    mean, sd = stated_moments(stated)
    assert prior.kind == "lognormal"
    assert prior.params == pytest.approx((np.log(mean), sd / mean))
    draws = prior.draw(np.random.default_rng(0), 200_000)
    assert np.median(draws) == pytest.approx(mean, rel=0.01)
    assert np.std(np.log(draws)) == pytest.approx(sd / mean, rel=0.01)
    assert (draws < 1).mean() > 0.9
    spec = (prior.name, prior.kind, prior.params)
    for z in (-2.0, 0.0, 1.3):
        tr = trace(substitute(seed(prior_site, 0), data={"visitors_per_person_z": z})
                   ).get_trace("visitors_per_person", spec)
        assert float(tr["visitors_per_person"]["value"]) == pytest.approx(
            np.exp(prior.params[0] + z * prior.params[1]), rel=1e-12)
    x = np.array([0.5, 0.9, 1.2])
    assert log_density(prior, x) == pytest.approx(
        -0.5 * ((np.log(x) - prior.params[0]) / prior.params[1]) ** 2
        - np.log(prior.params[1] * np.sqrt(2 * np.pi)))
    above = factor_prior("visitors_per_person", "V", PositiveFactor(
        value=1.2, low=1.0, high=1.5, status="assumed"), None, "assumptions.v")
    assert above.kind == "lognormal_ge1"
    with pytest.raises((InputError, ValueError)):
        PositiveFactor(value=0.0, status="assumed")


def test_platforms_of_every_kind_of_figure_in_one_model_with_arrivals(tmp_path):
    """`churn` (arrivals and departures in the model), one platform declaring its last 30
    days, one its registrations on day 182, one its registrations on the last day. At the
    same parameters, the day-182 figure's expected value is the last day's times the share
    of the workers started by then, and the other two platforms' are unmoved by it; the
    log density's gradient is finite (a platform without a window gives no 0/0). With the
    shares of accounts that are not workers' fixed (dormant 0.3, of active accounts 0.2)
    and an inflation of 1.25, each figure's bias is the inflation over one minus its own
    kind's share."""
    import crowdcensus.synthesis.model as model
    from crowdcensus.pipeline import _read
    from crowdcensus.simulate.outputs import write_simulation
    from crowdcensus.simulate.scenario import parse_scenario
    from crowdcensus.simulate.world import generate_world
    from crowdcensus.study import load_study
    from crowdcensus.synthesis.data import synthesis_data
    from crowdcensus.synthesis.inference import CompiledModel, _jax
    from crowdcensus.synthesis.population import arrived_by

    _jax()
    import jax.numpy as jnp

    from tests.simulate.conftest import small

    scenario = small("churn", workers=3000).model_dump(mode="json")
    scenario["platforms"][0]["declared_active_days"] = 30
    scenario["platforms"][1]["declared_day"] = 182
    world = generate_world(parse_scenario(scenario), np.random.default_rng(4))
    study = load_study(write_simulation(world, tmp_path))
    data = synthesis_data(study, _read(study)[0])
    assert data.capture is not None and data.declares_active.tolist() == [True, False, False]
    assert data.declares_early.tolist() == [False, True, False]
    sites = {}
    for name, d in (("day 182", data), ("last day", replace(
            data, declared_day=np.full(data.n_platforms, np.nan)))):
        cfg, arrays = model.model_inputs(d)
        assert cfg.churn
        arrays = {k: jnp.asarray(v) for k, v in arrays.items()}
        compiled = CompiledModel.get(cfg, arrays)
        z = np.random.default_rng(1).normal(0, 0.3, (1, compiled.size))
        value, grad = compiled.value_and_grad(jnp.asarray(z[0]), arrays)
        assert np.isfinite(float(value)) and np.isfinite(np.asarray(grad)).all(), name
        sites[name] = {k: np.asarray(v)[0] for k, v in compiled.constrain(
            jnp.asarray(z), arrays).items()}
    early, late = sites["day 182"], sites["last day"]
    share = float(arrived_by(182 / 364, (float(early["arrival_share"]),
                                         float(early["departure_share"]))))
    assert 0.5 < share < 0.99
    assert early["declared_expected"][1] == pytest.approx(
        late["declared_expected"][1] * share, rel=1e-9)
    assert early["declared_expected"][[0, 2]] == pytest.approx(
        late["declared_expected"][[0, 2]], rel=1e-12)
    # each kind of figure draws its accounts that are not workers' from its own prior: the
    # dormant share for registrations, the share of active accounts for the window
    assert {"dormant_centre", "active_nonworker_centre"} <= set(late)
    from crowdcensus.synthesis.priors import Prior

    fixed = replace(data, priors=replace(
        data.priors, dormant_share=Prior("dormant_share", "d", "fixed", (0.3,)),
        active_nonworker_share=Prior("active_nonworker_share", "a", "fixed", (0.2,)),
        declaration_inflation=Prior("declaration_inflation", "i", "fixed", (1.25,))))
    cfg, arrays = model.model_inputs(fixed)
    arrays = {k: jnp.asarray(v) for k, v in arrays.items()}
    compiled = CompiledModel.get(cfg, arrays)
    z = np.random.default_rng(1).normal(0, 0.3, (1, compiled.size))
    point = {k: np.asarray(v)[0] for k, v in compiled.constrain(jnp.asarray(z), arrays).items()}
    assert point["dormant_share"] == pytest.approx([0.2, 0.3, 0.3], rel=1e-6)
    assert point["declared_bias"] == pytest.approx([1.25 / 0.8, 1.25 / 0.7, 1.25 / 0.7],
                                                   rel=1e-6)
    # shares stated as 0 (every account counted is a worker's): the inflation alone
    none = replace(fixed, priors=replace(
        fixed.priors, dormant_share=Prior("dormant_share", "d", "fixed", (0.0,)),
        active_nonworker_share=Prior("active_nonworker_share", "a", "fixed", (0.0,))))
    cfg, arrays = model.model_inputs(none)
    arrays = {k: jnp.asarray(v) for k, v in arrays.items()}
    compiled = CompiledModel.get(cfg, arrays)
    point = {k: np.asarray(v)[0] for k, v in compiled.constrain(jnp.asarray(z), arrays).items()}
    assert point["dormant_share"] == pytest.approx([0.0, 0.0, 0.0], abs=1e-12)
    assert point["declared_bias"] == pytest.approx([1.25, 1.25, 1.25], rel=1e-9)
    value, grad = compiled.value_and_grad(jnp.asarray(z[0]), arrays)
    assert np.isfinite(float(value)) and np.all(np.isfinite(np.asarray(grad)))


def test_two_classes_of_independent_registrations():
    """With ``registration_classes``, the workers who hold platforms independently are a
    mixture of two classes: a share 1 - k with the levels a_j - k d_j and a share k with
    a_j + (1 - k) d_j, each independent given at least one platform (closed form, per
    bin); with every d_j = 0 the mixture is the one class, whatever k. Each platform's
    slope in the log visit rate is the common one plus its own (c + e_j)."""
    from numpyro.handlers import seed, substitute

    from crowdcensus.synthesis.population import RATE_CENTRE, latent_population

    j = 3
    cfg, a, subsets = _population_alone(j, subset=True)
    level, gap = np.array([-0.5, 0.2, -1.5]), np.array([0.0, 1.5, -2.0])
    x = np.clip(np.log(bin_rates()), np.log(0.01), np.log(10.0)) - RATE_CENTRE

    def independent(lv, own=np.zeros(j)):   # P(set | bin, at least one), (S, G)
        q = 1 - np.exp(-np.exp(lv[None, :] + (0.4 + own)[None, :] * x[:, None]))  # (G, J)
        p = np.prod(np.where(subsets[:, None, :] > 0, q[None], 1 - q[None]), axis=2)
        return p / (1 - np.prod(1 - q, axis=1))[None, :]

    def pattern(classes: bool, d: np.ndarray, k: float, own=np.zeros(j)) -> np.ndarray:
        values = {"log_workers": 8.0, "activity_shape": np.zeros(len(bin_rates()) - 1),
                  "registration_level": level, "registration_activity": 0.4,
                  "registration_activity_platform": own,
                  "first_platform_path": np.array([1e-12, 1e-12, 1e-12, 1.0 - 3e-12]),
                  "visit_weights": np.full(j, 1.0 / j), "registration_class_gap": d,
                  "registration_class_share": k}
        pop = substitute(seed(latent_population, 0), data=values)(
            replace(cfg, registration_classes=classes), a, {})
        return np.exp(np.asarray(pop.log_pr))

    one = pattern(False, gap, 0.3)
    assert one == pytest.approx(independent(level), rel=1e-6)
    assert pattern(True, gap, 0.3) == pytest.approx(
        0.7 * independent(level - 0.3 * gap) + 0.3 * independent(level + 0.7 * gap),
        rel=1e-6)
    assert pattern(True, np.zeros(j), 0.45) == pytest.approx(one, rel=1e-6)
    assert pattern(True, gap, 0.3).sum(axis=0) == pytest.approx(1.0, rel=1e-9)
    own = np.array([0.2, -0.1, 0.3])
    assert pattern(True, gap, 0.3, own) == pytest.approx(
        0.7 * independent(level - 0.3 * gap, own) + 0.3 * independent(level + 0.7 * gap, own),
        rel=1e-6)
    assert not np.allclose(pattern(True, gap, 0.3, own), pattern(True, gap, 0.3), rtol=1e-3)


@pytest.mark.parametrize("stated", [None, (1.0, None, None), (0.8, 0.5, 1.2), (1.5, 1.0, 2.5)],
                         ids=["default", "held", "both-sides", "at-least-1"])
def test_the_odds_of_answering_again_are_the_studys_or_the_default(stated):
    """The behavioural effect (the take-up's log odds after a first answer, site
    ``after_answer``) has the prior of ``assumptions.answer_again``, an odds ratio: by
    default a normal with sd 1 on its logarithm; stated with a range, the log-normal of the
    stated moments (truncated at 1 where the range does not go below it); stated alone,
    held. The model's ``after_answer`` is the logarithm of that odds ratio at each value of
    its sampled coordinate; a study without an experiment has no such prior."""
    from numpyro.handlers import seed, substitute, trace

    from crowdcensus.methods.experiment import _after_answer
    from crowdcensus.study import PositiveFactor, load_study
    from crowdcensus.synthesis.inference import _jax
    from crowdcensus.synthesis.population import truncated_log
    from crowdcensus.synthesis.priors import DEFAULT_ANSWER_AGAIN, study_priors

    _jax()
    examples = files("crowdcensus") / "examples"
    # the France example's experiment gives shares only: no histories, no behavioural term
    france = load_study(Path(str(examples / "france-2018" / "study.toml")))
    assert france.experiment is not None and study_priors(france).answer_again is None
    sim = load_study(Path(str(examples / "simulated" / "study.toml")))
    if stated is None:
        prior = study_priors(sim).answer_again
        assert prior == DEFAULT_ANSWER_AGAIN and prior.params == (0.0, 1.0)
        # 95% of its mass between odds ratios of 0.14 and 7.1, as documented
        assert np.exp(1.96) == pytest.approx(7.1, abs=0.01)
    else:
        value, low, high = stated
        q = PositiveFactor(value=value, low=low, high=high, status="assumed")
        prior = study_priors(_with_assumption(sim, answer_again=q)).answer_again
        assert prior.origin == "assumptions.answer_again"
        if low is None:
            assert (prior.kind, prior.params) == ("fixed", (value,))
        else:
            mean, sd = stated_moments(q)
            assert prior.kind == ("lognormal" if low < 1 else "lognormal_ge1")
            assert prior.params == pytest.approx((np.log(mean), sd / mean))
    spec = (prior.name, prior.kind, prior.params)
    for z in (-1.7, 0.0, 2.2):
        tr = trace(substitute(seed(_after_answer, 0), data={"answer_again_z": z})
                   ).get_trace({"answer_again": spec})
        sampled = {k for k, v in tr.items() if v["type"] == "sample"}
        after = float(tr["after_answer"]["value"])
        if prior.kind == "fixed":
            assert not sampled and after == pytest.approx(np.log(prior.params[0]), abs=1e-7)
        elif prior.kind == "lognormal":
            assert sampled == {"answer_again_z"}
            assert after == pytest.approx(prior.params[0] + z * prior.params[1], abs=1e-7)
        else:
            assert after == pytest.approx(float(truncated_log(*prior.params, z)), abs=1e-7)
            assert after >= 0
        assert float(tr["answer_again"]["value"]) == pytest.approx(np.exp(after), rel=1e-6)


@pytest.mark.parametrize(("start", "end", "churn"), [
    (0.3846, 0.5, (0.2, 0.2)), (0.0, 0.1, (0.4, 0.1)), (0.7, 0.7, (0.25, 0.25)),
    (0.2, 0.9, (0.0, 0.5))])
def test_the_share_present_while_the_waves_ran_is_that_of_uniform_days(start, end, churn):
    """`present_while` against draws of the churn model's workers: a share arrive on a
    uniform day, a share leave on one, and those who do both are present between the
    earlier and the later of two uniform days; a worker counts if present at some time
    between the two days."""
    from crowdcensus.synthesis.population import present_while

    rng = np.random.default_rng(7)
    n = 400_000
    arrive, leave = churn
    arrives, leaves = rng.random(n) < arrive, rng.random(n) < leave
    first, second = rng.random(n), rng.random(n)
    lo, hi = np.minimum(first, second), np.maximum(first, second)
    came = np.where(arrives & leaves, lo, np.where(arrives, first, 0.0))
    went = np.where(arrives & leaves, hi, np.where(leaves, first, 1.0))
    present = ((came <= end) & (went >= start)).mean()
    expected = present_while(start, end, churn)
    assert present == pytest.approx(expected, abs=4 * np.sqrt(expected * (1 - expected) / n))
    assert present_while(start, end, None) == 1.0
