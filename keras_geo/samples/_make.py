"""Remakes the shipped samples (:mod:`keras_geo.samples`) from the project's own generators, deterministically.

    python -m keras_geo.samples._make            # rewrites keras_geo/samples/{filler,sem,bathymetry}
    python -m keras_geo.samples._make OUT_DIR    # writes them under OUT_DIR instead

Every array comes from a seeded generator of :mod:`keras_geo.datasets`, so a rerun writes the
same pixels (the PNG bytes may differ with the zlib version; the tests compare pixels). Bump
nothing here without regenerating and committing the files.
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

__all__ = ["FILLER_FOV_NM", "SEED", "arrays", "write"]

SEED = 23
FILLER_FOV_NM = 500.0  # the filler searches' field of view (filler_base.yaml)
FILLER_SIZE = 64
FILLER_PER_CLASS = 2
SEM_SIZE = 160
SEM_FOV_NM = 400.0  # 2.5 nm pixels, the sem data set's
BATHYMETRY_SIZE = 256  # fine grid, 50 m pixels; the sample is its x4 block average
BATHYMETRY_SCALE = 4


def _to_uint8(image: np.ndarray) -> np.ndarray:
    return np.round(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)


def arrays() -> dict[str, np.ndarray]:
    """Every sample file as an array, keyed by its path relative to the samples folder."""
    from keras_geo.datasets import bathymetry, filler, sem

    out: dict[str, np.ndarray] = {}
    for index, kind in enumerate(filler.CLASSES):
        structure = filler.generate_structure(kind, seed=SEED + index)
        slices = filler.slice_structure(
            structure, FILLER_PER_CLASS, fov_nm=FILLER_FOV_NM, image_size=FILLER_SIZE, seed=SEED
        )
        for number, image in enumerate(slices):
            out[f"filler/{kind}/{number}.png"] = _to_uint8(image)
    clean = sem.render_sem(1, SEM_SIZE, fov_nm=SEM_FOV_NM, seed=SEED).images
    out["sem/clean.png"] = _to_uint8(clean[0])
    out["sem/low_cost.png"] = _to_uint8(sem.degrade(clean, seed=SEED)[0])
    fine = bathymetry.synthesize_terrain(BATHYMETRY_SIZE, pixel_m=50.0, region="target", seed=SEED)
    out["bathymetry/seamounts_200m.npy"] = bathymetry.block_average(fine, BATHYMETRY_SCALE).astype(np.float32)
    return out


def write(root: str | Path) -> list[Path]:
    """Writes the samples under ``root``; returns the files written."""
    written = []
    for relative, array in arrays().items():
        target = Path(root) / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.suffix == ".npy":
            np.save(target, array, allow_pickle=False)
        elif not cv2.imwrite(str(target), array, [cv2.IMWRITE_PNG_COMPRESSION, 9]):
            raise OSError(f"cannot write {target}")
        written.append(target)
    return written


if __name__ == "__main__":
    destination = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent
    for file in write(destination):
        print(f"{file} ({file.stat().st_size} bytes)")
