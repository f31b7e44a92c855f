"""Videos in and out: a file OpenCV can decode or a folder of frame images, as numbered RGB frames.

    >>> from keras_geo.annotate.video import open_video
    >>> video = open_video("dive.mp4")  # or a folder of frame_000000.png, frame_000001.png, ...
    >>> len(video), video.size, video.fps, video.name(12)
    (1800, (720, 1280), 30.0, 'frame_000012.png')
    >>> for i, frame in video.iter(start=100, stop=200):
    ...     if frame is None:  # a corrupt frame: warned about, skipped by the caller
    ...         continue

Frames are numbered ``0 .. n - 1`` and are RGB ``uint8`` ``(height, width, 3)`` arrays
(grey, 16-bit and RGBA images are converted). In a folder, the frames are its image files
(:data:`~keras_geo.datasets.folders.IMAGE_SUFFIXES`, not its sub-folders) in natural order
(``frame_2.png`` before ``frame_10.png``) and each frame's name is its file name; in a
video file, frame ``i`` is named ``frame_%06d.png`` (the name :func:`write_frames` gives
it). One unreadable frame never stops a pass over the video: :meth:`Frames.iter` yields
``None`` for it with one warning; :meth:`Frames.read` raises :class:`FrameError`.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from keras_geo.datasets.folders import IMAGE_SUFFIXES, ImageFolderError, convert_pixels, read_raw

__all__ = [
    "FRAME_NAME",
    "FOURCC",
    "FrameError",
    "Frames",
    "VideoError",
    "frame_name",
    "natural_key",
    "open_video",
    "write_frames",
    "write_video",
]

FRAME_NAME = "frame_{:06d}.png"
"""The name of frame ``i`` of a video file (CVAT's style), and :func:`write_frames`' default."""

FOURCC = {".avi": "MJPG", ".mp4": "mp4v"}
"""The codec :func:`write_video` uses for each file suffix."""

# How many frame names a KeyError message shows at most.
_SHOWN_NAMES = 3


class VideoError(ValueError):
    """A video that cannot be opened (or written); the one-line message names the file and why."""


class FrameError(ValueError):
    """One frame that cannot be read; the one-line message names the frame and why."""


def frame_name(i: int) -> str:
    """The name of frame ``i`` of a video file: ``frame_000123.png``."""
    return FRAME_NAME.format(int(i))


def natural_key(name: str) -> tuple:
    """A sort key that orders the numbers in names by value: ``frame_2.png`` before ``frame_10.png``.

    Case does not matter; names that differ only in case or in leading zeros keep a stable order.
    """
    parts = re.split(r"(\d+)", name.lower())
    # Text and numbers alternate (text first, maybe empty), so the tuples always compare like with like.
    return tuple(int(p) if k % 2 else p for k, p in enumerate(parts)), name


def _check_int(name: str, value: Any, low: int, high: int | None = None) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | np.integer)
        or value < low
        or (high is not None and value > high)
    ):
        bounds = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"`{name}` must be an integer {bounds}. Received: {name}={value!r}")
    return int(value)


def _to_rgb8(raw: np.ndarray) -> np.ndarray:
    """Decoded pixels (OpenCV's BGR/BGRA/grey, any depth) as RGB ``uint8`` ``(h, w, 3)``."""
    import cv2

    if raw.dtype == np.uint8:
        if raw.ndim == 2 or (raw.ndim == 3 and raw.shape[-1] == 1):
            return cv2.cvtColor(raw.reshape(raw.shape[:2]), cv2.COLOR_GRAY2RGB)
        if raw.ndim == 3 and raw.shape[-1] == 3:
            return cv2.cvtColor(raw, cv2.COLOR_BGR2RGB)
        if raw.ndim == 3 and raw.shape[-1] == 4:
            return cv2.cvtColor(raw, cv2.COLOR_BGRA2RGB)
    image = convert_pixels(raw)  # float32 RGB in [0, 1]; 16-bit, float and odd channel counts
    return np.round(image * 255.0).astype(np.uint8)


def _size_text(size: tuple[int, int]) -> str:
    return f"{size[0]} x {size[1]} (height x width)"


class Frames:
    """The frames of a video file or of a folder of frame images (what :func:`open_video` returns).

    Attributes:
        path: The file or folder.
        kind: ``"file"`` or ``"folder"``.
        names: Each frame's name, in frame order.
        size: ``(height, width)`` of the first readable frame: every frame's size.
        fps: Frames per second of a video file (``None`` for a folder, or a file that does not say).

    Raises:
        VideoError: if the path is missing, is not a video OpenCV can decode, is a folder
            without frame images, or has no readable frame.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._capture: Any = None  # read()'s capture of a video file, and the frame it reads next
        self._next = 0
        if not self.path.exists():
            raise VideoError(f"{self.path}: no such file or folder")
        if self.path.is_dir():
            self.kind = "folder"
            self._open_folder()
        else:
            self.kind = "file"
            self._open_file()
        self._lookup = {name: i for i, name in enumerate(self.names)}
        stems: dict[str, list[int]] = {}
        for i, name in enumerate(self.names):
            stems.setdefault(Path(name).stem.lower(), []).append(i)
        self._stems = stems

    # -- opening ---------------------------------------------------------------------------------------------

    def _open_folder(self) -> None:
        files = [
            p
            for p in self.path.iterdir()
            if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".") and p.is_file()
        ]
        if not files:
            raise VideoError(
                f"{self.path}: a folder without frame images (none of {', '.join(IMAGE_SUFFIXES)}; sub-folders are not read)"
            )
        self._files = sorted(files, key=lambda p: natural_key(p.name))
        self.names = [p.name for p in self._files]
        self.fps: float | None = None
        self.size: tuple[int, int] = (0, 0)
        for file in self._files:
            try:
                self.size = tuple(read_raw(file).shape[:2])
                return
            except (ImageFolderError, OSError):
                continue
        raise VideoError(f"{self.path}: none of its {len(self._files)} image files can be read")

    def _capture_of(self) -> Any:
        import cv2

        capture = cv2.VideoCapture(str(self.path))
        if not capture.isOpened():
            capture.release()
            raise VideoError(f"{self.path}: not a video OpenCV can decode (corrupt, truncated or another format)")
        return capture

    def _open_file(self) -> None:
        import cv2

        if self.path.stat().st_size == 0:
            raise VideoError(f"{self.path}: empty file")
        capture = self._capture_of()
        try:
            fps = float(capture.get(cv2.CAP_PROP_FPS))
            self.fps = fps if math.isfinite(fps) and fps > 0 else None
            # The container's frame count can be wrong (variable rate, a cut file): count by grabbing.
            count, size = 0, None
            while capture.grab():
                if size is None:
                    ok, frame = capture.retrieve()
                    if ok and frame is not None and frame.size:
                        size = tuple(frame.shape[:2])
                count += 1
        finally:
            capture.release()
        if count == 0:
            raise VideoError(f"{self.path}: a video without frames")
        if size is None:
            raise VideoError(f"{self.path}: none of its {count} frames can be decoded")
        self.size = size
        self.names = [frame_name(i) for i in range(count)]

    # -- names -----------------------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.names)

    def __repr__(self) -> str:
        fps = "" if self.fps is None else f", fps={self.fps:g}"
        return f"Frames({str(self.path)!r}, {self.kind}, {len(self)} frames of {self.size[0]} x {self.size[1]}{fps})"

    def _check_index(self, i: Any) -> int:
        if isinstance(i, bool) or not isinstance(i, int | np.integer) or not 0 <= i < len(self):
            raise IndexError(f"`i` must be a frame number in [0, {len(self) - 1}] of {self.path}. Received: i={i!r}")
        return int(i)

    def name(self, i: int) -> str:
        """The name of frame ``i``.

        Raises:
            IndexError: if there is no frame ``i``.
        """
        return self.names[self._check_index(i)]

    def index(self, name: str) -> int:
        """The number of the frame called ``name``: its exact name, else a case-insensitive match of the stem.

        ``"frame_000012.png"``, ``"frame_000012"`` and ``"FRAME_000012.jpg"`` all find frame 12
        of a video file.

        Raises:
            KeyError: if no frame (or more than one, by stem) has that name.
        """
        name = str(name)
        if name in self._lookup:
            return self._lookup[name]
        found = self._stems.get(Path(name).stem.lower(), [])
        if len(found) == 1:
            return found[0]
        if found:
            same = ", ".join(self.names[i] for i in found)
            raise KeyError(f"{name!r} matches several frames of {self.path} by its stem ({same}); give the full name")
        shown = ", ".join(self.names[:_SHOWN_NAMES]) + (f", ... {self.names[-1]}" if len(self) > _SHOWN_NAMES else "")
        raise KeyError(f"no frame named {name!r} in {self.path} ({len(self)} frames: {shown})")

    # -- pixels ----------------------------------------------------------------------------------------------

    def _check_range(self, start: Any, stop: Any) -> tuple[int, int]:
        start = _check_int("start", start, 0, len(self))
        stop = len(self) if stop is None else _check_int("stop", stop, start, len(self))
        return start, stop

    def _folder_frame(self, i: int) -> np.ndarray:
        """Frame ``i`` of a folder; raises FrameError saying why it cannot be read."""
        file = self._files[i]
        try:
            raw = read_raw(file)
        except ImageFolderError as error:
            raise FrameError(f"frame {i} ({error})") from None
        except OSError as error:
            raise FrameError(f"frame {i} ({file}: {error.strerror or error})") from None
        if tuple(raw.shape[:2]) != self.size:
            raise FrameError(
                f"frame {i} ({file}: {_size_text(raw.shape[:2])}, not the video's {_size_text(self.size)})"
            )
        try:
            return _to_rgb8(raw)
        except Exception as error:  # cv2.error for an odd channel count
            raise FrameError(
                f"frame {i} ({file}: cannot convert its {raw.dtype} {raw.shape} pixels: {error})"
            ) from None

    def _decoded(self, i: int, frame: np.ndarray | None) -> np.ndarray:
        """A decoded BGR frame of the video file as RGB; raises FrameError if there is none or it has another size."""
        import cv2

        where = f"frame {i} ({self.names[i]} of {self.path}"
        if frame is None or frame.size == 0:
            raise FrameError(f"{where}: OpenCV cannot decode it)")
        if tuple(frame.shape[:2]) != self.size:
            raise FrameError(f"{where}: {_size_text(frame.shape[:2])}, not the video's {_size_text(self.size)})")
        if frame.ndim == 2 or frame.shape[-1] != 3 or frame.dtype != np.uint8:
            return _to_rgb8(frame)
        return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)

    def iter(self, start: int = 0, stop: int | None = None) -> Iterator[tuple[int, np.ndarray | None]]:
        """Yields ``(i, frame)`` for frames ``start .. stop - 1`` in order, decoding a video file once, sequentially.

        Args:
            start: The first frame. Defaults to `0`.
            stop: The frame after the last. Defaults to `None`: the end.

        Yields:
            ``(i, frame)``: ``frame`` is RGB ``uint8`` ``(height, width, 3)``, or ``None`` for a
            frame that cannot be read or has another size (with one warning naming it and why;
            the pass goes on with the next frame).

        Raises:
            ValueError: for a bad ``start`` or ``stop``.
        """
        start, stop = self._check_range(start, stop)
        if self.kind == "folder":
            return self._iter_folder(start, stop)
        return self._iter_file(start, stop)

    def __iter__(self) -> Iterator[tuple[int, np.ndarray | None]]:
        return self.iter()

    def _iter_folder(self, start: int, stop: int) -> Iterator[tuple[int, np.ndarray | None]]:
        for i in range(start, stop):
            try:
                frame = self._folder_frame(i)
            except FrameError as error:
                warnings.warn(f"unreadable {error}; yielded as None", stacklevel=2)
                frame = None
            yield i, frame

    def _iter_file(self, start: int, stop: int) -> Iterator[tuple[int, np.ndarray | None]]:
        if start == stop:
            return
        capture = self._capture_of()
        try:
            for _ in range(start):  # skipping by grabbing: exact where seeking by frame number may not be
                capture.grab()
            for i in range(start, stop):
                frame = None
                if capture.grab():
                    ok, frame = capture.retrieve()
                    frame = frame if ok else None
                try:
                    frame = self._decoded(i, frame)
                except FrameError as error:
                    warnings.warn(f"unreadable {error}; yielded as None", stacklevel=2)
                    frame = None
                yield i, frame
        finally:
            capture.release()

    def read(self, i: int) -> np.ndarray:
        """Frame ``i`` as RGB ``uint8`` ``(height, width, 3)``: random access (a video file seeks to it).

        Reading frames in increasing order from a video file seeks only once.

        Raises:
            IndexError: if there is no frame ``i``.
            FrameError: if the frame cannot be read or has another size.
        """
        import cv2

        i = self._check_index(i)
        if self.kind == "folder":
            return self._folder_frame(i)
        if self._capture is None:
            self._capture, self._next = self._capture_of(), 0
        if i != self._next:
            self._capture.set(cv2.CAP_PROP_POS_FRAMES, i)
        ok, frame = self._capture.read()
        self._next = i + 1 if ok else -1  # after a failure, seek again next time
        return self._decoded(i, frame if ok else None)

    def close(self) -> None:
        """Releases the video file :meth:`read` keeps open (reading again reopens it)."""
        if self._capture is not None:
            self._capture.release()
            self._capture = None

    def __enter__(self) -> Frames:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # pragma: no cover - interpreter shutdown
            pass


def open_video(path: str | Path) -> Frames:
    """Opens a video file (anything OpenCV decodes: ``.avi``, ``.mp4``, ...) or a folder of frame images.

    A video file is read once here to count its frames (the count its container states can be wrong).

    Args:
        path: The file or folder.

    Returns:
        :class:`Frames`.

    Raises:
        VideoError: one line naming the file, if it is missing, not a video OpenCV can decode,
            a folder without images, or without a readable frame.
    """
    return Frames(path)


def _check_frame(k: int, frame: Any) -> np.ndarray:
    frame = np.asarray(frame)
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[-1] != 3 or 0 in frame.shape:
        raise ValueError(
            f"`frames[{k}]` must be an RGB uint8 array (height, width, 3). Received: dtype={frame.dtype}, shape={frame.shape}"
        )
    return frame


def write_frames(frames: Iterable[np.ndarray], folder: str | Path, names: Sequence[str] | None = None) -> list[Path]:
    """Writes frames to image files in ``folder`` (made if missing), PNG by default.

    Args:
        frames: RGB ``uint8`` ``(height, width, 3)`` arrays (a ``(n, height, width, 3)`` array too).
        folder: Where.
        names: A file name per frame, with one of
            :data:`~keras_geo.datasets.folders.IMAGE_SUFFIXES`. Defaults to `None`:
            ``frame_000000.png``, ``frame_000001.png``, ...

    Returns:
        The files written, in order.

    Raises:
        ValueError: for a frame that is not RGB ``uint8``, or names that are not plain image
            file names or not one per frame.
        VideoError: if OpenCV cannot write a file.
    """
    import cv2

    folder = Path(folder)
    if names is not None:
        names = [str(n) for n in names]
        for name in names:
            if Path(name).name != name or Path(name).suffix.lower() not in IMAGE_SUFFIXES:
                raise ValueError(
                    f"`names` must be plain file names ending in one of {', '.join(IMAGE_SUFFIXES)}. Received: {name!r}"
                )
        if len(set(names)) != len(names):
            raise ValueError(
                f"`names` must be different from one another. Received: {len(names)} names, {len(set(names))} different"
            )
        if hasattr(frames, "__len__") and len(frames) != len(names):
            raise ValueError(
                f"`names` must give one name per frame. Received: {len(names)} names for {len(frames)} frames"
            )
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for k, frame in enumerate(frames):
        frame = _check_frame(k, frame)
        if names is not None and k >= len(names):
            raise ValueError(f"`names` must give one name per frame. Received: {len(names)} names for more frames")
        path = folder / (frame_name(k) if names is None else names[k])
        if not cv2.imwrite(str(path), cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2BGR)):
            raise VideoError(f"{path}: OpenCV could not write it")
        written.append(path)
    if names is not None and len(written) != len(names):
        raise ValueError(
            f"`names` must give one name per frame. Received: {len(names)} names for {len(written)} frames"
        )
    return written


def write_video(frames: Iterable[np.ndarray], path: str | Path, fps: float = 10.0) -> Path:
    """Writes frames to a video file with OpenCV: ``.avi`` as Motion JPEG, ``.mp4`` as MPEG-4 part 2.

    Both codecs are lossy: pixels come back close to, not equal to, what was written.

    Args:
        frames: RGB ``uint8`` ``(height, width, 3)`` arrays of one size (a ``(n, height, width, 3)`` array too).
        path: The file, ending in ``.avi`` or ``.mp4`` (its folder is made if missing).
        fps: Frames per second. Defaults to `10.0`.

    Returns:
        The path.

    Raises:
        ValueError: for another suffix, a bad ``fps``, no frames, or frames that are not RGB
            ``uint8`` of one size.
        VideoError: if OpenCV cannot open a writer for the file.
    """
    import cv2

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FOURCC:
        raise ValueError(f"`path` must end in {' or '.join(FOURCC)}. Received: path={str(path)!r}")
    if isinstance(fps, bool) or not isinstance(fps, int | float | np.number) or not (math.isfinite(fps) and fps > 0):
        raise ValueError(f"`fps` must be a number > 0. Received: fps={fps!r}")
    writer, size = None, None
    try:
        for k, frame in enumerate(frames):
            frame = _check_frame(k, frame)
            if writer is None:
                size = frame.shape[:2]
                path.parent.mkdir(parents=True, exist_ok=True)
                writer = cv2.VideoWriter(
                    str(path), cv2.VideoWriter_fourcc(*FOURCC[suffix]), float(fps), (size[1], size[0])
                )
                if not writer.isOpened():
                    raise VideoError(f"{path}: OpenCV cannot write a {FOURCC[suffix]} video there")
            elif frame.shape[:2] != size:
                raise ValueError(
                    f"`frames` must all have one size. Received: frames[{k}] of {_size_text(frame.shape[:2])} after {_size_text(size)}"
                )
            writer.write(cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2BGR))
    finally:
        if writer is not None:
            writer.release()
    if writer is None:
        raise ValueError("`frames` must hold at least one frame. Received: none")
    return path
