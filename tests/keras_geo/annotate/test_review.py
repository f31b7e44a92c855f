"""The review page (keras_geo.annotate.review): the static HTML, the rejections file, and a real browser over the page."""

from __future__ import annotations

import base64
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import cv2
import numpy as np
import pytest

from keras_geo.annotate.review import (
    REJECTIONS_FORMAT,
    ReviewError,
    read_rejections,
    rejectable_ids,
    write_review,
)
from tests import one_line

VIDEO = "clip \"<b>é</b>' </script>.mp4"
ROUND = 2
EVIL = "<script>alert('x')</script>"
CLASSES = ["car", EVIL, 'boat "quoted" & ü']
HEIGHT, WIDTH = 120, 160


def _label(frame, track, source, cls, score, box):
    return {"id": f"{frame}:{track}", "box": box, "class": cls, "score": score, "source": source, "track": track}


def _lines():
    """Five frames of a round with labels of every source; frame 3 is unreadable, frame 4's label was rejected before."""
    return [
        {
            "frame": 0,
            "name": "frame_000000.png",
            "labels": [
                _label(0, 1, "hand", 0, 1.0, [10, 20, 60, 60]),
                _label(0, 2, "hand", 1, 1.0, [90, 40, 150, 110]),
            ],
        },
        {
            "frame": 1,
            "name": "frame_000001.png",
            "labels": [
                _label(1, 1, "detector", 0, 0.91, [20, 20, 70, 70]),
                _label(1, 2, "tracker", 2, 0.55, [90, 30, 150, 100]),
                _label(1, 5, "hand", 0, 1.0, [5, 75, 45, 115]),
            ],
        },
        {
            "frame": 2,
            "name": "frame_000002.png",
            "labels": [
                _label(2, 3, "frame_difference", 1, 0.31, [10, 20, 90, 110]),
                _label(2, 1, "detector", 0, 0.8, [100, 60, 150, 100]),
                _label(2, 9, "hand", 2, 1.0, [110, 12, 150, 50]),
            ],
        },
        {"frame": 3, "name": "frame_000003.png", "labels": [_label(3, 1, "tracker", 0, 0.42, [30, 30, 90, 90])]},
        {"frame": 4, "name": "frame_000004.png", "labels": [_label(4, 2, "detector", 2, 0.12, [40, 40, 100, 100])]},
    ]


def _frames(stop_after=None):
    """(index, frame) pairs 0..5 as a video reader yields them; frame 3 could not be read."""
    rng = np.random.default_rng(0)
    for i in range(6):
        if stop_after is not None and i > stop_after:
            raise AssertionError(f"frame {i} read although no later frame is in the round")
        if i == 3:
            yield i, None
            continue
        frame = np.full((HEIGHT, WIDTH, 3), (40 + 30 * i, 90, 140), np.uint8)
        frame[30:90, 40:120] = rng.integers(0, 255, (60, 80, 3), dtype=np.uint8)
        yield i, frame


@pytest.fixture
def page(tmp_path):
    return write_review(
        tmp_path / "review" / "page.html",
        _frames(stop_after=4),
        _lines(),
        CLASSES,
        video=VIDEO,
        round=ROUND,
        rejected=["4:2"],
        thumb_side=256,
    )


class _Collect(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"
        if self._in_script:
            self.scripts.append("")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts[-1] += data


def _parse(path):
    parser = _Collect()
    parser.feed(Path(path).read_text(encoding="utf-8"))
    return parser


# --------------------------------------------------------------------------- #
# the page
# --------------------------------------------------------------------------- #
def test_page_is_self_contained(page):
    html = page.read_text(encoding="utf-8")
    parsed = _parse(page)
    assert not re.search(r"""(?:src|href|action)\s*=\s*["']?\s*(?:https?:)?//""", html, re.I)
    assert not re.search(r"url\(\s*['\"]?\s*(?:https?:)?//", html, re.I)
    assert not re.search(r"@import", html)
    assert not any(tag == "link" for tag, _ in parsed.tags)
    assert all("src" not in attrs for tag, attrs in parsed.tags if tag == "script")
    images = [attrs["src"] for tag, attrs in parsed.tags if tag == "img"]
    assert len(images) == 4  # frames 0, 1, 2, 4; frame 3 could not be read
    assert all(src.startswith("data:image/jpeg;base64,") for src in images)


def test_page_has_every_label_and_the_round_frames_only(page):
    parsed = _parse(page)
    lines = _lines()
    boxes = {attrs["data-id"]: attrs for tag, attrs in parsed.tags if tag == "g"}
    assert set(boxes) == {label["id"] for line in lines for label in line["labels"]}
    assert {boxes[i]["data-source"] for i in boxes} == {"hand", "detector", "tracker", "frame_difference"}
    cards = [attrs["data-frame"] for tag, attrs in parsed.tags if tag == "section"]
    assert cards == ["0", "1", "2", "3", "4"]  # frame 5 of the video is not in the round
    html = page.read_text(encoding="utf-8")
    assert "Frame 3 could not be read" in html
    assert "rejections.json" in html and str(page.parent.resolve() / "rejections.json") in html
    # the page's settings: JSON that the browser parses back to the same values
    config = json.loads(parsed.scripts[0])
    assert config["video"] == VIDEO and config["round"] == ROUND and config["rejected"] == ["4:2"]
    assert config["format"] == REJECTIONS_FORMAT


def test_names_are_escaped(page):
    html = page.read_text(encoding="utf-8")
    assert EVIL not in html and "alert('x')" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert "<b>" not in html
    assert 'boat "quoted"' not in html and "boat &#34;quoted&#34; &amp; ü" in html
    # only the page's own two scripts open and close: the video's "</script>" stays inside its JSON string
    assert html.count("<script") == 2 and html.count("</script>") == 2
    assert "\\u003c/script\\u003e" in html


def test_thumbnails_keep_the_aspect_and_take_the_longest_side(page, tmp_path):
    parsed = _parse(page)
    src = next(attrs["src"] for tag, attrs in parsed.tags if tag == "img")
    data = np.frombuffer(base64.b64decode(src.split(",", 1)[1]), np.uint8)
    thumb = cv2.imdecode(data, cv2.IMREAD_COLOR)
    assert thumb.shape[:2] == (192, 256)
    small = write_review(
        tmp_path / "small.html", _frames(), _lines(), CLASSES, video="v", round=0, thumb_side=64
    ).read_text()
    assert 'width="64" height="48"' in small


def test_unread_frames_take_the_videos_size(tmp_path):
    lines = _lines() + [{"frame": 9, "name": "frame_000009.png", "labels": []}]
    html = write_review(tmp_path / "p.html", _frames(), lines, CLASSES, video="v", round=0).read_text()
    assert "Frame 9 could not be read" in html  # the reader ended before frame 9
    assert html.count(f'viewBox="0 0 {WIDTH} {HEIGHT}"') == 6
    # no frame read at all: the boxes decide
    only = write_review(tmp_path / "q.html", [(0, None)], _lines()[:1], CLASSES, video="v", round=0).read_text()
    assert 'viewBox="0 0 150 110"' in only


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda lines: lines[1]["labels"][0].update(source="guess"), "label '1:1' has source 'guess'"),
        (lambda lines: lines[1]["labels"][0].update(id="0:1"), "label id '0:1' appears twice"),
        (lambda lines: lines[2]["labels"][1].update(box=[1, 2, 3]), "label '2:1' has box [1, 2, 3]"),
        (lambda lines: lines[2]["labels"][1].update(score="high"), "label '2:1' has score 'high'"),
        (lambda lines: lines.append(dict(lines[0])), "frame 0 has two round lines"),
    ],
)
def test_write_review_refuses_bad_round_lines(tmp_path, change, expected):
    lines = _lines()
    change(lines)
    with pytest.raises(ValueError) as error:
        write_review(tmp_path / "p.html", _frames(), lines, CLASSES, video="v", round=0)
    message = one_line(error)
    assert message.startswith(str(tmp_path / "p.html")) and expected in message, message
    assert not (tmp_path / "p.html").exists()


def test_write_review_refuses_bad_frames_and_rejections(tmp_path):
    out = tmp_path / "p.html"
    with pytest.raises(ValueError) as error:
        write_review(out, [(1, None), (0, None)], _lines(), CLASSES, video="v", round=0)
    assert "increasing index order: frame 0 after 1" in one_line(error)
    with pytest.raises(ValueError) as error:
        write_review(out, [(0, np.zeros((4, 4, 3), np.float32))], _lines(), CLASSES, video="v", round=0)
    assert "frame 0 is float32, expected uint8" in one_line(error)
    with pytest.raises(ValueError) as error:
        write_review(out, _frames(), _lines(), CLASSES, video="v", round=0, rejected=["0:1", "7:7"])
    assert "rejected id '0:1' is not a non-hand label of round 0 (2 such ids)" in one_line(error)


# --------------------------------------------------------------------------- #
# the rejections file
# --------------------------------------------------------------------------- #
def _write(tmp_path, doc, name="rejections.json"):
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc), encoding="utf-8")
    return path


def _doc(**changes):
    doc = {
        "format": REJECTIONS_FORMAT,
        "version": 1,
        "video": VIDEO,
        "round": ROUND,
        "rejected": ["1:1", "2:3"],
        "saved": "2025-05-01T10:12:31.123Z",
    }
    doc.update(changes)
    return {k: v for k, v in doc.items() if v is not ...}


def test_read_rejections(tmp_path):
    path = _write(tmp_path, _doc())
    assert read_rejections(path) == {"1:1", "2:3"}
    known = rejectable_ids(_lines())
    assert known == {"1:1", "1:2", "2:3", "2:1", "3:1", "4:2"}
    assert read_rejections(path, video=VIDEO, round=ROUND, known_ids=known) == {"1:1", "2:3"}
    assert read_rejections(_write(tmp_path, _doc(rejected=[], saved=...), "empty.json")) == set()


@pytest.mark.parametrize(
    ("doc", "kwargs", "expected"),
    [
        ("{not json", {}, "not JSON (Expecting property name enclosed in double quotes at line 1 column 2)"),
        ("[1, 2]", {}, "the JSON is a list, not an object"),
        (_doc(format="labels"), {}, "format is 'labels', expected 'keras-geo-rejections'"),
        (_doc(version=2), {}, "rejections format version 2 is not supported"),
        (_doc(version="1"), {}, "rejections format version '1' is not supported"),
        (_doc(round=...), {}, "no 'round' field"),
        (_doc(), {"video": "other.mp4"}, "expected video 'other.mp4'"),
        (_doc(), {"round": 3}, f"rejections of round {ROUND} of {VIDEO!r}, expected round 3"),
        (_doc(rejected="1:1"), {}, "rejected is a str, expected a list of label ids"),
        (_doc(rejected=["1:1", 7, None]), {}, "rejected ids must be strings; 7 is not (2 such ids)"),
        (_doc(saved="yesterday"), {}, "saved is 'yesterday', expected an ISO-8601 time"),
        (
            _doc(rejected=["1:1", "9:9", "8:8"]),
            {"known_ids": rejectable_ids(_lines())},
            f"'9:9' is not a label of round {ROUND} of {VIDEO!r} (2 unknown ids)",
        ),
        # a hand label cannot be rejected: its id is not among the rejectable ones
        (_doc(rejected=["0:1"]), {"known_ids": rejectable_ids(_lines())}, "'0:1' is not a label of round"),
    ],
)
def test_read_rejections_errors(tmp_path, doc, kwargs, expected):
    path = _write(tmp_path, doc)
    with pytest.raises(ReviewError) as error:
        read_rejections(path, **kwargs)
    message = one_line(error)
    assert message.startswith(f"{path}: ") and expected in message, message


def test_read_rejections_of_a_missing_or_binary_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_rejections(tmp_path / "none.json")
    (tmp_path / "bin.json").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ReviewError) as error:
        read_rejections(tmp_path / "bin.json")
    assert "not UTF-8 text" in one_line(error)
    assert issubclass(ReviewError, ValueError)


# --------------------------------------------------------------------------- #
# a real browser over the page
# --------------------------------------------------------------------------- #
def test_review_in_a_browser(browser, page, tmp_path):
    context = browser.new_context(accept_downloads=True, viewport={"width": 1200, "height": 800})
    tab = context.new_page()
    errors: list[str] = []
    tab.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.set_default_timeout(5000)

    def rejected():
        return sorted(tab.eval_on_selector_all("g.box.rejected", "els => els.map(e => e.dataset.id)"))

    def focused():
        return tab.eval_on_selector_all("g.box.focus", "els => els.map(e => e.dataset.id)")

    def count(source):
        return tab.inner_text(f"tr[data-source='{source}'] .n-rejected")

    try:
        tab.goto(page.as_uri())
        tab.wait_for_selector("body[data-ready]", state="attached")
        assert rejected() == ["4:2"]  # pre-marked from the earlier save

        tab.keyboard.press("j")  # the first label that may be rejected: hand labels are skipped
        assert focused() == ["1:1"]
        tab.keyboard.press("x")
        assert rejected() == ["1:1", "4:2"]
        tab.keyboard.press("ArrowRight")
        tab.keyboard.press("Delete")
        assert rejected() == ["1:1", "1:2", "4:2"]
        tab.keyboard.press("Backspace")  # restores
        assert rejected() == ["1:1", "4:2"]
        tab.keyboard.press("k")
        assert focused() == ["1:1"]

        tab.click("g.box[data-id='2:3'] rect")  # a click rejects
        assert rejected() == ["1:1", "2:3", "4:2"] and focused() == ["2:3"]

        # a hand label cannot be rejected: not by a click ...
        hand = tab.locator("g.box[data-id='0:1'] rect").bounding_box()
        tab.mouse.click(hand["x"] + hand["width"] / 2, hand["y"] + hand["height"] / 2)
        assert rejected() == ["1:1", "2:3", "4:2"]
        assert "Hand labels cannot be rejected" in tab.inner_text("#status")

        tab.keyboard.press("f")  # every propagated label of frame 2, not its hand label 2:9
        assert rejected() == ["1:1", "2:1", "2:3", "4:2"]
        assert count("detector") == "3" and count("frame_difference") == "1" and count("tracker") == "0"
        tab.keyboard.press("u")
        assert rejected() == ["1:1", "2:3", "4:2"]
        assert count("detector") == "2" and tab.inner_text("#n-rejected-all") == "3"

        tab.reload()
        tab.wait_for_selector("body[data-ready]", state="attached")
        assert rejected() == ["1:1", "2:3", "4:2"]  # kept by localStorage
        assert "restored" in tab.inner_text("#status")

        # ... nor by the keyboard: j goes through the propagated labels only, in frame and round-line order
        visited = []
        for _ in range(7):
            tab.keyboard.press("j")
            visited += focused()
        assert visited == ["1:1", "1:2", "2:3", "2:1", "3:1", "4:2", "4:2"]
        assert "last label" in tab.inner_text("#status")

        tab.keyboard.press("?")
        assert tab.is_visible("#help")
        tab.keyboard.press("Escape")
        assert not tab.is_visible("#help")

        tab.select_option("#filter", "lowest")
        shown = tab.eval_on_selector_all("section.card:not([hidden])", "els => els.map(e => e.dataset.frame)")
        assert shown == ["4", "2", "3", "1"]  # frame 0 has hand labels only
        tab.keyboard.press("j")
        assert focused() == ["4:2"]
        tab.select_option("#filter", "all")

        with tab.expect_download() as info:
            tab.keyboard.press("s")
        download = info.value
        assert download.suggested_filename == "rejections.json"
        saved = tmp_path / "saved" / "rejections.json"
        download.save_as(saved)
        assert read_rejections(saved, video=VIDEO, round=ROUND, known_ids=rejectable_ids(_lines())) == {
            "1:1",
            "2:3",
            "4:2",
        }
        doc = json.loads(saved.read_text())
        assert doc["rejected"] == ["1:1", "2:3", "4:2"] and doc["format"] == REJECTIONS_FORMAT
        assert "saved" in tab.inner_text("#status")

        with tab.expect_download() as info:  # Ctrl+S saves too, instead of the browser's "save page"
            tab.keyboard.press("Control+s")
        info.value.save_as(tmp_path / "again.json")
        assert read_rejections(tmp_path / "again.json") == {"1:1", "2:3", "4:2"}
        assert errors == []
    finally:
        context.close()
