"""Search reports: plots, Markdown/HTML, the JSON summary and the status lines."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from hpo import pruners, strategies
from hpo.executors import SerialExecutor
from hpo.loop import Budget, run_search
from hpo.report import PLOTS, format_status, markdown_to_html, summary, write_report
from hpo.space import Space
from hpo.store import StoreError, TrialStore
from tests.hpo.test_imports import BLOCK_PRELUDE

ROOT = Path(__file__).resolve().parents[2]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SPEC = {
    "lr": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True},
    "k": {"type": "int", "low": 0, "high": 4},
    "c": ["a", "b", "c"],
    "epochs": {"type": "fixed", "value": 3},
}


def objective(params, *, seed, trial_id):
    if params["k"] % 2:
        raise RuntimeError(f"odd k={params['k']}\nsecond line of the message")
    value = (np.log10(params["lr"]) + 2.5) ** 2 + params["k"] + (0.5 if params["c"] == "b" else 0.0)
    for step in (1, 2, 3):  # a learning curve, for the report's curves plot
        pruners.report(step, value + 1.0 / step)
    return {
        "value": float(value),
        "metrics": {"acc": 1 / (1 + value), "curve": list(range(50))},
        "history": {"loss": [value + 1, value]},
    }


def make_search(path, *, trials=20, strategy="ga", direction="minimize", seed=3, **settings):
    """A search run by the loop; its application config is opaque to the engine (the report only shows it)."""
    store = TrialStore(path)
    store.create_search(
        {"app": {"model": "toy", "layers": [4, 2]}, "note": "made by make_search"},
        seed=seed,
        metric="loss",
        direction=direction,
    )
    run_search(
        objective,
        strategies.get(strategy, Space.from_dict(SPEC), seed=seed, **settings),
        store,
        SerialExecutor(),
        Budget(trials=trials),
        seed=seed,
        progress=False,
    )
    return store


def section(markdown: str, heading: str) -> str:
    """The text of the ``## heading...`` section."""
    start = markdown.index("\n## " + heading)
    end = markdown.find("\n## ", start + 1)
    return markdown[start : end if end != -1 else None]


def table_rows(text: str) -> list[list[str]]:
    """Body rows of the first Markdown table in ``text``."""
    lines = [ln for ln in text.splitlines() if ln.startswith("|")]
    return [[c.strip() for c in re.split(r"(?<!\\)\|", ln.strip()[1:-1])] for ln in lines[2:]]


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    folder = tmp_path_factory.mktemp("report")
    store = make_search(folder / "s.db")
    best = store.best()
    store.add_cached(best.params, best, seed=1)  # a cache hit
    nan_id = store.add_trial({"lr": 0.01, "k": 0, "c": "a", "epochs": 3})
    store.start(nan_id, worker="serial")
    store.finish(nan_id, float("nan"))  # recorded as failed
    stopped = store.add_trial({"lr": 0.02, "k": 2, "c": "c", "epochs": 3})
    store.interrupt(stopped)  # never started on a worker: no times
    files = write_report(
        store, folder / "out", top=5, extra_sections=[("Grad-CAM", "![cam](cam.png)\n\nSaliency of *the best* model.")]
    )
    return store, files


def test_every_file_is_written_and_every_plot_is_a_real_image(searched):
    import matplotlib.image

    _, files = searched
    assert files.markdown.is_file() and files.html.is_file()
    assert set(files.plots) == set(PLOTS) - {"pareto"} and files.skipped == {"pareto": "the search has one objective"}
    for key, path in files.plots.items():
        assert path == files.out_dir / PLOTS[key]
        assert path.read_bytes()[:8] == PNG_SIGNATURE, key
        image = matplotlib.image.imread(path)
        assert image.shape[0] > 200 and image.shape[1] > 400, key
        assert float(image[..., :3].std()) > 0.05, key  # not one flat colour


def test_markdown_names_the_best_trial_and_lists_the_top_trials(searched):
    store, files = searched
    md = files.markdown.read_text()
    best = store.best()
    value = format(best.value, ".6g")
    assert f"trial {best.id}" in section(md, "Summary") and value in section(md, "Summary")
    best_rows = dict(tuple(r) for r in table_rows(section(md, "Best trial")))
    assert best_rows["trial id"] == str(best.id) and best_rows["loss"] == value
    top = table_rows(section(md, "Top 5 trials"))
    assert len(top) == 5
    assert [r[0] for r in top] == ["1", "2", "3", "4", "5"]
    assert top[0][1] == str(best.id) and top[0][3] == value
    values = [float(r[3]) for r in top]
    assert values == sorted(values)
    header = [c.strip() for c in section(md, "Top 5 trials").split("\n|", 1)[1].split("\n")[0].split("|")]
    assert {"lr", "k", "c"} <= set(header) and "epochs" not in header  # fixed params add nothing
    # The bulky metric (a list) is left out; the scalar one is shown.
    assert "| acc |" in section(md, "Best trial") and "| curve |" not in md
    assert "(cache of" in md  # the cache hit is marked


def test_failed_trials_are_listed_with_their_last_error_line(searched):
    store, files = searched
    md = files.markdown.read_text()
    failed = store.trials("failed")
    assert len(failed) >= 3
    rows = table_rows(section(md, f"Failed trials ({len(failed)})"))
    assert [r[0] for r in rows] == [str(t.id) for t in failed]
    for row, t in zip(rows, failed, strict=True):
        assert row[-1] == t.error.strip().splitlines()[-1].strip()
    assert any(r[-1] == "second line of the message" for r in rows)
    assert any("non-finite objective value" in r[-1] for r in rows)
    assert "Interrupted trials" in md


def test_html_has_the_same_content_and_is_self_contained(searched):
    store, files = searched
    page = files.html.read_text()
    assert page.startswith("<!DOCTYPE html>")
    for path in files.plots.values():
        assert f'<img src="{path.name}"' in page
    assert '<img src="pareto.png"' not in page  # one objective: no Pareto front to draw
    assert '<img src="cam.png" alt="cam">' in page and "<em>the best</em>" in page
    assert "<h2>Grad-CAM</h2>" in page and page.count("<table>") >= 5
    assert f"<td>{store.best().id}</td>" in page
    assert "<script" not in page and "<link" not in page and "http" not in page


def test_summary_agrees_with_the_store(searched):
    store, _ = searched
    s = summary(store)
    json.dumps(s, allow_nan=False)  # plain JSON
    counts = store.counts()
    assert {k: s["counts"][k] for k in counts} == counts
    assert s["counts"]["total"] == len(store.trials())
    assert s["counts"]["finished"] == counts["done"] + counts["failed"]
    best = store.best()
    assert (s["best_trial_id"], s["best_value"], s["best_params"]) == (best.id, best.value, best.params)
    assert [f["trial_id"] for f in s["failures"]] == [t.id for t in store.trials("failed")]
    assert s["failures"][0]["error"] in {"second line of the message", "non-finite objective value: nan"}
    assert s["elapsed_s"] > 0 and s["trials_per_hour"] > 0 and s["mean_trial_s"] >= 0
    assert 0 <= s["overhead"] <= 1
    assert (s["strategy"], s["direction"], s["metric"], s["seed"]) == ("ga", "minimize", "loss", 3)
    text = format_status(s)
    assert 4 <= len(text.splitlines()) <= 6
    assert f"trial {best.id}" in text and f"{counts['failed']} failed" in text and "Last failure" in text


def test_timings_and_engine_overhead_from_known_times(tmp_path):
    store = TrialStore(tmp_path / "t.db")
    store.create_search({"strategy": "random"}, seed=0)
    t0 = 1_000_000.0
    for k, (worker, start, end) in enumerate([("w0", 0, 10), ("w1", 5, 15), ("w0", 20, 30)]):
        trial = store.add_trial({"k": k})
        store.start(trial)
        store.finish(trial, float(k), ran={"worker": worker, "started": t0 + start, "ended": t0 + end})
    s = summary(store)
    assert s["elapsed_s"] == pytest.approx(30.0)
    assert s["overhead"] == pytest.approx(5 / 30)  # nobody worked from 15 to 20
    assert s["mean_trial_s"] == pytest.approx(10.0)
    assert s["trials_per_hour"] == pytest.approx(3 / (30 / 3600))
    assert "engine overhead 16.7%" in format_status(s)


def test_a_search_without_finished_trials_still_gets_a_report(tmp_path):
    store = TrialStore(tmp_path / "e.db")
    store.create_search({"strategy": "random", "space": SPEC}, seed=0)
    out = tmp_path / "out"
    out.mkdir()
    (out / "params.png").write_bytes(b"stale")  # an earlier report's plot
    files = write_report(store, out)
    assert files.plots == {} and set(files.skipped) == set(PLOTS)
    assert not (out / "params.png").exists()
    md = files.markdown.read_text()
    assert "Plots not drawn" in md and all(name in md for name in PLOTS.values())
    assert "No trial has finished" in md and "<h2>Plots</h2>" in files.html.read_text()
    assert summary(store)["best_value"] is None

    # Only failures (with times): no value to plot, but the workers' timeline is drawn.
    for k in (1, 3):
        trial = store.add_trial({"k": k})
        store.start(trial, worker="serial")
        store.fail(trial, f"Traceback...\nValueError: bad k={k}")
    running = store.add_trial({"k": 2})
    store.start(running, worker="w1")
    files = write_report(store, out)
    assert set(files.plots) == {"workers"}
    assert "ValueError: bad k=3" in files.markdown.read_text()
    store.acquire_lock()  # a live driver: the trial runs
    status = format_status(summary(store))
    assert "no finished trial yet" in status and "1 running" in status
    store.release_lock()  # no driver: the trial is left unfinished
    status = format_status(summary(store))
    assert "1 unfinished (no driver holds the store: `resume` re-runs them)" in status
    assert "running" not in status.replace("re-runs", "")


def test_a_store_without_a_search(tmp_path):
    store = TrialStore(tmp_path / "none.db")
    s = summary(store)
    assert s["search_id"] is None and s["counts"]["total"] == 0
    assert "no search" in format_status(s)
    assert write_report(store, tmp_path / "out").plots == {}
    with pytest.raises(StoreError, match="no search with id 7"):
        summary(store, search_id=7)
    with pytest.raises(ValueError, match="direction"):
        summary(store, direction="up")


def test_maximize_picks_the_largest_value(tmp_path):
    store = make_search(tmp_path / "m.db", trials=10, strategy="random", direction="maximize")
    values = [t.value for t in store.trials("done")]
    s = summary(store)
    assert s["direction"] == "maximize" and s["best_value"] == max(values)
    # An explicit direction overrides the config's.
    assert summary(store, direction="minimize")["best_value"] == min(values)
    # (Plots in maximize mode are drawn by the blocked-frameworks test below.)
    files = write_report(store.path, tmp_path / "out", top=3, plots=False)  # a store path works too
    md = files.markdown.read_text()
    top = table_rows(section(md, "Top 3 trials"))
    assert [r[3] for r in top] == [format(v, ".6g") for v in sorted(values, reverse=True)[:3]]
    assert f"Best loss: {format(max(values), '.6g')}" in section(md, "Summary")
    assert files.plots == {} and set(files.skipped) == set(PLOTS)


def test_a_plot_that_fails_to_draw_is_skipped_with_a_warning(tmp_path, monkeypatch):
    import hpo.report

    def broken(s, path):
        raise ZeroDivisionError("oops")

    store = TrialStore(tmp_path / "b.db")
    store.create_search({}, seed=0)
    trial = store.add_trial({"x": 1})
    store.start(trial, worker="serial")
    store.finish(trial, 1.0)
    monkeypatch.setattr(hpo.report._plots, "PLOTTERS", {**hpo.report._plots.PLOTTERS, **{k: broken for k in PLOTS}})
    with pytest.warns(RuntimeWarning, match="oops"):
        files = write_report(store, tmp_path / "out")
    assert files.plots == {} and "ZeroDivisionError: oops" in files.markdown.read_text()


def test_markdown_to_html_subset():
    html = markdown_to_html(
        "# T\n\nA *b* **c** `d|e` [l](x.html) 1 < 2\n\n| a | b |\n|---|---:|\n| x \\| y | 3 |\n\n"
        "- one\n- two\n\n1. first\n\n```\n<raw>\n```"
    )
    assert "<h1>T</h1>" in html
    assert "<em>b</em>" in html and "<strong>c</strong>" in html and "<code>d|e</code>" in html
    assert '<a href="x.html">l</a>' in html and "1 &lt; 2" in html
    assert "<td>x | y</td>" in html and '<td style="text-align:right">3</td>' in html
    assert re.search(r"<ul>\s*<li>one</li>\s*<li>two</li>\s*</ul>", html)
    assert re.search(r"<ol>\s*<li>first</li>\s*</ol>", html)
    assert "<pre><code>&lt;raw&gt;\n</code></pre>" in html
    # Raw HTML is text, never markup: a store's strings cannot inject anything into the page.
    assert "&lt;script&gt;" in markdown_to_html("a <script>alert(1)</script> b")


BLOCKED_REPORT = BLOCK_PRELUDE + textwrap.dedent(
    """
    import matplotlib
    backend = matplotlib.get_backend()
    import hpo.report
    from hpo.store import TrialStore

    with TrialStore(sys.argv[1]) as store:
        store.create_search({"strategy": "random"}, seed=0, direction="maximize")
        for k in range(4):
            trial = store.add_trial({"x": k / 4, "c": "ab"[k % 2]})
            store.start(trial, worker="serial")
            store.finish(trial, (k - 1.5) ** 2)
        files = hpo.report.write_report(store, sys.argv[2])
        print(hpo.report.format_status(hpo.report.summary(store)))
    assert len(files.plots) == 5, files.skipped
    assert "Best value: 2.25" in files.markdown.read_text()  # maximized: k=0 or k=3
    assert matplotlib.get_backend() == backend, (backend, matplotlib.get_backend())
    assert "matplotlib.pyplot" not in sys.modules
    bad = sorted(m for m in sys.modules if m.split(".")[0] in Block.blocked)
    assert not bad, bad
    print("OK")
    """
)


def test_report_works_with_frameworks_blocked_and_leaves_pyplot_alone(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT), MPLBACKEND="svg")
    proc = subprocess.run(
        [sys.executable, "-c", BLOCKED_REPORT, str(tmp_path / "s.db"), str(tmp_path / "out")],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("OK")


def test_the_report_reads_what_the_engine_recorded_and_only_shows_the_application_config(tmp_path):
    # An application config that looks like an engine's: the report must not read it.
    misleading = {
        "objective": {"metric": "accuracy", "direction": "maximize"},
        "metric": "accuracy",
        "strategy": {"name": "tpe", "settings": {"population_size": 99}},
        "executor": "mpi",
        "deep": {"a": {"b": {"c": 1}}},
        "note": "<b>bold</b> & __init__",
    }
    store = TrialStore(tmp_path / "e.db")
    store.create_search(misleading, seed=5, name="<script>x</script>", metric="loss")
    run_search(
        objective,
        strategies.get("ga", Space.from_dict(SPEC), seed=5, population_size=3),
        store,
        SerialExecutor(),
        Budget(trials=9),
        seed=5,
        synchronous=True,
        progress=False,
    )
    info = store.get_search()
    assert (info.metric, info.direction) == ("loss", "minimize")
    assert info.engine["strategy"] == "ga" and info.engine["strategy_settings"]["population_size"] == 3
    assert (info.engine["executor"], info.engine["workers"], info.engine["synchronous"]) == ("serial", 1, True)
    assert info.engine["batch_size"] == 3 and info.engine["budget"] == {"trials": 9} and info.engine["seed"] == 5
    assert Space.from_dict(info.engine["space"]) == Space.from_dict(SPEC)

    s = summary(store)
    assert (s["strategy"], s["metric"], s["direction"], s["budget"], s["seed"]) == (
        "ga",
        "loss",
        "minimize",
        {"trials": 9},
        5,
    )
    assert s["best_value"] == min(t.value for t in store.trials("done"))
    files = write_report(store, tmp_path / "out")
    md = files.markdown.read_text()
    engine_rows = dict(tuple(r) for r in table_rows(section(md, "Configuration").split("###")[0]))
    assert (engine_rows["strategy"], engine_rows["executor"], engine_rows["metric"]) == ("ga", "serial", "loss")
    assert "population_size=3" in engine_rows["strategy_settings"]
    app = section(md, "Configuration").split("### Application configuration", 1)[1]
    app_rows = dict(tuple(r) for r in table_rows(app))
    assert app_rows["objective.direction"] == "maximize" and app_rows["strategy.settings"] == '{"population_size": 99}'
    assert app_rows["deep.a"] == '{"b": {"c": 1}}' and app_rows["executor"] == "mpi"
    from hpo.report import _series

    assert _series.generation_size(info.engine) == 3  # the recorded population, not the config's 99

    page = files.html.read_text()
    assert "<title>Hyperparameter search report: search 1 (&lt;script&gt;x&lt;/script&gt;)</title>" in page
    assert "<script" not in page and "<b>bold</b>" not in page
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; __init__" in page  # shown literally, underscores included


def test_the_page_template_ships_with_the_package():
    import configparser
    import fnmatch

    import hpo

    parser = configparser.ConfigParser()
    parser.read(ROOT / "setup.cfg")
    patterns = parser["options.package_data"]["hpo"].split()
    package = Path(hpo.__file__).parent
    templates = [p.relative_to(package).as_posix() for p in package.rglob("*.j2")]
    assert templates == ["report/page.html.j2"]
    assert all(any(fnmatch.fnmatch(t, pat) for pat in patterns) for t in templates)
    assert parser["options"].getboolean("include_package_data")
    requires = parser["options"]["install_requires"]
    assert "markdown-it-py" in requires and "Jinja2" in requires
