"""``keras-geo-hpo dashboard``: what it refuses in one line, the warning off loopback, and a real server stopped by Ctrl-C."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from hpo.store import TrialStore
from keras_geo.cli import main
from tests import ROOT

pytest.importorskip("uvicorn", reason="the dashboard extra is not installed")


@pytest.fixture
def store(tmp_path: Path) -> Path:
    path = tmp_path / "store.db"
    with TrialStore(path) as s:
        s.create_search({}, name="cli")
        tid = s.add_trial({"x": 1})
        s.start(tid, worker="w")
        s.finish(tid, 0.5)
    return path


def error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    return err


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: None, "no such store"),
        (lambda p: p.write_text("hello\n"), "not a keras-geo trial store"),
        (lambda p: p.mkdir(), "is a directory"),
    ],
)
def test_a_path_that_is_no_store_exits_2_with_one_line_and_is_left_alone(tmp_path, capsys, store, make, message):
    bad = tmp_path / "bad.db"
    make(bad)
    before = store.read_bytes(), bad.exists() and bad.is_file() and bad.read_bytes()
    assert main(["dashboard", str(store), str(bad), "--port", "0"]) == 2
    assert message in error_line(capsys)
    assert (store.read_bytes(), bad.exists() and bad.is_file() and bad.read_bytes()) == before
    assert not (tmp_path / "bad.db-wal").exists()  # nothing was created beside the bad path either


def test_a_port_in_use_exits_2_with_one_line(store, capsys):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    try:
        assert main(["dashboard", str(store), "--port", str(taken.getsockname()[1])]) == 2
    finally:
        taken.close()
    assert "port is in use" in error_line(capsys)


def test_another_host_warns_that_anyone_can_read_and_ctrl_c_exits_0(store, capsys, monkeypatch):
    from hpo import dashboard

    def interrupted(server):
        raise KeyboardInterrupt

    monkeypatch.setattr(dashboard, "run", interrupted)
    assert main(["dashboard", str(store), "--host", "0.0.0.0", "--port", "0", "--no-samples"]) == 0
    out, err = capsys.readouterr()
    assert "anyone who can reach this machine can read the search" in err and "no authentication" in err
    assert re.search(r"http://0\.0\.0\.0:\d+/", out)
    assert main(["dashboard", str(store), "--port", "0", "--no-samples"]) == 0
    out, err = capsys.readouterr()
    assert err == "" and re.search(r"http://127\.0\.0\.1:\d+/", out)


def test_the_command_serves_the_store_and_stops_quietly_on_ctrl_c(store):
    before = store.read_bytes()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "keras_geo.cli", "dashboard", str(store), "--port", "0", "--refresh", "0.5"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = process.stdout.readline()
        url = re.search(r"http://\S+/", line).group(0)
        with urllib.request.urlopen(url + "api/state/0", timeout=10) as response:
            state = json.load(response)["state"]
        assert state["summary"]["counts"]["done"] == 1 and state["search"]["name"] == "cli"
        with urllib.request.urlopen(url + "api/config", timeout=10) as response:
            assert json.load(response)["refresh_s"] == 0.5
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=20)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert store.read_bytes() == before
