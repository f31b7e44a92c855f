"""Videos in and out: folder and video-file round trips, frame order and names, bad frames, bad videos."""

from __future__ import annotations

import warnings

import cv2
import numpy as np
import pytest

from keras_geo.annotate.video import (
    FrameError,
    Frames,
    VideoError,
    natural_key,
    open_video,
    write_frames,
    write_video,
)
from tests import one_line

HEIGHT, WIDTH = 48, 64


def clip(n: int = 6) -> np.ndarray:
    """Smooth, different frames (a moving gradient and a square): codecs keep them close."""
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH]
    frames = np.empty((n, HEIGHT, WIDTH, 3), dtype=np.uint8)
    for i in range(n):
        frames[i, ..., 0] = (xx * 3 + i * 20) % 256
        frames[i, ..., 1] = yy * 4
        frames[i, ..., 2] = (60 + 25 * i) % 256
        left = 8 + 5 * i % 40
        frames[i, 10:26, left : left + 16] = (250, 250, 30)
    return frames


def no_warnings(iterator):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return list(iterator)


def test_a_folder_round_trip_is_exact(tmp_path):
    frames = clip()
    paths = write_frames(frames, tmp_path / "frames")
    assert [p.name for p in paths] == [f"frame_{i:06d}.png" for i in range(6)]
    video = open_video(tmp_path / "frames")
    assert isinstance(video, Frames) and video.kind == "folder" and video.path == tmp_path / "frames"
    assert len(video) == 6 and video.size == (HEIGHT, WIDTH) and video.fps is None
    assert video.names == [p.name for p in paths] and video.name(4) == "frame_000004.png"
    read = no_warnings(video.iter())
    assert [i for i, _ in read] == list(range(6))
    for (_, frame), expected in zip(read, frames):
        assert frame.dtype == np.uint8 and frame.shape == (HEIGHT, WIDTH, 3)
        np.testing.assert_array_equal(frame, expected)
    np.testing.assert_array_equal(video.read(3), frames[3])
    assert [i for i, _ in no_warnings(video.iter(2, 4))] == [2, 3]
    assert [i for i, _ in video] == list(range(6))


def test_an_avi_round_trip_is_close_and_random_access_agrees(tmp_path):
    frames = clip()
    path = write_video(frames, tmp_path / "clip.avi", fps=12)
    assert path == tmp_path / "clip.avi" and path.stat().st_size > 0
    with open_video(path) as video:
        assert video.kind == "file" and len(video) == 6 and video.size == (HEIGHT, WIDTH)
        assert video.fps == pytest.approx(12.0)
        assert video.names == [f"frame_{i:06d}.png" for i in range(6)]
        read = no_warnings(video.iter())
        assert [i for i, _ in read] == list(range(6))
        for (_, frame), expected in zip(read, frames):  # Motion JPEG: lossy, close
            assert frame.dtype == np.uint8 and frame.shape == (HEIGHT, WIDTH, 3)
            assert np.abs(frame.astype(int) - expected).mean() < 6
        # Colours come back in RGB order (the square is yellow: red and green high, blue low).
        square = read[0][1][12:24, 10:22].reshape(-1, 3).mean(0)
        assert square[0] > 200 and square[1] > 200 and square[2] < 80
        # Random access, in and out of order, gives the frames a pass gives; a later pass starts anywhere.
        for i in (4, 1, 2, 5, 0):
            np.testing.assert_array_equal(video.read(i), read[i][1])
        later = no_warnings(video.iter(start=3))
        assert [i for i, _ in later] == [3, 4, 5]
        np.testing.assert_array_equal(later[0][1], read[3][1])


def test_an_mp4_round_trip(tmp_path):
    frames = clip(5)
    try:
        path = write_video(frames, tmp_path / "clip.mp4", fps=5.0)
    except VideoError:  # pragma: no cover - an OpenCV without an MPEG-4 encoder
        pytest.skip("this OpenCV cannot write mp4v")
    video = open_video(path)
    assert len(video) == 5 and video.size == (HEIGHT, WIDTH)
    for (_, frame), expected in zip(no_warnings(video.iter()), frames):
        assert np.abs(frame.astype(int) - expected).mean() < 10


def test_the_frame_count_comes_from_decoding_not_from_the_container(tmp_path):
    path = write_video(clip(10), tmp_path / "clip.avi")
    data = path.read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: int(len(data) * 0.8)])  # the header still says 10 frames
    stated = cv2.VideoCapture(str(cut)).get(cv2.CAP_PROP_FRAME_COUNT)
    video = open_video(cut)
    assert 0 < len(video) < 10
    assert stated != len(video)
    read = no_warnings(video.iter())
    assert len(read) == len(video) and all(frame is not None for _, frame in read)


def test_folder_frames_are_in_natural_order_and_other_files_are_ignored(tmp_path):
    for k, name in enumerate(["frame_10.png", "frame_2.png", "frame_1.png", "Frame_3.PNG", "frame_0.jpg"]):
        cv2.imwrite(str(tmp_path / name), np.full((8, 8, 3), 10 * k, dtype=np.uint8))
    (tmp_path / "notes.txt").write_text("not a frame")
    (tmp_path / ".hidden.png").write_bytes(b"")
    (tmp_path / "sub").mkdir()
    cv2.imwrite(str(tmp_path / "sub" / "frame_5.png"), np.zeros((8, 8, 3), dtype=np.uint8))
    video = open_video(tmp_path)
    assert video.names == ["frame_0.jpg", "frame_1.png", "frame_2.png", "Frame_3.PNG", "frame_10.png"]
    assert sorted(["b10", "b9", "a100", "a20"], key=natural_key) == ["a20", "a100", "b9", "b10"]


def test_a_corrupt_frame_is_none_with_a_warning_and_the_pass_goes_on(tmp_path):
    frames = clip(5)
    write_frames(frames, tmp_path)
    (tmp_path / "frame_000002.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 20)
    (tmp_path / "frame_000003.png").write_bytes(b"")
    video = open_video(tmp_path)
    assert len(video) == 5
    with pytest.warns(UserWarning) as caught:
        read = list(video.iter())
    assert [i for i, _ in read] == [0, 1, 2, 3, 4]
    assert read[2][1] is None and read[3][1] is None
    for i in (0, 1, 4):
        np.testing.assert_array_equal(read[i][1], frames[i])
    messages = [str(w.message) for w in caught]
    assert len(messages) == 2
    assert "frame_000002.png" in messages[0] and "frame_000003.png" in messages[1] and "empty" in messages[1]
    assert all("\n" not in m for m in messages)
    with pytest.raises(FrameError, match="frame_000002.png") as error:
        video.read(2)
    one_line(error)
    np.testing.assert_array_equal(video.read(4), frames[4])


def test_a_frame_of_another_size_is_unreadable(tmp_path):
    write_frames(clip(3), tmp_path)
    cv2.imwrite(str(tmp_path / "frame_000001.png"), np.zeros((30, 40, 3), dtype=np.uint8))
    video = open_video(tmp_path)
    with pytest.warns(UserWarning, match=r"frame_000001.png") as caught:
        read = list(video.iter())
    assert read[1][1] is None and read[0][1] is not None and read[2][1] is not None
    message = str(caught[0].message)
    assert "30 x 40" in message and f"{HEIGHT} x {WIDTH}" in message
    with pytest.raises(FrameError, match="30 x 40"):
        video.read(1)


def test_the_size_is_the_first_readable_frames(tmp_path):
    write_frames(clip(3), tmp_path)
    (tmp_path / "frame_000000.png").write_bytes(b"not an image")
    video = open_video(tmp_path)
    assert video.size == (HEIGHT, WIDTH) and len(video) == 3


def test_grey_sixteen_bit_and_rgba_frames_become_rgb_bytes(tmp_path):
    grey = np.arange(64, dtype=np.uint8).reshape(8, 8) * 3
    cv2.imwrite(str(tmp_path / "a_0.png"), grey)
    cv2.imwrite(str(tmp_path / "a_1.png"), grey.astype(np.uint16) * 257)
    bgra = np.zeros((8, 8, 4), dtype=np.uint8)
    bgra[..., 0], bgra[..., 2], bgra[..., 3] = 200, 10, 255  # blue in BGR order, opaque
    cv2.imwrite(str(tmp_path / "a_2.png"), bgra)
    video = open_video(tmp_path)
    frames = [frame for _, frame in no_warnings(video.iter())]
    for frame in frames:
        assert frame.dtype == np.uint8 and frame.shape == (8, 8, 3)
    np.testing.assert_array_equal(frames[0], np.repeat(grey[..., None], 3, axis=-1))
    np.testing.assert_array_equal(frames[1], frames[0])
    assert tuple(frames[2][0, 0]) == (10, 0, 200)


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda d: d / "missing.mp4", "no such file"),
        (lambda d: _text(d / "notes.mp4"), "not a video"),
        (lambda d: _empty(d / "empty.avi"), "empty"),
        (lambda d: _folder(d / "empty_folder"), "without frame images"),
        (lambda d: _text(_folder(d / "texts") / "a.txt").parent, "without frame images"),
        (lambda d: _text(_folder(d / "bad") / "a.png").parent, "none of its 1 image files can be read"),
    ],
)
def test_a_video_that_cannot_be_opened_is_named_in_one_line(tmp_path, make, reason):
    path = make(tmp_path)
    with pytest.raises(VideoError) as error:
        open_video(path)
    message = one_line(error)
    assert str(path) in message and reason in message
    assert isinstance(error.value, ValueError)


def _text(path):
    path.write_text("this is not a video\n" * 20)
    return path


def _empty(path):
    path.write_bytes(b"")
    return path


def _folder(path):
    path.mkdir()
    return path


def test_index_finds_a_frame_by_name_or_stem(tmp_path):
    path = write_video(clip(15), tmp_path / "clip.avi")
    video = open_video(path)
    assert video.index("frame_000012.png") == 12
    assert video.index("frame_000012") == 12
    assert video.index("FRAME_000012.JPG") == 12
    with pytest.raises(KeyError) as error:
        video.index("frame_000099.png")
    message = one_line(error)
    assert "frame_000099.png" in message and str(path) in message and "15 frames" in message
    folder = tmp_path / "pair"
    write_frames(clip(2), folder, names=["a.png", "b.png"])
    cv2.imwrite(str(folder / "a.jpg"), clip(1)[0])
    video = open_video(folder)
    assert video.index("b") == video.names.index("b.png")
    assert video.index("a.jpg") == video.names.index("a.jpg")  # exact names first
    with pytest.raises(KeyError, match="several"):
        video.index("a")


def test_bad_frame_numbers_and_ranges(tmp_path):
    write_frames(clip(3), tmp_path)
    video = open_video(tmp_path)
    with pytest.raises(IndexError, match="Received: i=3"):
        video.read(3)
    with pytest.raises(IndexError, match="Received: i=-1"):
        video.name(-1)
    with pytest.raises(ValueError, match="Received: start=-1"):
        video.iter(start=-1)
    with pytest.raises(ValueError, match="Received: stop=4"):
        video.iter(stop=4)
    with pytest.raises(ValueError, match="Received: stop=1"):
        video.iter(start=2, stop=1)
    assert list(video.iter(3)) == []


def test_writers_check_their_input(tmp_path):
    frames = clip(2)
    with pytest.raises(ValueError, match="RGB uint8"):
        write_frames(frames.astype(np.float32), tmp_path / "f")
    with pytest.raises(ValueError, match="one name per frame"):
        write_frames(frames, tmp_path / "f", names=["a.png"])
    with pytest.raises(ValueError, match="file names"):
        write_frames(frames, tmp_path / "f", names=["a.png", "sub/b.png"])
    names = write_frames(iter(frames), tmp_path / "g", names=["x.png", "y.bmp"])
    assert [p.name for p in names] == ["x.png", "y.bmp"] and open_video(tmp_path / "g").names == ["x.png", "y.bmp"]
    with pytest.raises(ValueError, match="Received: path="):
        write_video(frames, tmp_path / "clip.mkv")
    with pytest.raises(ValueError, match="Received: fps=0"):
        write_video(frames, tmp_path / "clip.avi", fps=0)
    with pytest.raises(ValueError, match="at least one frame"):
        write_video([], tmp_path / "clip.avi")
    with pytest.raises(ValueError, match="one size"):
        write_video([frames[0], frames[1][:20]], tmp_path / "clip.avi")
    (tmp_path / "taken.avi").mkdir()
    with pytest.raises(VideoError, match="taken.avi") as error:
        write_video(frames, tmp_path / "taken.avi")
    one_line(error)
