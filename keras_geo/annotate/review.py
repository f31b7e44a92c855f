"""The review page of a round's labels (:func:`write_review`) and the rejections it saves (:func:`read_rejections`).

After a round has propagated labels across a video, a person looks at them on one static
HTML page per video and rejects the obviously wrong ones; the page saves the rejected ids
as ``rejections.json``, which the next round reads with :func:`read_rejections` and leaves
out of the detector's training data.

The page needs no server and no network: the thumbnails are base64 JPEG data URIs, the
CSS and the JavaScript are inline. Each frame of the round is a card: its thumbnail with
the boxes drawn over it (an SVG in the frame's pixel coordinates), one colour per source,
and a tag with the class name and score. Hand labels are drawn solid and cannot be
rejected; a rejected box is drawn red, dashed and faded.

Keyboard (also listed on the page, ``?`` opens the list):

* ``j`` or ``ArrowRight``: the next label (hand labels are skipped); ``k`` or
  ``ArrowLeft``: the previous one. The focused label has a ring and is scrolled into view.
* ``x``, ``Delete`` or ``Backspace``: reject the focused label, or restore it when it is
  rejected.
* ``f``: reject every non-hand label of the focused label's frame (restore them when they
  all are rejected already).
* ``u``: undo the last change (a key press or a click).
* ``s``, ``Ctrl+S`` or ``Cmd+S``: save, that is download ``rejections.json`` (the page
  says where to put it).
* ``?``: show or hide the shortcuts; ``Escape`` hides them.

Clicking a box or its tag rejects it or restores it. The work is also kept in the
browser's ``localStorage`` under the video and round, so reloading the page keeps it;
the ``rejected`` ids given to :func:`write_review` (from an earlier save) pre-mark boxes
when the browser holds nothing for this video and round.

The rejections file (:data:`REJECTIONS_FORMAT`, version :data:`REJECTIONS_VERSION`)::

    {"format": "keras-geo-rejections", "version": 1, "video": "clip.mp4", "round": 2,
     "rejected": ["12:3", "40:7"], "saved": "2025-05-01T10:12:31.123Z"}

``rejected`` holds sorted label ids (``"<frame>:<track>"``, see :mod:`keras_geo.annotate`)
and ``saved`` is an ISO-8601 time.
"""

from __future__ import annotations

import base64
import datetime as _dt
import json
import math
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import SOURCES

__all__ = [
    "REJECTIONS_FILE",
    "REJECTIONS_FORMAT",
    "REJECTIONS_VERSION",
    "ReviewError",
    "read_rejections",
    "rejectable_ids",
    "write_review",
]

REJECTIONS_FILE = "rejections.json"
"""The name of the file the review page saves (downloads)."""
REJECTIONS_FORMAT = "keras-geo-rejections"
"""The ``format`` field of a rejections file."""
REJECTIONS_VERSION = 1
"""The ``version`` of the rejections format that this module writes and reads."""

#: The page template, a file of this package.
TEMPLATE = "review.html.j2"
#: JPEG quality of the thumbnails.
_JPEG_QUALITY = 85
#: Frame size assumed for a frame that could not be read when no frame of the video was read and no box is known.
_DEFAULT_SIZE = (640, 480)
#: What JSON inside a ``<script>`` element must not hold as is, and its JSON escape.
_SCRIPT_ESCAPES = (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029"))
#: A tag goes inside its box, below the top edge, when the box starts this close to the frame's top (fraction).
_TAG_BELOW = 0.08


class ReviewError(ValueError):
    """A rejections file that cannot be used; the message is one line naming the file and the problem."""


# --------------------------------------------------------------------------- #
# the labels of a round
# --------------------------------------------------------------------------- #
def _finite(value: Any) -> bool:
    return (
        isinstance(value, (int, float, np.integer, np.floating))
        and not isinstance(value, bool)
        and math.isfinite(value)
    )


def _round_frames(rounds_labels: Iterable[Mapping[str, Any]], where: str) -> dict[int, tuple[str, list[dict]]]:
    """Frame index -> (name, labels) of the round lines, checked; ``where`` starts the error messages."""
    frames: dict[int, tuple[str, list[dict]]] = {}
    ids: set[str] = set()
    for n, line in enumerate(rounds_labels):
        if not isinstance(line, Mapping):
            raise ValueError(f"{where}: round line {n} is a {type(line).__name__}, not a dict")
        index = line.get("frame")
        if not isinstance(index, (int, np.integer)) or isinstance(index, bool) or index < 0:
            raise ValueError(f"{where}: round line {n} has frame {index!r}, expected an index >= 0")
        index = int(index)
        if index in frames:
            raise ValueError(f"{where}: frame {index} has two round lines")
        name = line.get("name")
        labels = line.get("labels", [])
        if not isinstance(labels, Sequence) or isinstance(labels, (str, bytes)):
            raise ValueError(f"{where}: frame {index}: labels is a {type(labels).__name__}, not a list")
        for label in labels:
            if not isinstance(label, Mapping):
                raise ValueError(f"{where}: frame {index}: a label is a {type(label).__name__}, not a dict")
            label_id = label.get("id")
            if not isinstance(label_id, str) or not label_id:
                raise ValueError(f"{where}: frame {index}: label id {label_id!r} is not a non-empty string")
            if label_id in ids:
                raise ValueError(f"{where}: frame {index}: label id {label_id!r} appears twice in the round")
            ids.add(label_id)
            if label.get("source") not in SOURCES:
                raise ValueError(
                    f"{where}: frame {index}: label {label_id!r} has source {label.get('source')!r}, "
                    f"expected one of {', '.join(SOURCES)}"
                )
            box = label.get("box")
            if (
                not isinstance(box, Sequence)
                or isinstance(box, (str, bytes))
                or len(box) != 4
                or not all(_finite(v) for v in box)
            ):
                raise ValueError(
                    f"{where}: frame {index}: label {label_id!r} has box {box!r}, expected 4 finite numbers"
                )
            score = label.get("score", 1.0)
            if not _finite(score):
                raise ValueError(f"{where}: frame {index}: label {label_id!r} has score {score!r}, expected a number")
        frames[index] = (str(name) if name is not None else f"frame {index}", list(labels))
    return frames


def rejectable_ids(rounds_labels: Iterable[Mapping[str, Any]]) -> set[str]:
    """The ids of the labels of a round that the review page lets a person reject (all but the hand labels).

    Pass them as ``known_ids`` to :func:`read_rejections`: a hand label's id in a
    rejections file is then an error like any unknown id.

    Args:
        rounds_labels: The round lines ``{"frame", "name", "labels"}``.

    Returns:
        The ids of the labels whose source is not ``"hand"``.
    """
    return {
        label["id"]
        for line in rounds_labels
        for label in line.get("labels", [])
        if label.get("source") != "hand" and isinstance(label.get("id"), str)
    }


def _class_name(value: Any, class_names: Sequence[str] | Mapping[Any, str]) -> str:
    if isinstance(class_names, Mapping):
        if value in class_names:
            return str(class_names[value])
        return str(value)
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool) and 0 <= value < len(class_names):
        return str(class_names[int(value)])
    if isinstance(value, str):
        return value
    return f"class {value}"


# --------------------------------------------------------------------------- #
# thumbnails
# --------------------------------------------------------------------------- #
def _thumb_size(width: int, height: int, side: int) -> tuple[int, int]:
    scale = side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def _thumbnail(frame: Any, index: int, side: int, where: str) -> tuple[str, int, int]:
    """A frame as a JPEG data URI with its longest side ``side``, and the frame's width and height."""
    import cv2

    array = np.asarray(frame)
    if array.dtype != np.uint8:
        raise ValueError(f"{where}: frame {index} is {array.dtype}, expected uint8 RGB")
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[-1] == 3)) or min(array.shape[:2]) < 1:
        raise ValueError(f"{where}: frame {index} has shape {array.shape}, expected (height, width, 3)")
    height, width = array.shape[:2]
    tw, th = _thumb_size(width, height, side)
    shrink = tw < width
    small = cv2.resize(array, (tw, th), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    if small.ndim == 3:
        small = cv2.cvtColor(small, cv2.COLOR_RGB2BGR)
    ok, encoded = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, _JPEG_QUALITY])
    if not ok:  # pragma: no cover - OpenCV encodes any uint8 image
        raise ValueError(f"{where}: frame {index} could not be encoded as JPEG")
    return "data:image/jpeg;base64," + base64.b64encode(encoded.tobytes()).decode("ascii"), width, height


# --------------------------------------------------------------------------- #
# the page
# --------------------------------------------------------------------------- #
def _script_json(value: Any) -> str:
    """JSON that is safe inside ``<script type="application/json">`` (no ``</``, ``<!--``, line separators)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    for raw, escaped in _SCRIPT_ESCAPES:
        text = text.replace(raw, escaped)
    return text


def _num(value: float) -> str:
    return f"{float(value):.6g}"


def _template() -> Any:
    from hpo.report._page import package_template

    return package_template("keras_geo.annotate", TEMPLATE)


def _label_view(label: Mapping[str, Any], k: int, size: tuple[int, int], class_names: Any) -> dict[str, Any]:
    width, height = size
    x0, y0, x1, y1 = (float(v) for v in label["box"])
    x0, x1 = min(x0, x1), max(x0, x1)
    y0, y1 = min(y0, y1), max(y0, y1)
    source = label["source"]
    score = float(label.get("score", 1.0))
    name = _class_name(label.get("class"), class_names)
    hand = source == "hand"
    tag = name if hand else f"{name} {score:.2f}"
    left = min(max(x0 / width, 0.0), 1.0) * 100
    top = min(max(y0 / height, 0.0), 1.0) * 100
    return {
        "id": label["id"],
        "k": k,
        "source": source,
        "hand": hand,
        "score": _num(score),
        "x": _num(x0),
        "y": _num(y0),
        "w": _num(max(x1 - x0, 0.0)),
        "h": _num(max(y1 - y0, 0.0)),
        "area": (x1 - x0) * (y1 - y0),
        "left": _num(left),
        "top": _num(top),
        "below": y0 / height < _TAG_BELOW,
        "tag": tag,
        "title": f"{name} · {'hand label' if hand else f'score {score:.3f}'} · {source.replace('_', ' ')} · id {label['id']}",
    }


def write_review(
    path: str | os.PathLike[str],
    frames: Iterable[tuple[int, np.ndarray | None]],
    rounds_labels: Iterable[Mapping[str, Any]],
    class_names: Sequence[str] | Mapping[Any, str],
    *,
    video: str,
    round: int,
    rejected: Iterable[str] = (),
    thumb_side: int = 256,
    title: str | None = None,
    rejections_path: str | os.PathLike[str] | None = None,
) -> Path:
    """Writes the review page of one round of one video: a single self-contained HTML file.

    The page shows one card per frame of ``rounds_labels``: the thumbnail with the boxes
    over it (colour per source, a tag with class name and score), a header with the counts
    per source ("N labels, M rejected"), a legend, a filter (all frames, only frames with
    propagated labels, lowest confidence first) and the keyboard shortcuts:

    ``j``/``ArrowRight`` next label, ``k``/``ArrowLeft`` previous label, ``x``/``Delete``/
    ``Backspace`` reject or restore the focused label, ``f`` reject all non-hand labels of
    the focused frame, ``u`` undo, ``s`` (or Ctrl/Cmd+S) save, ``?`` help. Clicking a box
    rejects or restores it. Hand labels cannot be rejected.

    Saving downloads ``rejections.json`` (see the module's docstring for its format); the
    page tells the person to move it to ``rejections_path``. The work is also kept in the
    browser's ``localStorage`` under ``video`` and ``round``, so a reload keeps it.

    Args:
        path: The HTML file to write (its folder is created).
        frames: ``(index, frame)`` pairs in increasing index order, e.g. from a video
            reader: ``frame`` an RGB ``uint8`` ``(height, width, 3)`` array, or ``None`` when
            it could not be read (the card then shows a grey placeholder saying so). Only the
            frames of ``rounds_labels`` are kept; the pairs after the last of them are not
            consumed. A frame of the round that ``frames`` does not yield is shown as unread.
        rounds_labels: The round lines ``{"frame": i, "name": ..., "labels": [...]}``.
        class_names: The class names: a label's ``class`` ``c`` is ``class_names[c]``
            (a sequence), or looked up in a mapping; a class that is not there shows as is.
        video: The video's name, shown on the page, written in the rejections file and
            keying the browser's storage.
        round: The round's number.
        rejected: Ids rejected before (from :func:`read_rejections` of an earlier save):
            pre-marked on the page unless the browser holds newer work for this video and round.
        thumb_side: The longest side of the thumbnails, in pixels.
        title: The page's title; defaults to ``"Review of <video>, round <round>"``.
        rejections_path: Where the next round reads the rejections file, as told to the
            person on the page; defaults to ``rejections.json`` next to ``path``.

    Returns:
        ``path``, as a :class:`~pathlib.Path`.

    Raises:
        ValueError: A round line or label is malformed (unknown source, bad box, repeated
            id), a frame is not an RGB ``uint8`` array, the frames are not in increasing
            order, ``rejected`` holds an id that is not a non-hand label of the round, or
            ``thumb_side`` is below 16. The message is one line naming ``path`` and the item.
    """
    path = Path(path)
    where = str(path)
    if isinstance(class_names, str):
        raise ValueError(f"{where}: class_names must be a list or a dict of names, not a string")
    if not isinstance(thumb_side, (int, np.integer)) or isinstance(thumb_side, bool) or thumb_side < 16:
        raise ValueError(f"{where}: thumb_side must be an integer >= 16, got {thumb_side!r}")
    thumb_side = int(thumb_side)
    round_frames = _round_frames(rounds_labels, where)
    wanted = sorted(round_frames)
    if isinstance(video, bytes) or not isinstance(video, str):
        raise ValueError(f"{where}: video must be a string, got {video!r}")
    if not isinstance(round, (int, np.integer)) or isinstance(round, bool):
        raise ValueError(f"{where}: round must be an integer, got {round!r}")
    round = int(round)

    allowed = rejectable_ids({"labels": labels} for _, labels in round_frames.values())
    pre = sorted(set(rejected))
    unknown = [i for i in pre if i not in allowed]
    if unknown:
        raise ValueError(
            f"{where}: rejected id {unknown[0]!r} is not a non-hand label of round {round} "
            f"({len(unknown)} such id{'s' if len(unknown) != 1 else ''})"
        )

    # The thumbnails of the frames of the round, reading no further than the last of them.
    thumbs: dict[int, tuple[str, int, int]] = {}
    last = wanted[-1] if wanted else -1
    previous = None
    for item in frames:
        index, frame = item
        if not isinstance(index, (int, np.integer)) or isinstance(index, bool):
            raise ValueError(f"{where}: frame index {index!r} is not an integer")
        index = int(index)
        if previous is not None and index <= previous:
            raise ValueError(f"{where}: frames must come in increasing index order: frame {index} after {previous}")
        previous = index
        if index in round_frames and frame is not None:
            thumbs[index] = _thumbnail(frame, index, thumb_side, where)
        if index >= last:
            break

    # A frame that could not be read takes the size of the video's other frames, or what its boxes need.
    if thumbs:
        first = thumbs[min(thumbs)]
        fallback = (first[1], first[2])
    else:
        extent = [float(v) for _, labels in round_frames.values() for label in labels for v in label["box"]]
        fallback = (
            (max(1, math.ceil(max(extent[0::2]))), max(1, math.ceil(max(extent[1::2]))))
            if extent and max(extent[0::2]) > 0 and max(extent[1::2]) > 0
            else _DEFAULT_SIZE
        )

    counts = {s: 0 for s in SOURCES}
    cards = []
    for index in wanted:
        name, labels = round_frames[index]
        uri, width, height = thumbs[index] if index in thumbs else (None, *fallback)
        tw, th = _thumb_size(width, height, thumb_side)
        views = [_label_view(label, k, (width, height), class_names) for k, label in enumerate(labels)]
        for view in views:
            counts[view["source"]] += 1
        propagated = [v for v in views if not v["hand"]]
        cards.append(
            {
                "index": index,
                "name": name,
                "thumb": uri,
                "width": width,
                "height": height,
                "tw": tw,
                "th": th,
                # hand labels first, then the largest first: a propagated box is drawn over a hand box,
                # a box inside another one over it, and so can be clicked
                "labels": sorted(views, key=lambda v: (not v["hand"], -v["area"])),
                "n_labels": len(views),
                "n_propagated": len(propagated),
                "min_score": _num(min(float(v["score"]) for v in propagated)) if propagated else "",
            }
        )

    if rejections_path is None:
        rejections_path = path.parent / REJECTIONS_FILE
    rejections_text = os.path.abspath(os.fspath(rejections_path))
    config = {
        "format": REJECTIONS_FORMAT,
        "version": REJECTIONS_VERSION,
        "video": video,
        "round": round,
        "fileName": REJECTIONS_FILE,
        "rejectionsPath": rejections_text,
        "rejected": pre,
    }
    from markupsafe import Markup

    html = _template().render(
        title=title if title is not None else f"Review of {video}, round {round}",
        video=video,
        round=round,
        cards=cards,
        sources=[{"name": s, "label": s.replace("_", " "), "count": counts[s]} for s in SOURCES],
        n_labels=sum(counts.values()),
        n_frames=len(cards),
        thumb_side=thumb_side,
        file_name=REJECTIONS_FILE,
        rejections_path=rejections_text,
        config=Markup(_script_json(config)),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(html)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


# --------------------------------------------------------------------------- #
# the rejections file
# --------------------------------------------------------------------------- #
def _is_iso_time(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        _dt.datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def read_rejections(
    path: str | os.PathLike[str],
    *,
    video: str | None = None,
    round: int | None = None,
    known_ids: Iterable[str] | None = None,
) -> set[str]:
    """The ids rejected in a rejections file saved by the review page, checked.

    Args:
        path: The ``rejections.json`` file.
        video: The video the file must be about, or ``None`` for any.
        round: The round the file must be about, or ``None`` for any.
        known_ids: The ids the file may name (e.g. :func:`rejectable_ids` of the round, so
            that a hand label's id is refused too), or ``None`` for any.

    Returns:
        The rejected label ids.

    Raises:
        FileNotFoundError: There is no such file.
        ReviewError: The file is not UTF-8 JSON, not a rejections file (``format``), of
            another ``version``, lacks a field, is about another video or round than the
            ones asked for, its ids are not strings, or one is not among ``known_ids``.
            The message is one line naming the file and the problem.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise ReviewError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start})") from None
    except IsADirectoryError:
        raise ReviewError(f"{path}: a folder, not a rejections file") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as error:
        raise ReviewError(f"{path}: not JSON ({error.msg} at line {error.lineno} column {error.colno})") from None
    if not isinstance(doc, dict):
        raise ReviewError(f"{path}: not a rejections file: the JSON is a {type(doc).__name__}, not an object")
    if doc.get("format") != REJECTIONS_FORMAT:
        raise ReviewError(
            f"{path}: not a rejections file: format is {doc.get('format')!r}, expected {REJECTIONS_FORMAT!r}"
        )
    version = doc.get("version")
    if type(version) is not int or version != REJECTIONS_VERSION:
        raise ReviewError(
            f"{path}: rejections format version {version!r} is not supported (this keras-geo reads version {REJECTIONS_VERSION})"
        )
    for key in ("video", "round", "rejected"):
        if key not in doc:
            raise ReviewError(f"{path}: no {key!r} field")
    file_video, file_round, ids = doc["video"], doc["round"], doc["rejected"]
    if not isinstance(file_video, str):
        raise ReviewError(f"{path}: video is {file_video!r}, expected a string")
    if type(file_round) is not int or file_round < 0:
        raise ReviewError(f"{path}: round is {file_round!r}, expected an integer >= 0")
    if video is not None and file_video != video:
        raise ReviewError(f"{path}: rejections of video {file_video!r}, expected video {video!r}")
    if round is not None and file_round != round:
        raise ReviewError(f"{path}: rejections of round {file_round} of {file_video!r}, expected round {round}")
    if "saved" in doc and not _is_iso_time(doc["saved"]):
        raise ReviewError(f"{path}: saved is {doc['saved']!r}, expected an ISO-8601 time")
    if not isinstance(ids, list):
        raise ReviewError(f"{path}: rejected is a {type(ids).__name__}, expected a list of label ids")
    bad = [i for i in ids if not isinstance(i, str)]
    if bad:
        raise ReviewError(
            f"{path}: rejected ids must be strings; {bad[0]!r} is not ({len(bad)} such id{'s' if len(bad) != 1 else ''})"
        )
    if known_ids is not None:
        known = known_ids if isinstance(known_ids, (set, frozenset)) else set(known_ids)
        unknown = [i for i in dict.fromkeys(ids) if i not in known]
        if unknown:
            raise ReviewError(
                f"{path}: {unknown[0]!r} is not a label of round {file_round} of {file_video!r} "
                f"({len(unknown)} unknown id{'s' if len(unknown) != 1 else ''})"
            )
    return set(ids)
