"""``keras-geo-hpo super-resolve``: a bathymetry super-resolution model over survey grids, tile by tile, in metres."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from keras_geo.cli._common import UsageError, _load_model, _positive

if TYPE_CHECKING:
    from keras_geo.datasets.bathymetry import Grid

# Coordinate units in which a grid's pixel size is metres (the maps' axes are then labelled in km).
_METRES = {"m", "metre", "metres", "meter", "meters"}


def _check_model(path: str, model) -> None:
    """A UsageError unless ``model`` maps one-channel grids to one-channel grids of the same size."""
    try:
        in_shape, out_shape = tuple(model.inputs[0].shape), tuple(model.outputs[0].shape)
        several = len(model.inputs) != 1 or len(model.outputs) != 1
    except (AttributeError, IndexError, TypeError):
        raise UsageError(f"{path} is not a Keras model with an input and an output") from None
    if several or len(in_shape) != 4 or len(out_shape) != 4 or in_shape[-1] != 1 or out_shape[-1] != 1:
        raise UsageError(
            f"{path} maps {in_shape[1:]} to {out_shape[1:]}: super-resolution needs a model from one-channel grids "
            f"to one-channel grids of the same size (edsr or srcnn trained on the bathymetry data set)"
        )


def _tile(model, tile: int | None) -> int | None:
    """The tile ``super_resolve`` will use: ``tile``, else the model's square input size, else its default."""
    from keras_geo.bathymetry import DEFAULT_TILE
    from keras_geo.tiling import _model_input

    if tile is not None:
        return tile
    sizes = {size for size in _model_input(model)[:2] if size is not None}
    if len(sizes) > 1:
        return None  # an oblong input: super_resolve says so
    return sizes.pop() if sizes else DEFAULT_TILE


def _read(paths: list[str], scale: int, **reading) -> list[tuple[Path, Grid, str]]:
    """Every grid read before any is super-resolved: ``(path, Grid, output stem)``; a UsageError for the first bad one."""
    from keras_geo.datasets.bathymetry import read_grid

    grids, stems = [], {}
    for given in paths:
        path = Path(given).expanduser()
        if not path.is_file():
            raise UsageError(f"no such grid file: {given}")
        stem = f"{path.stem}_x{scale}"
        if stem in stems:
            raise UsageError(f"{stems[stem]} and {given} would both be written to {stem}.npy; rename one")
        stems[stem] = given
        try:
            grid = read_grid(path, **reading)
        except (ValueError, ImportError, OSError) as error:
            message = (str(error).splitlines() or [type(error).__name__])[0]
            # read_grid's own errors start with the file; a reader's (np.load, rasterio) may not name it.
            raise UsageError(message if message.startswith(str(path)) else f"cannot read {given}: {message}") from None
        grids.append((path, grid, stem))
    return grids


def _cmd_super_resolve(args: argparse.Namespace) -> int:
    if not Path(args.model).is_file():
        raise UsageError(f"no such model file: {args.model}")
    if args.tile is not None and args.tile < args.scale:
        raise UsageError(f"--tile {args.tile} is smaller than --scale {args.scale}: a tile holds whole coarse cells")
    grids = _read(args.grids, args.scale, nodata=args.nodata, positive=args.positive, variable=args.variable)
    model = _load_model(args.model)
    _check_model(args.model, model)
    tile = _tile(model, args.tile)
    overlap = args.overlap
    if overlap is None:  # a quarter of the tile, in whole coarse cells
        overlap = (tile or 0) // 4 // args.scale * args.scale
    if tile is not None:  # the settings, before any grid is written (super_resolve checks them too)
        source = "--tile" if args.tile is not None else "the model's input size"
        if tile % args.scale:
            raise UsageError(f"the tile ({tile}, {source}) must be a multiple of --scale {args.scale}")
        if not (0 <= overlap < tile and overlap % args.scale == 0):
            raise UsageError(
                f"--overlap {overlap} must be a multiple of --scale {args.scale}, >= 0 and smaller than the tile ({tile})"
            )
    for path, grid, _ in grids:
        if tile is not None and min(grid.depth.shape) * args.scale < tile:
            raise UsageError(
                f"{path}: {grid.depth.shape[0]}x{grid.depth.shape[1]} cells are smaller than one tile at x{args.scale} "
                f"({tile} fine pixels = {tile // args.scale} cells); use a smaller --tile (and a model that takes it)"
            )
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageError(f"cannot create the output folder {out}: {error.strerror or error}") from None

    import numpy as np

    from keras_geo import bathymetry

    for path, grid, stem in grids:
        try:
            fine = bathymetry.super_resolve(
                model, grid.depth, scale=args.scale, tile=tile, overlap=overlap, progress=not args.quiet
            )
        except ValueError as error:
            raise UsageError(f"{path}: {str(error).splitlines()[0]}") from None
        target = out / f"{stem}.npy"
        np.save(target, fine)
        misfit = bathymetry.consistency(fine, grid.depth, args.scale)
        note = f", {int(grid.mask.sum())} no-data cells" if grid.mask.any() else ""
        if args.plot:
            pixel_m = None
            if grid.pixel_size is not None and (grid.units or "").lower() in _METRES:
                pixel_m = grid.pixel_size[1] / args.scale
            bathymetry.plot_super_resolution(
                grid.depth,
                fine,
                scale=args.scale,
                path=out / f"{stem}.png",
                title=f"{path.name}, x{args.scale}",
                pixel_m=pixel_m,
            )
        print(
            f"{path} -> {target} ({grid.depth.shape[0]}x{grid.depth.shape[1]} -> {fine.shape[0]}x{fine.shape[1]}, "
            f"consistency {misfit:.2f} m{note})"
        )
    print(f"{len(grids)} grid{'s' if len(grids) != 1 else ''} super-resolved x{args.scale} into {out}")
    return 0


def add_parser(commands) -> None:
    """Registers ``super-resolve``."""
    command = commands.add_parser(
        "super-resolve",
        help="super-resolve bathymetry grids (.npy, .xyz, GeoTIFF, NetCDF) with a trained model, in metres",
        description="Each grid is read (NaN and the file's nodata value: no data), upsampled bicubically, "
        "normalised tile by tile by its coarse cells' mean and standard deviation, run through the model and "
        "blended back in metres; the output is NaN wherever the input had no data.",
    )
    command.add_argument("model", help="a .keras super-resolution model (e.g. exported from a bathymetry_sr search)")
    command.add_argument(
        "grids", nargs="+", metavar="GRID", help="grid files: .npy, .xyz/.txt/.csv (x y z lines), GeoTIFF, NetCDF"
    )
    command.add_argument(
        "--scale", type=_positive, required=True, help="the factor the model was trained for (the data set's scale)"
    )
    command.add_argument(
        "--out", required=True, help="output folder: <stem>_x<scale>.npy (float32 metres, NaN no data)"
    )
    command.add_argument(
        "--tile",
        type=_positive,
        help="tile size in fine pixels, a multiple of --scale (default: the model's input size, else 64)",
    )
    command.add_argument(
        "--overlap",
        type=int,
        help="overlap of neighbouring tiles in fine pixels, a multiple of --scale "
        "(default: a quarter of the tile, rounded down to a multiple of --scale)",
    )
    command.add_argument(
        "--plot", action="store_true", help="also write <stem>_x<scale>.png: the coarse, bicubic and SR maps"
    )
    command.add_argument(
        "--positive",
        choices=("up", "down"),
        default="up",
        help="up: the values are elevations (negative below sea level, as GEBCO; default); down: depths, positive down",
    )
    command.add_argument("--nodata", type=float, help="a no-data value to mask besides NaN (default: the file's own)")
    command.add_argument(
        "--variable", help="the NetCDF variable to read (default: the only 2-D one, or elevation, z, ...)"
    )
    command.add_argument("--quiet", action="store_true", help="no progress bar")
    command.set_defaults(run=_cmd_super_resolve)
