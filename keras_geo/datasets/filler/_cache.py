"""The on-disk cache: keys, atomic ``.npz`` files and cached structures.

Cache keys are the SHA-256 of the JSON of the parameters and
`GENERATOR_VERSION`; files are compressed ``.npz`` loaded with
``allow_pickle=False``. `_cached_structure` loads or generates (and stores)
one structure; `make_dataset` (in `_dataset`) caches whole data sets.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import warnings
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ._structures import Structure

# Bump whenever a change alters the arrays produced for the same parameters:
# it is part of every cache key, so stale cached data sets are never reused.
GENERATOR_VERSION = "filler-2"


def _filler() -> Any:
    """The ``filler`` package, looked up at call time.

    Steps of the data-set pipeline are called through it, as module globals
    were when filler was one module: patching e.g. ``filler.generate_structure``
    (as the tests do) still reaches the code here.
    """
    return sys.modules[__package__]


def _default_cache_dir() -> Path:
    root = os.environ.get("KERAS_GEO_CACHE")
    if root:
        return Path(root).expanduser() / "filler"
    return Path("~/.cache/keras-geo/filler").expanduser()


def _cache_key(payload: Mapping[str, Any]) -> tuple[str, str]:
    text = json.dumps({"version": GENERATOR_VERSION, **payload}, sort_keys=True, default=_json_default)
    return hashlib.sha256(text.encode("utf-8")).hexdigest(), text


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, (tuple, np.ndarray)):
        return list(obj)
    raise TypeError(f"Cannot use {obj!r} in a cache key.")


def _load_npz(path: Path, meta: str, names: tuple[str, ...]) -> dict[str, np.ndarray] | None:
    """Load cached arrays; None if absent, unreadable or for other parameters."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            if str(data["meta"]) != meta:
                return None
            return {k: data[k] for k in names}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None


def _save_npz(path: Path, meta: str, arrays: Mapping[str, np.ndarray]) -> None:
    """Write atomically (temp file + rename): concurrent workers never read
    a half-written file, and a crash leaves no corrupt cache entry."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.stem, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez_compressed(fh, meta=np.array(meta), **arrays)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as err:  # read-only or full disk: caching is best effort
        warnings.warn(f"keras_geo filler cache not written ({path}): {err}", stacklevel=3)


def _cached_structure(
    kind: str,
    *,
    box_nm: float,
    radius_nm: float,
    volume_fraction: float,
    seed: int,
    params: Mapping[str, Any],
    cache_dir: Path | None,
) -> Structure:
    kwargs = dict(box_nm=box_nm, radius_nm=radius_nm, volume_fraction=volume_fraction, seed=seed)
    if cache_dir is None:
        return _filler().generate_structure(kind, **kwargs, **params)
    key, meta = _cache_key({"function": "generate_structure", "kind": kind, **kwargs, "params": dict(params)})
    path = cache_dir / "structures" / f"structure-{key[:32]}.npz"
    data = _load_npz(path, meta, ("centers", "radii", "box_nm"))
    if data is not None:
        return Structure(centers=data["centers"], radii=data["radii"], box_nm=float(data["box_nm"]), kind=kind)
    structure = _filler().generate_structure(kind, **kwargs, **params)
    _save_npz(
        path,
        meta,
        {"centers": structure.centers, "radii": structure.radii, "box_nm": np.float64(structure.box_nm)},
    )
    return structure
