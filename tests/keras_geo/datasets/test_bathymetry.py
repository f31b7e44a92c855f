"""Synthetic seafloor, its block average, the ``bathymetry`` data set and the survey-grid readers."""

from __future__ import annotations

import numpy as np
import pytest

from keras_geo import datasets
from keras_geo.datasets import bathymetry as bathy

# --- terrain ---------------------------------------------------------------------------------------------------


def test_terrain_is_seeded_in_metres_and_below_sea_level():
    z = bathy.synthesize_terrain(64, region="source", seed=5)
    assert z.shape == (64, 64) and z.dtype == np.float32
    np.testing.assert_array_equal(z, bathy.synthesize_terrain(64, region="source", seed=5))
    assert not np.array_equal(z, bathy.synthesize_terrain(64, region="source", seed=6))
    assert -6000 < z.mean() < -3000 and z.max() < 0
    flat = bathy.synthesize_terrain(
        32, seed=0, roughness_m=0, seamount_density=0, fault_density=0, wall_probability=0, mean_depth_m=-1234.5
    )
    np.testing.assert_allclose(flat, -1234.5)


@pytest.mark.parametrize("beta", [1.6, 2.2, 2.8])
def test_the_fractal_part_has_the_requested_spectral_slope(beta):
    fitted = [bathy.spectral_slope(bathy.fractal_surface(256, beta=beta, seed=s, pixel_m=30.0), 30.0) for s in (0, 1)]
    assert np.mean(fitted) == pytest.approx(beta, abs=0.1)
    surface = bathy.fractal_surface(256, beta=beta, rms_m=20.0, seed=3)
    assert abs(surface.mean()) < 1e-9 and 5.0 < surface.std() < 60.0


def test_source_and_target_differ_in_slope_and_roughness():
    stats = {
        region: [bathy.terrain_statistics(bathy.synthesize_terrain(64, region=region, seed=s)) for s in range(40)]
        for region in ("source", "target")
    }

    def mean(region, key):
        return np.mean([d[key] for d in stats[region]])

    # The documented shift: the target is rougher at the pixel scale and steeper (seamount flanks).
    assert mean("target", "roughness_m") > 1.5 * mean("source", "roughness_m")  # 1.7 vs 0.9 m over 300 tiles
    assert mean("target", "slope_mean_deg") > mean("source", "slope_mean_deg") + 1.5  # 9.4 vs 6.9 over 300
    assert mean("target", "slope_p90_deg") > mean("source", "slope_p90_deg") + 4.0
    assert mean("source", "mean_m") < mean("target", "mean_m") - 1000


def test_terrain_settings_are_checked_naming_them():
    with pytest.raises(ValueError, match=r"`region` must be one of source, target. Received: region='abyss'"):
        bathy.synthesize_terrain(16, region="abyss")
    with pytest.raises(ValueError, match=r"Received: seamount_radius_m=0"):
        bathy.synthesize_terrain(16, seamount_radius_m=0)
    with pytest.raises(ValueError, match=r"Received: wall_probability=1.5"):
        bathy.synthesize_terrain(16, wall_probability=1.5)


# --- block average -----------------------------------------------------------------------------------------------


def test_block_average_is_exact_on_a_known_grid():
    grid = np.arange(16, dtype=np.float32).reshape(4, 4)
    np.testing.assert_array_equal(bathy.block_average(grid, 2), [[2.5, 4.5], [10.5, 12.5]])
    np.testing.assert_array_equal(bathy.block_average(grid, 4), [[7.5]])
    stack = np.stack([grid, 2 * grid])
    assert bathy.block_average(stack, 2).shape == (2, 2, 2)


@pytest.mark.parametrize("factor, tolerance", [(4, 0.05), (8, 0.15)])
def test_block_averaging_the_bicubic_upsampling_gives_back_the_low_resolution_grid(factor, tolerance):
    # Bicubic is not mean-preserving: on seamount terrain the RMS misfit is about 4 % (x4)
    # and 11 % (x8) of the low-resolution grid's standard deviation; exact on a plane.
    z = bathy.synthesize_terrain(128, region="target", seed=1)
    lr = bathy.block_average(z, factor)
    again = bathy.block_average(bathy.upsample(lr, factor), factor)
    assert np.sqrt(np.mean((again - lr) ** 2)) < tolerance * lr.std()
    plane = np.add.outer(np.arange(16.0), 2 * np.arange(16.0)).astype(np.float32)
    interior = bathy.block_average(bathy.upsample(plane, factor), factor) - plane
    np.testing.assert_allclose(interior[2:-2, 2:-2], 0, atol=1e-3)


def test_block_average_refuses_bad_factors_in_one_line():
    with pytest.raises(ValueError, match=r"`factor` must divide the grid's size. Received: factor=3 for a 8 x 8 grid"):
        bathy.block_average(np.zeros((8, 8)), 3)
    with pytest.raises(ValueError, match=r"`factor` must not exceed the tile's size. Received: factor=8 for a 4 x 4"):
        bathy.block_average(np.zeros((4, 4)), 8)


# --- the data set ------------------------------------------------------------------------------------------------

SMALL = dict(n_train=6, n_val=3, n_test=4, tile=32, seed=2)


@pytest.fixture(scope="module")
def data() -> datasets.Dataset:
    return datasets.load("bathymetry", **SMALL)


def test_the_data_set_gives_same_size_normalised_pairs(data):
    assert data.task == "image_to_image" and data.sizes() == {"train": 6, "val": 3, "test": 4}
    for x, y in data.values():
        assert x.shape == y.shape and x.shape[1:] == (32, 32, 1)
        assert x.dtype == np.float32 and y.dtype == np.float32
        # Normalised by the low-resolution tile: the block average of the target has mean 0 and std 1.
        lr = bathy.block_average(y[..., 0], 4)
        np.testing.assert_allclose(lr.mean(axis=(1, 2)), 0, atol=1e-4)
        np.testing.assert_allclose(lr.std(axis=(1, 2)), 1, atol=1e-3)
    assert data.info["regions"] == {"train": "source", "val": "source", "test": "target"}
    again = datasets.load("bathymetry", **SMALL)
    np.testing.assert_array_equal(again["test"][0], data["test"][0])


def test_splits_share_no_tile(data):
    tiles = [t.tobytes() for split in ("train", "val", "test") for t in data[split][1]]
    assert len(set(tiles)) == len(tiles)
    same = datasets.load("bathymetry", **{**SMALL, "test_region": "source"})
    assert not any(np.array_equal(a, b) for a in same["test"][1] for b in same["train"][1])


def test_to_metres_recovers_the_tiles_in_metres(data):
    for i, split in enumerate(("train", "val", "test")):
        hr = np.stack(
            [
                bathy.synthesize_terrain(32, region=data.info["regions"][split], seed=_seed(2, i, k))
                for k in range(data.sizes()[split])
            ]
        )
        metres = bathy.to_metres(data[split][1], data.info, split)[..., 0]
        np.testing.assert_allclose(metres, hr, rtol=1e-4)
        bicubic = bathy.upsample(bathy.block_average(hr, 4), 4)
        np.testing.assert_allclose(bathy.to_metres(data[split][0], data, split)[..., 0], bicubic, rtol=1e-4)
    one = bathy.to_metres(data["test"][1][0, ..., 0], {"mean_m": 1.0, "std_m": 2.0})
    np.testing.assert_allclose(one, data["test"][1][0, ..., 0] * 2.0 + 1.0)


def _seed(*keys):
    from keras_geo.datasets.sem._checks import derive_seed

    return derive_seed(*keys)


def test_the_data_set_refuses_a_tile_smaller_than_the_scale_in_one_line():
    with pytest.raises(ValueError, match=r"`tile` must be at least `scale` \(8\). Received: tile=4"):
        datasets.load("bathymetry", n_train=1, n_val=1, n_test=1, tile=4, scale=8)
    with pytest.raises(ValueError, match=r"`tile` must be a multiple of `scale` \(8\). Received: tile=36"):
        datasets.load("bathymetry", n_train=1, n_val=1, n_test=1, tile=36, scale=8)


# --- readers -----------------------------------------------------------------------------------------------------


@pytest.fixture()
def survey() -> tuple[np.ndarray, np.ndarray]:
    """A small grid (north up) with three no-data cells, and its mask."""
    z = bathy.synthesize_terrain(8, seed=0)[:6, :]
    mask = np.zeros(z.shape, bool)
    mask[0, 0] = mask[2, 5] = mask[5, 7] = True
    return z, mask


def _check(grid: bathy.Grid, z: np.ndarray, mask: np.ndarray) -> None:
    np.testing.assert_array_equal(grid.mask, mask)
    np.testing.assert_allclose(grid.depth[~mask], z[~mask], rtol=1e-6)
    assert np.isnan(grid.depth[mask]).all() and grid.depth.dtype == np.float32


def test_read_npy(tmp_path, survey):
    z, mask = survey
    np.save(tmp_path / "g.npy", np.where(mask, np.nan, z))
    grid = bathy.read_grid(tmp_path / "g.npy")
    _check(grid, z, mask)
    assert grid.pixel_size is None
    np.save(tmp_path / "s.npy", np.where(mask, -9999.0, z))
    _check(bathy.read_grid(tmp_path / "s.npy", nodata=-9999), z, mask)
    np.save(tmp_path / "d.npy", -z)
    np.testing.assert_allclose(bathy.read_grid(tmp_path / "d.npy", positive="down").depth, z)


def test_read_xyz_in_any_order_with_missing_nodes(tmp_path, survey):
    z, mask = survey
    rows, cols = z.shape
    x, y = np.meshgrid(1000.0 + 50.0 * np.arange(cols), 2000.0 + 50.0 * np.arange(rows)[::-1])
    keep = ~mask.ravel()
    points = np.column_stack([x.ravel(), y.ravel(), z.ravel()])[keep]
    points = points[np.random.default_rng(0).permutation(len(points))]
    np.savetxt(tmp_path / "g.xyz", points, fmt="%.4f")
    grid = bathy.read_grid(tmp_path / "g.xyz")
    _check(grid, np.round(z, 4), mask)
    assert grid.pixel_size == pytest.approx((50.0, 50.0))


def test_read_geotiff(tmp_path, survey):
    rasterio = pytest.importorskip("rasterio")
    z, mask = survey
    with rasterio.open(
        tmp_path / "g.tif",
        "w",
        driver="GTiff",
        height=z.shape[0],
        width=z.shape[1],
        count=1,
        dtype="float32",
        crs="EPSG:32654",
        transform=rasterio.transform.Affine(25.0, 0.0, 500000.0, 0.0, -25.0, 3900000.0),
        nodata=-32767.0,
    ) as dst:
        dst.write(np.where(mask, -32767.0, z).astype(np.float32), 1)
    grid = bathy.read_grid(tmp_path / "g.tif")
    _check(grid, z, mask)
    assert grid.pixel_size == (25.0, 25.0) and grid.units == "metre"


def test_read_netcdf_south_up_with_a_fill_value(tmp_path, survey):
    xarray = pytest.importorskip("xarray")
    pytest.importorskip("h5netcdf")
    z, mask = survey
    rows, cols = z.shape
    lat = 34.0 + 0.01 * np.arange(rows)  # ascending: row 0 of the file is the south edge
    lon = 139.0 + 0.01 * np.arange(cols)
    da = xarray.DataArray(np.where(mask, np.nan, z)[::-1], coords={"lat": lat, "lon": lon}, dims=("lat", "lon"))
    da["lon"].attrs["units"] = "degrees_east"
    ds = xarray.Dataset({"elevation": da, "other": da * 0})
    ds.to_netcdf(tmp_path / "g.nc", engine="h5netcdf", encoding={"elevation": {"_FillValue": -9999.0}})
    grid = bathy.read_grid(tmp_path / "g.nc")
    _check(grid, z, mask)
    assert grid.pixel_size == pytest.approx((0.01, 0.01)) and grid.units == "degrees_east"
    ds.to_netcdf(tmp_path / "g3.nc", engine="scipy")  # netCDF-3 classic
    _check(bathy.read_grid(tmp_path / "g3.nc", variable="elevation"), z, mask)


def test_bad_grids_give_one_line_errors_naming_the_file(tmp_path):
    bad = tmp_path / "irregular.xyz"
    bad.write_text("0 0 -1\n1 0 -1\n2.5 0 -1\n0 1 -1\n1 1 -1\n2.5 1 -1\n")
    with pytest.raises(ValueError, match=r"irregular.xyz: not a regular grid") as error:
        bathy.read_grid(bad)
    assert "\n" not in str(error.value)
    np.save(tmp_path / "empty.npy", np.full((3, 3), np.nan))
    with pytest.raises(ValueError, match=r"empty.npy: every cell is no data") as error:
        bathy.read_grid(tmp_path / "empty.npy")
    assert "\n" not in str(error.value)
    (tmp_path / "g.png").write_bytes(b"")
    with pytest.raises(ValueError, match=r"g.png: unknown grid format"):
        bathy.read_grid(tmp_path / "g.png")
    with pytest.raises(FileNotFoundError, match="nope.npy"):
        bathy.read_grid(tmp_path / "nope.npy")
