"""Admin sessions, security headers, the API schema behind the token, out-of-range ids."""

from __future__ import annotations

import hashlib

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from crowdcensus.collect.app import create_app
from crowdcensus.collect.database import make_engine, upgrade
from crowdcensus.collect.models import admin_sessions
from crowdcensus.collect.sessions import ADMIN_COOKIE

from .helpers import (
    ADMIN_TOKEN,
    AUTH,
    FakeClock,
    create_study,
    create_wave,
    hidden,
    make_settings,
    public_id,
    run_flow,
)

pytestmark = pytest.mark.xdist_group("collect-db")
HUGE = ["99999999999999999999999", "9223372036854775808", "2147483648", "0", "-1", "1e3"]


def _app(url: str, clock=None, **settings):
    return create_app(make_settings(url, **settings), clock=clock)


def _keep_cookie(client: TestClient, value: str) -> None:
    """A browser that kept this admin cookie: the one it holds is replaced. (Setting a
    second cookie of the same name beside the one the server set sends both; which one
    the server reads then depends on the test client's HTTP library, httpx or httpx2.)"""
    client.cookies.delete(ADMIN_COOKIE)
    client.cookies.set(ADMIN_COOKIE, value)


def _login(client) -> str:
    page = client.get("/admin")
    done = client.post("/admin/login", data={"token": ADMIN_TOKEN,
                                             "csrf_token": hidden(page.text, "csrf_token")},
                       follow_redirects=False)
    assert done.status_code == 303
    return done.cookies[ADMIN_COOKIE]


def test_each_login_is_its_own_server_side_session(db_url):
    clock = FakeClock()
    app = _app(db_url, clock)
    with TestClient(app) as alice, TestClient(app) as bob:
        sid = create_study(alice)["id"]
        first, second = _login(alice), _login(bob)
        assert first != second and len(first) >= 40
        assert alice.get(f"/admin/studies/{sid}", follow_redirects=False).status_code == 200
        # only hashes are stored, never the cookie itself
        with app.state.engine.connect() as conn:
            stored = set(conn.execute(select(admin_sessions.c.id_hash)).scalars())
        assert stored == {hashlib.sha256(c.encode()).hexdigest() for c in (first, second)}
        # logout needs the page's CSRF token, then ends the session on the server
        assert alice.post("/admin/logout").status_code == 403
        page = alice.get("/admin")
        out = alice.post("/admin/logout", data={"csrf_token": hidden(page.text, "csrf_token")},
                         follow_redirects=False)
        assert out.status_code == 303
        _keep_cookie(alice, first)  # a browser that kept the cookie
        assert alice.get(f"/admin/studies/{sid}", follow_redirects=False).status_code == 303
        assert alice.get(f"/api/studies/{sid}").status_code == 401
        assert bob.get(f"/api/studies/{sid}").status_code == 200  # bob is still in
        # rotation: logging in again replaces the browser's session
        again = _login(bob)
        assert again != second
        _keep_cookie(bob, second)
        assert bob.get(f"/api/studies/{sid}").status_code == 401
        # expiry, on the injected clock
        _keep_cookie(bob, again)
        clock.advance(hours=11, minutes=59)
        assert bob.get(f"/api/studies/{sid}").status_code == 200
        clock.advance(minutes=2)
        assert bob.get(f"/api/studies/{sid}").status_code == 401
    app.state.engine.dispose()


def test_a_new_admin_token_ends_every_session(tmp_path):
    url = f"sqlite:///{tmp_path / 'tok.db'}"
    upgrade(make_engine(url))
    app = _app(url)
    with TestClient(app) as client:
        cookie = _login(client)
        assert client.get("/api/studies").status_code == 200
    other = _app(url, admin_token="another-admin-token")
    with TestClient(other) as client:
        _keep_cookie(client, cookie)
        assert client.get("/api/studies").status_code == 401


def test_admin_pages_and_exports_carry_protective_headers(tmp_path):
    url = f"sqlite:///{tmp_path / 'h.db'}"
    upgrade(make_engine(url))
    with TestClient(_app(url)) as client:
        study = create_study(client)
        wave = create_wave(client, study["id"], "generic")
        run_flow(client, wave, "someone")
        run_flow(client, create_wave(client, study["id"], "generic"), "someone")
        _login(client)
        researcher = [client.get("/admin"), client.get(f"/admin/studies/{study['id']}"),
                      client.get(f"/api/studies/{study['id']}", headers=AUTH)]
        exports = [client.get(f"/api/studies/{study['id']}/{kind}?format={fmt}", headers=AUTH)
                   for kind in ("responses", "histories") for fmt in ("csv", "parquet", "json")]
        for response in researcher + exports:
            assert response.status_code == 200
            assert response.headers["x-frame-options"] == "DENY"
            assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
            assert response.headers["x-content-type-options"] == "nosniff"
            assert response.headers["cache-control"] == "no-store"
        worker = client.get(f"/w/{public_id(wave)}", params={"id": "x1"})
        assert worker.headers["x-content-type-options"] == "nosniff"
        assert "x-frame-options" not in worker.headers  # MTurk shows it in an iframe


def test_the_api_schema_is_off_by_default_and_behind_the_token_when_on(tmp_path):
    url = f"sqlite:///{tmp_path / 'docs.db'}"
    upgrade(make_engine(url))
    with TestClient(_app(url)) as client:
        for path in ("/api/docs", "/api/openapi.json"):
            assert client.get(path, headers=AUTH).status_code == 404
    with TestClient(_app(url, api_docs=True)) as client:
        for path in ("/api/docs", "/api/openapi.json"):
            assert client.get(path).status_code == 401
        schema = client.get("/api/openapi.json", headers=AUTH)
        assert schema.status_code == 200 and "/api/studies" in schema.json()["paths"]
        _login(client)
        assert "swagger" in client.get("/api/docs").text.lower()


def test_ids_out_of_range_are_404_never_500(db_url):
    with TestClient(_app(db_url), raise_server_exceptions=False) as client:
        sid = create_study(client)["id"]
        _login(client)
        for bad in HUGE:
            for method, path in (("GET", f"/api/studies/{bad}"),
                                 ("GET", f"/api/waves/{bad}"), ("GET", f"/api/waves/{bad}/kit"),
                                 ("GET", f"/api/studies/{bad}/responses"),
                                 ("GET", f"/api/studies/{bad}/histories"),
                                 ("GET", f"/api/studies/{bad}/schedule"),
                                 ("GET", f"/api/studies/{bad}/census"),
                                 ("PATCH", f"/api/studies/{bad}"),
                                 ("POST", f"/api/studies/{bad}/waves"),
                                 ("GET", f"/admin/studies/{bad}")):
                response = client.request(method, path, headers=AUTH,
                                          json={"platform": "mturk"})
                assert response.status_code == 404, (method, path, response.text)
                if path.startswith("/api/"):
                    assert response.json()["error"].startswith("no ")
        assert client.get(f"/api/studies/{sid}", headers=AUTH).status_code == 200
        assert client.get(f"/api/studies/{2**31 - 1}", headers=AUTH).status_code == 404
