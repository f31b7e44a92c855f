"""Periodic-box and random-orientation helpers.

Wrapping into the periodic cube, minimum-image differences, random unit
vectors and Haar-random rotations: shared by the packing algorithms
(`_packing`), the `Structure` class and the slicing code (`_render`).
"""

from __future__ import annotations

import numpy as np


def _wrap(x: np.ndarray, box: float) -> np.ndarray:
    """Map coordinates into ``[0, box)`` (np.mod can round up to ``box``)."""
    x = np.mod(x, box)
    x[x >= box] = 0.0
    return x


def _minimum_image(d: np.ndarray, box: float) -> np.ndarray:
    return d - box * np.round(d / box)


def _random_unit_vectors(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.normal(size=(n, 3))
    norm = np.linalg.norm(v, axis=1, keepdims=True)
    norm[norm == 0] = 1.0
    return v / norm


def _random_rotations(rng: np.random.Generator, n: int) -> np.ndarray:
    """`(n, 3, 3)` rotation matrices uniform on SO(3) (Haar measure).

    Normalised 4-D Gaussian vectors are uniform unit quaternions -- the
    method of ``scipy.spatial.transform.Rotation.random`` -- but written out
    here so the stream does not depend on scipy's RNG-argument conventions.
    """
    q = rng.normal(size=(n, 4))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    x, y, z, w = q.T
    r = np.empty((n, 3, 3))
    r[:, 0, 0] = 1 - 2 * (y * y + z * z)
    r[:, 0, 1] = 2 * (x * y - z * w)
    r[:, 0, 2] = 2 * (x * z + y * w)
    r[:, 1, 0] = 2 * (x * y + z * w)
    r[:, 1, 1] = 1 - 2 * (x * x + z * z)
    r[:, 1, 2] = 2 * (y * z - x * w)
    r[:, 2, 0] = 2 * (x * z - y * w)
    r[:, 2, 1] = 2 * (y * z + x * w)
    r[:, 2, 2] = 1 - 2 * (x * x + y * y)
    return r
