"""The collection service: the paid questionnaire researchers post on micro-work platforms.

Layout: :mod:`settings` (configuration and the identity secret), :mod:`identity`
(HMAC of platform IDs, completion codes), :mod:`models` (tables),
:mod:`database` (engines, migrations, schema check), :mod:`questionnaire`
(questions and validation), :mod:`kits` (posting kits per platform),
:mod:`exports` (responses and capture histories), :mod:`security` (CSRF, rate
limit, body size), :mod:`app` (the ASGI application) and ``views/`` (routes).
"""

from crowdcensus.collect.settings import Settings

__all__ = ["Settings"]
