"""A synthetic country of micro-workers with a known truth.

:func:`generate_world` draws, from a :class:`~crowdcensus.simulate.scenario.Scenario`
and a seeded :class:`numpy.random.Generator`:

* **Workers.** ``population.workers`` people who do micro-work at some time in
  the reference period (the *occasional* tier). Each belongs to an activity
  class and visits micro-work platforms at an individual rate
  :math:`\\lambda_i` per week, :math:`\\lambda_i = \\mu_c G_i` with
  :math:`G_i \\sim \\mathrm{Gamma}(a, 1/a)` (mean 1; no variation when the
  class's ``variation`` :math:`a` is 0). Visits form a Poisson process while
  the worker is present.
* **True tiers** follow the rates: *very active* means :math:`\\lambda_i \\ge 1`
  (at least weekly), *regular* :math:`\\lambda_i \\ge 12/52` (at least
  monthly); every worker is occasional. The tiers are nested by construction.
* **Churn.** A share ``churn.arrivals`` starts at a uniform day of the
  reference period (or earlier or later, ``churn.arrival_power``), a share
  ``churn.departures`` stops at a uniform day.
* **Platforms and multi-homing.** A worker's first platform is drawn with the
  platforms' weights; every other platform is added with probability
  :math:`\\min(1, h \\lambda_i^{b})` (``multihoming`` *h*,
  ``multihoming_activity`` *b*). Visits are split over the registered
  platforms in proportion to their weights. With ``segment_share`` *s* and
  ``segment_affinity`` *k* > 1, a share *s* of the workers form group 1 and the
  rest group 0; each platform has its ``segment``, and a worker's first
  platform is drawn with the weights times *k* on their group's platforms and
  over *k* on the others', every other platform added with the chance times or
  over *k* likewise, rescaled so that its mean over the platforms is unchanged
  (capped at 1): platforms of one group share their workers, and the number of
  platforms a worker holds stays about the same.
* **Registered but inactive** people (``inactive_per_worker`` per worker) hold
  accounts and never work.
* **Declared figures**: each platform declares its registrations (workers and
  inactive people) times its ``inflation``; one with ``declared_active_days``
  *t* declares instead the workers who visit it in the last *t* days of the
  reference period (chance :math:`1 - e^{-\\lambda_i \\pi_{ij} t'/7}` for
  :math:`t'` of those days present), times its ``inflation`` (drawn last).
  With ``declared_day`` *d* the figure is taken on day *d*: the registrations
  of the workers started by then (and every inactive person's), or the window
  ending then.
* **Audience**: for every month of the reference period (its nearest whole
  number of months of 364/12 days, of equal length), the workers who visit a
  platform at least once (chance :math:`1 - e^{-\\lambda_i \\pi_{ij} t/7}` for
  :math:`t` days present), averaged over the months, each counted
  ``visitors_per_person`` times (devices, cookies; 1 by default); plus client
  visitors (a share ``client_share`` of all visitors); times a log-normal panel error.
* **Task-posting waves** on every platform: a worker present for :math:`o`
  days of a wave sees the task with probability
  :math:`1 - e^{-\\lambda_i o/7}` and takes it with probability ``take_up``
  (times ``1 - aversion`` once they have answered; with ``take_up_spread`` σ, each
  worker's own :math:`\\mathrm{logit}^{-1}(\\mathrm{logit}(\\text{take\\_up}) + \\sigma z_i)`,
  :math:`z_i \\sim N(0, 1)`; with ``take_up_activity`` *a*, plus :math:`a \\log \\lambda_i`
  inside, so that take-up rises (or falls) with activity, unchanged at one visit a week);
  the task is posted on ``experiment.platforms`` (all by default) and only
  visits to those count; they answer on one of them and report a frequency category
  (shifted to a neighbouring one with probability ``misreport``) and their hours
  per week (1.5 per weekly visit, times a log-normal error of sd ``hours_noise``,
  rounded to ``hours_step``); a share ``experiment.unstated`` of them, drawn at
  random, leaves the question on their platforms blank in the study's responses;
  with ``experiment.platform_omission``, a respondent leaves out each platform
  they are registered on with that chance (once per person), never the one an
  answer is given on.
* **Workers abroad** (``population.abroad`` per worker), drawn as the country's
  workers are, answer the waves too and say they live elsewhere; they count in
  no true tier, no declared figure and no audience.
* **Answers at random** (``activity.inattentive``, a share of the people):
  the frequency is one of the four alike (or by ``activity.inattentive_answers``,
  weights over the four: ``[1, 0, 0, 0]`` always ticks the first), the hours
  another person's (drawn at random), and the attention check is passed
  with chance ``activity.attention_pass`` in each answer, a wrong answer given
  otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from crowdcensus.simulate.scenario import Scenario
from crowdcensus.study import MONTH_DAYS

#: Reported-frequency categories from the most to the least frequent, and the
#: lower bound of each on the weekly visit rate.
CATEGORIES = ("several_weekly", "weekly", "monthly", "less_often")
CATEGORY_FLOOR = (2.0, 1.0, 12 / 52, 0.0)
WEEKLY = 1.0
MONTHLY = 12 / 52


@dataclass
class World:
    """A generated country. Arrays are indexed by worker (active workers only)."""

    scenario: Scenario
    platforms: list[str]
    activity_class: np.ndarray
    rate: np.ndarray
    start: np.ndarray
    end: np.ndarray
    registered: np.ndarray            # (workers, platforms) bool
    visit_share: np.ndarray           # (workers, platforms), rows add up to 1
    category: np.ndarray              # true category index (into CATEGORIES)
    reported: np.ndarray              # the category the worker would report
    inactive_registered: np.ndarray   # (inactive people, platforms) bool
    registrations: np.ndarray         # per platform
    declared: np.ndarray              # per platform
    worker_visitors: np.ndarray       # per platform, monthly mean of distinct workers
    client_visitors: np.ndarray       # per platform
    audience: np.ndarray              # per platform, the panel's monthly uniques
    responses: pd.DataFrame           # one row per (worker, wave) answer
    reach_p_week: dict[str, float] = field(default_factory=dict)
    hours: np.ndarray | None = None   # hours per week each worker would report
    unstated: np.ndarray | None = None  # workers who would leave their platforms blank

    @property
    def posted_share(self) -> np.ndarray:
        """Each worker's share of visits made to the platforms the task is posted on."""
        posted = np.isin(self.platforms, self.scenario.posted())
        return self.visit_share[:, posted].sum(axis=1)

    def wave_posted(self) -> np.ndarray:
        """Which platforms each wave is posted on, (waves, platforms)."""
        return np.array([np.isin(self.platforms, w) for w in self.scenario.posted_in_waves()])

    def reachable_tiers(self) -> dict[str, int]:
        """True tiers among the workers registered on a platform the task is posted on."""
        on = self.posted_share > 0
        return {"occasional": int(on.sum()),
                "regular": int((on & (self.rate >= MONTHLY)).sum()),
                "very_active": int((on & (self.rate >= WEEKLY)).sum())}

    @property
    def n_workers(self) -> int:
        return len(self.rate)

    def tiers(self) -> dict[str, int]:
        """True nested tiers."""
        return {"occasional": int(self.n_workers),
                "regular": int((self.rate >= MONTHLY).sum()),
                "very_active": int((self.rate >= WEEKLY).sum())}

    def truth(self) -> dict:
        """Every true quantity, as plain JSON-able values."""
        tiers = self.tiers()
        k = self.registered.sum(axis=1)
        k_inactive = self.inactive_registered.sum(axis=1)
        regular = self.rate >= MONTHLY
        captured = self.responses["worker"].nunique() if len(self.responses) else 0
        away = (self.responses.loc[self.responses["abroad"], "worker"].nunique()
                if "abroad" in self.responses else 0)
        return {
            "tiers": tiers,
            "bands": {"very_active": tiers["very_active"],
                      "regular_only": tiers["regular"] - tiers["very_active"],
                      "occasional_only": tiers["occasional"] - tiers["regular"]},
            "categories": {c: int((self.category == j).sum()) for j, c in enumerate(CATEGORIES)},
            "classes": {c.name: int((self.activity_class == j).sum())
                        for j, c in enumerate(self.scenario.activity.classes)},
            "inactive_people": int(len(self.inactive_registered)),
            "registered_people": int(self.n_workers + len(self.inactive_registered)),
            "multihoming": {
                "workers": float(k.mean()),
                "regular_workers": float(k[regular].mean()) if regular.any() else None,
                "registered_people": float((k.sum() + k_inactive.sum())
                                           / (len(k) + len(k_inactive))),
            },
            "platforms": [
                {"name": name, "registrations": int(self.registrations[j]),
                 "worker_registrations": int(self.registered[:, j].sum()),
                 "declared": int(self.declared[j]),
                 "inflation": self.scenario.platforms[j].inflation,
                 "monthly_worker_visitors": float(self.worker_visitors[j]),
                 "visitors_per_person": self.scenario.platforms[j].visitors_per_person,
                 "monthly_client_visitors": float(self.client_visitors[j]),
                 "audience": int(self.audience[j])}
                for j, name in enumerate(self.platforms)],
            "churn": {"arrived": int((self.start > 0).sum()),
                      "departed": int((self.end < self.scenario.scenario.reference_days).sum())},
            "experiment": {"respondents": int(captured), "responses": int(len(self.responses)),
                           **({"respondents_abroad": int(away)} if away else {}),
                           "posted_on": self.scenario.posted(),
                           "tiers_registered_where_posted": self.reachable_tiers(),
                           "reach_p_week": self.reach_p_week},
        }


def _rates(rng: np.random.Generator, sc: Scenario, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` people's activity classes and visit rates."""
    classes = sc.activity.classes
    shares = np.array([c.share for c in classes])
    cls = rng.choice(len(classes), size=n, p=shares / shares.sum())
    mu = np.array([c.visits_per_week for c in classes])[cls]
    shape = np.array([c.variation for c in classes])[cls]
    g = np.ones(n)
    varied = shape > 0
    g[varied] = rng.gamma(shape[varied], 1.0 / shape[varied])
    return cls, mu * g


def _hours(rng: np.random.Generator, sc: Scenario, rate: np.ndarray) -> np.ndarray:
    """The hours per week each person would report, rounded to the scenario's step."""
    hours = np.minimum(rate * 1.5 * np.exp(sc.activity.hours_noise
                                           * rng.standard_normal(len(rate))), 60.0)
    step = sc.activity.hours_step
    return np.round(np.round(hours / step) * step, 6)   # 6 decimals: no 0.30000000000000004


def _presence(rng: np.random.Generator, n: int, sc: Scenario) -> tuple[np.ndarray, np.ndarray]:
    days = float(sc.scenario.reference_days)
    start = np.zeros(n)
    end = np.full(n, days)
    arrive = rng.random(n) < sc.churn.arrivals
    depart = rng.random(n) < sc.churn.departures
    start[arrive] = days * rng.uniform(0, 1, arrive.sum()) ** sc.churn.arrival_power
    end[depart] = rng.uniform(0, days, depart.sum())
    both = arrive & depart
    # somebody who both arrives and leaves is there between the two days
    lo = np.minimum(start[both], end[both])
    hi = np.maximum(start[both], end[both])
    start[both], end[both] = lo, np.maximum(hi, lo + 1.0)
    end = np.clip(end, 1.0, days)
    start = np.clip(np.minimum(start, end - 1.0), 0.0, None)
    return start, end


def _platforms(rng: np.random.Generator, rate: np.ndarray, weights: np.ndarray, h: float,
               b: float, groups: tuple[np.ndarray, float, float] | None = None
               ) -> np.ndarray:
    """Each person's platforms: a first one by the weights, each other one added with
    chance h·rate^b. ``groups`` (each platform's group, the share of people in group 1,
    the affinity): both scaled up by the affinity on the person's group's platforms and
    down on the others', the chances then rescaled to keep their mean over the platforms."""
    n, p = len(rate), len(weights)
    if groups is None or groups[2] == 1:
        first = rng.choice(p, size=n, p=weights / weights.sum())
        chance = np.minimum(1.0, h * np.power(np.maximum(rate, 1e-12), b))
        reg = rng.random((n, p)) < chance[:, None]
    else:
        segment, share, affinity = groups
        member = (rng.random(n) < share).astype(int)
        factor = np.where(segment[None, :] == member[:, None], affinity, 1.0 / affinity)
        w = weights[None, :] * factor
        cum = np.cumsum(w / w.sum(axis=1, keepdims=True), axis=1)
        first = np.minimum((cum < rng.random(n)[:, None]).sum(axis=1), p - 1)
        # the chances scaled so that their mean over the platforms stays h·rate^b: the
        # groups change who holds which platforms, not how many
        scale = factor / factor.mean(axis=1, keepdims=True)
        chance = np.minimum(1.0, h * np.power(np.maximum(rate, 1e-12), b)[:, None] * scale)
        reg = rng.random((n, p)) < chance
    reg[np.arange(n), first] = True
    return reg


def _groups(sc: Scenario) -> tuple[np.ndarray, float, float]:
    """The scenario's groups of workers for :func:`_platforms`."""
    return (np.array([p.segment for p in sc.platforms]), sc.population.segment_share,
            sc.population.segment_affinity)


def _overlap(start: np.ndarray, end: np.ndarray, a: float, b: float) -> np.ndarray:
    return np.clip(np.minimum(end, b) - np.maximum(start, a), 0.0, None)


def _category(rate: np.ndarray) -> np.ndarray:
    cat = np.full(len(rate), len(CATEGORIES) - 1)
    for j in reversed(range(len(CATEGORIES) - 1)):
        cat[rate >= CATEGORY_FLOOR[j]] = j
    return cat


def _misreport(rng: np.random.Generator, cat: np.ndarray, chance: float) -> np.ndarray:
    if chance <= 0:
        return cat.copy()
    flip = rng.random(len(cat)) < chance
    step = np.where(rng.random(len(cat)) < 0.5, -1, 1)
    return np.where(flip, np.clip(cat + step, 0, len(CATEGORIES) - 1), cat)


def generate_world(scenario: Scenario, rng: np.random.Generator) -> World:
    """Draw a synthetic country from ``scenario`` (see the module docstring)."""
    sc = scenario
    n = sc.population.workers
    cls, rate = _rates(rng, sc, n)
    start, end = _presence(rng, n, sc)

    names = [p.name for p in sc.platforms]
    weights = np.array([p.weight for p in sc.platforms])
    h, b = sc.population.multihoming, sc.population.multihoming_activity
    reg = _platforms(rng, rate, weights, h, b, _groups(sc))
    share = _visit_split(reg, weights)
    n_inactive = int(round(n * sc.population.inactive_per_worker))
    inactive = _platforms(rng, np.ones(n_inactive), weights, h, 0.0, _groups(sc))

    registrations = reg.sum(axis=0) + inactive.sum(axis=0)
    inflation = np.array([p.inflation for p in sc.platforms])
    days = float(sc.scenario.reference_days)
    # a figure taken on an earlier day counts the registrations of those started by then
    taken = np.array([days if p.declared_day is None else float(p.declared_day)
                      for p in sc.platforms])
    counted = np.array([registrations[j] if taken[j] >= days else
                        reg[start <= taken[j], j].sum() + inactive[:, j].sum()
                        for j in range(len(names))])
    declared = np.round(counted * inflation).astype(np.int64)

    # the reference period cut into its nearest whole number of months of equal length
    # (a month is a twelfth of a 364-day year: 12 in a year, 3 in 91 days, 24 in 728;
    # until 2026-12-03 always 12, so that a 91-day period had 'months' of 7.6 days)
    n_months = max(1, round(days / MONTH_DAYS))
    month = days / n_months
    seen = np.zeros(len(names))
    for m in range(n_months):
        t = _overlap(start, end, m * month, (m + 1) * month)
        prob = 1.0 - np.exp(-(rate * t / 7.0)[:, None] * share)
        seen += (rng.random(prob.shape) < prob).sum(axis=0)
    worker_visitors = seen / n_months
    # the panel counts each worker who visits ``visitors_per_person`` times (devices,
    # cookies), and the clients as a share of everything it counts
    counted = worker_visitors * np.array([p.visitors_per_person for p in sc.platforms])
    cs = np.array([p.client_share for p in sc.platforms])
    client_visitors = rng.poisson(counted * cs / (1 - cs)).astype(float)
    noise = np.array([p.audience_noise for p in sc.platforms])
    audience = np.round((counted + client_visitors)
                        * np.exp(noise * rng.standard_normal(len(names))))

    category = _category(rate)
    reported = _misreport(rng, category, sc.activity.misreport)
    posted = np.array([np.isin(names, wave) for wave in sc.posted_in_waves()])   # (T, P)
    responses = _waves(rng, sc, rate, start, end, share, posted, names, reg, reported)
    hours = _hours(rng, sc, rate)
    # drawn last, and only when asked for, so that the rest is the scenario's without it
    unstated = (rng.random(n) < sc.experiment.unstated if sc.experiment.unstated > 0
                else None)
    if sc.population.abroad > 0:   # drawn last too, for the same reason
        responses, hours, unstated = _abroad(rng, sc, responses, hours, unstated, weights,
                                             names, posted)
    if sc.activity.inattentive > 0:   # and last again
        responses, hours = _inattentive(rng, sc.activity.inattentive,
                                        sc.activity.attention_pass, responses, hours,
                                        sc.activity.inattentive_answers)
    if sc.experiment.platform_omission > 0:   # last of all
        responses = _omit_platforms(rng, sc.experiment.platform_omission, responses, names)
    windows = [p.declared_active_days for p in sc.platforms]
    if any(w is not None for w in windows):   # and after it
        declared = _declared_active(rng, declared, windows, inflation, rate, start, end, share,
                                    taken)
    world = World(sc, names, cls, rate, start, end, reg, share, category, reported, inactive,
                  registrations, declared, worker_visitors, client_visitors, audience,
                  responses, hours=hours, unstated=unstated)
    world.reach_p_week = _reach_assumption(world)
    return world


def _declared_active(rng: np.random.Generator, declared: np.ndarray, windows: list,
                     inflation: np.ndarray, rate: np.ndarray, start: np.ndarray,
                     end: np.ndarray, share: np.ndarray, taken: np.ndarray) -> np.ndarray:
    """The declared figures of the platforms that declare the workers who visited them in
    the ``windows[j]`` days up to the day ``taken[j]`` (times their inflation); the others'
    as given."""
    out = declared.copy()
    for j, w in enumerate(windows):
        if w is None:
            continue
        t = _overlap(start, end, taken[j] - w, taken[j])
        prob = 1.0 - np.exp(-rate * t / 7.0 * share[:, j])
        out[j] = int(round((rng.random(len(rate)) < prob).sum() * inflation[j]))
    return out


def _visit_split(reg: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Each person's visits over their platforms, in proportion to the platforms' weights."""
    share = reg * weights[None, :]
    return share / share.sum(axis=1, keepdims=True)


def _abroad(rng: np.random.Generator, sc: Scenario, responses: pd.DataFrame,
            hours: np.ndarray, unstated: np.ndarray | None, weights: np.ndarray,
            names: list[str], posted: np.ndarray,
            ) -> tuple[pd.DataFrame, np.ndarray, np.ndarray | None]:
    """The answers of ``population.abroad`` people per worker who live elsewhere, drawn
    as the country's workers are (classes, rates, presence, platforms, hours), after
    the country's: their rows get ``abroad`` true and indices after the workers'."""
    n = len(hours)
    m = int(round(n * sc.population.abroad))
    _, rate = _rates(rng, sc, m)
    start, end = _presence(rng, m, sc)
    reg = _platforms(rng, rate, weights, sc.population.multihoming,
                     sc.population.multihoming_activity, _groups(sc))
    share = _visit_split(reg, weights)
    reported = _misreport(rng, _category(rate), sc.activity.misreport)
    away = _waves(rng, sc, rate, start, end, share, posted, names, reg, reported)
    away["index"] += n
    h = _hours(rng, sc, rate)
    if unstated is not None:
        unstated = np.concatenate([unstated, rng.random(m) < sc.experiment.unstated])
    frame = pd.concat([responses.assign(abroad=False), away.assign(abroad=True)],
                      ignore_index=True)
    return frame, np.concatenate([hours, h]), unstated


def _omit_platforms(rng: np.random.Generator, omission: float, responses: pd.DataFrame,
                    names: list[str]) -> pd.DataFrame:
    """Each person (by index) leaves out each platform they are registered on with chance
    ``omission``, drawn once per person and platform; an answer names the platform it is
    given on all the same."""
    bit = {name: 1 << j for j, name in enumerate(names)}
    sets, row_set = np.unique(responses["platforms_registered"].to_numpy(dtype=str),
                              return_inverse=True)
    held = np.array([sum(bit[x] for x in s.split(",") if x) for s in sets.tolist()],
                    dtype=np.int64)[row_set.ravel()]
    idx = responses["index"].to_numpy()
    people = int(idx.max()) + 1 if len(idx) else 0
    forgot = rng.random((people, len(names))) < omission
    lost = forgot.astype(np.int64) @ (1 << np.arange(len(names), dtype=np.int64))
    on = responses["platform"].map(bit).to_numpy(dtype=np.int64)
    named = (held & ~lost[idx]) | on
    codes, code_of = np.unique(named, return_inverse=True)
    text = np.array([",".join(name for j, name in enumerate(names) if c >> j & 1)
                     for c in codes.tolist()], dtype=object)
    return responses.assign(platforms_registered=text[code_of.ravel()])


#: The attention check's answers (the collection service's; it asks for "rarely").
ATTENTION_ANSWERS = ("never", "rarely", "sometimes", "often")


def _inattentive(rng: np.random.Generator, share: float, passing: float,
                 responses: pd.DataFrame, hours: np.ndarray,
                 weights: list[float] | None = None) -> tuple[pd.DataFrame, np.ndarray]:
    """A share of the people (by index) answer the frequency at random (the four alike,
    or by ``weights`` in the order of :data:`CATEGORIES`) and give another person's hours
    (one answer per person), and pass the attention check with chance ``passing`` in each
    answer, giving one of the wrong answers at random otherwise (column ``attention``)."""
    people = len(hours)
    careless = rng.random(people) < share
    if weights is None:
        answer = rng.integers(len(CATEGORIES), size=people)
    else:
        p = np.asarray(weights, dtype=float)
        answer = rng.choice(len(CATEGORIES), size=people, p=p / p.sum())
    idx = responses["index"].to_numpy()
    hit = careless[idx]
    freq = responses["frequency"].to_numpy(dtype=object).copy()
    freq[hit] = np.array(CATEGORIES, dtype=object)[answer[idx[hit]]]
    wrong = np.array([a for a in ATTENTION_ANSWERS if a != "rarely"], dtype=object)
    check = np.where(rng.random(len(responses)) < passing, "rarely",
                     wrong[rng.integers(len(wrong), size=len(responses))])
    hours = hours.copy()
    hours[careless] = hours[rng.integers(people, size=int(careless.sum()))]
    return responses.assign(frequency=freq, attention=np.where(hit, check, "rarely")), hours


def _activity_shift(exp, rate: np.ndarray) -> np.ndarray | float:
    """Each worker's take-up shift on the logit scale from their activity:
    ``take_up_activity`` x log(rate), rate in visits a week (0 at one visit a week)."""
    if exp.take_up_activity == 0:
        return 0.0
    return exp.take_up_activity * np.log(np.maximum(rate, 1e-6))


def _own_take_up(rng: np.random.Generator, take_up: float, spread: float,
                 n: int, shift: np.ndarray | float = 0.0) -> float | np.ndarray:
    """Each worker's chance of taking the task once seen: ``take_up`` for all, or the
    inverse logit of logit(``take_up``) + ``shift`` (:func:`_activity_shift`) + ``spread``
    x N(0, 1) per worker (drawn only with a spread, so that a scenario without one keeps
    its stream)."""
    if (spread <= 0 and np.all(np.asarray(shift) == 0)) or take_up in (0.0, 1.0):
        return take_up
    logit = np.log(take_up) - np.log1p(-take_up) + shift
    if spread > 0:
        logit = logit + spread * rng.standard_normal(n)
    return 1.0 / (1.0 + np.exp(-logit))


def _waves(rng: np.random.Generator, sc: Scenario, rate: np.ndarray, start: np.ndarray,
           end: np.ndarray, visits: np.ndarray, posted: np.ndarray, names: list[str],
           reg: np.ndarray, reported: np.ndarray) -> pd.DataFrame:
    """The answers: ``visits`` (workers, platforms) splits each worker's visits, ``posted``
    (waves, platforms) marks the platforms each wave is posted on."""
    exp = sc.experiment
    n, p = visits.shape
    # eight random bytes per worker, as hex (one draw of 8n bytes is the same stream)
    ids = np.frombuffer(rng.bytes(8 * n).hex().encode(), dtype="S16").astype(str)
    # each worker's platforms as the questionnaire writes them, one string per distinct set
    bits = reg.astype(np.int64) @ (1 << np.arange(reg.shape[1], dtype=np.int64))
    sets, set_of = np.unique(bits, return_inverse=True)
    set_names = np.array([",".join(name for j, name in enumerate(names) if b >> j & 1)
                          for b in sets.tolist()], dtype=object)
    registered = set_names[set_of.ravel()]
    frames = []
    answered = np.zeros(n, dtype=bool)
    take_up = _own_take_up(rng, exp.take_up, exp.take_up_spread, n,
                           _activity_shift(exp, rate))
    for w in range(exp.waves):
        share = visits * posted[w][None, :]
        seen_share = share.sum(axis=1)
        cum = np.cumsum(share, axis=1)
        a = exp.first_day + w * exp.spacing_days
        o = _overlap(start, end, a, a + exp.days(w))
        take = take_up * np.where(answered, 1.0 - exp.aversion, 1.0)
        answer = rng.random(n) < take * (1.0 - np.exp(-exp.sight * rate * seen_share * o / 7.0))
        answered |= answer
        idx = np.flatnonzero(answer)
        u = rng.random(len(idx)) * seen_share[idx]
        where = np.minimum((u[:, None] > cum[idx]).sum(axis=1), p - 1)
        frames.append(pd.DataFrame({
            "worker": ids[idx], "index": idx, "wave": f"w{w + 1}", "wave_index": w,
            "day": a + rng.uniform(0, exp.days(w), len(idx)),
            "platform": np.array(names)[where],
            "frequency": np.array(CATEGORIES)[reported[idx]],
            "platforms_registered": registered[idx],
            "began": start[idx],
        }))
    return pd.concat(frames, ignore_index=True)


def mean_take_up(take_up: float, spread: float,
                 shift: np.ndarray | float = 0.0) -> np.ndarray | float:
    """The mean take-up of workers whose take-up is logit^-1(logit(take_up) + shift +
    spread z) over z ~ N(0, 1) (:func:`_own_take_up`), by Gauss-Hermite quadrature: one
    value per ``shift``."""
    if take_up in (0.0, 1.0) or (spread <= 0 and np.ndim(shift) == 0 and shift == 0):
        return float(take_up)
    logit = np.log(take_up) - np.log1p(-take_up) + np.asarray(shift, dtype=float)
    if spread <= 0:
        out = 1.0 / (1.0 + np.exp(-logit))
    else:
        x, w = np.polynomial.hermite_e.hermegauss(41)
        out = (1.0 / (1.0 + np.exp(-(logit[..., None] + spread * x)))) @ w / np.sqrt(2 * np.pi)
    return float(out) if np.ndim(out) == 0 else out


def _reach_assumption(world: World) -> dict[str, float]:
    """The study's ``p_week`` per reported category: population value x ``reach_error``.

    The population value is the chance, averaged over the workers who would give
    that answer, of seeing a task posted for a week and taking it,
    ``take_up * (1 - exp(-sight * rate * s))`` with ``s`` the share of the worker's visits
    made to the platforms the task is posted on (``take_up``: each worker's mean under a
    ``take_up_spread`` and ``take_up_activity``); a researcher would take it from a pilot or
    the literature, so the scenario can bias it (``reach_error``).
    """
    exp = world.scenario.experiment
    out = {}
    for j, c in enumerate(CATEGORIES):
        mask = world.reported == j
        if not mask.any():
            continue
        # averaged over the waves, each with the share of visits to its platforms
        postings, waves = np.unique(world.wave_posted(), axis=0, return_counts=True)
        take = mean_take_up(exp.take_up, exp.take_up_spread,
                            _activity_shift(exp, world.rate[mask]))
        seen = [np.mean(take * (1.0 - np.exp(-exp.sight * world.rate[mask]
                                             * world.visit_share[mask][:, on].sum(axis=1))))
                for on in postings]
        p = float(seen[0] if len(seen) == 1 else np.average(seen, weights=waves))
        out[c] = float(min(p * exp.reach_error, 0.999))
    return out
