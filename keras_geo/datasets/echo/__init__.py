"""Fish-finder echograms of fish in a net cage, labelled with the fish count (the ``echo`` data set).

A vertical echo sounder over a cylindrical fish cage (yellowtail by default) pings a few dozen times;
the fish swim, each echoing by its target strength and where it sits in the beam. The echograms (Sv,
ping x range) are labelled with the number of fish in the cage, to train a count model as Nishikawa et al.
(2024, Aquacultural Engineering 109:102505) did on simulated fish-finder echo images; the echo
simulation follows Furusawa & Amakasu (OCEANS'08: echoes from target strength and beam pattern).

    >>> from keras_geo import datasets
    >>> from keras_geo.datasets import echo
    >>> one = echo.simulate_echogram(200, seed=0)          # Sv (64 pings, 64 range bins) in dB, and the fish
    >>> x = echo.sv_to_image(one.sv_db)                     # the network's input in [0, 1]
    >>> data = datasets.load("echo", n_train=500, n_val=100, n_test=100)

Public names:

* :func:`simulate_echogram`, :func:`simulate_batch`: the simulator (Sv in dB), one echogram or many.
* :func:`render_echogram`: the echogram of fish you place (no noise, surface or net).
* :func:`sv_to_image`: Sv (dB) to the network's input in ``[0, 1]``.
* :func:`expected_sv_db`: the mean Sv of N fish spread over the cage (the echo-integration law).
* :func:`beam_pattern_db`, :func:`equivalent_beam_angle`, :func:`target_strength_db`: the physics.
* :func:`echo`: the registered loader (task ``regression``, target ``count`` in fish, or ``density`` in fish
  per 1000 m^3 with ``target="density"``; ``cage_radii_m`` / ``lengths_cm`` draw each echogram's cage and fish).

Modules (private): ``_physics`` (beam and target strength), ``_simulate`` (the simulator), ``_dataset``
(the loader), ``_checks`` (argument checks and seeds).
"""

from __future__ import annotations

from ._dataset import TARGET_NAMES, TARGET_UNITS, echo
from ._physics import beam_pattern_db, equivalent_beam_angle, piston_ka, target_strength_db
from ._simulate import (
    SV_FLOOR_DB,
    Echogram,
    EchogramBatch,
    expected_sv_db,
    render_echogram,
    simulate_batch,
    simulate_echogram,
    sv_to_image,
)

__all__ = [
    "SV_FLOOR_DB",
    "TARGET_NAMES",
    "TARGET_UNITS",
    "Echogram",
    "EchogramBatch",
    "beam_pattern_db",
    "echo",
    "equivalent_beam_angle",
    "expected_sv_db",
    "piston_ka",
    "render_echogram",
    "simulate_batch",
    "simulate_echogram",
    "sv_to_image",
    "target_strength_db",
]
