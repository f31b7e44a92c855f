"""The generated video: deterministic, boxes that fit the visible sprites, occlusion, tracks, lighting, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from keras_geo.annotate.video import open_video
from keras_geo.datasets.video import CLASSES, SyntheticVideo, synthetic_video
from tests import one_line

N, HEIGHT, WIDTH, OBJECTS = 60, 120, 160, 4


@pytest.fixture(scope="module")
def video():
    return synthetic_video()


@pytest.fixture(scope="module")
def background():
    """The same video without its sprites: background, lighting and noise are the same."""
    return synthetic_video(n_objects=0)


def overlaps(box: np.ndarray, others: np.ndarray) -> bool:
    """Whether ``box`` shares pixels with one of ``others``."""
    return bool(
        (
            (np.minimum(box[2], others[:, 2]) > np.maximum(box[0], others[:, 0]))
            & (np.minimum(box[3], others[:, 3]) > np.maximum(box[1], others[:, 1]))
        ).any()
    )


def test_frames_and_ground_truth_have_the_promised_types(video):
    assert isinstance(video, SyntheticVideo) and len(video) == N
    assert video.frames.shape == (N, HEIGHT, WIDTH, 3) and video.frames.dtype == np.uint8
    assert video.class_names == CLASSES == ("fish", "crab", "star")
    assert len(video.objects) == N
    for found in video.objects:
        assert set(found) == {"boxes", "classes", "tracks"}
        k = len(found["tracks"])
        assert found["boxes"].shape == (k, 4) and found["boxes"].dtype == np.float32
        assert found["classes"].shape == (k,) and found["classes"].dtype == np.int64
        assert found["tracks"].dtype == np.int64
    assert 0 < video.frames.std()  # not blank


def test_the_same_seed_gives_the_same_video_and_another_seed_another(video):
    again = synthetic_video(seed=0)
    np.testing.assert_array_equal(again.frames, video.frames)
    for a, b in zip(again.objects, video.objects):
        for key in a:
            np.testing.assert_array_equal(a[key], b[key])
    other = synthetic_video(seed=1)
    assert np.abs(other.frames.astype(int) - video.frames).mean() > 5
    assert any(not np.array_equal(a["boxes"], b["boxes"]) for a, b in zip(other.objects, video.objects))


def test_boxes_lie_inside_the_frame_and_have_sprite_sizes(video):
    boxes = np.concatenate([o["boxes"] for o in video.objects])
    assert len(boxes) > 0.8 * N * OBJECTS  # most objects are seen most of the time
    assert (boxes[:, 0] >= 0).all() and (boxes[:, 1] >= 0).all()
    assert (boxes[:, 2] <= WIDTH).all() and (boxes[:, 3] <= HEIGHT).all()
    sides = np.stack([boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]], axis=1)
    assert (sides >= 1).all() and sides.max() <= 34
    assert np.median(sides.max(axis=1)) >= 12  # sprites are 14-32 pixels long


def test_boxes_are_the_extent_of_the_visible_sprite_pixels(video, background):
    # Pixels that differ from the sprite-less video are sprite pixels (noise and lighting are the same).
    changed = (video.frames != background.frames).any(axis=-1)
    for t, found in enumerate(video.objects):
        union = np.zeros((HEIGHT, WIDTH), dtype=bool)
        for x0, y0, x1, y1 in found["boxes"].astype(int):
            inside = changed[t, y0:y1, x0:x1]
            assert inside.mean() > 0.3, (t, x0, y0, x1, y1)  # the sprite fills its box
            # Tight: the box's outer rows and columns hold sprite pixels.
            assert inside[0].any() and inside[-1].any() and inside[:, 0].any() and inside[:, -1].any()
            union[max(y0 - 1, 0) : y1 + 1, max(x0 - 1, 0) : x1 + 1] = True
        if changed[t].any():  # no sprite pixels outside the boxes but soft edges and hidden objects
            assert (changed[t] & union).sum() > 0.9 * changed[t].sum(), t
    assert not (background.frames != video.frames).all()


def test_sprites_hide_one_another_with_the_defaults(video):
    missing = [t for t, o in enumerate(video.objects) if len(o["tracks"]) < OBJECTS]
    overlapping = [
        t
        for t, o in enumerate(video.objects)
        if any(overlaps(b, o["boxes"][k + 1 :]) for k, b in enumerate(o["boxes"]))
    ]
    assert len(missing) + len(overlapping) >= 3


def test_a_box_holds_only_the_visible_part_of_a_sprite():
    # Object k does not depend on the others (with occlusion): the video with one object shows object 0 whole.
    together, alone = synthetic_video(seed=2), synthetic_video(seed=2, n_objects=1)
    shrunk = 0
    for with_others, by_itself in zip(together.objects, alone.objects):
        assert by_itself["tracks"].tolist() == [0]
        if 0 in with_others["tracks"]:
            box, whole = with_others["boxes"][with_others["tracks"].tolist().index(0)], by_itself["boxes"][0]
            assert (box[:2] >= whole[:2]).all() and (box[2:] <= whole[2:]).all()
            shrunk += bool((box != whole).any())
    assert shrunk >= 3  # in front of it, another sprite hides part of it for a while


def test_a_mostly_hidden_object_drops_out_and_comes_back():
    found = synthetic_video(seed=1).objects
    missing = [t for t, o in enumerate(found) if len(o["tracks"]) < OBJECTS]
    assert missing and missing[-1] < N - 1
    for t in missing:
        (track,) = set(range(OBJECTS)) - set(found[t]["tracks"].tolist())
        before, after = found[missing[0] - 1], found[missing[-1] + 1]
        assert track in after["tracks"]  # still in the frame: hidden, not gone
        at = before["tracks"].tolist().index(track)
        assert overlaps(before["boxes"][at], np.delete(before["boxes"], at, axis=0))  # behind another sprite


def test_without_occlusion_every_object_is_always_seen():
    for seed in (0, 1):
        apart = synthetic_video(30, seed=seed, occlusion=False)
        assert all(len(o["tracks"]) == OBJECTS for o in apart.objects)


def test_tracks_keep_their_class_and_move_smoothly(video):
    classes: dict[int, int] = {}
    last: dict[int, tuple[int, np.ndarray]] = {}
    seen = np.zeros(OBJECTS, dtype=int)
    for t, found in enumerate(video.objects):
        tracks = found["tracks"]
        assert len(set(tracks.tolist())) == len(tracks) and ((0 <= tracks) & (tracks < OBJECTS)).all()
        for box, cls, track in zip(found["boxes"], found["classes"], tracks):
            assert classes.setdefault(int(track), int(cls)) == cls
            centre = (box[:2] + box[2:]) / 2
            if int(track) in last and last[int(track)][0] == t - 1:
                assert np.hypot(*(centre - last[int(track)][1])) < 20  # a few pixels a frame, occlusion aside
            last[int(track)] = (t, centre)
            seen[track] += 1
    assert (seen > N // 2).all()
    assert set(classes.values()) == {0, 1, 2}  # four objects: every class


def test_the_camera_pans_and_the_lighting_drifts():
    still = synthetic_video(20, n_objects=0, noise=0.0, drift=0.0, background_speed=0.0)
    assert (still.frames == still.frames[0]).all()
    panning = synthetic_video(20, n_objects=0, noise=0.0, drift=0.0, background_speed=2.0)
    assert np.abs(panning.frames[-1].astype(int) - panning.frames[0]).mean() > 3
    drifting = synthetic_video(n_objects=0, noise=0.0, drift=0.3, background_speed=0.0)
    brightness = drifting.frames.reshape(N, -1).mean(axis=1)
    assert brightness.max() - brightness.min() > 20
    assert np.abs(np.diff(brightness)).max() < 8  # smoothly: a few levels a frame


def test_noise_is_gaussian_pixel_noise():
    clean = synthetic_video(5, n_objects=0, noise=0.0, drift=0.0)
    noisy = synthetic_video(5, n_objects=0, noise=0.04, drift=0.0)
    difference = noisy.frames.astype(float) - clean.frames
    assert abs(difference.mean()) < 0.5 and 8 < difference.std() < 12  # 0.04 x 255 = 10.2


def test_no_objects_and_other_sizes():
    empty = synthetic_video(3, size=(64, 96), n_objects=0)
    assert empty.frames.shape == (3, 64, 96, 3)
    assert all(o["boxes"].shape == (0, 4) and len(o["classes"]) == len(o["tracks"]) == 0 for o in empty.objects)
    crowded = synthetic_video(4, size=(48, 200), n_objects=9, seed=3)
    for found in crowded.objects:
        assert (found["boxes"][:, 3] <= 48).all() and (found["boxes"][:, 2] <= 200).all()


def test_write_makes_a_folder_or_a_video_file(tmp_path):
    clip = synthetic_video(8)
    folder = clip.write(tmp_path / "frames")
    frames = open_video(folder)
    assert len(frames) == 8 and frames.names[0] == "frame_000000.png"
    np.testing.assert_array_equal(frames.read(5), clip.frames[5])
    path = clip.write(tmp_path / "clip.avi", fps=5)
    video = open_video(path)
    assert len(video) == 8 and video.size == (HEIGHT, WIDTH) and video.fps == pytest.approx(5.0)
    assert np.abs(video.read(3).astype(int) - clip.frames[3]).mean() < 8


@pytest.mark.parametrize(
    ("settings", "received"),
    [
        ({"n_frames": 0}, "n_frames=0"),
        ({"n_frames": 2.5}, "n_frames=2.5"),
        ({"size": (20, 160)}, "size=(20, 160)"),
        ({"size": 120}, "size=120"),
        ({"n_objects": -1}, "n_objects=-1"),
        ({"seed": -3}, "seed=-3"),
        ({"noise": 1.5}, "noise=1.5"),
        ({"drift": 0.95}, "drift=0.95"),
        ({"background_speed": -1.0}, "background_speed=-1.0"),
        ({"occlusion": "yes"}, "occlusion='yes'"),
    ],
)
def test_bad_arguments_are_named_in_one_line(settings, received):
    with pytest.raises(ValueError) as error:
        synthetic_video(**settings)
    message = one_line(error)
    assert f"Received: {received}" in message and f"`{next(iter(settings))}`" in message
