"""Object detection (report 001): boxes, annotation files, COCO evaluation, and a two-stage detector.

Conventions, everywhere in this package:

* An image's objects are a dict ``{"boxes": float32 (k, 4), "classes": int64 (k,)}``:
  boxes as ``[x_min, y_min, x_max, y_max]`` in pixels of the image as the model sees it,
  continuous coordinates (pixel ``i`` covers ``[i, i + 1)``, so a box over pixels 0-9 is
  ``[0, 10]``, COCO's ``[x, y, w, h] = [0, 0, 10, 10]``); classes ``0 .. n_classes - 1``.
  ``k`` may be 0 (an image without objects).
* A split is ``(images, objects)``: float32 images ``(n, height, width, channels)`` in
  [0, 1], all of one size, and a list of ``n`` such dicts.
* Detections add ``"scores"``: float32 ``(k,)`` in [0, 1].
* Area bins are COCO's, in pixels of the image: small up to 32 x 32, medium from 32 x 32
  to 96 x 96, large from 96 x 96. pycocotools' bins are closed intervals, so an object of
  exactly 32 x 32 (or 96 x 96) pixels counts in both bins it borders.
"""
