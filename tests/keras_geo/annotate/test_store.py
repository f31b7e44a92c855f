"""A round's labels file: a line per frame, synced as written; a torn last line is dropped, never the others."""

from __future__ import annotations

import json

import pytest

from keras_geo.annotate.store import LabelStore, StoreError
from tests import one_line

LABEL = {"id": "0:0", "box": [1, 2, 10, 12], "class": 0, "score": 1.0, "source": "hand", "track": 0}


def test_lines_are_written_and_read_back_in_frame_order(tmp_path):
    store = LabelStore(tmp_path / "round" / "labels.jsonl")
    assert store.last_frame is None and len(store) == 0
    store.append(0, "frame_000000.png", [LABEL])
    store.append(3, "frame_000003.png", [], skipped="unreadable")
    again = LabelStore(store.path)
    assert list(again.lines) == [0, 3]
    assert again.last_frame == 3
    assert again.lines[3]["skipped"] == "unreadable"
    assert [(frame, label["id"]) for frame, label in again.labels()] == [(0, "0:0")]


def test_a_frame_must_come_after_the_last(tmp_path):
    store = LabelStore(tmp_path / "labels.jsonl")
    store.append(5, "a", [])
    with pytest.raises(StoreError) as error:
        store.append(5, "a", [])
    assert "frame 5 comes after frame 5" in one_line(error)


def test_a_torn_last_line_is_dropped_with_a_warning_and_the_rest_kept(tmp_path):
    store = LabelStore(tmp_path / "labels.jsonl")
    store.append(0, "a", [LABEL])
    store.append(1, "b", [LABEL])
    whole = store.path.read_bytes()
    store.path.write_bytes(whole + b'{"frame": 2, "name": "c", "lab')  # a stop in the middle of a write
    with pytest.warns(UserWarning, match="incomplete last line"):
        again = LabelStore(store.path)
        assert list(again.lines) == [0, 1]
    assert store.path.read_bytes() == whole  # truncated back: the next append starts a fresh line
    again.append(2, "c", [])
    assert list(LabelStore(store.path).lines) == [0, 1, 2]


@pytest.mark.parametrize(
    "text, expected",
    [
        ('{"frame": 0, "name": "a", "labels": []}\nnot json\n', "line 2: not a labels line"),
        ('{"frame": "0", "name": "a", "labels": []}\n', "line 1: not a labels line"),
        ('{"frame": 0, "name": "a", "labels": {}}\n', "line 1: not a labels line"),
        ('{"frame": 4, "name": "a", "labels": []}\n{"frame": 2, "name": "b", "labels": []}\n', "frame 2 comes after"),
    ],
)
def test_a_file_that_is_not_a_labels_file_is_refused_naming_the_line(tmp_path, text, expected):
    path = tmp_path / "labels.jsonl"
    path.write_text(text)
    with pytest.raises(StoreError) as error:
        len(LabelStore(path))
    message = one_line(error)
    assert str(path) in message and expected in message


def test_each_line_is_valid_json_on_its_own(tmp_path):
    store = LabelStore(tmp_path / "labels.jsonl")
    for frame in range(3):
        store.append(frame, f"f{frame}", [LABEL], state={"next_track": 1})
    lines = store.path.read_text().splitlines()
    assert [json.loads(line)["frame"] for line in lines] == [0, 1, 2]
