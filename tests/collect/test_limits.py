"""Body size limit and per-IP rate limiting on an injected clock (SQLite only: they do not
touch the database)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from crowdcensus.collect.app import create_app
from crowdcensus.collect.database import make_engine, upgrade
from crowdcensus.collect.security import TokenBucketLimiter

from .helpers import AUTH, FakeClock, create_study, create_wave, make_settings, public_id


@pytest.fixture
def sqlite_url(tmp_path):
    url = f"sqlite:///{tmp_path / 'limits.db'}"
    upgrade(make_engine(url))
    return url


def test_oversized_body_gets_413(sqlite_url):
    app = create_app(make_settings(sqlite_url, max_body_bytes=2048))
    with TestClient(app, raise_server_exceptions=False) as client:
        wave = create_wave(client, create_study(client)["id"], "generic")
        big = client.post(f"/w/{public_id(wave)}/submit", data={"x": "a" * 5000})
        assert big.status_code == 413 and "too large" in big.text
        chunked = client.post(f"/w/{public_id(wave)}/submit",
                              content=iter([b"a" * 1500, b"b" * 1500]),
                              headers={"content-type": "application/x-www-form-urlencoded"})
        assert chunked.status_code == 413


def test_429_says_when_to_come_back_and_the_bucket_refills_on_the_clock(sqlite_url):
    url = sqlite_url
    clock = FakeClock()
    app = create_app(make_settings(url, rate_limit=0.5, rate_burst=3), clock=clock)
    with TestClient(app, raise_server_exceptions=False) as client:
        statuses = [client.get("/w/unknown").status_code for _ in range(5)]
        assert statuses == [404, 404, 404, 429, 429]
        limited = client.get("/w/unknown", headers={"accept-language": "fr"})
        assert limited.status_code == 429 and limited.headers["retry-after"] == "2"
        assert "Merci d&#39;attendre une minute" in limited.text
        api = client.get("/api/studies", headers=AUTH)
        assert api.status_code == 429 and api.headers["retry-after"] == "2"
        clock.advance(1.9)  # 0.95 token: still refused
        assert client.get("/w/unknown").status_code == 429
        clock.advance(0.2)  # now more than one token
        assert client.get("/w/unknown").status_code == 404
        assert client.get("/w/unknown").status_code == 429


def test_token_bucket_refills_at_its_rate():
    bucket = TokenBucketLimiter(rate=2.0, burst=3)
    assert [bucket.allow("ip", now=0.0) for _ in range(4)] == [True, True, True, False]
    assert bucket.allow("ip", now=0.49) is False  # 0.98 token
    assert bucket.allow("ip", now=0.51) is True
    assert bucket.allow("other", now=0.51) is True
