"""A generated video with ground truth: moving, turning, overlapping sprites over a panning background.

For the tests, benchmark and notebook of :mod:`keras_geo.annotate` (automatic annotation
of video): every frame's boxes, classes and track numbers are known, so labels that were
propagated through a video can be scored against the truth.

    >>> from keras_geo.datasets.video import synthetic_video
    >>> video = synthetic_video(60, size=(120, 160), n_objects=4, seed=0)
    >>> video.frames.shape, video.class_names
    ((60, 120, 160, 3), ('fish', 'crab', 'star'))
    >>> video.objects[0]["boxes"], video.objects[0]["tracks"]
    >>> video.write("clip.avi")  # or a folder of frame_000000.png, ...

Three classes of sprites with clearly different shapes, each textured in its own colour:

* ``fish``: an elongated ellipse with a forked tail, striped, with an eye;
* ``crab``: a spotted disc with three legs a side and two claws;
* ``star``: a five-pointed star, brighter towards its centre.

Sprites are 14-32 pixels long. Each moves at its own speed along a smoothly turning
heading, rotates with it, and bounces off the frame's borders. Sprites keep a fixed
depth order, so one passes in front of another and hides part or all of it (with
``occlusion=False`` they bounce off one another instead). The camera pans over a smooth
texture, the lighting's gain and offset drift slowly, and every frame gets Gaussian
pixel noise.

Ground truth per frame lists only the objects that can be seen: the box is the extent
of a sprite's *visible* pixels (those at least half covered by it and by no sprite in
front of it, within the frame), ``[x_min, y_min, x_max, y_max]`` with the maximum
exclusive as in :mod:`keras_geo.datasets.scenes`; an object with less than 30 % of its
pixels visible is left out of that frame. The track of an object is its number, the same
in every frame.

The same arguments give the same video. The background, lighting and noise come from
random streams of their own, and each object from one of its own: the video with
``n_objects=0`` is exactly the background of the one with objects.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

__all__ = ["CLASSES", "MIN_VISIBLE", "SyntheticVideo", "simulated_detector", "synthetic_video"]

CLASSES = ("fish", "crab", "star")
"""The class names, in label order."""

MIN_VISIBLE = 0.3
"""The share of its pixels an object must show to be in a frame's ground truth."""

_LENGTHS = (14, 32)  # a sprite's length in pixels: the diameter of the disc that holds it
_SPEEDS = (1.2, 3.0)  # pixels per frame
_TURN = (0.03, 0.12)  # the amplitude of the turning rate, radians per frame
_TURN_PERIOD = (20.0, 60.0)  # frames
_LIGHT_PERIOD = (60.0, 120.0)  # frames: the lighting changes visibly within 60 frames, a little each frame
_BORDER = 0.3  # a sprite's centre bounces this share of its length from the border: it can be cut a little
_SUPERSAMPLE = 4  # sprites are drawn at 4 x the resolution with fractional bits: smooth edges
_SHIFT = 3  # fractional bits of cv2's coordinates
_PLACEMENT_TRIES = 100


def _check_int(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise ValueError(f"`{name}` must be an integer >= {low}. Received: {name}={value!r}")
    return int(value)


def _check_float(name: str, value: Any, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.number) or not low <= float(value) <= high:
        raise ValueError(f"`{name}` must be a number in [{low:g}, {high:g}]. Received: {name}={value!r}")
    return float(value)


@dataclass
class SyntheticVideo:
    """A generated video and its ground truth (see the module docstring).

    Attributes:
        frames: ``uint8`` ``(n, height, width, 3)`` RGB frames.
        objects: Per frame ``{"boxes": float32 (k, 4), "classes": int64 (k,), "tracks": int64 (k,)}``,
            the objects visible in it; boxes ``[x_min, y_min, x_max, y_max]`` in pixels.
        class_names: The class names, in label order.
    """

    frames: np.ndarray
    objects: list[dict[str, np.ndarray]]
    class_names: tuple[str, ...] = field(default=CLASSES)

    def __len__(self) -> int:
        return len(self.frames)

    def write(self, path: str | Path, fps: float = 10) -> Path:
        """Writes the frames as a video file (``.avi``, ``.mp4``) or, for a path without suffix or an
        existing folder, as ``frame_000000.png``, ``frame_000001.png``, ... in that folder.

        Args:
            path: The file or folder.
            fps: Frames per second of a video file. Defaults to `10`.

        Returns:
            The file or folder.

        Raises:
            ValueError: for a suffix :func:`keras_geo.annotate.video.write_video` does not write.
        """
        from keras_geo.annotate.video import write_frames, write_video

        path = Path(path)
        if path.is_dir() or not path.suffix:
            write_frames(self.frames, path)
            return path
        return write_video(self.frames, path, fps=fps)


# -- sprites -------------------------------------------------------------------------------------------------


def _pts(points: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(points, dtype=np.float64) * (1 << _SHIFT)).astype(np.int32)


def _colour(rng: np.random.Generator, background: float) -> np.ndarray:
    """A saturated colour whose mean differs from the background's by at least 0.25."""
    hue = rng.uniform(0.0, 1.0)
    colour = 0.5 + 0.45 * np.cos(2.0 * np.pi * (hue - np.array([0.0, 1.0, 2.0]) / 3.0))  # round the colour wheel
    colour = colour * rng.uniform(0.6, 1.0)
    mean = float(colour.mean())
    if abs(mean - background) < 0.25:
        target = background + (0.3 if background < 0.5 else -0.3)
        colour = colour + (target - mean)
    return np.clip(colour, 0.05, 1.0).astype(np.float32)


def _sprite(kind: str, length: int, colour: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One sprite facing +x: float32 ``(side, side, 4)``, colour premultiplied by coverage, then coverage.

    The shape lies within the disc of diameter ``length`` around the centre, so it stays
    inside the square whatever it is rotated by.
    """
    side = length + 2
    big = side * _SUPERSAMPLE
    c = big / 2.0  # the centre, in supersampled pixels
    r = length * _SUPERSAMPLE / 2.0  # the disc that holds the shape
    alpha = np.zeros((big, big), dtype=np.uint8)
    paint = np.zeros((big, big, 3), dtype=np.float32)
    dark = colour * 0.55

    def fill(points: np.ndarray, value: np.ndarray) -> None:
        cv2.fillPoly(alpha, [_pts(points)], 255, cv2.LINE_8, _SHIFT)
        cv2.fillPoly(paint, [_pts(points)], value.tolist(), cv2.LINE_8, _SHIFT)

    def disc(x: float, y: float, radius: float, value: np.ndarray, *, mask: bool = True) -> None:
        centre = tuple(int(v) for v in _pts([x, y]))
        radius_ = int(round(radius * (1 << _SHIFT)))
        if mask:
            cv2.circle(alpha, centre, radius_, 255, -1, cv2.LINE_8, _SHIFT)
        cv2.circle(paint, centre, radius_, value.tolist(), -1, cv2.LINE_8, _SHIFT)

    if kind == "fish":
        body_x, body_a, body_b = c + 0.2 * r, 0.72 * r, rng.uniform(0.38, 0.48) * r  # the body towards the front
        angles = np.linspace(0.0, 2.0 * np.pi, 64, endpoint=False)
        body = np.stack([body_x + body_a * np.cos(angles), c + body_b * np.sin(angles)], axis=1)
        tail_root, tail_end, spread = body_x - body_a + 0.15 * r, c - 0.9 * r, rng.uniform(0.33, 0.42) * r
        tail = np.array([[tail_root, c], [tail_end, c - spread], [tail_end + 0.22 * r, c], [tail_end, c + spread]])
        fill(tail, dark)
        fill(body, colour)
        xs = np.arange(big, dtype=np.float32)
        period = rng.uniform(0.3, 0.45) * r
        stripes = (np.sin(2.0 * np.pi * (xs - body_x) / period) > 0.3).astype(np.float32)  # bands across the body
        inside = alpha > 0
        paint[inside] *= (1.0 - 0.35 * np.broadcast_to(stripes, (big, big))[inside])[:, None]
        disc(body_x + 0.55 * body_a, c - 0.25 * body_b, 0.12 * r, np.zeros(3, np.float32), mask=False)
    elif kind == "crab":
        shell, thick = rng.uniform(0.58, 0.68) * r, int(round(0.14 * r))
        for side_sign in (-1.0, 1.0):  # three legs a side, thick lines bent backwards
            for angle in (-0.55, 0.0, 0.55):
                root = np.array([c + 0.8 * shell * math.sin(angle), c + side_sign * 0.8 * shell * math.cos(angle)])
                knee = root + np.array([0.2 * r * math.sin(angle), side_sign * 0.3 * r * math.cos(angle)])
                foot = knee + np.array([-0.25 * r, side_sign * 0.08 * r])
                for a, b in ((root, knee), (knee, foot)):
                    ends = tuple(int(v) for v in _pts(a)), tuple(int(v) for v in _pts(b))
                    cv2.line(alpha, *ends, 255, thick, cv2.LINE_8, _SHIFT)
                    cv2.line(paint, *ends, dark.tolist(), thick, cv2.LINE_8, _SHIFT)
        for side_sign in (-1.0, 1.0):  # two claws at the front
            disc(c + 0.66 * r, c + side_sign * 0.42 * r, 0.17 * r, dark)
        disc(c, c, shell, colour)
        for _ in range(int(rng.integers(3, 6))):  # spots on the shell
            angle, distance = rng.uniform(0.0, 2.0 * np.pi), rng.uniform(0.0, 0.65) * shell
            disc(c + distance * math.cos(angle), c + distance * math.sin(angle), 0.18 * shell, colour * 0.6, mask=False)
    elif kind == "star":
        inner = rng.uniform(0.42, 0.5) * r
        angles = np.arange(10) * np.pi / 5.0
        radii = np.where(np.arange(10) % 2 == 0, 0.98 * r, inner)
        fill(np.stack([c + radii * np.cos(angles), c + radii * np.sin(angles)], axis=1), colour)
        yy, xx = np.mgrid[0:big, 0:big].astype(np.float32)
        glow = 1.0 + 0.35 * np.clip(1.0 - np.hypot(xx - c, yy - c) / (0.6 * r), 0.0, 1.0)
        paint *= glow[..., None]
    else:  # pragma: no cover - the callers draw from CLASSES
        raise ValueError(f"unknown sprite {kind!r}")
    paint = np.clip(paint, 0.0, 1.0) * (alpha[..., None] > 0)
    both = np.concatenate([paint, alpha[..., None].astype(np.float32) / 255.0], axis=-1)
    return cv2.resize(both, (side, side), interpolation=cv2.INTER_AREA)  # premultiplied: outside is 0


# -- motion --------------------------------------------------------------------------------------------------


@dataclass
class _Object:
    kind: int
    length: int
    depth: float
    speed: float
    heading: float
    turn: float
    turn_period: float
    turn_phase: float
    x: float
    y: float
    sprite: np.ndarray


def _make_object(rng: np.random.Generator, kind: int, size: tuple[int, int], background: float) -> _Object:
    height, width = size
    length = int(rng.integers(_LENGTHS[0], min(_LENGTHS[1], min(size) // 2) + 1))
    margin = _BORDER * length
    x, y = float(rng.uniform(margin, width - 1 - margin)), float(rng.uniform(margin, height - 1 - margin))
    # Heading roughly for the middle of the frame: sprites meet there and cross one another's paths.
    aim_x, aim_y = width * rng.uniform(0.3, 0.7), height * rng.uniform(0.3, 0.7)
    heading = math.atan2(aim_y - y, aim_x - x) + float(rng.normal(0.0, 0.3))
    return _Object(
        kind=kind,
        length=length,
        depth=float(rng.random()),
        speed=float(rng.uniform(*_SPEEDS)),
        heading=heading,
        turn=float(rng.uniform(*_TURN)),
        turn_period=float(rng.uniform(*_TURN_PERIOD)),
        turn_phase=float(rng.uniform(0.0, 2.0 * np.pi)),
        x=x,
        y=y,
        sprite=_sprite(CLASSES[kind], length, _colour(rng, background), rng),
    )


def _apart(objects: list[_Object], k: int) -> bool:
    return all(
        math.hypot(o.x - objects[k].x, o.y - objects[k].y) > (o.length + objects[k].length) / 2 + 2 for o in objects[:k]
    )


def _bounce_borders(o: _Object, size: tuple[int, int]) -> None:
    height, width = size
    margin = _BORDER * o.length
    if o.x < margin or o.x > width - 1 - margin:
        o.x = 2 * margin - o.x if o.x < margin else 2 * (width - 1 - margin) - o.x
        o.heading = math.pi - o.heading
    if o.y < margin or o.y > height - 1 - margin:
        o.y = 2 * margin - o.y if o.y < margin else 2 * (height - 1 - margin) - o.y
        o.heading = -o.heading
    o.x = min(max(o.x, margin), width - 1 - margin)  # a very fast sprite in a small frame
    o.y = min(max(o.y, margin), height - 1 - margin)


def _bounce_apart(objects: list[_Object], size: tuple[int, int]) -> None:
    """Sprites whose discs touch exchange their speeds along the line between them (equal masses) and step apart."""
    for i in range(len(objects)):
        for j in range(i + 1, len(objects)):
            a, b = objects[i], objects[j]
            dx, dy = b.x - a.x, b.y - a.y
            distance = math.hypot(dx, dy)
            reach = (a.length + b.length) / 2 + 1
            if distance >= reach:
                continue
            nx, ny = (dx / distance, dy / distance) if distance > 1e-6 else (1.0, 0.0)
            va = np.array([a.speed * math.cos(a.heading), a.speed * math.sin(a.heading)])
            vb = np.array([b.speed * math.cos(b.heading), b.speed * math.sin(b.heading)])
            closing = (va - vb) @ np.array([nx, ny])
            if closing > 0:
                va, vb = va - closing * np.array([nx, ny]), vb + closing * np.array([nx, ny])
                for o, v in ((a, va), (b, vb)):
                    o.speed, o.heading = float(max(np.hypot(*v), 0.5)), float(math.atan2(v[1], v[0]))
            push = (reach - distance) / 2
            a.x, a.y, b.x, b.y = a.x - push * nx, a.y - push * ny, b.x + push * nx, b.y + push * ny
            _bounce_borders(a, size)
            _bounce_borders(b, size)


# -- background and lighting ---------------------------------------------------------------------------------


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], scale: float, channels: int) -> np.ndarray:
    """Periodic smooth noise of unit standard deviation with features about ``scale`` pixels across."""
    white = rng.standard_normal((*shape, channels))
    fy = np.fft.fftfreq(shape[0])[:, None, None]
    fx = np.fft.rfftfreq(shape[1])[None, :, None]
    spectrum = np.fft.rfft2(white, axes=(0, 1)) * np.exp(-((fy**2 + fx**2) * (np.pi * scale) ** 2) / 2.0)
    field = np.fft.irfft2(spectrum, s=shape, axes=(0, 1))
    return (field / max(float(field.std()), 1e-12)).astype(np.float32)


def _background_tile(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """A periodic RGB texture twice the frame's size (a sea or river bed): the camera pans over it, wrapping."""
    shape = (2 * size[0], 2 * size[1])
    base = rng.uniform(0.3, 0.55) * np.array([rng.uniform(0.8, 1.0), rng.uniform(0.9, 1.1), rng.uniform(0.8, 1.2)])
    coarse = _smooth_noise(rng, shape, 12.0, 1)
    tint = _smooth_noise(rng, shape, 20.0, 3)
    fine = _smooth_noise(rng, shape, 1.5, 1)
    return (base * (1.0 + 0.25 * coarse) + 0.03 * tint + 0.04 * fine).astype(np.float32)


def _pan(tile: np.ndarray, x: float, y: float, size: tuple[int, int]) -> np.ndarray:
    """The frame-sized window of the periodic ``tile`` at ``(x, y)`` (sub-pixel: bilinear)."""
    height, width = size
    ix, iy = math.floor(x), math.floor(y)
    fx, fy = np.float32(x - ix), np.float32(y - iy)
    rows = (iy + np.arange(height + 1)) % tile.shape[0]
    cols = (ix + np.arange(width + 1)) % tile.shape[1]
    block = tile[rows][:, cols]
    top = block[:-1, :-1] * (1 - fx) + block[:-1, 1:] * fx
    bottom = block[1:, :-1] * (1 - fx) + block[1:, 1:] * fx
    return top * (1 - fy) + bottom * fy


def _lighting(rng: np.random.Generator, n_frames: int, drift: float) -> tuple[np.ndarray, np.ndarray]:
    """A smoothly varying gain (``1 +- drift``) and offset (``+- drift / 4``) per frame."""
    t = np.arange(n_frames, dtype=np.float64)
    gain_period, offset_period = rng.uniform(*_LIGHT_PERIOD, 2)
    gain_phase, offset_phase = rng.uniform(0.0, 2.0 * np.pi, 2)
    gain = 1.0 + drift * np.sin(2.0 * np.pi * t / gain_period + gain_phase)
    offset = 0.25 * drift * np.sin(2.0 * np.pi * t / offset_period + offset_phase)
    return gain.astype(np.float32), offset.astype(np.float32)


# -- the video -----------------------------------------------------------------------------------------------


def _place(image: np.ndarray, owner: np.ndarray, o: _Object, k: int) -> tuple[int, int, int, int, int] | None:
    """Draws ``o`` over ``image`` and marks its pixels in ``owner``: ``(x0, y0, x1, y1, its pixel count)``, or None off-frame."""
    height, width = image.shape[:2]
    side = o.sprite.shape[0]
    x0, y0 = math.floor(o.x - side / 2), math.floor(o.y - side / 2)
    patch = side + 1
    cos, sin = math.cos(o.heading), math.sin(o.heading)
    centre = (side - 1) / 2.0
    # Rotate about the sprite's centre, then put that centre at (x, y) in the patch's coordinates.
    tx, ty = o.x - x0 - (cos * centre - sin * centre), o.y - y0 - (sin * centre + cos * centre)
    matrix = np.array([[cos, -sin, tx], [sin, cos, ty]], dtype=np.float64)
    warped = cv2.warpAffine(o.sprite, matrix, (patch, patch), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0, 0))
    full = int((warped[..., 3] >= 0.5).sum())
    # The part of the patch inside the frame.
    fx0, fy0, fx1, fy1 = max(x0, 0), max(y0, 0), min(x0 + patch, width), min(y0 + patch, height)
    if fx0 >= fx1 or fy0 >= fy1 or full == 0:
        return None
    part = warped[fy0 - y0 : fy1 - y0, fx0 - x0 : fx1 - x0]
    alpha = part[..., 3:]
    region = image[fy0:fy1, fx0:fx1]
    region *= 1.0 - alpha
    region += part[..., :3]
    owner[fy0:fy1, fx0:fx1][alpha[..., 0] >= 0.5] = k
    return fx0, fy0, fx1, fy1, full


def synthetic_video(
    n_frames: int = 60,
    size: tuple[int, int] = (120, 160),
    n_objects: int = 4,
    *,
    seed: int = 0,
    noise: float = 0.04,
    drift: float = 0.3,
    background_speed: float = 1.0,
    occlusion: bool = True,
) -> SyntheticVideo:
    """A generated video of moving sprites and its ground truth (see the module docstring).

    Args:
        n_frames: Frames. Defaults to `60`.
        size: ``(height, width)`` of a frame, each at least 48. Defaults to `(120, 160)`.
        n_objects: Sprites; object ``k`` is of class ``k + c`` modulo 3 for a random ``c``,
            so every class appears from three objects on. Defaults to `4`.
        seed: Random seed (an integer >= 0). Defaults to `0`.
        noise: Standard deviation of the Gaussian pixel noise, as a fraction of 255, in
            [0, 1]. Defaults to `0.04`.
        drift: Amplitude of the lighting drift in [0, 0.9]: the gain varies smoothly within
            ``1 +- drift`` and the offset within ``+- drift / 4``. Defaults to `0.3`.
        background_speed: Pixels per frame the camera pans over the background (in a random
            direction), at most 50. Defaults to `1.0`.
        occlusion: Let sprites pass in front of one another (``True``) or make them bounce
            off one another so that none hides another, as far as the frame has room
            (``False``). Defaults to `True`.

    Returns:
        :class:`SyntheticVideo`.

    Raises:
        ValueError: one line, for a bad count, size, seed, noise, drift or speed.
    """
    n_frames = _check_int("n_frames", n_frames, 1)
    if (
        not isinstance(size, tuple | list)
        or len(size) != 2
        or any(isinstance(s, bool) or not isinstance(s, int | np.integer) or s < 48 for s in size)
    ):
        raise ValueError(f"`size` must be (height, width), integers >= 48. Received: size={size!r}")
    size = (int(size[0]), int(size[1]))
    n_objects = _check_int("n_objects", n_objects, 0)
    seed = _check_int("seed", seed, 0)
    noise = _check_float("noise", noise, 0.0, 1.0)
    drift = _check_float("drift", drift, 0.0, 0.9)
    background_speed = _check_float("background_speed", background_speed, 0.0, 50.0)
    if not isinstance(occlusion, bool | np.bool_):
        raise ValueError(f"`occlusion` must be True or False. Received: occlusion={occlusion!r}")
    height, width = size

    # Streams of their own: the background does not depend on the objects, nor object k on the others.
    scene_seq, light_seq, noise_seq, objects_seq = np.random.SeedSequence(seed).spawn(4)
    scene_rng, light_rng, noise_rng = (np.random.default_rng(s) for s in (scene_seq, light_seq, noise_seq))
    tile = _background_tile(scene_rng, size)
    level = float(tile.mean())
    pan_angle = scene_rng.uniform(0.0, 2.0 * np.pi)
    pan_x, pan_y = scene_rng.uniform(0.0, tile.shape[1]), scene_rng.uniform(0.0, tile.shape[0])
    first_class = int(scene_rng.integers(len(CLASSES)))
    gain, offset = _lighting(light_rng, n_frames, drift)

    objects: list[_Object] = []
    for k, stream in enumerate(objects_seq.spawn(n_objects)):
        rng = np.random.default_rng(stream)
        objects.append(_make_object(rng, (first_class + k) % len(CLASSES), size, level))
        if not occlusion:  # start apart, if there is room
            for _ in range(_PLACEMENT_TRIES):
                if _apart(objects, k):
                    break
                margin = _BORDER * objects[k].length
                objects[k].x = float(rng.uniform(margin, width - 1 - margin))
                objects[k].y = float(rng.uniform(margin, height - 1 - margin))
    order = sorted(range(n_objects), key=lambda k: objects[k].depth)  # back to front
    classes = np.array([o.kind for o in objects], dtype=np.int64)

    frames = np.empty((n_frames, height, width, 3), dtype=np.uint8)
    truth = []
    owner = np.empty((height, width), dtype=np.int32)
    for t in range(n_frames):
        image = _pan(
            tile,
            pan_x + t * background_speed * math.cos(pan_angle),
            pan_y + t * background_speed * math.sin(pan_angle),
            size,
        )
        owner.fill(-1)
        placed = {}
        for k in order:
            where = _place(image, owner, objects[k], k)
            if where is not None:
                placed[k] = where
        boxes, tracks = [], []
        for k in sorted(placed):
            x0, y0, x1, y1, full = placed[k]
            rows, cols = np.nonzero(owner[y0:y1, x0:x1] == k)
            if len(rows) < MIN_VISIBLE * full:
                continue
            boxes.append([x0 + cols.min(), y0 + rows.min(), x0 + cols.max() + 1, y0 + rows.max() + 1])
            tracks.append(k)
        truth.append(
            {
                "boxes": np.asarray(boxes, dtype=np.float32).reshape(-1, 4),
                "classes": classes[tracks] if tracks else np.zeros(0, dtype=np.int64),
                "tracks": np.asarray(tracks, dtype=np.int64),
            }
        )
        image *= gain[t]
        image += offset[t]
        if noise > 0:
            image += noise_rng.standard_normal(image.shape, dtype=np.float32) * np.float32(noise)
        frames[t] = np.clip(image * 255.0 + 0.5, 0.0, 255.0).astype(np.uint8)
        # Move: turn smoothly, step, bounce off the borders (and off one another without occlusion).
        for o in objects:
            o.heading += o.turn * math.sin(2.0 * math.pi * t / o.turn_period + o.turn_phase)
            o.x += o.speed * math.cos(o.heading)
            o.y += o.speed * math.sin(o.heading)
            _bounce_borders(o, size)
        if not occlusion:
            _bounce_apart(objects, size)
    return SyntheticVideo(frames, truth, CLASSES)


def simulated_detector(
    video: SyntheticVideo,
    *,
    recall: float = 0.5,
    jitter: float = 0.1,
    false_positives: float = 0.2,
    seed: int = 0,
) -> Callable[[np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """A detector that sees a synthetic video's truth imperfectly, for experiments where its quality is set.

    On each frame of ``video`` (recognised by its pixels: the frames themselves or a
    lossless copy, e.g. PNG files) it finds each object with probability ``recall``, its
    box moved and resized by Gaussian noise of ``jitter`` times the box's side, with a
    score in [0.5, 1); and adds on average ``false_positives`` boxes of a random class and
    place, scored in [0.5, 0.9). A frame it does not know gets no detection. Each frame's
    draw depends on ``seed`` and the frame's number only, so calls in any order agree.

    Args:
        video: The video whose truth it sees.
        recall: The chance to find an object. Defaults to `0.5`.
        jitter: Box noise, in units of the box's side. Defaults to `0.1`.
        false_positives: The mean number of false boxes per frame. Defaults to `0.2`.
        seed: Defaults to `0`.

    Returns:
        ``frame -> (boxes (k, 4), scores (k,), classes (k,))``, boxes in pixels.
    """
    recall = _check_float("recall", recall, 0.0, 1.0)
    jitter = _check_float("jitter", jitter, 0.0, 1.0)
    false_positives = _check_float("false_positives", false_positives, 0.0, 100.0)
    seed = _check_int("seed", seed, 0)
    height, width = video.frames.shape[1:3]
    where = {hashlib.blake2b(frame.tobytes(), digest_size=16).digest(): i for i, frame in enumerate(video.frames)}

    def detect(frame: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        index = where.get(hashlib.blake2b(np.ascontiguousarray(frame).tobytes(), digest_size=16).digest())
        if index is None:
            return np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64)
        rng = np.random.default_rng([seed, index])
        truth = video.objects[index]
        found = rng.random(len(truth["classes"])) < recall
        boxes = truth["boxes"][found].astype(np.float64)
        side = np.tile(boxes[:, 2:] - boxes[:, :2], 2)  # w, h, w, h
        boxes = boxes + rng.normal(0.0, jitter, boxes.shape) * side
        scores = rng.uniform(0.5, 1.0, len(boxes))
        classes = truth["classes"][found]
        n_false = int(rng.poisson(false_positives))
        sides = rng.uniform(14, 32, (n_false, 2))
        corner = rng.uniform(0, 1, (n_false, 2)) * ([width, height] - sides)
        boxes = np.concatenate([boxes, np.concatenate([corner, corner + sides], axis=1)])
        scores = np.concatenate([scores, rng.uniform(0.5, 0.9, n_false)])
        classes = np.concatenate([classes, rng.integers(0, len(video.class_names), n_false)])
        boxes = np.clip(boxes, 0, [width, height, width, height])
        keep = (boxes[:, 2] - boxes[:, 0] > 1) & (boxes[:, 3] - boxes[:, 1] > 1)
        return boxes[keep].astype(np.float32), scores[keep].astype(np.float32), classes[keep].astype(np.int64)

    return detect
