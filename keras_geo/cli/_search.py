"""``keras-geo-hpo search`` and ``keras-geo-hpo resume``: run a search, or continue a store's latest one."""

from __future__ import annotations

import argparse
import sys

from keras_geo.cli._common import (
    DISTRIBUTED,
    UsageError,
    _launcher_chose,
    _on_backend,
    _pool_if_named,
    _positive,
    _store,
    config_path,
)


def _run_search(store, config, warm_start=None, executor=None) -> int:
    from hpo.loop import ObjectiveError, SearchAborted
    from keras_geo import search

    if executor is None:
        executor = search.make_executor(config)
    s = config.search
    kind = "rank(s)" if s.executor["name"] in DISTRIBUTED else "worker(s)"
    if s.executor["name"] == "mpi_async":
        kind = "training rank(s) (rank 0 drives)"
    print(
        f"Search {s.name!r}: {s.strategy['name']} over {len(s.space)} parameters, "
        f"{executor.n_workers} {s.executor['name']} {kind}, {s.mode} mode, "
        f"budget {s.budget['trials']} trials, seed {s.seed}; {config.task.name} of {config.dataset.name} "
        f"with {config.model.builder}, objective "
        f"{', '.join(o['direction'] + ' ' + o['metric'] for o in s.objectives)}\nstore: {store.path}",
        flush=True,
    )
    if s.tensorboard:
        from keras_geo.tracking import tensorboard_dir

        print(f"tensorboard --logdir {tensorboard_dir(store.path)}", flush=True)
    if s.mlflow is not None:
        print(f"mlflow: experiment {s.mlflow['experiment']!r} at {s.mlflow['tracking_uri'] or 'the default URI'}")
    try:
        summary = search.run(store, progress=True, warm_start=warm_start, executor=executor, config=config)
    except ObjectiveError as error:  # a configuration error only the first trial could reveal
        raise UsageError(str(error)) from None
    except SearchAborted as error:
        print(f"keras-geo-hpo: search stopped: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(
            f"\nkeras-geo-hpo: interrupted; running trials are marked interrupted. "
            f"Resume with: keras-geo-hpo resume {store.path}",
            file=sys.stderr,
        )
        return 130
    best = summary.best
    print(
        f"{summary.stopped}: {summary.done} done ({summary.cache_hits} cache hits, {summary.replayed} taken "
        f"from the store), {summary.pruned} pruned, {summary.failed} failed, in {summary.elapsed_s:.0f} s"
    )
    if best is not None:
        print(f"best of this search: trial {best.id}, {s.metric} = {best.value:.4f}, params {best.params}")
    return 0


def _cmd_search(args: argparse.Namespace) -> int:
    return _on_backend(args, _search)


def _search(args: argparse.Namespace, backend: str | None, executor=None) -> int:
    from keras_geo import config as configuration
    from keras_geo import search

    # Under mpiexec without --backend, a configuration naming mpi_async keeps it (see _pool_if_named).
    by_launcher = executor is not None and _launcher_chose(args, backend)
    overrides = {
        "store": args.store,
        "strategy.name": args.strategy,
        "executor.name": None if by_launcher else backend,
        "executor.workers": args.workers,
        "budget.trials": args.trials,
        "seed": args.seed,
    }
    if args.strategy is not None:
        overrides["strategy.settings"] = {}  # settings belong to the YAML's strategy
    config = configuration.load_config(config_path(args.config), overrides)
    if executor is None and config.search.executor["name"] in DISTRIBUTED:
        # Named by the configuration only, and started without a launcher: one rank.
        return _on_backend(args, _search, config.search.executor["name"])
    if by_launcher and config.search.executor["name"] != "mpi_async":
        config = config.replace(executor={**config.search.executor, "name": backend})
    executor = _pool_if_named(executor, config.search.executor["name"])
    try:
        warm_start = _store(args.warm_start) if args.warm_start else None
        store = search.open_store(config)
        try:
            return _run_search(store, config, warm_start, executor)
        finally:
            store.close()  # gives the writer lock back
            if warm_start is not None:
                warm_start.close()
    finally:
        if executor is not None:
            executor.close()  # a pool taken over here is not the one the caller closes


def _cmd_resume(args: argparse.Namespace) -> int:
    return _on_backend(args, _resume)


def _resume(args: argparse.Namespace, backend: str | None, executor=None) -> int:
    store = _store(args.store)
    store.acquire_lock()  # refused at once if a search still runs on it
    from keras_geo.search import stored_config

    config = stored_config(store)
    # Any backend resumes any store: this run's executor may differ from the stored one.
    keep_pool = (
        executor is not None and _launcher_chose(args, backend) and config.search.executor["name"] == "mpi_async"
    )
    config = config.replace(
        executor={
            **config.search.executor,
            **({"name": backend} if backend and not keep_pool else {}),
            **({"workers": args.workers} if args.workers else {}),
        }
    )
    if executor is None and config.search.executor["name"] in DISTRIBUTED:
        store.close()  # reopened on rank 0 of the job
        return _on_backend(args, _resume, config.search.executor["name"])
    executor = _pool_if_named(executor, config.search.executor["name"])
    try:
        return _run_search(store, config, executor=executor)
    finally:
        store.close()
        if executor is not None:
            executor.close()


def add_parser(commands) -> None:
    """Registers ``search`` and ``resume``."""
    search = commands.add_parser("search", help="run a search from a YAML configuration")
    search.add_argument(
        "config", help="YAML configuration file, or the name of a shipped one (keras-geo-hpo configs lists them)"
    )
    search.add_argument("--store", help="trial store file (default runs/<name>/store.db)")
    search.add_argument("--strategy", help="override strategy.name (its YAML settings are dropped)")
    search.add_argument("--workers", type=_positive, help="override executor.workers")
    search.add_argument("--trials", type=_positive, help="override budget.trials")
    search.add_argument("--seed", type=int, help="override seed")
    search.add_argument(
        "--warm-start", metavar="STORE", help="an earlier store whose trained parameter sets are reused (cache)"
    )
    backend_help = (
        "override executor.name: serial, local (process pool), mpi or horovod (lock-step rounds under "
        "mpiexec/srun/horovodrun; the launcher's backend is the default there), or mpi_async (an "
        "asynchronous MPI pool: rank 0 drives, a free rank takes the next trial at once)"
    )
    search.add_argument("--backend", choices=("serial", "local", *DISTRIBUTED), help=backend_help)
    search.set_defaults(run=_cmd_search)

    resume = commands.add_parser("resume", help="continue the latest search of a store (with any backend)")
    resume.add_argument("store")
    resume.add_argument("--backend", choices=("serial", "local", *DISTRIBUTED), help=backend_help)
    resume.add_argument("--workers", type=_positive, help="override executor.workers (local backend)")
    resume.set_defaults(run=_cmd_resume)
