"""`crowdcensus export` output is read by `crowdcensus estimate closed` as it is."""

from __future__ import annotations

import json

import numpy as np
import pytest
from fastapi.testclient import TestClient

from crowdcensus.cli import main
from crowdcensus.collect.app import create_app
from crowdcensus.collect.database import make_engine, upgrade

from .helpers import SECRET, create_study, create_wave, make_settings, run_flow


def _cli(args, capsys):
    with pytest.raises(SystemExit) as exc:
        main(args)
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


def test_exported_histories_feed_estimate_closed(tmp_path, capsys, monkeypatch):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    upgrade(make_engine(url))
    app = create_app(make_settings(url))
    truth = np.random.default_rng(3).random((40, 4)) < 0.4
    with TestClient(app, raise_server_exceptions=False) as client:
        study = create_study(client)
        waves = [create_wave(client, study["id"], "prolific", label=f"p{k + 1}")
                 for k in range(4)]
        create_wave(client, study["id"], "mturk", label="m1")
        for person, row in enumerate(truth):
            for k in np.flatnonzero(row):
                run_flow(client, waves[k], f"PID{person:04d}")
    app.state.store.close()
    monkeypatch.setenv("CROWDCENSUS_SECRET", SECRET.decode())
    out = tmp_path / "prolific.csv"
    code, msg, _ = _cli(["export", str(study["id"]), "--platform", "prolific", "--db", url,
                         "--out", str(out)], capsys)
    assert code == 0 and "wrote" in msg
    assert out.read_text().splitlines()[0] == "p1,p2,p3,p4,freq"
    code, msg, err = _cli(["estimate", "closed", str(out), "--format", "json", "--model", "M0"],
                          capsys)
    assert code == 0, err
    result = json.loads(msg)
    assert result["n_captured"] == int(truth.any(axis=1).sum())
    assert result["models"][0]["abundance"] >= result["n_captured"]

    code, _, err = _cli(["export", str(study["id"]), "--db", url, "--out",
                         str(tmp_path / "x.xlsx")], capsys)
    assert code == 2 and "--out" in err
    code, _, err = _cli(["export", "99", "--db", url, "--out", str(out)], capsys)
    assert code == 2 and "no study 99" in err
