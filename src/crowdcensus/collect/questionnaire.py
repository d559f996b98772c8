"""The questionnaire: questions, answer codes, labels (English and French), validation.

Answer codes are what the database and exports hold; labels are only for
display. Version ``"1"`` is the questionnaire of issue 3: how often the person
does micro-work, the platforms they are registered on and those used in the
last month, hours per week, monthly earnings band, country of residence and
one attention check; since 2026-12-07 it also asks, optionally, the month and year of
the person's first paid micro-task (``started_month``, blank when not answered).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from crowdcensus.collect.inputs import parse_decimal

QUESTIONNAIRE_VERSION = "1"
LANGUAGES = ("en", "fr")

FREQUENCIES: dict[str, dict[str, str]] = {
    "several_weekly": {"en": "Several times a week", "fr": "Plusieurs fois par semaine"},
    "weekly": {"en": "About once a week", "fr": "Environ une fois par semaine"},
    "monthly": {"en": "About once a month", "fr": "Environ une fois par mois"},
    "less_often": {"en": "Less often", "fr": "Moins souvent"},
    "first_time": {"en": "This is the first time", "fr": "C'est la première fois"},
}

PLATFORM_CHOICES: dict[str, dict[str, str]] = {
    "mturk": {"en": "Amazon Mechanical Turk", "fr": "Amazon Mechanical Turk"},
    "prolific": {"en": "Prolific", "fr": "Prolific"},
    "clickworker": {"en": "Clickworker", "fr": "Clickworker"},
    "wirk": {"en": "Wirk (Foule Factory)", "fr": "Wirk (Foule Factory)"},
    "appen": {"en": "Appen", "fr": "Appen"},
    "toloka": {"en": "Toloka", "fr": "Toloka"},
    "microworkers": {"en": "Microworkers", "fr": "Microworkers"},
    "other": {"en": "Another platform", "fr": "Une autre plateforme"},
}

EARNINGS_BANDS: dict[str, dict[str, str]] = {
    "none": {"en": "Nothing", "fr": "Rien"},
    "lt20": {"en": "Less than 20 €", "fr": "Moins de 20 €"},
    "20_99": {"en": "20 to 99 €", "fr": "De 20 à 99 €"},
    "100_299": {"en": "100 to 299 €", "fr": "De 100 à 299 €"},
    "300_999": {"en": "300 to 999 €", "fr": "De 300 à 999 €"},
    "1000_plus": {"en": "1,000 € or more", "fr": "1 000 € ou plus"},
}

# The attention check asks for one given answer among these.
ATTENTION_CHOICES: dict[str, dict[str, str]] = {
    "never": {"en": "Never", "fr": "Jamais"},
    "rarely": {"en": "Rarely", "fr": "Rarement"},
    "sometimes": {"en": "Sometimes", "fr": "Parfois"},
    "often": {"en": "Often", "fr": "Souvent"},
}
ATTENTION_EXPECTED = "rarely"

COUNTRIES: dict[str, dict[str, str]] = {
    "FR": {"en": "France", "fr": "France"},
    "BE": {"en": "Belgium", "fr": "Belgique"},
    "CH": {"en": "Switzerland", "fr": "Suisse"},
    "LU": {"en": "Luxembourg", "fr": "Luxembourg"},
    "CA": {"en": "Canada", "fr": "Canada"},
    "DE": {"en": "Germany", "fr": "Allemagne"},
    "ES": {"en": "Spain", "fr": "Espagne"},
    "IT": {"en": "Italy", "fr": "Italie"},
    "PT": {"en": "Portugal", "fr": "Portugal"},
    "NL": {"en": "Netherlands", "fr": "Pays-Bas"},
    "GB": {"en": "United Kingdom", "fr": "Royaume-Uni"},
    "IE": {"en": "Ireland", "fr": "Irlande"},
    "PL": {"en": "Poland", "fr": "Pologne"},
    "RO": {"en": "Romania", "fr": "Roumanie"},
    "US": {"en": "United States", "fr": "États-Unis"},
    "IN": {"en": "India", "fr": "Inde"},
    "PH": {"en": "Philippines", "fr": "Philippines"},
    "BR": {"en": "Brazil", "fr": "Brésil"},
    "MA": {"en": "Morocco", "fr": "Maroc"},
    "TN": {"en": "Tunisia", "fr": "Tunisie"},
    "DZ": {"en": "Algeria", "fr": "Algérie"},
    "SN": {"en": "Senegal", "fr": "Sénégal"},
    "CI": {"en": "Côte d'Ivoire", "fr": "Côte d'Ivoire"},
    "MG": {"en": "Madagascar", "fr": "Madagascar"},
    "KE": {"en": "Kenya", "fr": "Kenya"},
    "NG": {"en": "Nigeria", "fr": "Nigeria"},
    "VE": {"en": "Venezuela", "fr": "Venezuela"},
    "ZZ": {"en": "Another country", "fr": "Un autre pays"},
}

MAX_HOURS_PER_WEEK = 100.0
#: The earliest year a first micro-task may be answered (Mechanical Turk opened in 2005).
FIRST_YEAR = 2000
_ISO_MONTH = re.compile(r"(?P<year>\d{4})-(?P<month>\d{1,2})")
_SLASH_MONTH = re.compile(r"(?P<month>\d{1,2})/(?P<year>\d{4})")
#: Hours are typed with at most this many decimals (a step of 0.1 hour), with a
#: point or a comma: ``7,5`` and ``7.5`` are both 7.5.
HOURS_DECIMALS = 1
#: The pattern the browser checks before sending (the server checks again).
HOURS_PATTERN = r"\s*[0-9]{0,3}([.,][0-9])?\s*"

FIELD_LABELS: dict[str, dict[str, str]] = {
    "frequency": {"en": "How often do you do paid tasks on micro-work platforms?",
                  "fr": "À quelle fréquence faites-vous des tâches rémunérées sur des "
                        "plateformes de micro-travail ?"},
    "platforms_registered": {"en": "On which platforms are you registered?",
                             "fr": "Sur quelles plateformes êtes-vous inscrit·e ?"},
    "platforms_last_month": {"en": "Which of them did you use in the last month?",
                             "fr": "Lesquelles avez-vous utilisées le mois dernier ?"},
    "hours_per_week": {"en": "About how many hours per week do you spend on them?",
                       "fr": "Combien d'heures par semaine y consacrez-vous environ ?"},
    "earnings_band": {"en": "How much do you earn there in a typical month?",
                      "fr": "Combien y gagnez-vous au cours d'un mois habituel ?"},
    "country": {"en": "In which country do you live?",
                "fr": "Dans quel pays résidez-vous ?"},
    "started_month": {"en": "When did you do your first paid task on a micro-work platform "
                            "(month and year)? Leave it blank if you do not remember.",
                      "fr": "Quand avez-vous fait votre première tâche rémunérée sur une "
                            "plateforme de micro-travail (mois et année) ? Laissez vide si "
                            "vous ne vous en souvenez pas."},
    "attention": {"en": "To show that you read the questions, please choose \"Rarely\".",
                  "fr": "Pour montrer que vous lisez les questions, choisissez « Rarement »."},
}


@dataclass(frozen=True)
class Answers:
    """A validated questionnaire (answer codes only)."""

    frequency: str
    platforms_registered: tuple[str, ...]
    platforms_last_month: tuple[str, ...]
    hours_per_week: float
    earnings_band: str
    country: str
    attention_answer: str
    #: The month of the person's first paid micro-task, ``YYYY-MM``; None when left blank.
    started_month: str | None = None

    @property
    def attention_passed(self) -> bool:
        """Whether the attention check got the answer it asked for."""
        return self.attention_answer == ATTENTION_EXPECTED

    def as_row(self) -> dict:
        """The columns of a ``responses`` row."""
        return {
            "frequency": self.frequency,
            "platforms_registered": ",".join(self.platforms_registered),
            "platforms_last_month": ",".join(self.platforms_last_month),
            "hours_per_week": self.hours_per_week,
            "earnings_band": self.earnings_band,
            "country": self.country,
            "attention_answer": self.attention_answer,
            "attention_passed": self.attention_passed,
            "started_month": self.started_month,
        }


class AnswerError(ValueError):
    """One or more answers are missing or invalid; ``errors`` maps field -> message."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


_MESSAGES = {
    "missing": {"en": "Please answer this question.", "fr": "Merci de répondre à cette question."},
    "one_platform": {"en": "Tick at least one platform.",
                     "fr": "Cochez au moins une plateforme."},
    "choice": {"en": "Please choose one of the options.",
               "fr": "Merci de choisir une des options."},
    "hours": {"en": f"Enter a number of hours between 0 and {MAX_HOURS_PER_WEEK:g}, with at "
                    "most one decimal, e.g. 7.5 or 7,5.",
              "fr": f"Indiquez un nombre d'heures entre 0 et {MAX_HOURS_PER_WEEK:g}, avec au "
                    "plus une décimale, par ex. 7,5 ou 7.5."},
    "month": {"en": f"Enter a month and year from {FIRST_YEAR} to now, e.g. 2024-05.",
              "fr": f"Indiquez un mois et une année de {FIRST_YEAR} à aujourd'hui, par ex. "
                    "2024-05."},
    "subset": {"en": "Platforms used last month must also be ticked as registered.",
               "fr": "Les plateformes utilisées le mois dernier doivent aussi être "
                     "cochées comme plateformes où vous êtes inscrit·e."},
}


def message(key: str, lang: str) -> str:
    """A validation message in ``lang``."""
    return _MESSAGES[key].get(lang, _MESSAGES[key]["en"])


def _one(form: Mapping[str, Sequence[str]], name: str, choices: Mapping, lang: str,
         errors: dict[str, str]) -> str:
    values = form.get(name) or []
    if len(values) != 1 or not values[0]:
        errors[name] = message("missing" if not values or not values[0] else "choice", lang)
        return ""
    if values[0] not in choices:
        errors[name] = message("choice", lang)
        return ""
    return values[0]


def _many(form: Mapping[str, Sequence[str]], name: str, lang: str,
          errors: dict[str, str]) -> tuple[str, ...]:
    values = form.get(name) or []
    if any(v not in PLATFORM_CHOICES for v in values) or len(values) > len(PLATFORM_CHOICES):
        errors[name] = message("choice", lang)
        return ()
    return tuple(p for p in PLATFORM_CHOICES if p in set(values))


def validate_answers(form: Mapping[str, Sequence[str]], lang: str = "en",
                     today: date | None = None) -> Answers:
    """Check a submitted form (field -> list of values) and return its answers
    (``today``: the day a month answered may not be after; by default the machine's).

    Raises
    ------
    AnswerError
        Listing every field that is missing or invalid, with a message in ``lang``.
    """
    errors: dict[str, str] = {}
    frequency = _one(form, "frequency", FREQUENCIES, lang, errors)
    registered = _many(form, "platforms_registered", lang, errors)
    if not registered and "platforms_registered" not in errors:
        # Whoever answers came through a platform: at least that one.
        errors["platforms_registered"] = message("one_platform", lang)
    last_month = _many(form, "platforms_last_month", lang, errors)
    if "platforms_registered" not in errors and not set(last_month) <= set(registered):
        errors["platforms_last_month"] = message("subset", lang)
    hours_raw = (form.get("hours_per_week") or [""])
    hours = 0.0
    if len(hours_raw) != 1 or not hours_raw[0].strip():
        errors["hours_per_week"] = message("missing", lang)
    else:
        parsed = parse_decimal(hours_raw[0], HOURS_DECIMALS)
        if parsed is None or not (0.0 <= parsed <= MAX_HOURS_PER_WEEK):
            errors["hours_per_week"] = message("hours", lang)
        else:
            hours = parsed
    earnings = _one(form, "earnings_band", EARNINGS_BANDS, lang, errors)
    country = _one(form, "country", COUNTRIES, lang, errors)
    attention = _one(form, "attention", ATTENTION_CHOICES, lang, errors)
    started = _month(form, "started_month", lang, errors, today)
    if errors:
        raise AnswerError(errors)
    return Answers(frequency, registered, last_month, hours, earnings, country, attention,
                   started)


def _month(form: Mapping[str, Sequence[str]], name: str, lang: str, errors: dict[str, str],
           today: date | None) -> str | None:
    """An optional month and year (``2024-05``, or ``05/2024`` where the browser shows a
    text field), from :data:`FIRST_YEAR` to ``today``'s month; None when blank."""
    values = form.get(name) or []
    if len(values) > 1:
        errors[name] = message("month", lang)
        return None
    text = values[0].strip() if values else ""
    if not text:
        return None
    m = _ISO_MONTH.fullmatch(text) or _SLASH_MONTH.fullmatch(text)
    year, month = ((int(m["year"]), int(m["month"])) if m else (0, 0))
    now = today or date.today()
    if not (1 <= month <= 12 and year >= FIRST_YEAR and (year, month) <= (now.year, now.month)):
        errors[name] = message("month", lang)
        return None
    return f"{year:04d}-{month:02d}"
