"""Model builders: every model is a function returning an uncompiled ``keras.Model``.

>>> from keras_geo import models
>>> models.available()
['cnfm', 'filler_cnn', 'mobilenet_v2', 'pix2pix', 'unet']
>>> model = models.get("filler_cnn")(input_shape=(64, 64, 1), n_classes=3)
"""

from keras_geo.models._registry import (
    accepts_any_keyword,
    available,
    builder_arguments,
    describe,
    get,
    register,
    serving,
    tasks_of,
)
from keras_geo.models.filler_cnn import build_cnfm, build_filler_cnn
from keras_geo.models.mobilenet import build_mobilenet_v2_classifier
from keras_geo.models.pix2pix import Pix2Pix, build_patchgan, build_pix2pix
from keras_geo.models.unet import build_unet

__all__ = [
    "Pix2Pix",
    "accepts_any_keyword",
    "available",
    "build_cnfm",
    "build_filler_cnn",
    "build_mobilenet_v2_classifier",
    "build_patchgan",
    "build_pix2pix",
    "build_unet",
    "builder_arguments",
    "describe",
    "get",
    "register",
    "serving",
    "tasks_of",
]
