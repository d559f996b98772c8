"""Body size limit and per-IP rate limiting (SQLite only: they do not touch the database)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from crowdcensus.collect.app import create_app
from crowdcensus.collect.database import make_engine, upgrade
from crowdcensus.collect.security import TokenBucketLimiter

from .helpers import create_study, create_wave, make_settings, public_id


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


def test_rate_limit_gives_429_then_recovers(sqlite_url):
    app = create_app(make_settings(sqlite_url, rate_limit=1.0, rate_burst=5))
    with TestClient(app, raise_server_exceptions=False) as client:
        statuses = [client.get("/w/unknown").status_code for _ in range(8)]
        assert statuses[:5] == [404] * 5 and statuses[5:] == [429] * 3
        assert client.get("/favicon.ico").status_code == 200  # not limited


def test_token_bucket_refills_at_its_rate():
    bucket = TokenBucketLimiter(rate=2.0, burst=3)
    assert [bucket.allow("ip", now=0.0) for _ in range(4)] == [True, True, True, False]
    assert bucket.allow("ip", now=0.49) is False  # 0.98 token
    assert bucket.allow("ip", now=0.51) is True
    assert bucket.allow("other", now=0.51) is True
