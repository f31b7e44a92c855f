"""``keras-geo-hpo annotate``: label a video with little hand work (report 002), in rounds.

keras-geo-hpo annotate init PROJECT --video VIDEO --labels HAND_LABELS [--classes A,B,...]
keras-geo-hpo annotate retrain PROJECT            # round 0: a weak detector on the hand labels
keras-geo-hpo annotate propagate PROJECT [--detector auto|none|D.keras] [--tracker auto|mil|csrt|kcf|none]
keras-geo-hpo annotate review PROJECT             # writes round-K/review.html: reject wrong labels, save
keras-geo-hpo annotate retrain PROJECT --rejections rejections.json
keras-geo-hpo annotate propagate PROJECT          # the next round, with the retrained detector
keras-geo-hpo annotate status PROJECT
keras-geo-hpo annotate export PROJECT --format coco|yolo|voc --out PATH
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys

from keras_geo.cli._common import UsageError


@contextlib.contextmanager
def _user_errors():
    """The errors a user can fix (bad files, a bad request) as one-line usage errors."""
    from keras_geo.annotate.project import ProjectError
    from keras_geo.annotate.store import StoreError

    try:
        yield
    except (ProjectError, StoreError) as error:
        raise UsageError(str(error)) from None
    except ValueError as error:  # VideoError, AnnotationError, ReviewError, settings: all one line
        raise UsageError(str(error).splitlines()[0]) from None
    except KeyError as error:
        raise UsageError(str(error.args[0]) if error.args else "missing key") from None


def _project(args: argparse.Namespace):
    from keras_geo.annotate.project import AnnotationProject

    return AnnotationProject(args.project)


def _cmd_init(args: argparse.Namespace) -> int:
    from keras_geo.annotate.project import AnnotationProject

    classes = None if args.classes is None else [name.strip() for name in args.classes.split(",") if name.strip()]
    with _user_errors():
        project = AnnotationProject.create(
            args.project, args.video, args.labels, class_names=classes, keep_empty_frames=args.keep_empty_frames
        )
        hand = project.hand
    n = sum(len(o["classes"]) for o in hand.values())
    left_out = project.meta.get("empty_frames_left_out", 0)
    if left_out:
        print(
            f"{left_out} frame(s) listed without any box are not taken as hand-labelled "
            "(--keep-empty-frames takes them: each then ends every track on it)"
        )
    print(
        f"{args.project}: {len(project.frames)} frames of {project.size[1]}x{project.size[0]}, {n} hand labels on "
        f"{len(hand)} frames, classes {', '.join(project.class_names)}.\n"
        f"Next: keras-geo-hpo annotate retrain {args.project}   (a weak detector on the hand labels), then propagate"
    )
    return 0


def _settings(args: argparse.Namespace):
    from keras_geo.annotate.propagate import PropagationSettings

    return PropagationSettings(
        min_score=args.min_score,
        window=args.window,
        new_track_score=None if args.new_track_score < 0 else args.new_track_score,
        tracker=args.tracker,
        max_coast=args.max_coast,
        fuse=not args.no_fuse,
    )


def _cmd_propagate(args: argparse.Namespace) -> int:
    with _user_errors():
        project = _project(args)
        settings = _settings(args)
        detector = None if args.detector == "none" else args.detector
        try:
            k, result = project.propagate(detector, settings=settings, progress=not args.quiet)
        except KeyboardInterrupt:
            k = project.rounds[-1] if project.rounds else 1
            last = project.store(k).last_frame
            done = "no frame" if last is None else f"frames 0-{last}"
            print(
                f"\nstopped: round {k} holds {done} (written as they were done). "
                f"Run `keras-geo-hpo annotate propagate {args.project}` again to go on from there.",
                file=sys.stderr,
            )
            return 130
    made = ", ".join(f"{n} {source.replace('_', ' ')}" for source, n in result.labels.items()) or "none"
    resumed = f" (resumed at frame {result.resumed_from})" if result.resumed_from is not None else ""
    skipped = f"; skipped unreadable frame(s) {', '.join(map(str, result.skipped[:10]))}" if result.skipped else ""
    print(
        f"round {k}: {result.frames} frame(s) in {result.seconds:.1f} s{resumed}, labels: {made}; "
        f"tracker {result.tracker or 'none'}{skipped}.\nNext: keras-geo-hpo annotate review {args.project}"
    )
    return 0


def _cmd_review(args: argparse.Namespace) -> int:
    with _user_errors():
        project = _project(args)
        path = project.review(args.round, thumb_side=args.thumb)
        k = int(path.parent.name.removeprefix("round-"))
    print(
        f"{path}: open it in a browser, reject the wrong labels (x, or click; ? lists the keys), save with s.\n"
        f"Then: keras-geo-hpo annotate retrain {args.project} --rejections PATH/TO/rejections.json"
        f"   (or put the file in {path.parent}; round {k})"
    )
    return 0


def _params(pairs: list[str]) -> dict:
    import yaml

    params = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--param takes KEY=VALUE; received {pair!r}")
        params[key.strip()] = yaml.safe_load(value)
    return params


def _cmd_retrain(args: argparse.Namespace) -> int:
    params = _params(args.param)
    if args.epochs is not None:
        params["epochs"] = args.epochs
    with _user_errors():
        project = _project(args)
        k = args.round
        if args.rejections is not None:
            if not project.rounds:
                raise UsageError("--rejections needs a round: run `propagate` and `review` first")
            rejected = project.add_rejections(args.rejections, k)
            print(f"{len(rejected)} rejected label(s) read from {args.rejections}")
        elif project.rounds and not (project.round_folder(k or project.rounds[-1]) / "rejections.json").is_file():
            print("no rejections saved for this round: every propagated label counts as accepted")
        path = project.retrain(k, params=params, seed=args.seed, verbose="auto" if not args.quiet else 0)
    summary = json.loads((path.parent / "summary.json").read_text())["training"]
    print(
        f"{path}: trained on {summary['labels']} labels in {summary['frames']} frames "
        f"({summary['hand_frames']} hand-labelled), {summary['epochs']} epochs, {summary['seconds']:.0f} s.\n"
        f"Next: keras-geo-hpo annotate propagate {args.project}"
    )
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    with _user_errors():
        project = _project(args)
        if args.json:
            print(json.dumps(project.summary(), indent=2))
            return 0
        hand = project.hand
        print(
            f"{args.project}: {project.video_name}, {len(project.frames)} frames, classes "
            f"{', '.join(project.class_names)}; {sum(len(o['classes']) for o in hand.values())} hand labels "
            f"on {len(hand)} frames"
        )
        if project.rounds:
            print(project.summary_table())
        else:
            print("no round yet")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    with _user_errors():
        project = _project(args)
        path = project.export(args.out, args.format, args.round)
    print(f"{path}: the hand and accepted labels as {args.format.upper()}")
    return 0


def add_parser(commands) -> None:
    """Registers ``annotate`` and its steps."""
    command = commands.add_parser(
        "annotate",
        help="label a video with little hand work: propagate hand labels, review, retrain (rounds)",
        description="Report 002's loop: a weak detector trained on a few hand-labelled frames labels the rest, "
        "helped by an OpenCV tracker and the frame difference; a person rejects the wrong labels on a static page; "
        "the detector is retrained on the hand and accepted labels; repeat. Each step prints the next.",
    )
    steps = command.add_subparsers(dest="step", required=True, metavar="STEP")

    def step(name: str, help_text: str, run) -> argparse.ArgumentParser:
        parser = steps.add_parser(name, help=help_text, description=help_text)
        parser.add_argument("project", help="the project folder")
        parser.set_defaults(run=run)
        return parser

    init = step("init", "start a project on a video (a file or a folder of frames) and its hand labels", _cmd_init)
    init.add_argument("--video", required=True, help="a video file OpenCV reads, or a folder of frame images")
    init.add_argument(
        "--labels",
        required=True,
        help="hand labels: COCO JSON, a YOLO folder or .txt files, Pascal VOC XML (file or folder)",
    )
    init.add_argument("--classes", help="the class names in order, comma-separated (default: the label file's)")
    init.add_argument(
        "--keep-empty-frames",
        action="store_true",
        help="frames the label file lists without a box count as hand-labelled empty (default: left out, as CVAT "
        "lists every frame of a task)",
    )

    propagate = step(
        "propagate", "label every frame: detector in a search window, tracker, frame difference", _cmd_propagate
    )
    propagate.add_argument(
        "--detector",
        default="auto",
        help="auto (the newest retrained detector, else none), none, or a .keras detector (default auto)",
    )
    propagate.add_argument(
        "--tracker",
        default="auto",
        help="auto (template), template, mil, csrt, kcf (csrt and kcf need opencv-contrib-python-headless) or none (default auto)",
    )
    propagate.add_argument("--min-score", type=float, default=0.5, help="detections below are ignored (default 0.5)")
    propagate.add_argument("--window", type=float, default=1.5, help="search window side / box side (default 1.5)")
    propagate.add_argument(
        "--new-track-score",
        type=float,
        default=0.8,
        help="a detection far from every track starts one from this score; -1: never (default 0.8)",
    )
    propagate.add_argument("--max-coast", type=int, default=8, help="frames a track goes on undetected (default 8)")
    propagate.add_argument(
        "--no-fuse",
        action="store_true",
        help="take a detection's box as it is (default: the mean of the detection's and the tracker's where they agree)",
    )
    propagate.add_argument("--quiet", action="store_true", help="no progress bar")

    review = step("review", "write the round's review page (static HTML, no server)", _cmd_review)
    review.add_argument("--round", type=int, help="the round (default the newest)")
    review.add_argument("--thumb", type=int, default=256, help="thumbnail side in pixels (default 256)")

    retrain = step("retrain", "train the detector on the hand and accepted labels", _cmd_retrain)
    retrain.add_argument("--rejections", help="the rejections.json saved from the review page")
    retrain.add_argument("--round", type=int, help="the round (default the newest; 0: hand labels only)")
    retrain.add_argument("--epochs", type=int, help="training epochs (default: about 300 batches, 5 to 40 epochs)")
    retrain.add_argument(
        "--param", action="append", default=[], metavar="KEY=VALUE", help="a detector or training setting"
    )
    retrain.add_argument("--seed", type=int, default=0, help="the training's seed (default 0)")
    retrain.add_argument("--quiet", action="store_true", help="no progress bar")

    status = step("status", "the rounds in numbers: hand labels, labels made, rejected, accepted", _cmd_status)
    status.add_argument("--json", action="store_true", help="as JSON")

    export = step("export", "write the hand and accepted labels as COCO JSON, YOLO txt or Pascal VOC", _cmd_export)
    export.add_argument("--format", required=True, choices=("coco", "yolo", "voc"))
    export.add_argument("--out", required=True, help="a .json file (COCO) or a folder (YOLO, VOC)")
    export.add_argument("--round", type=int, help="the round (default the newest)")
