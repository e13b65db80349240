"""Fit files: written and read through netCDF4, and compatible with files other engines wrote."""

import arviz as az
import numpy as np
import pytest
import xarray as xr

from reanalysis.fit_files import ENGINE, read_fit, read_group, write_fit


def _idata():
    rng = np.random.default_rng(3)
    idata = az.from_dict(
        posterior={"mu": rng.normal(size=(2, 50)), "rho_row": rng.uniform(-1, 1, size=(2, 50, 3))},
        log_likelihood={"obs": rng.normal(size=(2, 50, 3))},
        dims={"rho_row": ["row"], "obs": ["row"]},
        coords={"row": ["Z01", "L01", "L02"]},
    )
    idata.attrs["prior_set"] = "reference"
    return idata


def test_round_trip_keeps_values_coords_and_attrs(tmp_path):
    idata = _idata()
    write_fit(idata, tmp_path / "fit.nc")
    back = read_fit(str(tmp_path / "fit.nc"))
    assert ENGINE == "netcdf4"
    assert back.attrs["prior_set"] == "reference"
    assert list(back.posterior["rho_row"].coords["row"].values) == ["Z01", "L01", "L02"]
    np.testing.assert_array_equal(back.posterior["rho_row"].values, idata.posterior["rho_row"].values)
    np.testing.assert_array_equal(back.log_likelihood["obs"].values, idata.log_likelihood["obs"].values)


def test_draws_are_written_uncompressed(tmp_path):
    """zlib saved 15% of a fit's size and cost a quarter of a second of every fit job (fit_files docstring)."""
    import netCDF4

    write_fit(_idata(), tmp_path / "fit.nc")
    with netCDF4.Dataset(tmp_path / "fit.nc") as root:
        filters = [root[g][v].filters() for g in ("posterior", "log_likelihood") for v in root[g].variables]
    assert filters and not any(f and f.get("zlib") for f in filters), filters


def test_a_truncated_fit_names_its_file_and_the_remedy(tmp_path):
    write_fit(_idata(), tmp_path / "fit.nc")
    damaged = tmp_path / "damaged.nc"
    damaged.write_bytes((tmp_path / "fit.nc").read_bytes()[:2000])
    with pytest.raises(OSError, match=r"damaged\.nc: not a readable fit file \(netCDF-4\).*re-run the fit"):
        read_fit(str(damaged))


def test_reads_a_fit_written_by_arviz_default_engine_and_vice_versa(tmp_path):
    idata = _idata()
    idata.to_netcdf(str(tmp_path / "h5.nc"), engine="h5netcdf")  # fits made before the engine changed
    np.testing.assert_array_equal(
        read_fit(str(tmp_path / "h5.nc")).posterior["mu"].values, idata.posterior["mu"].values
    )
    write_fit(idata, tmp_path / "nc4.nc")  # and readers that use ArviZ's default (tests, notebooks)
    again = az.from_netcdf(str(tmp_path / "nc4.nc"))
    np.testing.assert_array_equal(again.posterior["mu"].values, idata.posterior["mu"].values)


def test_reads_what_arviz_reads(tmp_path):
    """read_fit opens the file once as a tree of groups; the groups, values, coords and attrs are ArviZ's."""
    idata = _idata()
    idata.add_groups({"sample_stats": {"diverging": np.zeros((2, 50), bool)}})
    write_fit(idata, tmp_path / "fit.nc")
    ours, theirs = read_fit(str(tmp_path / "fit.nc")), az.from_netcdf(str(tmp_path / "fit.nc"))
    assert ours.groups() == theirs.groups() == ["posterior", "log_likelihood", "sample_stats"]
    assert dict(ours.attrs) == dict(theirs.attrs)
    for group in theirs.groups():
        assert ours[group].identical(theirs[group]), group


def test_read_group_gives_the_prior_set_and_one_group(tmp_path):
    idata = _idata()
    write_fit(idata, tmp_path / "fit.nc")
    prior_set, group = read_group(str(tmp_path / "fit.nc"), "log_likelihood")
    assert prior_set == "reference" and list(group.data_vars) == ["obs"]
    np.testing.assert_array_equal(group["obs"].values, idata.log_likelihood["obs"].values)
    with pytest.raises(OSError, match=r"fit\.nc: not a readable fit file \(netCDF-4\) with a prior group"):
        read_group(str(tmp_path / "fit.nc"), "prior")


def _xarrays(path):
    """The fit as xarray's netCDF backend reads it (what read_fit did before it read the groups itself)."""
    import xarray as xr

    with xr.open_datatree(path, engine=ENGINE, cache=False) as tree:
        return dict(tree.attrs), {name: g.to_dataset().load() for name, g in tree.children.items()}


def assert_read_as_xarray_reads(path):
    attrs, groups = _xarrays(path)
    ours = read_fit(str(path))
    assert dict(ours.attrs) == attrs and ours.groups() == list(groups)
    for name, theirs in groups.items():
        mine = ours[name]
        assert mine.identical(theirs), name  # values, dims, coords, attrs
        assert list(mine.variables) == list(theirs.variables), name  # and their order
        assert all(mine[v].dtype == theirs[v].dtype for v in theirs.variables), name
        if name == "prior":
            assert read_group(str(path), "prior")[1].identical(theirs)


def test_reads_strings_booleans_and_coordinates_as_xarray_does(tmp_path, monkeypatch):
    idata = _idata()
    sd, rows = ("chain", "draw"), {"row": ["Z01", "L01", "L02"]}
    stats = {"diverging": (sd, np.zeros((2, 50), bool)), "depth": (sd, np.ones((2, 50), np.uint64))}
    idata.add_groups({
        "sample_stats": xr.Dataset(stats, coords={"chain": [0, 1], "draw": np.arange(50)}),
        "constant_data": xr.Dataset({"label": ("row", np.array(["a", "bcd", "ef"]))}, coords=rows),
        "prior": xr.Dataset({"mu": (sd, np.zeros((1, 20)))}, coords={"chain": [0], "draw": np.arange(20)}),
    })  # fmt: skip
    write_fit(idata, tmp_path / "fit.nc")
    assert_read_as_xarray_reads(tmp_path / "fit.nc")
    import reanalysis.fit_files as fit_files

    monkeypatch.setattr(fit_files.xr, "open_datatree", lambda *a, **k: pytest.fail("read by xarray"))
    monkeypatch.setattr(fit_files.xr, "open_dataset", lambda *a, **k: pytest.fail("read by xarray"))
    read_fit(str(tmp_path / "fit.nc")), read_group(str(tmp_path / "fit.nc"), "prior")


def test_an_encoding_it_does_not_decode_goes_to_xarray(tmp_path):
    """A variable with a fill value other than NaN (xarray masks it): the file is read by xarray, the same way."""
    import netCDF4

    write_fit(_idata(), tmp_path / "fit.nc")
    with netCDF4.Dataset(tmp_path / "fit.nc", "a") as root:
        var = root["posterior"].createVariable("count", "i4", ("chain",), fill_value=-1)
        var[:] = [3, -1]
    assert_read_as_xarray_reads(tmp_path / "fit.nc")
    assert np.isnan(read_fit(str(tmp_path / "fit.nc")).posterior["count"].values[1])
