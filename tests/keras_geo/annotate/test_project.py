"""An annotation project: rounds of propagate, review, retrain on one video, its files, its summary, its exports."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest

from keras_geo.annotate.labels import read_labels, write_labels
from keras_geo.annotate.project import AnnotationProject, ProjectError
from keras_geo.annotate.review import REJECTIONS_FORMAT, ReviewError
from keras_geo.datasets.video import simulated_detector, synthetic_video
from keras_geo.detection.annotations import AnnotationError
from tests import one_line

N_FRAMES = 40
HAND = range(0, N_FRAMES, 8)
TINY = {"backbone_width": 8, "fpn_channels": 16, "head_units": 32, "rois": 16, "epochs": 1, "batch_size": 2}


@pytest.fixture(scope="module")
def video():
    return synthetic_video(n_frames=N_FRAMES, seed=3)


@pytest.fixture
def made(video, tmp_path):
    """A video as a PNG folder, its hand labels as COCO, and a project on them."""
    from keras_geo.annotate.video import open_video

    folder = video.write(tmp_path / "frames")
    frames = open_video(folder)
    labels = write_labels(
        tmp_path / "hand.json",
        "coco",
        {i: video.objects[i] for i in HAND},
        frames.names,
        frames.size,
        video.class_names,
    )
    return AnnotationProject.create(tmp_path / "project", folder, labels), folder, labels


def _rejections(project, k, ids):
    path = project.folder / f"saved-{k}.json"
    document = {
        "format": REJECTIONS_FORMAT,
        "version": 1,
        "video": project.video_name,
        "round": k,
        "rejected": sorted(ids),
        "saved": "2026-12-02T10:00:00Z",
    }
    path.write_text(json.dumps(document))
    return path


def test_a_project_keeps_the_video_the_classes_and_the_hand_labels(made, video):
    project, folder, _ = made
    again = AnnotationProject(project.folder)
    assert again.class_names == video.class_names
    assert again.size == (120, 160) and len(again.frames) == N_FRAMES
    assert sorted(again.hand) == list(HAND)
    for frame in HAND:
        np.testing.assert_allclose(again.hand[frame]["boxes"], video.objects[frame]["boxes"], atol=1e-3)
        np.testing.assert_array_equal(again.hand[frame]["classes"], video.objects[frame]["classes"])
    assert again.rounds == []


def test_a_folder_is_a_project_once(made, tmp_path):
    project, folder, labels = made
    with pytest.raises(ProjectError) as error:
        AnnotationProject.create(project.folder, folder, labels)
    assert "already holds a project" in one_line(error)
    with pytest.raises(ProjectError) as error:
        AnnotationProject(tmp_path)
    assert "is not an annotation project" in one_line(error)


def test_hand_labels_of_frames_the_video_lacks_are_refused_naming_the_file(made, video, tmp_path):
    _, folder, _ = made
    names = [f"frame_{i:06d}.png" for i in range(N_FRAMES + 5)]
    bad = write_labels(
        tmp_path / "bad.json", "coco", {N_FRAMES + 2: video.objects[0]}, names, (120, 160), video.class_names
    )
    with pytest.raises(AnnotationError) as error:
        AnnotationProject.create(tmp_path / "other", folder, bad)
    message = one_line(error)
    assert "bad.json" in message and f"frame_{N_FRAMES + 2:06d}.png" in message


def test_a_video_that_changed_under_the_project_is_refused(made):
    project, folder, _ = made
    sorted(folder.iterdir())[-1].unlink()
    with pytest.raises(ProjectError) as error:
        len(AnnotationProject(project.folder).frames)
    assert "has changed since the project began" in one_line(error)


def test_rounds_follow_one_another_and_an_unfinished_one_is_resumed(made, video):
    project, _, _ = made
    detector = simulated_detector(video, recall=0.5)
    k, result = project.propagate(detector, progress=False)
    assert k == 1 and result.frames == N_FRAMES and project.is_complete(1)
    lines = (project.round_folder(1) / "labels.jsonl").read_text().splitlines(keepends=True)
    (project.round_folder(1) / "labels.jsonl").write_text("".join(lines[:25]))  # stopped after frame 24
    k, result = project.propagate(detector, progress=False)
    assert k == 1 and result.resumed_from == 25 and project.is_complete(1)
    k, _ = project.propagate(detector, progress=False)
    assert k == 2 and project.rounds == [1, 2]
    runs = json.loads((project.round_folder(1) / "summary.json").read_text())["runs"]
    assert [run["resumed_from"] for run in runs] == [None, 25]


def test_accepted_labels_are_the_hand_labels_and_the_unrejected_ones(made, video):
    project, _, _ = made
    project.propagate(simulated_detector(video, recall=0.5), progress=False)
    store = project.store(1)
    frame = next(f for f, line in store.lines.items() if f not in project.hand and len(line["labels"]) >= 2)
    wrong = store.lines[frame]["labels"][0]["id"]
    project.add_rejections(_rejections(project, 1, [wrong]), 1)
    assert project.rejected(1) == {wrong}
    accepted = project.accepted(1)
    assert frame not in accepted  # a frame with a rejected box may hide an unlabelled object
    unlabelled = {f for f, line in store.lines.items() if not line["labels"]}
    assert set(project.hand) <= set(accepted) and set(accepted) == set(range(N_FRAMES)) - {frame} - unlabelled
    kept = project.accepted(1, keep_rejected_frames=True)[frame]
    assert len(kept["classes"]) == len(store.lines[frame]["labels"]) - 1
    row = project.summary()[0]
    made_labels = sum(1 for _, label in store.labels() if label["source"] != "hand")
    assert row["made"] == made_labels and row["rejected"] == 1 and row["accepted"] == made_labels - 1
    assert row["hand_labels"] == sum(len(video.objects[i]["classes"]) for i in HAND)
    # What a retraining uses: the propagated labels of the frames without a rejected label.
    assert row["for_training"] == made_labels - len(store.lines[frame]["labels"])
    assert "| 1 | 40 |" in project.summary_table()


def test_rejections_of_another_round_or_of_hand_labels_are_refused(made, video):
    project, _, _ = made
    project.propagate(simulated_detector(video, recall=0.5), progress=False)
    with pytest.raises(ReviewError) as error:
        project.add_rejections(_rejections(project, 2, []), 1)
    assert "round" in one_line(error)
    hand_id = next(label["id"] for _, label in project.store(1).labels() if label["source"] == "hand")
    with pytest.raises(ReviewError) as error:
        project.add_rejections(_rejections(project, 1, [hand_id]), 1)
    assert hand_id in one_line(error)
    assert not (project.round_folder(1) / "rejections.json").exists()


def test_the_review_page_holds_the_rounds_labels(made, video):
    project, _, _ = made
    with pytest.raises(ProjectError, match="no round yet"):
        project.review()
    project.propagate(simulated_detector(video, recall=0.5), progress=False)
    page = project.review().read_text()
    ids = [label["id"] for _, label in project.store(1).labels()]
    assert all(json.dumps(i) in page for i in ids[:50])


@pytest.mark.parametrize("fmt", ["coco", "yolo", "voc"])
def test_the_accepted_labels_export_and_read_back(made, video, tmp_path, fmt):
    project, _, _ = made
    project.propagate(simulated_detector(video, recall=0.5), progress=False)
    out = project.export(tmp_path / ("labels.json" if fmt == "coco" else fmt), fmt)
    back, names = read_labels(out, project.frames.names, project.size, class_names=project.class_names)
    expected = project.accepted(keep_rejected_frames=True)
    assert names == project.class_names and sorted(back) == sorted(expected)
    for frame, objects in expected.items():
        order = np.lexsort(objects["boxes"].T[::-1])
        again = np.lexsort(back[frame]["boxes"].T[::-1])
        np.testing.assert_allclose(back[frame]["boxes"][again], objects["boxes"][order], atol=0.01)
        np.testing.assert_array_equal(back[frame]["classes"][again], objects["classes"][order])


@pytest.mark.slow
def test_a_retrained_detector_is_saved_loads_safely_and_the_next_round_uses_it(made):
    project, _, _ = made
    path = project.retrain(0, params=TINY)
    assert path == project.round_folder(0) / "detector.keras"
    model = keras.saving.load_model(path, safe_mode=True)
    assert tuple(model.class_names) == project.class_names
    training = json.loads((path.parent / "summary.json").read_text())["training"]
    assert training["frames"] == len(HAND) and training["hand_frames"] == len(HAND)
    k, _ = project.propagate(progress=False)  # "auto": the round-0 detector
    assert json.loads((project.round_folder(k) / "summary.json").read_text())["detector"] == str(path)
    # Trained frames are capped: every hand-labelled one, the others evenly spaced.
    project.retrain(k, params=TINY, max_frames=8)
    training = json.loads((project.round_folder(k) / "summary.json").read_text())["training"]
    assert training["frames"] == 8 and training["hand_frames"] == len(HAND)
    labels = project.round_folder(k) / "labels.jsonl"
    labels.write_text("".join(labels.read_text().splitlines(keepends=True)[:10]))
    with pytest.raises(ProjectError) as error:
        project.retrain(k, params=TINY)
    assert f"round {k} is not finished" in one_line(error)


def test_frames_listed_without_boxes_are_not_hand_labelled_unless_asked(made, video, tmp_path):
    from keras_geo.annotate.video import open_video

    _, folder, _ = made
    frames = open_video(folder)
    empty = {"boxes": np.zeros((0, 4), np.float32), "classes": np.zeros(0, np.int64)}
    # As CVAT exports a task: every frame listed, boxes on a few.
    listed = {i: (video.objects[i] if i in HAND else empty) for i in range(N_FRAMES)}
    labels = write_labels(tmp_path / "cvat.json", "coco", listed, frames.names, frames.size, video.class_names)
    default = AnnotationProject.create(tmp_path / "a", folder, labels)
    assert sorted(default.hand) == list(HAND)
    assert default.meta["empty_frames_left_out"] == N_FRAMES - len(HAND)
    kept = AnnotationProject.create(tmp_path / "b", folder, labels, keep_empty_frames=True)
    assert sorted(kept.hand) == list(range(N_FRAMES))


def test_a_detector_of_other_classes_is_refused(made, tmp_path):
    from keras_geo import models

    project, _, _ = made
    model = models.get("two_stage_detector")(
        input_shape=(64, 64, 3), n_classes=2, backbone_width=8, fpn_channels=16, head_units=32, rois=16
    )
    model.class_names = ("car", "bus")
    model.save(tmp_path / "cars.keras")
    with pytest.raises(ProjectError) as error:
        project.propagate(tmp_path / "cars.keras", progress=False)
    assert "detects car, bus, none of the project's classes (fish, crab, star)" in one_line(error)


def test_a_propagated_frame_without_labels_is_not_trained_on_as_background(made, video):
    project, _, _ = made
    project.propagate(simulated_detector(video, recall=0.5), progress=False)
    path = project.round_folder(1) / "labels.jsonl"
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    lines[3]["labels"] = []  # nothing propagated to frame 3 (not hand-labelled)
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    assert 3 not in AnnotationProject(project.folder).accepted(1)
    assert 2 in AnnotationProject(project.folder).accepted(1)
