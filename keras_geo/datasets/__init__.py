"""Dataset generators and loaders."""
from keras_geo.datasets import filler

__all__ = ["filler"]
