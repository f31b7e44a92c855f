"""keras-geo: Keras 3 toolkit for scientific image recognition.

``import keras_geo`` imports no framework. keras-geo's custom losses, metrics and
layers register with Keras when Keras loads (at once if it already has), so a saved
model that uses them loads after ``import keras_geo`` with ``safe_mode=True``.
"""

import contextlib as _contextlib

from keras_geo._imports import around_first_import as _around_first_import

__version__ = "0.1.0"

# The modules that define registered (serialisable) Keras objects.
_CUSTOM_OBJECT_MODULES = (
    "keras_geo.layers",
    "keras_geo.losses",
    "keras_geo.metrics",
    "keras_geo.models._adversarial",
    "keras_geo.detection.roi_align",
    "keras_geo.detection.relations",
    "keras_geo.detection.model",
)


def _register_custom_objects() -> None:
    import importlib

    for module in _CUSTOM_OBJECT_MODULES:
        importlib.import_module(module)


@_contextlib.contextmanager
def _then_register():
    yield
    _register_custom_objects()


if not _around_first_import("keras", _then_register):
    _register_custom_objects()  # Keras is loaded already: register now
