"""Dataset generators and loaders: filler slices, synthetic shapes, image folders."""
from keras_geo.datasets import filler, folders, shapes

__all__ = ["filler", "folders", "shapes"]
