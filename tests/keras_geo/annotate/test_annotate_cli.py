"""``keras-geo-hpo annotate``: the report's loop from the command line, and one-line errors for what a user can fix."""

from __future__ import annotations

import json

import pytest

from keras_geo.annotate.labels import read_labels, write_labels
from keras_geo.annotate.review import REJECTIONS_FORMAT
from keras_geo.annotate.video import open_video
from keras_geo.cli import main
from keras_geo.datasets.video import synthetic_video

TINY = ["backbone_width=8", "fpn_channels=16", "head_units=32", "rois=16", "batch_size=2"]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """A 30-frame video as a folder of PNG files and its hand labels (every 6th frame) as YOLO."""
    folder = tmp_path_factory.mktemp("inputs")
    video = synthetic_video(n_frames=30, seed=4)
    frames = open_video(video.write(folder / "frames"))
    hand = {i: video.objects[i] for i in range(0, 30, 6)}
    labels = write_labels(folder / "yolo", "yolo", hand, frames.names, frames.size, video.class_names)
    return folder / "frames", labels, video


def _error(capsys, argv) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err, err
    return err


@pytest.mark.slow
def test_the_loop_from_the_command_line(inputs, tmp_path, capsys):
    frames, labels, video = inputs
    project = str(tmp_path / "project")
    assert main(["annotate", "init", project, "--video", str(frames), "--labels", str(labels)]) == 0
    out = capsys.readouterr().out
    assert "30 frames of 160x120" in out and "fish, crab, star" in out and "annotate retrain" in out

    argv = ["annotate", "retrain", project, "--epochs", "1", "--quiet"] + [f"--param={p}" for p in TINY]
    assert main(argv) == 0
    assert "round-0/detector.keras: trained on" in capsys.readouterr().out

    assert main(["annotate", "propagate", project, "--quiet", "--min-score", "0.3"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("round 1: 30 frame(s)") and "tracker template" in out

    assert main(["annotate", "review", project]) == 0
    assert "round-1/review.html" in capsys.readouterr().out

    lines = [json.loads(line) for line in (tmp_path / "project" / "round-1" / "labels.jsonl").read_text().splitlines()]
    made = [label["id"] for line in lines for label in line["labels"] if label["source"] != "hand"]
    saved = tmp_path / "rejections.json"
    saved.write_text(
        json.dumps(
            {
                "format": REJECTIONS_FORMAT,
                "version": 1,
                "video": "frames",
                "round": 1,
                "rejected": made[:3],
                "saved": "2026-12-02T10:00:00Z",
            }
        )
    )
    assert main(argv + ["--rejections", str(saved)]) == 0
    out = capsys.readouterr().out
    assert "3 rejected label(s)" in out and "round-1/detector.keras" in out

    assert main(["annotate", "propagate", project, "--quiet", "--no-fuse"]) == 0
    assert capsys.readouterr().out.startswith("round 2:")
    summary = json.loads((tmp_path / "project" / "round-2" / "summary.json").read_text())
    assert summary["detector"].endswith("round-1/detector.keras")

    assert main(["annotate", "status", project]) == 0
    out = capsys.readouterr().out
    assert "| 1 | 30 |" in out and "| 2 | 30 |" in out and "not reviewed" in out
    assert main(["annotate", "status", project, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [row["round"] for row in rows] == [1, 2] and rows[0]["rejected"] == 3

    names = open_video(frames).names
    for fmt, target in (("coco", "labels.json"), ("yolo", "yolo"), ("voc", "voc")):
        assert main(["annotate", "export", project, "--format", fmt, "--out", str(tmp_path / target)]) == 0
        back, classes = read_labels(tmp_path / target, names, (120, 160), class_names=video.class_names)
        assert classes == video.class_names and len(back) == 30


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["init", "{p}", "--video", "{tmp}/nothing.mp4", "--labels", "{labels}"], "nothing.mp4"),
        (["init", "{p}", "--video", "{frames}", "--labels", "{tmp}/missing.json"], "missing.json"),
        (["propagate", "{tmp}"], "is not an annotation project"),
        (["review", "{tmp}"], "is not an annotation project"),
        (["status", "{tmp}/absent"], "is not an annotation project"),
    ],
)
def test_what_a_user_can_fix_is_one_line_and_exit_2(inputs, tmp_path, capsys, argv, expected):
    frames, labels, _ = inputs
    values = {"p": str(tmp_path / "p"), "tmp": str(tmp_path), "frames": str(frames), "labels": str(labels)}
    message = _error(capsys, ["annotate"] + [a.format(**values) for a in argv])
    assert expected in message


def test_a_project_refuses_steps_out_of_order_and_bad_settings(inputs, tmp_path, capsys):
    frames, labels, _ = inputs
    project = str(tmp_path / "project")
    assert main(["annotate", "init", project, "--video", str(frames), "--labels", str(labels)]) == 0
    capsys.readouterr()
    assert "no round yet" in _error(capsys, ["annotate", "review", project])
    assert "--rejections needs a round" in _error(capsys, ["annotate", "retrain", project, "--rejections", "x.json"])
    assert "`min_score` must be a number in [0, 1]" in _error(
        capsys, ["annotate", "propagate", project, "--min-score", "2"]
    )
    assert "--param takes KEY=VALUE" in _error(capsys, ["annotate", "retrain", project, "--param", "epochs"])
    assert "already holds a project" in _error(
        capsys, ["annotate", "init", project, "--video", str(frames), "--labels", str(labels)]
    )
    assert "no such detector file" in _error(capsys, ["annotate", "propagate", project, "--detector", "no.keras"])


def test_ctrl_c_during_propagation_says_how_to_go_on_and_exits_130(inputs, tmp_path, capsys, monkeypatch):
    from keras_geo.annotate import propagate as propagation

    frames, labels, _ = inputs
    project = str(tmp_path / "project")
    assert main(["annotate", "init", project, "--video", str(frames), "--labels", str(labels)]) == 0
    real = propagation._Loop.step
    calls = []

    def step(self, frame):
        calls.append(1)
        if len(calls) == 7:
            raise KeyboardInterrupt
        return real(self, frame)

    monkeypatch.setattr(propagation._Loop, "step", step)
    assert main(["annotate", "propagate", project, "--quiet", "--detector", "none"]) == 130
    err = capsys.readouterr().err
    assert "stopped: round 1 holds frames 0-7" in err and "annotate propagate" in err
    monkeypatch.setattr(propagation._Loop, "step", real)
    assert main(["annotate", "propagate", project, "--quiet", "--detector", "none"]) == 0
    assert "(resumed at frame 8)" in capsys.readouterr().out
