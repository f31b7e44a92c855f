"""A round's labels on disk: one JSON line per frame, written as each frame is done.

Propagation over a long video takes a while and may be stopped (a crash, a full disk, a
person pressing Ctrl-C). Each frame's line is appended, flushed and synced before the
next frame is read, so what is written is never lost; a line torn by a stop in the
middle of a write is dropped when the file is opened again, and the run resumes after
the last whole line.

A line is ``{"frame": i, "name": ..., "labels": [...]}`` (see :mod:`keras_geo.annotate`)
plus, for propagation's own use, ``"state"`` (what it needs to resume) and ``"skipped"``
(why a frame has no labels: it could not be read).
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

__all__ = ["LabelStore", "StoreError"]


class StoreError(ValueError):
    """A labels file that cannot be used; the one-line message names the file and line."""


class LabelStore:
    """The labels of one round, a JSON line per frame in frame order.

    Args:
        path: The ``.jsonl`` file; created (with its folder) on the first :meth:`append`.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lines: dict[int, dict[str, Any]] | None = None

    def _read(self) -> dict[int, dict[str, Any]]:
        lines: dict[int, dict[str, Any]] = {}
        if not self.path.exists():
            return lines
        data = self.path.read_bytes()
        whole = data.rfind(b"\n") + 1
        if whole < len(data):
            # A write stopped half way: keep the whole lines, drop the torn one.
            warnings.warn(
                f"{self.path}: dropped an incomplete last line (a run stopped while writing it); "
                "propagation redoes that frame",
                stacklevel=3,
            )
            with open(self.path, "r+b") as file:
                file.truncate(whole)
        for number, raw in enumerate(data[:whole].splitlines(), start=1):
            if not raw.strip():
                continue
            try:
                line = json.loads(raw)
                frame = line["frame"]
                if isinstance(frame, bool) or not isinstance(frame, int) or not isinstance(line.get("labels"), list):
                    raise TypeError
            except (ValueError, KeyError, TypeError):
                raise StoreError(
                    f"{self.path}, line {number}: not a labels line "
                    '({"frame": int, "name": str, "labels": [...]} expected)'
                ) from None
            if lines and frame <= max(lines):
                raise StoreError(f"{self.path}, line {number}: frame {frame} comes after frame {max(lines)}")
            lines[frame] = line
        return lines

    @property
    def lines(self) -> dict[int, dict[str, Any]]:
        """``{frame: line}`` of every frame written so far, in frame order."""
        if self._lines is None:
            self._lines = self._read()
        return self._lines

    def __len__(self) -> int:
        return len(self.lines)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(list(self.lines.values()))

    @property
    def last_frame(self) -> int | None:
        """The last frame written, or `None` for an empty store."""
        return max(self.lines) if self.lines else None

    def labels(self) -> Iterator[tuple[int, dict[str, Any]]]:
        """``(frame, label)`` of every label, in frame order."""
        for frame, line in self.lines.items():
            for label in line["labels"]:
                yield frame, label

    def append(self, frame: int, name: str, labels: list[Mapping[str, Any]], **extra: Any) -> None:
        """Writes one frame's line, flushed and synced to disk before returning.

        Raises:
            StoreError: if ``frame`` is not after the last frame written.
        """
        last = self.last_frame
        if last is not None and frame <= last:
            raise StoreError(f"{self.path}: frame {frame} comes after frame {last}")
        line = {"frame": int(frame), "name": str(name), "labels": [dict(label) for label in labels], **extra}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as file:
            file.write(json.dumps(line, separators=(",", ":")) + "\n")
            file.flush()
            os.fsync(file.fileno())
        self.lines[int(frame)] = line
