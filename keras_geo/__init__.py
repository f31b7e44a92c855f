"""keras-geo: Keras 3 toolkit for scientific image recognition."""
__version__ = "0.1.0"

# Registers the custom serialisable objects, so that a saved model loads after `import keras_geo`.
from keras_geo import losses  # noqa: E402,F401
