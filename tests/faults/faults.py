"""Fault injection for the search engine: kill, crash and lock a search, resume it, count what was lost.

The tests (``tests/faults/test_faults.py``) inject each fault once; run as a script, this
module injects every fault several times and prints the reliability table of
``RELIABILITY.md``::

    python tests/faults/faults.py          # 3 injections per fault, about a minute
    python tests/faults/faults.py --repeats 10

The search under test is small and cheap (no TensorFlow): a synchronous GA over a
float, an int and a category, 24 trials in batches of 4, seed 11, so that the same
seed gives the same trials and an interrupted search can be compared trial by trial
with an uninterrupted one. Its objective appends ``start HASH`` and ``end HASH`` to a
call log, which counts trainings across the kill and the resume.

A *kill point* names where the driver dies by SIGKILL (``kill -9``: no clean-up, no
``finally``): inside a store write after its statements ran and before its COMMIT,
inside the strategy's ``ask`` or ``tell``, in a trial, or between trials. The
injection lives only in the killed child process (it patches the engine there); the
engine itself carries no test hooks.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from hpo import strategies  # noqa: E402
from hpo.devices import plan_devices  # noqa: E402
from hpo.executors import LocalExecutor, SerialExecutor  # noqa: E402
from hpo.loop import Budget, run_search  # noqa: E402
from hpo.space import Space, params_hash  # noqa: E402
from hpo.store import TrialStore  # noqa: E402

SPACE = Space.from_dict(
    {"x": {"type": "float", "low": -5.0, "high": 5.0}, "k": {"type": "int", "low": 0, "high": 4}, "c": ["a", "b"]}
)
TRIALS, BATCH, SEED = 24, 4, 11

#: Where the driver is killed: name -> (what it means, first occurrence to kill at, step between
#: repeated injections). Steps stay within what a search of 24 trials has: 6 batches (ask, tell),
#: about 5 new best models (update_meta), one search to create.
KILL_POINTS: dict[str, tuple[str, int, int]] = {
    "create_search": ("while the new search is written (before its COMMIT)", 1, 0),
    "add_trial": ("while a new trial is written as queued (before its COMMIT)", 10, 3),
    "start": ("while a trial is marked running (before its COMMIT)", 10, 3),
    "in_trial": ("in the middle of a trial (serial executor: the driver trains)", 10, 3),
    "finish": ("while a trial's result is written (before its COMMIT)", 10, 3),
    "between_trials": ("after a result is committed, before the next trial starts", 10, 3),
    "update_meta": ("while the best model's record is written (before its COMMIT)", 2, 1),
    "ask": ("while the strategy proposes a batch", 3, 1),
    "tell": ("while the strategy learns a batch's results", 3, 1),
    "in_trial_pool": ("in the middle of a trial on a pool of 2 worker processes", 10, 3),
}
_STORE_WRITES = ("create_search", "add_trial", "start", "finish", "update_meta")


def quadratic(params: dict[str, Any]) -> float:
    """The objective's value: minimum 0 at x = 1, k = 0, c = "a"."""
    return (params["x"] - 1.0) ** 2 + params["k"] + (0.5 if params["c"] == "b" else 0.0)


class LoggedObjective:
    """Appends ``start HASH`` / ``end HASH`` lines to ``log``; optionally kills a process at its n-th call.

    ``kill`` is ``(n, "self" | "driver")``: at the n-th call (counted in this log), SIGKILL
    this process (serial executor: the driver itself) or its parent (a pool worker's driver),
    after the ``start`` line. Picklable, so that pool workers run it.
    """

    def __init__(self, log: str, kill: tuple[int, str] | None = None, pause_s: float = 0.0) -> None:
        self.log, self.kill, self.pause_s = log, kill, pause_s

    def _write(self, line: str) -> None:
        with open(self.log, "a") as f:
            f.write(line + "\n")

    def __call__(self, params: dict[str, Any], *, seed: int, trial_id: int) -> dict[str, Any]:
        digest = params_hash(params)
        self._write(f"start {digest} {os.getpid()}")
        if self.kill is not None:
            n, whom = self.kill
            started = sum(1 for line in Path(self.log).read_text().splitlines() if line.startswith("start"))
            if started == n:
                os.kill(os.getpid() if whom == "self" else os.getppid(), signal.SIGKILL)
                time.sleep(30)  # a worker whose driver died: its watchdog must end it before this
        if self.pause_s:
            time.sleep(self.pause_s)
        value = quadratic(params)
        # A stand-in for the trial's saved model: the loop keeps the best one's file.
        artifact = Path(self.log + ".models") / f"trial{trial_id}.txt"
        artifact.parent.mkdir(exist_ok=True)
        artifact.write_text(json.dumps(params))
        self._write(f"end {digest}")
        return {"value": value, "metrics": {"artifact": str(artifact)}}


def search(path: str | Path, objective: Any, *, workers: int = 0, on_trial: Any = None) -> TrialStore:
    """The search under test (created in the store if new, resumed otherwise); returns the open store."""
    store = TrialStore(path)
    if store.get_search() is None:
        store.create_search({"strategy": "ga", "trials": TRIALS}, seed=SEED)
    executor = LocalExecutor(workers, devices=plan_devices(workers, gpus=[])) if workers else SerialExecutor()
    run_search(
        objective,
        strategies.get("ga", SPACE, seed=SEED),
        store,
        executor,
        Budget(trials=TRIALS),
        seed=SEED,
        direction="minimize",
        synchronous=True,
        batch_size=BATCH,
        progress=False,
        on_trial=on_trial,
    )
    return store


def sequence(store: TrialStore) -> list[tuple[dict[str, Any], float | None, str]]:
    """The search's trials in order: (params, value, status)."""
    return [(t.params, t.value, t.status) for t in store.trials()]


# --------------------------------------------------------------------------- #
# the killed child
# --------------------------------------------------------------------------- #
def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(30)


def _arm(point: str, nth: int) -> dict[str, Any]:
    """Patches this process's engine so that it SIGKILLs itself at the ``nth`` occurrence of ``point``."""
    state = {"count": 0, "armed": False}

    def hit() -> bool:
        state["count"] += 1
        return state["count"] == nth

    if point in _STORE_WRITES:
        method = getattr(TrialStore, point)
        original_write = TrialStore._write

        def wrapped(self, *args, **kwargs):
            state["armed"] = hit()
            try:
                return method(self, *args, **kwargs)
            finally:
                state["armed"] = False

        @contextlib.contextmanager
        def write(self) -> Iterator[Any]:
            with original_write(self) as connection:
                yield connection
                if state["armed"]:
                    _die()  # the statements ran; the COMMIT has not

        setattr(TrialStore, point, wrapped)
        TrialStore._write = write
    elif point in ("ask", "tell"):
        from hpo.strategies._base import Strategy

        method = getattr(Strategy, point)

        def wrapped_strategy(self, *args, **kwargs):
            out = method(self, *args, **kwargs)
            if hit():
                _die()  # the strategy has done its work; the loop has not seen it
            return out

        setattr(Strategy, point, wrapped_strategy)
    return state


def child_main(path: str, log: str, point: str | None, nth: int) -> None:
    """The driver to kill: runs :func:`search` with ``point`` armed at its ``nth`` occurrence."""
    kill, workers, on_trial = None, 0, None
    if point == "in_trial":
        kill = (nth, "self")
    elif point == "in_trial_pool":
        kill, workers = (nth, "driver"), 2
    elif point == "between_trials":
        count = {"n": 0}

        def on_trial(trial) -> None:
            count["n"] += 1
            if count["n"] == nth:
                _die()
    elif point is not None:
        _arm(point, nth)
    search(path, LoggedObjective(log, kill, pause_s=0.2 if workers else 0.0), workers=workers, on_trial=on_trial)


# --------------------------------------------------------------------------- #
# injecting, resuming, judging
# --------------------------------------------------------------------------- #
@dataclass
class Verdict:
    """What one injected fault cost."""

    fault: str
    nth: int
    killed: bool = False  # the child died by SIGKILL (the fault landed)
    done_before: int = 0  # trials done in the store when the driver died
    lost: int = 0  # of those, not done with the same value after the resume
    retrained: int = 0  # of those, trained again after the resume
    rerun: int = 0  # trials that had not finished and ran after the resume
    duplicates: int = 0  # params sets done more than once in the search
    same_as_reference: bool = False  # kills: same trials, values and best as uninterrupted; others: as specified
    orphans: int = 0  # worker processes still alive 5 s after their driver died
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            self.killed
            and not self.lost
            and not self.retrained
            and not self.duplicates
            and self.same_as_reference
            and not self.orphans
        )


@contextlib.contextmanager
def lock_held_elsewhere(path: str | Path) -> Iterator[subprocess.Popen]:
    """Another process that holds the store's writer lock (as a running search does), until the block ends."""
    script = (
        f"import sys, time; sys.path.insert(0, {str(HERE.parents[1])!r}); from hpo.store import TrialStore; "
        f"TrialStore({str(path)!r}).acquire_lock(); print('locked', flush=True); time.sleep(120)"
    )
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "locked"
        yield process
    finally:
        process.kill()
        process.wait()


def another_process_can_write(path: str | Path) -> bool:
    """Whether a fresh process could take the store's writer lock now."""
    script = (
        f"import sys; sys.path.insert(0, {str(HERE.parents[1])!r}); from hpo.store import StoreLocked, TrialStore\n"
        f"try:\n    TrialStore({str(path)!r}).acquire_lock(); print('free')\n"
        f"except StoreLocked:\n    print('locked')"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    return out.strip() == "free"


def reference(folder: Path) -> TrialStore:
    """The uninterrupted search (computed once per folder)."""
    path = folder / "reference.db"
    if path.exists():
        return TrialStore(path)
    return search(path, LoggedObjective(str(folder / "reference.log")))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with contextlib.suppress(OSError):  # a zombie (dead, not yet reaped) counts as gone
        if Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z":
            return False
    return True


def _orphans(pids: set[int], within_s: float) -> int:
    """How many of these worker processes are still alive after ``within_s`` seconds (checked as they go)."""
    deadline = time.monotonic() + within_s
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    return sum(_alive(pid) for pid in pids)


def _worker_pids(log: Path) -> set[int]:
    """The processes that started trials, from the call log."""
    return {int(line.split()[2]) for line in log.read_text().splitlines() if line.startswith("start")}


def _done_trials(path: Path) -> dict[int, Any]:
    """The done trials of a store after a fault, by id (opening it also checks that it is not damaged)."""
    if not path.exists():
        return {}
    with TrialStore(path) as store:
        return {t.id: t for t in store.trials("done")} if store.get_search() is not None else {}


def _judge_resume(verdict: Verdict, before: Mapping[int, Any], store: TrialStore, log: Path, marker: int) -> None:
    """Counts what the fault cost: trials done ``before`` it that the resumed ``store`` lost or changed,
    those trained again (call log lines past ``marker``), all trainings after the resume, duplicates."""
    after = {t.id: t for t in store.trials()}
    trained_again = [line.split()[1] for line in log.read_text().splitlines()[marker:] if line.startswith("start")]
    hashes_before = {t.params_hash for t in before.values()}
    verdict.done_before = len(before)
    verdict.lost = sum(
        1 for i, t in before.items() if i not in after or after[i].status != "done" or after[i].value != t.value
    )
    verdict.retrained = sum(1 for h in trained_again if h in hashes_before)
    verdict.rerun = len(trained_again)
    done_hashes = [t.params_hash for t in after.values() if t.status == "done"]
    verdict.duplicates = len(done_hashes) - len(set(done_hashes))


def inject_kill(point: str, folder: Path, nth: int | None = None) -> Verdict:
    """Kills a search's driver at ``point``, resumes it, and judges the outcome against the reference."""
    nth = KILL_POINTS[point][1] if nth is None else nth
    folder.mkdir(parents=True, exist_ok=True)
    path, log = folder / f"{point}-{nth}.db", folder / f"{point}-{nth}.log"
    for stale in (path, log):
        stale.unlink(missing_ok=True)
    shutil.rmtree(str(log) + ".models", ignore_errors=True)
    verdict = Verdict(point, nth)
    # Output to a file, not a pipe: orphaned workers would hold a pipe open and hang the wait.
    errors = folder / f"{point}-{nth}.stderr"
    with open(errors, "w") as err:
        child = subprocess.run(
            [sys.executable, __file__, "--child", str(path), str(log), point, str(nth)],
            stdout=subprocess.DEVNULL,
            stderr=err,
            timeout=120,
        )
    verdict.killed = child.returncode == -signal.SIGKILL
    if not verdict.killed:
        verdict.notes.append(f"child exit {child.returncode}: {errors.read_text().strip()[-300:]}")
        return verdict
    if not log.exists():
        log.touch()  # killed before its first trial
    if point == "in_trial_pool":  # the workers of the dead driver must end by themselves
        verdict.orphans = _orphans(_worker_pids(log), within_s=5)
    before = _done_trials(path)

    marker = len(log.read_text().splitlines())
    store = search(path, LoggedObjective(str(log)), workers=2 if point == "in_trial_pool" else 0)
    try:
        _judge_resume(verdict, before, store, log, marker)
        ref = reference(folder)
        best = store.best()
        verdict.same_as_reference = (
            sequence(store) == sequence(ref)
            and best.value == ref.best().value
            and store.counts()["running"] == 0
            and store.counts()["queued"] == 0
        )
        # The best model's record names the best trial, and its file is there.
        model = store.get_meta("best_artifact")
        if store.get_meta("best_trial") != best.id or not model or not Path(model).is_file():
            verdict.same_as_reference = False
            verdict.notes.append(f"best model record {store.get_meta('best_trial')} / {model} for trial {best.id}")
        ref.close()
    finally:
        store.close()
    return verdict


def inject_worker_kill(folder: Path, nth: int = 5) -> Verdict:
    """A pool worker SIGKILLs itself in its ``nth`` trial: it must be replaced, that trial recorded
    failed with the exit code, and the search completed (the killed trial is not retried: a trial that
    kills its worker, e.g. by running out of host memory, would kill the next one too)."""
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / f"worker-{nth}.log"
    log.unlink(missing_ok=True)
    verdict = Verdict("worker_killed", nth)
    with TrialStore(folder / f"worker-{nth}.db") as store:
        if store.get_search() is not None:
            raise ValueError(f"{store.path} exists already")
        store.create_search({}, seed=SEED)
        pool = LocalExecutor(2, devices=plan_devices(2, gpus=[]))
        run_search(
            LoggedObjective(str(log), kill=(nth, "self")),
            strategies.get("ga", SPACE, seed=SEED),
            store,
            pool,
            Budget(trials=TRIALS),
            seed=SEED,
            synchronous=True,
            batch_size=BATCH,
            progress=False,
        )
        counts, failed = store.counts(), store.trials("failed")
        starts = [line.split()[1] for line in log.read_text().splitlines() if line.startswith("start")]
    verdict.killed = len(failed) == 1 and "died (exit code -9) during the trial" in (failed[0].error or "")
    verdict.done_before = counts["done"]
    verdict.lost = TRIALS - counts["done"] - counts["failed"]  # trials the search never recorded
    verdict.retrained = len(starts) - len(set(starts))
    verdict.same_as_reference = counts["done"] == TRIALS - 1 and counts["running"] == 0 and pool.replaced == 1
    verdict.notes.append(f"{counts['done']} done, {counts['failed']} failed, {pool.replaced} worker replaced")
    return verdict


CTRL_C_SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
import faults
try:
    faults.search({path!r}, faults.LoggedObjective({log!r}, pause_s=0.5), workers=2)
except KeyboardInterrupt:
    print("interrupted", flush=True)
    sys.exit(130)
"""


def interruptible() -> None:
    """``preexec_fn`` giving a child the default SIGINT, as a terminal's foreground job has.

    A job started in the background (``nohup ... &``, some CI runners) inherits SIGINT as
    *ignored*, and Python then installs no KeyboardInterrupt handler: Ctrl-C could not be tested.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def inject_ctrl_c(folder: Path, after: int = 3) -> Verdict:
    """Ctrl-C (SIGINT to the whole process group, as a terminal sends it) once ``after`` trials ended on a pool
    of 2 workers; then a resume. Workers must stop without tracebacks of their own, running trials be marked
    interrupted (none left running), and the resume keep every finished trial and complete the search."""
    folder.mkdir(parents=True, exist_ok=True)
    path, log = folder / f"ctrl-c-{after}.db", folder / f"ctrl-c-{after}.log"
    for stale in (path, log):
        stale.unlink(missing_ok=True)
    verdict = Verdict("ctrl_c", after)
    script = CTRL_C_SCRIPT.format(tests=str(HERE), path=str(path), log=str(log))
    process = subprocess.Popen(
        [sys.executable, "-c", script],
        start_new_session=True,
        preexec_fn=interruptible,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not log.exists() or log.read_text().count("end ") < after):
        time.sleep(0.05)
    workers = _worker_pids(log)
    os.killpg(process.pid, signal.SIGINT)
    out, err = process.communicate(timeout=30)
    verdict.killed = process.returncode == 130 and "interrupted" in out
    if "Traceback" in err:
        verdict.notes.append("a traceback was printed: " + err[-500:])
    verdict.orphans = _orphans(workers, within_s=0.5)
    with TrialStore(path) as store:
        counts = store.counts()
    before = _done_trials(path)
    # None left running or queued; a Ctrl-C between two batches finds nothing running to interrupt.
    consistent = counts["running"] == 0 and counts["queued"] == 0
    marker = len(log.read_text().splitlines())
    with search(path, LoggedObjective(str(log))) as store:
        _judge_resume(verdict, before, store, log, marker)
        done = store.counts()["done"]
    verdict.same_as_reference = consistent and done == TRIALS and "Traceback" not in err
    verdict.notes.append(f"at Ctrl-C: {counts}")
    return verdict


def campaign(folder: Path, repeats: int) -> list[Verdict]:
    """Every kill point ``repeats`` times at different occurrences, then worker kills and Ctrl-C."""
    verdicts = []

    def record(verdict: Verdict) -> None:
        verdicts.append(verdict)
        print(
            f"{verdict.fault:15s} at {verdict.nth:2d}: {'ok' if verdict.ok else 'FAILED'} {asdict(verdict)}", flush=True
        )

    for point, (_, nth, step) in KILL_POINTS.items():
        for r in range(repeats):
            # Spread the occurrences: e.g. trials 10, 13, 16 ... for the per-trial points.
            record(inject_kill(point, folder, nth + step * r))
    for r in range(repeats):
        record(inject_worker_kill(folder, 5 + 4 * r))
        record(inject_ctrl_c(folder, 3 + 4 * r))
    return verdicts


OTHER_FAULTS = {
    "worker_killed": (
        "a pool worker killed (SIGKILL) in the middle of a trial",
        "worker replaced; its trial recorded failed with exit code -9; 23 done + 1 failed",
    ),
    "ctrl_c": (
        "Ctrl-C (SIGINT to driver and workers) on a pool of 2 workers, then resume",
        "exit 130, no worker traceback, running trials marked interrupted (none left running), no worker "
        "left; "
        "the resume completes the 24 trials",
    ),
}


def table(verdicts: list[Verdict]) -> str:
    """The markdown table of RELIABILITY.md: one row per kill point, then the other faults."""
    rows = [
        "| fault | injected (landed) | trials done at the fault | lost | retrained | re-run after resume | "
        "duplicates | outcome as specified | orphan workers |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    faults = {
        point: (f"driver killed (SIGKILL) {meaning}", "same 24 trials, values and best model as the uninterrupted run")
        for point, (meaning, _, _) in KILL_POINTS.items()
    }
    for fault, (meaning, outcome) in {**faults, **OTHER_FAULTS}.items():
        mine = [v for v in verdicts if v.fault == fault]
        if not mine:
            continue
        rows.append(
            f"| {meaning} | {len(mine)} ({sum(v.killed for v in mine)}) | "
            f"{', '.join(str(v.done_before) for v in mine)} | {sum(v.lost for v in mine)} | "
            f"{sum(v.retrained for v in mine)} | {', '.join(str(v.rerun) for v in mine)} | "
            f"{sum(v.duplicates for v in mine)} | {outcome}: {sum(v.same_as_reference for v in mine)}/{len(mine)} | "
            f"{sum(v.orphans for v in mine)} |"
        )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3, help="injections per kill point (default 3)")
    parser.add_argument("--folder", default=None, help="work folder (default: a temporary one)")
    parser.add_argument("--json", help="also write the verdicts to this JSON file")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        path, log, point, nth = args.child
        child_main(path, log, point, int(nth))
        return
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        verdicts = campaign(Path(args.folder or tmp), args.repeats)
    print()
    print(table(verdicts))
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(v) for v in verdicts], indent=1))
    sys.exit(0 if all(v.ok for v in verdicts) else 1)


if __name__ == "__main__":
    # Run as the module ``faults`` (not ``__main__``), so that the objectives it pickles for
    # pool workers name a module the workers can import.
    import faults

    faults.main()
