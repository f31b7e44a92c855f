"""Explanation: where a model looks (Grad-CAM, Grad-CAM++ and CAM heatmaps, drawn over images with OpenCV)
and what its layers represent (representational similarity analysis against reference data or reference models).

>>> from keras_geo import explain
>>> heat = explain.grad_cam(model, images)            # (n, h, w) in [0, 1], predicted classes
>>> picture = explain.overlay(images[0], heat[0])      # uint8 RGB, red = attended
>>> explain.save_grid("gradcam.png", images[:4], heat[:4], true_labels=..., predicted_labels=...)
>>> acts = explain.layer_activations(model, stimuli)   # {layer: (n_stimuli, features)}
>>> v1 = explain.load_reference("v1_responses.npy")[0]   # an RDM from stimuli x units responses
>>> {name: explain.compare(r, v1) for name, r in explain.layer_rdms(acts).items()}   # Spearman per layer
>>> stimuli, labels, names = keras_geo.datasets.textures.texture_stimuli()   # 8 categories x 8 textures
>>> v1_model, it_model = explain.v1_reference(stimuli), explain.it_reference(labels)   # models, not recordings
>>> profile = explain.layer_profile(model, stimuli, {"V1-like": v1_model, "IT-like": it_model})   # CIs, p-values
>>> explain.plot_profile(profile, "profile.png"); profile.to_csv("rsa.csv")
"""

from keras_geo.explain._cam import cam, feature_layer, grad_cam, grad_cam_plus_plus
from keras_geo.explain._files import (
    METHODS,
    ExplainedImages,
    explain_to_files,
    pick_per_class,
)
from keras_geo.explain._overlay import colorize, overlay, save_grid, to_uint8_rgb
from keras_geo.explain._rsa_report import PROFILE_RDM_METHODS, LayerProfile, layer_profile, plot_profile, plot_rdms
from keras_geo.explain.references import gabor_energy_model, it_reference, orientation_rdm, v1_reference
from keras_geo.explain.rsa import (
    COMPARISONS,
    RDM,
    RDM_METHODS,
    BootstrapResult,
    NoiseCeiling,
    PermutationResult,
    bootstrap,
    compare,
    default_layers,
    layer_activations,
    layer_rdms,
    load_reference,
    noise_ceiling,
    permutation_test,
    rdm,
)

__all__ = [
    "COMPARISONS",
    "METHODS",
    "PROFILE_RDM_METHODS",
    "RDM",
    "RDM_METHODS",
    "BootstrapResult",
    "ExplainedImages",
    "LayerProfile",
    "NoiseCeiling",
    "PermutationResult",
    "bootstrap",
    "cam",
    "colorize",
    "compare",
    "default_layers",
    "explain_to_files",
    "feature_layer",
    "gabor_energy_model",
    "grad_cam",
    "grad_cam_plus_plus",
    "it_reference",
    "layer_activations",
    "layer_profile",
    "layer_rdms",
    "load_reference",
    "noise_ceiling",
    "orientation_rdm",
    "overlay",
    "permutation_test",
    "pick_per_class",
    "plot_profile",
    "plot_rdms",
    "rdm",
    "save_grid",
    "to_uint8_rgb",
    "v1_reference",
]
