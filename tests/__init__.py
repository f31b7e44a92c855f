"""keras-geo's test suite: ``tests/hpo`` and ``tests/keras_geo`` mirror the packages, ``tests/faults`` is the
fault-injection harness, ``tests/notebooks`` runs the notebooks, ``tests/data`` holds small fixtures."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
"""The repository's root folder."""
DATA = ROOT / "tests" / "data"
"""The fixtures folder."""


def one_line(error) -> str:
    """The message of a raised error (a ``pytest.ExceptionInfo``), checked to be one line."""
    message = str(error.value)
    assert "\n" not in message, message
    return message


def predict_in_fresh_process(model_path, x, folder):
    """Loads ``model_path`` in a new Python process that imports ``keras_geo`` and nothing else of this
    project, with ``safe_mode=True``, and returns its predictions for ``x`` (saved under ``folder``):
    an array, or a dict of arrays for a model with named outputs (a detector)."""
    import subprocess
    import sys

    import numpy as np

    inputs, outputs = Path(folder) / "fresh_x.npy", Path(folder) / "fresh_y.npz"
    np.save(inputs, x)
    script = (
        "import numpy as np, keras, keras_geo\n"
        f"m = keras.saving.load_model({str(model_path)!r}, safe_mode=True)\n"
        f"y = m.predict(np.load({str(inputs)!r}), verbose=0)\n"
        f"np.savez({str(outputs)!r}, **(y if isinstance(y, dict) else {{'_': y}}))\n"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    with np.load(outputs) as found:
        return found["_"] if found.files == ["_"] else {name: found[name] for name in found.files}
