"""A raw platform ID is never written to the database, a log or an export."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from crowdcensus.cli import main
from crowdcensus.collect.app import create_app
from crowdcensus.collect.database import make_engine, upgrade
from crowdcensus.collect.identity import worker_hash

from .helpers import AUTH, SECRET, create_study, create_wave, make_settings, run_flow

RAW_IDS = {"mturk": "A3RAWMTURKID9Q", "prolific": "5f0rawprolific0000000042",
           "clickworker": "rawclickworker77", "generic": "raw-generic-id-55"}


def _files_bytes(db_path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in db_path.parent.glob(db_path.name + "*"))


def test_raw_ids_never_reach_db_logs_or_exports(tmp_path, caplog, capsys, monkeypatch):
    db_path = tmp_path / "privacy.db"
    url = f"sqlite:///{db_path}"
    upgrade(make_engine(url))
    caplog.set_level(logging.DEBUG)
    app = create_app(make_settings(url))
    with TestClient(app, raise_server_exceptions=False) as client:
        study = create_study(client)
        for platform, raw in RAW_IDS.items():
            for label in ("a", "b"):
                wave = create_wave(client, study["id"], platform, label=f"{platform}_{label}")
                assert run_flow(client, wave, raw).status_code in (200, 303)
        exported = [client.get(f"/api/studies/{study['id']}/{kind}?format={fmt}",
                               headers=AUTH).content
                    for kind in ("responses", "histories")
                    for fmt in ("csv", "parquet", "json")]
        assert all(exported)
    app.state.engine.dispose()
    monkeypatch.setenv("CROWDCENSUS_SECRET", SECRET.decode())
    for kind in ("responses", "histories"):
        out = tmp_path / f"{kind}.csv"
        with pytest.raises(SystemExit) as exc:
            main(["export", str(study["id"]), "--kind", kind, "--db", url, "--out", str(out)])
        assert exc.value.code == 0
        exported.append(out.read_bytes())

    stored = _files_bytes(db_path)
    # Every server-side log record (the test's own HTTP client logs its URLs: not ours).
    server_records = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    logs = "\n".join(r.getMessage() for r in server_records).encode()
    logs += capsys.readouterr().err.encode()
    assert b"/w/" in logs  # the access log did record the requests
    for platform, raw in RAW_IDS.items():
        assert raw.encode() not in stored
        assert raw.encode() not in logs
        for blob in exported:
            assert raw.encode() not in blob
        # Positive control: what is stored is the keyed hash.
        assert worker_hash(SECRET, platform, raw).encode() in stored
    # The stored hash itself is not exported either.
    for platform, raw in RAW_IDS.items():
        digest = worker_hash(SECRET, platform, raw).encode()
        assert all(digest not in blob for blob in exported)


def test_hash_depends_on_secret_and_platform():
    a = worker_hash(SECRET, "mturk", "A1")
    assert a == worker_hash(SECRET, "mturk", "A1") and len(a) == 64
    assert a != worker_hash(SECRET, "prolific", "A1")
    assert a != worker_hash(SECRET + b"x", "mturk", "A1")
    assert worker_hash(SECRET, "mturk", "A\x1f1") != worker_hash(SECRET, "mturk\x1fA", "1")
