"""The live dashboard (hpo.dashboard): the read-only store under it, its JSON API, and a real browser over the page."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
import threading
import time
import warnings
from pathlib import Path

import pytest

from hpo.store import StoreError, TrialStore
from tests import ROOT, one_line

pytest.importorskip("starlette", reason="the dashboard extra (starlette, uvicorn, plotly) is not installed")
pytest.importorskip("plotly", reason="the dashboard extra (starlette, uvicorn, plotly) is not installed")

with warnings.catch_warnings():  # starlette's own note that httpx2 will replace httpx
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from hpo import dashboard  # noqa: E402

SCRIPT = "<script>window.__pwned = 1</script>"
IMG = '<img src=x onerror="window.__pwned = 2">'
QUOTES = "\"'& <b>bold</b> &amp;"
NASTY = [SCRIPT, IMG, QUOTES]


def fingerprint(path: Path) -> tuple[str, int]:
    """The file's bytes (hash) and modification time: what a reader must never change."""
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns


def nasty_store(path: Path, *, objectives: bool = False) -> Path:
    """A finished store whose search name, metric, parameter values, worker names and errors hold HTML/JS."""
    with TrialStore(path) as store:
        store.create_search({"note": SCRIPT, "deep": {"x": IMG}}, seed=1, name="search " + SCRIPT, metric="loss" + IMG)
        record = {"strategy": "random", "budget": {"trials": 9}}
        if objectives:
            record["objectives"] = [
                {"metric": "loss" + IMG, "direction": "minimize"},
                {"metric": "size" + SCRIPT, "direction": "minimize"},
            ]
        store.set_search_engine(record)
        for i in range(9):
            tid = store.add_trial({"opt": NASTY[i % 3], "lr": 10.0 ** -(1 + i % 4), "n": i % 3})
            store.start(tid, worker=f"worker{i % 2}{SCRIPT if i % 2 else IMG}")
            if i == 4:
                store.fail(tid, f"RuntimeError: {IMG}\n  {SCRIPT}")
            elif i == 7:
                store.prune(tid, 0.9, intermediate=[(0, 1.0), (1, 0.9)])
            else:
                value = 1.0 / (i + 1)
                store.finish(
                    tid,
                    value,
                    {"size" + SCRIPT: 10 - i, "note": QUOTES},
                    intermediate=[(0, 1.0), (1, 0.5 + value / 2), (2, value)],
                )
    return path


@pytest.fixture
def nasty(tmp_path: Path) -> Path:
    return nasty_store(tmp_path / "nasty.db")


# --------------------------------------------------------------------------- #
# the read-only store
# --------------------------------------------------------------------------- #
def test_a_read_only_store_reads_and_refuses_every_write_leaving_the_file_as_it_was(nasty: Path):
    before = fingerprint(nasty)
    with TrialStore(nasty, read_only=True) as store:
        assert store.read_only and "read_only=True" in repr(store)
        assert store.counts()["done"] == 7 and store.get_search().name == "search " + SCRIPT
        with store.snapshot():
            assert len(store.trials()) == 9 and store.best().number == 8
        writes = [
            lambda: store.create_search({}),
            lambda: store.add_trial({"x": 1}),
            lambda: store.set_meta("k", 1),
            lambda: store.start(1),
            lambda: store.finish(1, 0.1),
            lambda: store.requeue(1),
            lambda: store.set_search_engine({}),
            store.acquire_lock,
        ]
        for write in writes:
            with pytest.raises(StoreError, match="read-only") as error:
                write()
            one_line(error)
    assert fingerprint(nasty) == before


@pytest.mark.parametrize("kind", ["missing", "directory", "text", "other sqlite", "empty"])
def test_a_read_only_open_refuses_what_is_not_a_store_in_one_line_and_creates_nothing(tmp_path: Path, kind: str):
    import sqlite3

    path = tmp_path / "x.db"
    if kind == "directory":
        path.mkdir()
    elif kind == "text":
        path.write_text("not a database\n" * 100)
    elif kind == "other sqlite":
        raw = sqlite3.connect(path)
        raw.execute("CREATE TABLE t (a)")
        raw.commit()
        raw.close()
    elif kind == "empty":
        path.write_bytes(b"")
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(StoreError) as error:
        TrialStore(path, read_only=True)
    assert str(path.name) in one_line(error)
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_a_version_1_store_is_read_read_only_without_upgrading_it(tmp_path: Path):
    import shutil
    import sqlite3

    path = tmp_path / "v1.db"
    shutil.copyfile(ROOT / "tests" / "data" / "store_v1.db", path)
    before = fingerprint(path)
    with TrialStore(path, read_only=True) as store:
        assert store.get_search(1).metric == "val_accuracy"
        assert [t.status for t in store.trials(search_id=1)] == ["done", "done", "failed", "done", "running"]
        watch = dashboard.StoreWatch(0, path)
        _, state = watch.state()
        watch.close()
        assert state["summary"]["counts"]["total"] == 5 and state["best"]["value"] == 0.83
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == 1
    raw.close()
    assert fingerprint(path) == before


WRITER = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, {root!r})
    from hpo.store import TrialStore
    store = TrialStore({path!r})
    store.acquire_lock()
    for i in range(40):
        tid = store.add_trial({{"x": i}})
        store.start(tid, worker="w")
        store.finish(tid, float(i))
        time.sleep(0.02)
    """
)


def test_a_reader_follows_another_process_writing(tmp_path: Path):
    path = tmp_path / "live.db"
    with TrialStore(path) as store:
        store.create_search({}, name="live")
    watch = dashboard.StoreWatch(0, path)
    writer = subprocess.Popen([sys.executable, "-c", WRITER.format(root=str(ROOT), path=str(path))])
    seen = []
    try:
        while True:
            ended = writer.poll() is not None
            seen.append(watch.state()[1]["summary"]["counts"]["done"])
            if ended:
                break
            time.sleep(0.05)
    finally:
        writer.wait(30)
        watch.close()
    assert writer.returncode == 0
    assert seen == sorted(seen) and seen[-1] == 40 and len(set(seen)) >= 3  # saw it grow, never went back


# --------------------------------------------------------------------------- #
# the JSON API
# --------------------------------------------------------------------------- #
def test_the_api_gives_the_state_and_answers_unchanged_cheaply_and_never_writes(nasty: Path, tmp_path: Path):
    multi = nasty_store(tmp_path / "multi.db", objectives=True)
    before = fingerprint(nasty), fingerprint(multi)
    with TestClient(dashboard.create_app([nasty, multi], refresh=0.5)) as client:
        config = client.get("/api/config").json()
        assert config["refresh_s"] == 0.5 and [s["name"] for s in config["stores"]] == ["nasty.db", "multi.db"]
        first = client.get("/api/state/0")
        assert first.headers["content-type"].startswith("application/json")
        assert "script-src 'self'" in first.headers["content-security-policy"]
        data = first.json()
        state = data["state"]
        assert state["summary"]["counts"]["total"] == 9 and state["summary"]["counts"]["failed"] == 1
        assert state["best"]["number"] == 8 and state["search"]["name"] == "search " + SCRIPT
        plots = state["plots"]
        assert set(plots) == {
            "best_so_far_trials",
            "best_so_far_time",
            "params",
            "generations",
            "workers",
            "curves",
            "pareto",
        }
        assert plots["pareto"] == {"why": "the search has one objective"}
        assert plots["best_so_far_trials"]["failed"] == [4]
        assert {c["status"] for c in plots["curves"]["curves"]} == {"done", "pruned"}
        panel = next(p for p in plots["params"]["panels"] if p["name"] == "opt")
        assert panel["kind"] == "categorical" and sorted(panel["options"]) == sorted(NASTY)
        # the strings from the store come back exactly as stored: escaping is the page's job
        assert {t["params"]["opt"] for t in state["trials"]} == set(NASTY)
        assert IMG in state["trials"][4]["error"] and SCRIPT in state["trials"][4]["error"]
        assert {r["name"] for r in plots["workers"]["rows"]} == {"worker0" + IMG, "worker1" + SCRIPT}
        # nothing changed: the same version, and no state sent again
        again = client.get(f"/api/state/0?since={data['version']}").json()
        assert again == {"version": data["version"], "section": None}
        pareto = client.get("/api/state/1").json()["state"]["plots"]["pareto"]
        assert pareto["front_ids"] and pareto["objectives"][1] == ["size" + SCRIPT, "minimize"]
        assert client.get("/api/state/2").status_code == 404
        page = client.get("/")
        assert "<script>" not in page.text and 'src="/static/plotly.min.js"' in page.text
        assert "http" not in page.text.replace('lang="en"', "")  # nothing from the network
        assert len(client.get("/static/plotly.min.js").content) > 1_000_000
        assert client.get("/static/../__init__.py").status_code == 404
        assert client.get("/extra/0/x.png").status_code == 404
    assert (fingerprint(nasty), fingerprint(multi)) == before


def test_the_state_is_recomputed_only_when_the_store_changes(nasty: Path):
    with TestClient(dashboard.create_app([nasty])) as client:
        v1 = client.get("/api/state/0").json()["version"]
        assert client.get("/api/state/0").json()["version"] == v1
        with TrialStore(nasty) as store:
            store.add_trial({"opt": "new", "lr": 0.5, "n": 1})
        data = client.get(f"/api/state/0?since={v1}").json()
        assert data["version"] == v1 + 1 and data["state"]["summary"]["counts"]["queued"] == 1


def test_a_store_damaged_while_served_is_an_error_the_page_can_show(nasty: Path):
    with TestClient(dashboard.create_app([nasty])) as client:
        assert client.get("/api/state/0").status_code == 200
        client.app.state.watches[0].store.close()  # as good as a file gone bad: every read fails
        stat = nasty.stat()
        os.utime(nasty, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # and it changed
        response = client.get("/api/state/0")
        assert response.status_code == 503 and "closed" in response.json()["error"]


def test_a_200_trial_state_holds_every_trial_and_an_idle_poll_recomputes_nothing(tmp_path: Path):
    # How long it takes is a benchmark's business (benchmarks/bench_dashboard.py), never a test's.
    path = tmp_path / "big.db"
    with TrialStore(path) as store:
        store.create_search({}, name="big")
        store.set_search_engine({"strategy": "ga", "strategy_settings": {"population_size": 10}})
        for i in range(200):
            tid = store.add_trial({"x": i / 7.0, "c": "abc"[i % 3], "k": i % 5})
            store.start(tid, worker=f"worker{i % 4}")
            store.finish(tid, (i % 17) / 3.0, intermediate=[(s, s / (i + 1)) for s in range(5)])
    watch = dashboard.StoreWatch(0, path)
    try:
        version, state = watch.state()
        again, same = watch.state()
    finally:
        watch.close()
    assert len(state["trials"]) == 200 and state["summary"]["counts"]["done"] == 200
    assert again == version and same is state  # nothing changed on disk: the cached state, not a new one
    assert state["plots"]["generations"]["size"] == 10 and len(state["plots"]["generations"]["gens"]) == 20


def test_the_section_hook_runs_when_the_best_trial_changes_and_its_files_are_path_checked(nasty: Path):
    calls = []

    def hook(store: TrialStore, folder: Path):
        calls.append(store.get_search().name)
        (folder / "samples.png").write_bytes(b"\x89PNG fake")
        return f"Samples {SCRIPT}", f"{SCRIPT}\n\n![s](samples.png) ![up](../../etc/passwd) ![js](javascript:alert(1))"

    with TestClient(dashboard.create_app([nasty], sections=hook)) as client:
        deadline = time.monotonic() + 10
        while True:
            section = client.get("/api/state/0").json()["section"]
            if section["status"] == "ready" or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert section["status"] == "ready" and section["trial_id"] == 9 and calls == ["search " + SCRIPT]
        assert "<script>" not in section["html"] and "&lt;script&gt;" in section["html"]
        assert 'src="/extra/0/samples.png"' in section["html"]
        # an image outside the folder loses its address; markdown-it leaves a javascript: link as text
        assert '<img src="" alt="up">' in section["html"] and 'src="javascript' not in section["html"]
        assert client.get("/extra/0/samples.png").content == b"\x89PNG fake"
        assert client.get("/extra/0/../../etc/passwd").status_code == 404
        assert client.get("/extra/0/%2e%2e/%2e%2e/etc/passwd").status_code == 404


def test_one_drawing_at_a_time_and_the_latest_best_trial_is_drawn_last(tmp_path: Path):
    path = tmp_path / "growing.db"
    running, most, drawn = [0], [0], []
    gate = threading.Lock()

    def hook(store: TrialStore, folder: Path):
        with gate:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.2)  # drawing a section loads a model: slower than the trials come
        with gate:
            running[0] -= 1
        drawn.append(int(folder.name.split("-")[1]))
        return "Samples", f"trial {folder.name}"

    with TrialStore(path) as store:
        store.create_search({}, seed=0, name="growing", metric="loss")
        watch = dashboard.StoreWatch(0, path, hook)
        try:
            for i in range(6):  # each trial is a new best (the loss falls)
                tid = store.add_trial({"x": i})
                store.start(tid)
                store.finish(tid, 1.0 / (i + 1))
                watch.state()
                time.sleep(0.03)
            deadline = time.monotonic() + 10
            while (watch.section() or {}).get("status") != "ready" and time.monotonic() < deadline:
                time.sleep(0.02)
            assert watch.section()["trial_id"] == tid and drawn[-1] == tid
            assert most[0] == 1 and len(drawn) < 6  # never two at once; the best trials in between are skipped
        finally:
            watch.close()


# --------------------------------------------------------------------------- #
# a real browser
# --------------------------------------------------------------------------- #
class Served:
    """The dashboard served on a free loopback port in a thread, as the command line serves it."""

    def __init__(self, paths: list[Path], refresh: float = 0.3) -> None:
        self.app = dashboard.create_app(paths, refresh=refresh)
        self.sock = dashboard.bind("127.0.0.1", 0)
        self.url = dashboard.url_of(self.sock)
        ready = threading.Event()
        self.server = dashboard.serve(self.app, self.sock, on_ready=ready.set)
        self.thread = threading.Thread(target=dashboard.run, args=(self.server,), daemon=True)
        self.thread.start()
        assert ready.wait(20), "the dashboard did not start"

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


def open_tab(browser):
    tab = browser.new_page(viewport={"width": 1200, "height": 900})
    errors: list[str] = []
    dialogs: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    tab.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    tab.set_default_timeout(10000)
    return tab, errors, dialogs


SEARCH = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, {root!r})
    from hpo import strategies
    from hpo.executors import SerialExecutor
    from hpo.loop import Budget, run_search
    from hpo.space import Space
    from hpo.store import TrialStore

    space = Space.from_dict({{"x": {{"type": "float", "low": -2.0, "high": 2.0}}, "c": ["a", "b"]}})

    def objective(params, *, seed, trial_id):
        time.sleep(0.25)
        return {{"value": params["x"] ** 2 + (params["c"] == "b")}}

    store = TrialStore({path!r})
    store.create_search({{}}, seed=0, name="live search")
    run_search(objective, strategies.get("random", space, seed=0), store, SerialExecutor(), Budget(trials=200),
               seed=0, progress=False)
    """
)


def test_the_page_follows_a_running_search(browser, tmp_path: Path):
    path = tmp_path / "running.db"
    search = subprocess.Popen([sys.executable, "-c", SEARCH.format(root=str(ROOT), path=str(path))])
    served = None
    try:
        deadline = time.monotonic() + 30
        while True:  # the dashboard needs the store file: wait for the search to create it
            try:
                with TrialStore(path, read_only=True) as store:
                    if store.get_search() is not None:
                        break
            except StoreError:  # not there yet, or still empty: the search is creating it
                pass
            assert time.monotonic() < deadline and search.poll() is None, "the search did not start"
            time.sleep(0.1)
        served = Served([path])
        tab, errors, _ = open_tab(browser)
        tab.goto(served.url)
        tab.wait_for_function("Number(document.querySelector('#card-total')?.textContent) >= 1")
        first = int(tab.inner_text("#card-total"))
        tab.wait_for_function(f"Number(document.querySelector('#card-total').textContent) >= {first + 3}")
        assert "live" in tab.inner_text("#live")
        tab.wait_for_selector("#plot-best_so_far_trials .main-svg")
        rows = tab.eval_on_selector_all("#trials tbody tr", "rows => rows.length")
        assert rows >= first + 2
        assert not errors, errors
    finally:
        search.kill()
        search.wait(10)
        if served is not None:
            served.close()


def test_the_page_shows_strings_from_the_store_as_text_and_runs_none_of_them(browser, nasty: Path, tmp_path: Path):
    multi = nasty_store(tmp_path / "multi.db", objectives=True)
    served = Served([nasty, multi])
    try:
        tab, errors, dialogs = open_tab(browser)
        tab.goto(served.url)
        tab.wait_for_selector("#trials tbody tr")
        tab.wait_for_selector("#plot-workers .main-svg")
        tab.wait_for_selector("#plot-params .main-svg")
        body = tab.inner_text("body")
        for text in (SCRIPT, IMG, "search " + SCRIPT):
            assert text in body, text
        assert "\"'& <b>bold</b> &amp;" in body
        tab.click("#config summary")  # the configuration, shown as it is
        assert json.loads(tab.text_content("#config-text")) == {"note": SCRIPT, "deep": {"x": IMG}}
        # the error's first line is in the table; the whole traceback in its tooltip
        assert tab.get_attribute("#trials tbody tr[data-id='5'] td:last-child", "title").endswith(SCRIPT)
        # Plotly's text (tick labels, titles) shows the strings too, not their markup
        svg_text = tab.eval_on_selector_all("#plot-workers text, #plot-params text", "ts => ts.map(t => t.textContent)")
        for text in (SCRIPT, IMG, QUOTES):
            assert any(text in t for t in svg_text), (text, svg_text)
        # sorting and filtering the table
        tab.select_option("#status-filter", "failed")
        assert tab.eval_on_selector_all("#trials tbody tr", "rows => rows.map(r => r.dataset.id)") == ["5"]
        tab.select_option("#status-filter", "")
        tab.fill("#text-filter", "bold")
        assert len(tab.query_selector_all("#trials tbody tr")) == 3
        tab.fill("#text-filter", "")
        tab.click("#trials th[data-key='value']")
        ids = tab.eval_on_selector_all("#trials tbody tr", "rows => rows.map(r => r.dataset.id)")
        assert ids[0] == "9"  # the lowest loss first
        tab.click("#tabs button[data-index='1']")
        tab.wait_for_selector("#plot-pareto .main-svg")
        tab.wait_for_timeout(500)
        injected = tab.evaluate(
            "() => [window.__pwned, document.querySelectorAll('img[src=x], body script:not([src])').length]"
        )
        assert injected == [None, 0]
        assert not dialogs and not errors, (dialogs, errors)
    finally:
        served.close()


def test_the_page_ships_with_the_package():
    import configparser
    import fnmatch

    import hpo

    parser = configparser.ConfigParser()
    parser.read(ROOT / "setup.cfg")
    patterns = parser["options.package_data"]["hpo"].split()
    package = Path(hpo.__file__).parent
    files = sorted(p.relative_to(package).as_posix() for p in (package / "dashboard" / "static").iterdir())
    assert files == [
        "dashboard/static/dashboard.css",
        "dashboard/static/dashboard.html",
        "dashboard/static/dashboard.js",
    ]
    assert all(any(fnmatch.fnmatch(f, pat) for pat in patterns) for f in files)
    extras = parser["options.extras_require"]
    for name in ("starlette", "uvicorn", "plotly"):
        assert name in extras["dashboard"] and name in extras["test"]
