"""Faults a long search meets, injected: kills, dying workers, failing trials, two drivers, damaged stores, Ctrl-C.

The kill campaign's harness is ``tests/faults/faults.py`` (run it as a script for the
RELIABILITY.md table); here each fault is injected once.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import asdict
from pathlib import Path

import pytest

from hpo.store import StoreError, StoreLocked, TrialStore
from tests.faults import faults


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """One folder for the kill tests: the uninterrupted reference search is run once."""
    return tmp_path_factory.mktemp("kills")


# --------------------------------------------------------------------------- #
# the driver killed with SIGKILL at ten points
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("point", list(faults.KILL_POINTS))
def test_driver_killed_anywhere_loses_and_retrains_nothing(point, folder):
    verdict = faults.inject_kill(point, folder)
    report = asdict(verdict)
    assert verdict.killed, report  # the fault landed where it was aimed
    assert verdict.lost == 0 and verdict.retrained == 0 and verdict.duplicates == 0, report
    # Every trial trained exactly once in all: before the kill, or after the resume.
    assert verdict.done_before + verdict.rerun == faults.TRIALS, report
    assert verdict.same_as_reference, report  # same trials, values, best and best model
    assert verdict.orphans == 0, report  # the dead driver's workers ended by themselves


def test_the_kill_harness_sees_a_lost_trial(folder, monkeypatch):
    """The judge is not blind: a store that forgets a finished trial is caught."""
    original = TrialStore.trials

    def forgetful(self, status=None, **kwargs):
        found = original(self, status, **kwargs)
        return found[1:] if status is None and len(found) == faults.TRIALS else found

    monkeypatch.setattr(TrialStore, "trials", forgetful)
    verdict = faults.inject_kill("between_trials", folder / "judge")
    assert verdict.killed and (verdict.lost == 1 or not verdict.same_as_reference)


# --------------------------------------------------------------------------- #
# a worker killed mid-trial
# --------------------------------------------------------------------------- #
def test_a_worker_killed_mid_trial_is_replaced_and_the_search_completes(tmp_path):
    verdict = faults.inject_worker_kill(tmp_path)
    assert verdict.killed and verdict.same_as_reference, asdict(verdict)  # 23 done, 1 failed "died", 1 replaced
    assert verdict.lost == 0 and verdict.retrained == 0, asdict(verdict)


# --------------------------------------------------------------------------- #
# two drivers on one store
# --------------------------------------------------------------------------- #
def test_a_second_writer_is_refused_until_the_first_is_gone(tmp_path):
    path = tmp_path / "store.db"
    with faults.lock_held_elsewhere(path) as holder:
        reader = TrialStore(path)  # reading is fine
        with pytest.raises(StoreLocked, match=rf"in use by pid {holder.pid} on .*one writer at a time"):
            reader.acquire_lock()
        holder.kill()  # SIGKILL: the kernel releases the lock with the process
        holder.wait()
        assert reader.acquire_lock() is True
        assert reader.acquire_lock() is False  # held already
        reader.close()


def test_the_writer_is_named_while_it_lives_and_none_after_kill_9(tmp_path):
    """`status` tells running trials from trials a dead driver left: the lock says whether a driver lives."""
    path = tmp_path / "store.db"
    reader = TrialStore(path)
    assert reader.writer() is None  # nobody ever wrote
    with faults.lock_held_elsewhere(path) as holder:
        assert reader.writer().startswith(f"pid {holder.pid} on ")
        holder.kill()
        holder.wait()
        assert reader.writer() is None
    assert reader.acquire_lock()  # the probe left no lock behind
    assert reader.writer().endswith("(this process)")
    reader.close()


def test_a_status_probe_at_the_moment_a_driver_starts_does_not_refuse_the_driver(tmp_path):
    import fcntl
    import threading

    path = tmp_path / "store.db"
    store = TrialStore(path)
    with open(store.lock_path, "a+") as probe:
        fcntl.flock(probe, fcntl.LOCK_SH | fcntl.LOCK_NB)  # what writer() holds for an instant
        threading.Timer(0.1, fcntl.flock, (probe, fcntl.LOCK_UN)).start()
        assert store.acquire_lock() is True  # waited for the probe instead of refusing
    store.close()


def test_stores_of_one_process_share_its_lock(tmp_path):
    """A notebook cell run twice opens the store again while the first object lives: not a second writer."""
    path = tmp_path / "store.db"
    first, second = TrialStore(path), TrialStore(path)
    assert first.acquire_lock() and second.acquire_lock()
    assert not faults.another_process_can_write(path)
    first.close()
    assert not faults.another_process_can_write(path)  # the second store still holds the process's lock
    second.close()
    assert faults.another_process_can_write(path)


def test_a_search_cannot_start_on_a_store_another_search_writes(tmp_path):
    path = tmp_path / "store.db"
    with TrialStore(path) as setup:
        setup.create_search({}, seed=0)
    with faults.lock_held_elsewhere(path):
        with pytest.raises(StoreLocked):
            faults.search(path, faults.LoggedObjective(str(tmp_path / "log")))
        with TrialStore(path) as reader:
            assert len(reader.trials()) == 0  # the refused search wrote nothing
    # run_search gives back the lock it took: the store can be searched (resumed) again afterwards,
    # and by another process.
    store = faults.search(path, faults.LoggedObjective(str(tmp_path / "log")))
    assert faults.another_process_can_write(path)  # even before the store is closed
    store.close()


# --------------------------------------------------------------------------- #
# damaged and foreign files
# --------------------------------------------------------------------------- #
def _filled_store(path: Path) -> bytes:
    with TrialStore(path) as store:
        store.create_search({"strategy": "ga"}, seed=0)
        for i in range(300):
            trial = store.add_trial({"x": i}, 0, "running", params_hash=f"h{i}")
            store.finish(trial, float(i), {"note": "x" * 200})
    connection = sqlite3.connect(path)  # fold the WAL into the file, as a copy of a quiet store would be
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    return path.read_bytes()


@pytest.mark.parametrize("keep", [0.01, 0.25, 0.5, 0.75, 0.95])
def test_a_truncated_store_is_refused_with_a_clear_error(tmp_path, keep):
    data = _filled_store(tmp_path / "whole.db")
    path = tmp_path / "cut.db"
    path.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(StoreError, match="damaged"):
        TrialStore(path)


def test_a_store_with_a_damaged_page_is_refused(tmp_path):
    data = bytearray(_filled_store(tmp_path / "whole.db"))
    page = 4096
    data[len(data) // 2 : len(data) // 2 + page] = os.urandom(page)  # one page overwritten mid-file
    path = tmp_path / "damaged.db"
    path.write_bytes(bytes(data))
    with pytest.raises(StoreError, match="damaged"):
        TrialStore(path).trials()


@pytest.mark.parametrize("content", [b"hello, I am a CSV\n1,2,3\n", os.urandom(8192)], ids=["text", "random"])
def test_a_file_that_is_no_store_is_refused(tmp_path, content):
    path = tmp_path / "other.db"
    path.write_bytes(content)
    with pytest.raises(StoreError, match="not a keras-geo trial store"):
        TrialStore(path)


# --------------------------------------------------------------------------- #
# Ctrl-C
# --------------------------------------------------------------------------- #
def test_ctrl_c_stops_the_workers_and_leaves_a_consistent_store(tmp_path):
    verdict = faults.inject_ctrl_c(tmp_path)
    report = asdict(verdict)
    assert verdict.killed, report  # exit 130 after the KeyboardInterrupt reached the driver
    assert verdict.orphans == 0, report  # no worker left behind
    assert verdict.same_as_reference, report  # none running or queued, no traceback, resumed to the end
    assert verdict.lost == 0 and verdict.retrained == 0 and verdict.done_before >= 3, report


def test_a_new_store_opened_by_several_processes_at_once_is_created_once(tmp_path):
    """`status` opened while a search creates its store: neither may break the other."""
    import subprocess
    import sys
    import time

    path = tmp_path / "new.db"
    start = time.time() + 2.0
    script = (
        f"import sys, time; sys.path.insert(0, {str(Path(faults.__file__).parents[2])!r}); "
        f"from hpo.store import TrialStore; time.sleep(max(0, {start} - time.time())); "
        f"s = TrialStore({str(path)!r}); print(s.searches() == [])"
    )
    runs = [
        subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(6)
    ]
    results = [run.communicate(timeout=60) for run in runs]
    assert all(run.returncode == 0 for run in runs), [err[-500:] for _, err in results]
    assert [out.strip() for out, _ in results] == ["True"] * 6


@pytest.mark.parametrize("write", ["add_trial", "start"])
def test_ctrl_c_right_after_a_trial_was_written_leaves_nothing_running(tmp_path, monkeypatch, write):
    """Ctrl-C between the store's write of a trial (queued, running) and the loop's own record of it."""
    original = getattr(TrialStore, write)
    calls = {"n": 0}

    def interrupted(self, *args, **kwargs):
        out = original(self, *args, **kwargs)
        calls["n"] += 1
        if calls["n"] == 6:
            raise KeyboardInterrupt
        return out

    monkeypatch.setattr(TrialStore, write, interrupted)
    with pytest.raises(KeyboardInterrupt):
        faults.search(tmp_path / "store.db", faults.LoggedObjective(str(tmp_path / "log")))
    monkeypatch.undo()
    with TrialStore(tmp_path / "store.db") as store:
        counts = store.counts()
    assert counts["running"] == 0 and counts["queued"] == 0 and counts["interrupted"] == 1, counts
    resumed = faults.search(tmp_path / "store.db", faults.LoggedObjective(str(tmp_path / "log")))
    assert resumed.counts()["done"] == faults.TRIALS
    resumed.close()
