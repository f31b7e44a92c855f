"""Running code around the first import of a package, without importing it now.

keras-geo must not import TensorFlow when it is imported itself (an MPI rank is pinned
to its GPU before TensorFlow starts, and ``keras-geo-hpo status`` needs no
framework), yet two things must happen exactly when TensorFlow or Keras first loads:
TensorFlow's start-up chatter is filtered (:mod:`keras_geo._console`), and keras-geo's
custom layers, losses and metrics are registered with Keras, so that a saved model
loads after ``import keras_geo`` whichever of the two was imported first.

:func:`around_first_import` installs a finder on ``sys.meta_path`` that wraps the named
package's ``exec_module`` in a context manager the caller gives; the module keeps its
real loader. A package already imported is not wrapped (the caller checks
``sys.modules`` and acts at once where that is what it needs).
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.util
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

__all__ = ["around_first_import"]

Wrapper = Callable[[], AbstractContextManager[Any]]


class _Loader(importlib.abc.Loader):
    """Runs another loader's ``exec_module`` inside the wrappers; hands the module back to that loader."""

    def __init__(self, loader: Any, wrappers: list[Wrapper]) -> None:
        self._loader = loader
        self._wrappers = wrappers

    def create_module(self, spec: Any) -> Any:
        return self._loader.create_module(spec)

    def exec_module(self, module: Any) -> None:
        module.__loader__ = self._loader  # the module keeps its real loader (resources, reloads)
        if getattr(module, "__spec__", None) is not None:
            module.__spec__.loader = self._loader
        with contextlib.ExitStack() as stack:
            for wrapper in self._wrappers:
                stack.enter_context(wrapper())
            self._loader.exec_module(module)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)


class _Finder(importlib.abc.MetaPathFinder):
    """Answers for the first import of each registered top-level package, once."""

    def __init__(self) -> None:
        self.wrappers: dict[str, list[Wrapper]] = {}

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        wrappers = self.wrappers.pop(fullname, None)
        if wrappers is None:
            return None
        spec = importlib.util.find_spec(fullname)  # the real finders (this one no longer answers for it)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        spec.loader = _Loader(spec.loader, wrappers)
        return spec


_FINDER = _Finder()


def around_first_import(name: str, wrapper: Wrapper) -> bool:
    """Runs the first import of the top-level package ``name`` inside ``wrapper()``.

    Args:
        name: A top-level package, e.g. ``"tensorflow"``.
        wrapper: A callable returning a context manager (e.g. a ``@contextmanager``
            function); code after its ``yield`` runs once the package is imported.

    Returns:
        False when ``name`` is already imported (nothing was installed), else True.
    """
    if name in sys.modules:
        return False
    chain = _FINDER.wrappers.setdefault(name, [])
    if wrapper not in chain:
        chain.append(wrapper)
    if _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)
    return True
