"""keras-geo: Keras 3 toolkit for scientific image recognition."""
__version__ = "0.1.0"
