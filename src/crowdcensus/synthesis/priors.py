"""Priors of the joint model's bias parameters: from the study file, or documented defaults.

Every assumption the methods rest on is a parameter of the joint model with a
prior. A study states it like any other input (``value``, ``low``, ``high``,
``status``, ``source``) in ``[assumptions]``; when it says nothing, a weakly
informative default applies. The defaults, and why, are in
``docs/synthesis.md``. The declared figures' overstatement has one default, on the
dormant share: no source here tells dormant accounts from inflation (only their
product acts), and two defaults would multiply into a prior with no mass at exact
declarations. A stated inflation adds its own factor:

=========================  =============================================  =====================
parameter                  default prior                                   95% of its mass
=========================  =============================================  =====================
dormant share              Beta(1, 3): most likely 0, mean 0.25            0.01 to 0.71
non-workers among active   Beta(1, 9): most likely 0, mean 0.1, where a    0.003 to 0.34
accounts                   platform declares its accounts active in a
                           window (``declared_active_days``); none
                           elsewhere
declaration inflation      none (1): the dormant share carries it all      1
visitors per person        log visitors half-normal, sd 0.1                1.00 to 1.22
worker share of visitors   Beta(6, 1.5)                                    0.47 to 0.98
misreported frequency      Beta(1.5, 10)                                   0.01 to 0.36
answers at random          with no attention check Beta(1, 19); with one   0.001 to 0.18
                           f of n failed, mean and sd f / 3 / (n - f);
                           with one nobody failed, none
platforms left out         Beta(1, 9), where the task was posted on some  0.003 to 0.34
                           platforms only (the respondents' lists carry
                           the extrapolation); none elsewhere
answering again (odds      log odds ratio normal, sd 1: most likely 1     0.14 to 7.1
ratio after a first        (no effect), where the study has an
answer)                    experiment's responses
start misdated (those      none (0): the answers on when respondents       0
there from the start who   began taken as exact, where the model reads
say they began during it)  them; a stated share widens the arrivals
workers arriving, and      Beta(1, 4) each: most likely 0, mean 0.2,       0.006 to 0.60
workers leaving, during    where the joint model carries workers who come
the reference period       and go (the waves span more than eight weeks,
                           ``experiment.churn = true``, or a stated share)
=========================  =============================================  =====================

A stated share (between 0 and 1) becomes a Beta prior with the mean and standard
deviation of the stated distribution over its range (triangular with the value as
its mode, or uniform: the same draws the methods' Monte Carlo makes); a stated
factor of at least 1 (inflation, visitors per person, multi-homing) becomes a
normal prior on its logarithm, truncated at 0, with the same mean and relative
spread (the odds ratio of answering again, too: truncated at 1 only where the stated
range does not go below it). A stated value without a range is held fixed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from crowdcensus.study import Quantity, Study


@dataclass(frozen=True)
class Prior:
    """One prior.

    ``kind`` is ``"beta"`` (params a, b), ``"logitnormal"`` (mu, sd on the
    logit), ``"lognormal_ge1"`` (mu, sd of a normal on the log, truncated at
    0), ``"lognormal"`` (mu, sd of a normal on the log: a factor whose stated
    range goes below 1) or ``"fixed"`` (the value). ``origin`` says where it comes from: the
    study file's field path, or ``"default"``.
    """

    name: str
    label: str
    kind: str
    params: tuple[float, ...]
    origin: str = "default"
    status: str = "default"
    source: str = ""

    @property
    def model_kind(self) -> str:
        """The kind the joint model samples: ``"beta1"`` for Beta(1, b), which it samples
        through its quantile (:func:`crowdcensus.synthesis.population.prior_site`)."""
        return "beta1" if self.kind == "beta" and self.params[0] == 1 else self.kind

    @property
    def held_at_zero(self) -> bool:
        """Whether the prior holds its parameter at 0 (a study that states a chance of 0
        with no range): the model then leaves out the part that parameter drives.

        >>> Prior("misreport", "", "fixed", (0.0,)).held_at_zero
        True
        """
        return self.kind == "fixed" and self.params[0] == 0

    def draw(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """Draws from the prior (for the prior-to-posterior comparison)."""
        if self.kind == "beta":
            return rng.beta(self.params[0], self.params[1], size)
        if self.kind == "logitnormal":
            z = self.params[0] + self.params[1] * rng.standard_normal(size)
            return 1 / (1 + np.exp(-z))
        if self.kind == "lognormal":
            return np.exp(self.params[0] + self.params[1] * rng.standard_normal(size))
        if self.kind == "lognormal_ge1":
            mu, sd = self.params
            out = np.empty(0)
            while out.size < size:  # truncated at log 1 = 0
                z = mu + sd * rng.standard_normal(2 * size + 16)
                out = np.concatenate([out, z[z >= 0]])
            return np.exp(out[:size])
        return np.full(size, self.params[0])


def in_model(prior: Prior | None) -> bool:
    """Whether the model has the part a prior drives: the prior is there and does not hold
    its parameter at 0 (:attr:`Prior.held_at_zero`)."""
    return prior is not None and not prior.held_at_zero


@dataclass(frozen=True)
class Priors:
    """The priors of one study (``worker_share`` has one entry per platform)."""

    dormant_share: Prior
    declaration_inflation: Prior
    visitors_per_person: Prior
    misreport: Prior
    worker_share: tuple[Prior, ...]
    multihoming: Prior | None
    #: Respondents answering the frequency at random, among those whose answer is read:
    #: stated, or from those who failed the attention check (:func:`random_answers_prior`).
    random_answers: Prior | None = None
    #: The chance that a respondent leaves out a platform they are registered on: only
    #: where the model reads it (the task posted on some platforms only).
    platform_omission: Prior | None = None
    #: The share of the accounts counted active that are not workers': only where a
    #: platform declares its accounts active in a window.
    active_nonworker_share: Prior | None = None
    #: The odds ratio of taking the task again after a first answer (the experiment's
    #: behavioural effect): where the study has the experiment's responses.
    answer_again: Prior | None = None
    #: The shares of the workers who arrive and who leave during the reference period:
    #: where the joint model carries workers who come and go (both or neither).
    arrival_share: Prior | None = None
    departure_share: Prior | None = None
    #: The share of the respondents there from the period's start who say they began
    #: during it: where the model reads the answers on when respondents began.
    start_misdated: Prior | None = None

    def all(self) -> list[Prior]:
        out = [self.dormant_share, self.declaration_inflation, self.visitors_per_person,
               self.misreport, *self.worker_share]
        return out + [p for p in (self.multihoming, self.random_answers,
                                  self.platform_omission, self.active_nonworker_share,
                                  self.answer_again, self.arrival_share,
                                  self.departure_share, self.start_misdated)
                      if p is not None]


def stated_moments(q: Quantity) -> tuple[float, float]:
    """Mean and standard deviation of a stated quantity's distribution over its range.

    A triangular distribution (low, value, high) or a uniform one (low, high), as the
    study file says (``distribution``); the same draws the methods' Monte Carlo makes.
    """
    lo, hi = q.range
    if q.distribution == "uniform":
        return (lo + hi) / 2, (hi - lo) / np.sqrt(12)
    c = q.value
    mean = (lo + c + hi) / 3
    var = (lo * lo + c * c + hi * hi - lo * c - lo * hi - c * hi) / 18
    return mean, float(np.sqrt(max(var, 0.0)))


def beta_from(mean: float, sd: float) -> tuple[float, float]:
    """Beta(a, b) with the given mean and standard deviation."""
    m = min(max(mean, 1e-4), 1 - 1e-4)
    var = min(sd * sd, m * (1 - m) * 0.95)
    k = m * (1 - m) / var - 1
    return float(max(m * k, 0.05)), float(max((1 - m) * k, 0.05))


def _stated(name: str, label: str, q: Quantity, path: str) -> tuple[Prior | None, dict]:
    """A fixed prior when ``q`` has no range, and the provenance every prior carries."""
    lo, hi = q.range
    common = {"origin": path, "status": q.status, "source": q.source or ""}
    fixed = Prior(name, label, "fixed", (float(q.value),), **common) if hi <= lo else None
    return fixed, common


def share_prior(name: str, label: str, q: Quantity | None, default: Prior, path: str) -> Prior:
    """A prior for a share from a stated quantity (moment-matched Beta), or ``default``."""
    if q is None:
        return default
    fixed, common = _stated(name, label, q, path)
    if fixed is not None:
        return fixed
    a, b = beta_from(*stated_moments(q))
    return Prior(name, label, "beta", (a, b), **common)


def factor_prior(name: str, label: str, q: Quantity | None, default: Prior, path: str
                 ) -> Prior:
    """A prior for a factor from a stated quantity: log-normal, truncated at 1 unless the
    stated range goes below 1 (a factor only some fields allow there)."""
    if q is None:
        return default
    fixed, common = _stated(name, label, q, path)
    if fixed is not None:
        return fixed
    mean, sd = stated_moments(q)
    kind = "lognormal" if q.range[0] < 1 else "lognormal_ge1"
    return Prior(name, label, kind, (float(np.log(mean)), float(sd / mean)), **common)


def counted_multihoming(draws: np.ndarray) -> Prior | None:
    """A prior for the platforms per worker from the respondents' counts of platforms (the
    experiment method's reach-weighted mean, ``draws`` its bootstrap), for a study whose
    respondents give a count rather than names; None without usable draws."""
    d = np.asarray(draws, dtype=float)
    d = d[np.isfinite(d) & (d >= 1.0)]
    if len(d) < 2:
        return None
    logs = np.log(d)
    return Prior("multihoming", "Platforms per registered worker", "lognormal_ge1",
                 (float(np.median(logs)), float(max(np.std(logs), 0.01))),
                 origin="experiment.columns.registered_on", status="estimated",
                 source="the respondents' counts of platforms, weighted by their reach")


DEFAULT_DORMANT = Prior("dormant_share", "Share of registered accounts that are not workers",
                        "beta", (1.0, 3.0))
#: A figure of the accounts active in a window holds no dormant account, but may hold
#: accounts of people who are not workers (sign-ups who never finish a task, test accounts,
#: bots): most likely none, mean 0.1, as one-sided as the dormant share (without it, such a
#: figure would be taken as exact unless the study stated an inflation).
DEFAULT_ACTIVE_NONWORKER = Prior("active_nonworker_share",
                                 "Share of accounts counted active that are not workers",
                                 "beta", (1.0, 9.0))
#: None by default: the dormant share carries the declared figures' whole overstatement
#: (``docs/synthesis.md``, "One default for the overstatement").
DEFAULT_INFLATION = Prior("declaration_inflation", "Declared registrations / true registrations",
                          "fixed", (1.0,))
DEFAULT_VISITORS = Prior("visitors_per_person", "Visitors counted per person (devices, cookies)",
                         "lognormal_ge1", (0.0, 0.1))
DEFAULT_MISREPORT = Prior("misreport", "Chance of answering a neighbouring frequency",
                          "beta", (1.5, 10.0))
DEFAULT_WORKER_SHARE = (6.0, 1.5)
#: The behavioural effect: its logarithm (the change of the take-up's log odds after a
#: first answer) normal, mean 0, sd 1, so odds ratios of 0.14 to 7.1 (95%) are all
#: plausible; the histories place it where many respondents answer twice. Not narrower:
#: exclusion of past participants, or a strong aversion (0.2 and below), is common enough.
DEFAULT_ANSWER_AGAIN = Prior("answer_again", "Odds ratio of answering again after a first answer",
                             "lognormal", (0.0, 1.0))

#: Workers who come and go: a share arriving and a share leaving at a uniform time of the
#: reference period, Beta(1, 4) each (most likely none, mean 0.2). Where the waves span
#: the year the histories tell them; where they span a few weeks, this prior does.
DEFAULT_ARRIVALS = Prior("arrival_share", "Share of workers arriving during the reference "
                         "period", "beta", (1.0, 4.0))
DEFAULT_DEPARTURES = Prior("departure_share", "Share of workers leaving during the reference "
                           "period", "beta", (1.0, 4.0))

#: Where the model carries arrivals only because respondents say when they began (waves of
#: a few weeks): departures held at none, the closed reading's assumption, which no answer
#: here can test (those who left before the waves are not there to answer).
NO_DEPARTURES = Prior("departure_share", DEFAULT_DEPARTURES.label, "fixed", (0.0,),
                      status="assumed")


#: Where respondents say when they began: none of those there from the period's start
#: says they began during it, unless the study states a share
#: (``assumptions.start_misdated``). Not a default above 0: the data tell a misdated
#: start from an arrival only a little, so a share assumed is taken from the arrivals the
#: answers show (0.05, 0 to 0.15, read the arrival share as 0.08 for 0.15 on a country
#: whose answers were exact, the regular tier 3.6% low; docs/validation.md).
NO_MISDATED_STARTS = Prior("start_misdated", "Share of those there from the period's start "
                           "who say they began during it", "fixed", (0.0,), status="assumed")


def start_misdated_prior(study: Study) -> Prior:
    """The study's stated ``assumptions.start_misdated``, or none misdated."""
    return share_prior("start_misdated", NO_MISDATED_STARTS.label,
                       getattr(study.assumptions, "start_misdated", None), NO_MISDATED_STARTS,
                       "assumptions.start_misdated")


def turnover_priors(study: Study) -> tuple[Prior, Prior] | None:
    """The priors of the shares of workers arriving and leaving: the study's stated
    ``assumptions.arrival_share`` and ``departure_share`` (the default for the one it
    leaves out), or None when it states neither."""
    a = study.assumptions
    if not a.turnover_stated:
        return None
    arrive, leave = (share_prior(d.name, d.label, getattr(a, d.name), d,
                                 f"assumptions.{d.name}")
                     for d in (DEFAULT_ARRIVALS, DEFAULT_DEPARTURES))
    return arrive, leave


#: Where the task was posted on some platforms only: a respondent leaves out a platform they
#: are registered on with a chance of Beta(1, 9) (most likely none, mean 0.1; a platform
#: used rarely, or long ago, is easily forgotten).
DEFAULT_PLATFORM_OMISSION = Prior("platform_omission",
                                  "Chance that a respondent leaves out a platform they hold",
                                  "beta", (1.0, 9.0))


def platform_omission_prior(study: Study) -> Prior:
    """The study's stated ``assumptions.platform_omission``, or the default."""
    q = getattr(study.assumptions, "platform_omission", None)
    return share_prior("platform_omission", DEFAULT_PLATFORM_OMISSION.label, q,
                       DEFAULT_PLATFORM_OMISSION, "assumptions.platform_omission")


#: The collection service's attention check has four answers, one of them right: a
#: respondent answering at random fails it three times in four.
ATTENTION_CHOICES = 4
RANDOM_ANSWERS_LABEL = "Respondents answering the frequency at random"


#: Without an attention check: respondents answering at random, a share of Beta(1, 19)
#: (mean 0.05; online surveys find a few percent to over a tenth of careless answers).
DEFAULT_RANDOM_ANSWERS = Prior("random_answers", RANDOM_ANSWERS_LABEL, "beta", (1.0, 19.0))


def random_answers_prior(failed: int, respondents: int) -> Prior | None:
    """The default prior of the share answering at random among the respondents who
    passed the attention check, when ``failed`` of ``respondents`` failed it: those who
    answer at random pass it one time in :data:`ATTENTION_CHOICES`, so for ``failed`` who
    failed, about ``failed / (ATTENTION_CHOICES - 1)`` passed; the prior is a Beta with
    that share as its mean and as its standard deviation (the check's answers need not
    be random). None when nobody failed.

    >>> p = random_answers_prior(300, 3300)
    >>> round(p.params[0] / sum(p.params), 3)
    0.033
    """
    passed = respondents - failed
    if failed <= 0 or passed <= 0:
        return None
    mean = min(failed / (ATTENTION_CHOICES - 1) / passed, 0.5)
    return Prior("random_answers", RANDOM_ANSWERS_LABEL, "beta", beta_from(mean, mean),
                 origin="experiment.columns.attention", status="derived")


def study_priors(study: Study) -> Priors:
    """The priors that ``study`` states, with the defaults for the rest."""
    a = study.assumptions
    get = lambda name: getattr(a, name, None)  # noqa: E731 - older study objects lack fields
    ws = []
    for i, p in enumerate(study.platforms):
        q = p.audience.worker_share if p.audience is not None else None
        default = Prior(f"worker_share_{i}", f"Share of visitors who are workers: {p.name}",
                        "beta", DEFAULT_WORKER_SHARE)
        ws.append(share_prior(default.name, default.label, q, default,
                              f"platforms[{i}].audience.worker_share"))
    mh = a.multihoming.as_quantity()
    multihoming = None
    if mh is not None:
        multihoming = factor_prior("multihoming", "Platforms per registered worker", mh,
                                   Prior("multihoming", "", "fixed", (mh.value,)),
                                   "assumptions.multihoming")
    turnover = turnover_priors(study) or (None, None)
    return Priors(
        dormant_share=share_prior("dormant_share", DEFAULT_DORMANT.label, get("dormant_share"),
                                  DEFAULT_DORMANT, "assumptions.dormant_share"),
        declaration_inflation=factor_prior("declaration_inflation", DEFAULT_INFLATION.label,
                                           get("declaration_inflation"), DEFAULT_INFLATION,
                                           "assumptions.declaration_inflation"),
        visitors_per_person=factor_prior("visitors_per_person", DEFAULT_VISITORS.label,
                                         get("visitors_per_person"), DEFAULT_VISITORS,
                                         "assumptions.visitors_per_person"),
        misreport=share_prior("misreport", DEFAULT_MISREPORT.label, get("misreport"),
                              DEFAULT_MISREPORT, "assumptions.misreport"),
        worker_share=tuple(ws),
        multihoming=multihoming,
        # not stated: set from the responses (synthesis_data), which tell if there is a check
        random_answers=(share_prior("random_answers", RANDOM_ANSWERS_LABEL,
                                    get("random_answers"), DEFAULT_RANDOM_ANSWERS,
                                    "assumptions.random_answers")
                        if get("random_answers") is not None else None),
        active_nonworker_share=(
            share_prior("active_nonworker_share", DEFAULT_ACTIVE_NONWORKER.label,
                        get("active_nonworker_share"), DEFAULT_ACTIVE_NONWORKER,
                        "assumptions.active_nonworker_share")
            if any(p.declared is not None and getattr(p, "declared_active_days", None)
                   is not None for p in study.platforms) else None),
        answer_again=(factor_prior("answer_again", DEFAULT_ANSWER_AGAIN.label,
                                   get("answer_again"), DEFAULT_ANSWER_AGAIN,
                                   "assumptions.answer_again")
                      if study.responses_path() is not None else None),
        # stated: both; otherwise set where the model carries churn (synthesis_data)
        arrival_share=turnover[0], departure_share=turnover[1],
    )
