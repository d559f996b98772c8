"""The collection service: the paid questionnaire researchers post on micro-work platforms.

Layout: :mod:`settings` (configuration and the identity secret), :mod:`clock`
(the injectable clock), :mod:`identity` (HMAC of platform IDs, completion
codes), :mod:`models` (tables), :mod:`database` (engines, migrations, schema
and writability checks), :mod:`questionnaire` (questions and validation),
:mod:`inputs` (numbers with a decimal comma, control characters, id bounds),
:mod:`texts` (worker-facing words, French and English), :mod:`pages`
(rendering, worker error pages), :mod:`kits` (posting kits per platform),
:mod:`schedules` (recurring waves), :mod:`exports` (responses and capture
histories), :mod:`verify` (Prolific bulk verification), :mod:`census`,
:mod:`census_plots` and :mod:`census_runner` (the live census and the helper
process that computes it), :mod:`live` (the only door to the estimators),
:mod:`security` (CSRF, rate limit, body size, headers), :mod:`sessions`
(researcher authentication), :mod:`store` and :mod:`writer` (database
operations, group commit), :mod:`app` (the ASGI application) and ``views/``
(routes).
"""

from crowdcensus.collect.settings import Settings

__all__ = ["Settings"]
