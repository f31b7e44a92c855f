"""Automatic annotation of video for detector training (report 002's second half).

A person labels 20-30 frames by hand; a weak detector trained on them labels the rest,
helped by a tracker and by the frame difference where it finds nothing; the person
rejects the obviously wrong labels on a static review page; the detector is retrained on
the hand and accepted labels, and the loop runs again.

The modules, in the loop's order:

* :mod:`.video`: a video file or a folder of frames, read frame by frame; writers.
* :mod:`.labels`: hand labels from COCO JSON, YOLO txt or Pascal VOC XML, and exports to them.
* :mod:`.propagate`: the propagation loop (detector, tracker, frame difference).
* :mod:`.store`: a round's labels on disk, written frame by frame, resumable.
* :mod:`.review`: the static review page and the rejections file it saves.
* :mod:`.project`: a project folder in rounds (propagate, review, retrain, export), what
  ``keras-geo-hpo annotate`` drives.
* :mod:`.quality`: recall and precision of labels where the truth is known.

Conventions (shared by every module here):

* A video is a file OpenCV can decode or a folder of frame images (:mod:`.video`).
  Frames are numbered ``0 .. n - 1`` and are RGB ``uint8`` ``(height, width, 3)``
  arrays; each frame has a *name*: its file name in a folder, ``frame_000123.png``
  (six digits, CVAT's style) for frame 123 of a video file. Label files refer to frames
  by these names.
* Boxes are ``[x_min, y_min, x_max, y_max]`` in pixels of the frame, as in
  :mod:`keras_geo.detection`.
* One label is a dict ``{"id", "box", "class", "score", "source", "track"}``: ``id`` is
  ``"<frame>:<track>"`` (unique in a round), ``source`` one of :data:`SOURCES`,
  ``score`` the confidence in [0, 1] (1 for hand labels), ``track`` an integer.
* A round's labels are one JSON line per frame, ``{"frame": i, "name": ..., "labels": [...]}``
  (:mod:`.store`), written as each frame is done, so an interrupted run resumes.
"""

SOURCES = ("hand", "detector", "tracker", "frame_difference")
"""Where a label came from, in order of trust."""
