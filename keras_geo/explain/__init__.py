"""Explanation: where a model looks. Grad-CAM, Grad-CAM++ and CAM heatmaps, drawn over images with OpenCV.

>>> from keras_geo import explain
>>> heat = explain.grad_cam(model, images)            # (n, h, w) in [0, 1], predicted classes
>>> picture = explain.overlay(images[0], heat[0])      # uint8 RGB, red = attended
>>> explain.save_grid("gradcam.png", images[:4], heat[:4], true_labels=..., predicted_labels=...)
"""

from keras_geo.explain._cam import cam, feature_layer, grad_cam, grad_cam_plus_plus
from keras_geo.explain._files import (
    METHODS,
    ExplainedImages,
    explain_to_files,
    pick_per_class,
)
from keras_geo.explain._overlay import colorize, overlay, save_grid, to_uint8_rgb

__all__ = [
    "METHODS",
    "ExplainedImages",
    "cam",
    "colorize",
    "explain_to_files",
    "feature_layer",
    "grad_cam",
    "grad_cam_plus_plus",
    "overlay",
    "pick_per_class",
    "save_grid",
    "to_uint8_rgb",
]
