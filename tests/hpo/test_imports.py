"""``hpo`` must import and work without TensorFlow/Keras (and never import keras_geo)."""

from __future__ import annotations

import inspect
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Start of every script run "without frameworks": a meta-path finder that makes them unimportable.
BLOCK_PRELUDE = textwrap.dedent(
    """
    import sys

    class Block:
        blocked = ("tensorflow", "keras", "keras_geo", "tf_keras", "torch", "jax")

        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in self.blocked:
                raise ImportError(f"blocked for this test: {name}")
            return None

    sys.meta_path.insert(0, Block())
    """
)

BLOCKED_RUN = BLOCK_PRELUDE + textwrap.dedent(
    """
    import hpo, hpo.space, hpo.strategies, hpo.store, hpo.trial
    import hpo.devices, hpo.distributed, hpo.executors, hpo.loop, hpo.report
    hpo.distributed.HorovodCollective({"HOROVOD_RANK": "0", "HOROVOD_SIZE": "1"})  # lazy: no TensorFlow yet
    from hpo import Result, Space, TrialStore, strategies

    space = Space.from_dict({"x": {"type": "float", "low": 0, "high": 1}, "n": [1, 2, 3]})
    for name in strategies.available():
        s = strategies.get(name, space, seed=0)
        for _ in range(4):
            ps = s.ask(3)
            s.tell([Result(p, p["x"] * p["n"]) for p in ps])
    with TrialStore(sys.argv[1]) as st:
        st.create_search({"space": space.to_dict()}, seed=0)
        st.add_trial({"x": 0.5, "n": 1})
    try:  # the live dashboard, when its extra is installed: computes a store's state without frameworks
        import hpo.dashboard
    except ImportError as error:
        assert "blocked" not in str(error), error
    else:
        watch = hpo.dashboard.StoreWatch(0, sys.argv[1])
        assert watch.state()[1]["summary"]["counts"]["queued"] == 1
        watch.close()
    bad = sorted(m for m in sys.modules if m.split(".")[0] in Block.blocked)
    assert not bad, bad
    print("OK")
    """
)


def test_hpo_works_with_frameworks_blocked(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        [sys.executable, "-c", BLOCKED_RUN, str(tmp_path / "store.sqlite")],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("OK")


def test_engine_sources_do_not_mention_frameworks() -> None:
    # Static check of the engine's own modules (a lazy import would escape the runtime test).
    pattern = re.compile(r"^\s*(import|from)\s+(tensorflow|keras|keras_geo)\b", re.MULTILINE)
    offenders = [str(f.relative_to(ROOT)) for f in (ROOT / "hpo").rglob("*.py") if pattern.search(f.read_text())]
    assert offenders == []


def test_public_api_is_declared() -> None:
    import hpo
    import hpo.space
    import hpo.store
    import hpo.strategies
    import hpo.trial

    for module in (hpo, hpo.space, hpo.store, hpo.strategies, hpo.trial):
        assert module.__all__, module.__name__
        for name in module.__all__:
            assert hasattr(module, name), f"{module.__name__}.{name}"
            obj = getattr(module, name)
            if inspect.isclass(obj) or inspect.isfunction(obj):
                assert obj.__doc__, f"{module.__name__}.{name} has no docstring"
