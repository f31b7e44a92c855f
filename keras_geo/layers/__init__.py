"""keras-geo's custom layers, registered serialisable (package ``keras_geo``).

A saved model that uses them loads with ``keras.saving.load_model(path, safe_mode=True)``
in any project that has run ``import keras_geo``.

>>> from keras_geo.layers import GateModule, gate_inbounds
>>> gate_inbounds(6)
[6, 5, 3]
"""

from keras_geo.layers._gate import GateModule, gate_inbounds, gate_width
from keras_geo.layers._residual import LayerScale, StochasticDepth

__all__ = ["GateModule", "LayerScale", "StochasticDepth", "gate_inbounds", "gate_width"]
