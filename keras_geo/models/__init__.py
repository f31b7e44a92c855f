"""Model builders: every model is a function returning an uncompiled ``keras.Model``.

>>> from keras_geo import models
>>> models.available()[:6]
['cnfm', 'convnext', 'convnext_tiny', 'edsr', 'filler_cnn', 'mobilenet_v2']
>>> model = models.get("filler_cnn")(input_shape=(64, 64, 1), n_classes=3)
"""

from keras_geo.models._registry import (
    accepts_any_keyword,
    available,
    builder_arguments,
    check_arguments,
    describe,
    get,
    register,
    serving,
    tasks_of,
)
from keras_geo.models.convnext import build_convnext, build_convnext_tiny, build_skip_convnext_tiny
from keras_geo.models.detector import build_two_stage_detector
from keras_geo.models.filler_cnn import build_cnfm, build_filler_cnn
from keras_geo.models.mobilenet import build_mobilenet_v2_classifier
from keras_geo.models.pix2pix import Pix2Pix, build_patchgan, build_pix2pix
from keras_geo.models.residual import backbone, build_residual_network
from keras_geo.models.resnet import (
    build_resnet,
    build_resnet18,
    build_resnet34,
    build_resnet50,
    build_resnet101,
    build_resnet110,
    build_resnext50_32x4d,
    build_skip_resnet,
    build_skip_resnet18,
    build_skip_resnet34,
    build_skip_resnet50,
    build_skip_resnet101,
    build_skip_resnet110,
    build_skip_resnext50_32x4d,
)
from keras_geo.models.super_resolution import build_edsr, build_srcnn
from keras_geo.models.unet import build_unet

__all__ = [
    "Pix2Pix",
    "accepts_any_keyword",
    "available",
    "backbone",
    "build_cnfm",
    "build_convnext",
    "build_convnext_tiny",
    "build_edsr",
    "build_filler_cnn",
    "build_mobilenet_v2_classifier",
    "build_patchgan",
    "build_pix2pix",
    "build_residual_network",
    "build_resnet",
    "build_resnet18",
    "build_resnet34",
    "build_resnet50",
    "build_resnet101",
    "build_resnet110",
    "build_resnext50_32x4d",
    "build_skip_convnext_tiny",
    "build_skip_resnet",
    "build_skip_resnet18",
    "build_skip_resnet34",
    "build_skip_resnet50",
    "build_skip_resnet101",
    "build_skip_resnet110",
    "build_skip_resnext50_32x4d",
    "build_srcnn",
    "build_two_stage_detector",
    "build_unet",
    "builder_arguments",
    "check_arguments",
    "describe",
    "get",
    "register",
    "serving",
    "tasks_of",
]
