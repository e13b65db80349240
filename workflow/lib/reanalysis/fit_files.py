"""Fit files: ArviZ InferenceData as netCDF-4, written and read through one engine.

ArviZ defaults to h5netcdf, which resolves every variable's dimensions through h5py one lookup at a time;
the netCDF4 package (the Unidata C library) opens the same files about twice as fast (19 fits: 3.3 s
against 7.3 s, measured 2026-11-22 on the 2-core machine). Every job after the fits opens several of them
(the summary opens all), so this sits on the path of every rebuild after a prior edit. The files are the
same format either way: a fit written by one engine reads with the other.

``az.from_netcdf`` opens the file once per group (eight for a fit); :func:`read_fit` opens it once as an
xarray tree and hands the groups to ArviZ (19 fits: 2.7 s against 0.7 s; the summary job 8.3 s -> 6.4 s with
identical tables, measured 2026-12-01 on the 2-core machine).

Fits are written without ArviZ's default zlib compression: posterior draws are noise to zlib, which saved 15% of a
PTSD outcome fit's 12.7 MB and cost 0.25 s of every fit job's write (0.37-0.40 s against 0.12-0.13 s) and 0.04 s of
every read (0.08-0.09 s against 0.053 s; 2026-12-02, 2-core machine, three alternating pairs).
"""

from __future__ import annotations

import arviz as az
import xarray as xr

ENGINE = "netcdf4"


def read_fit(path: str) -> az.InferenceData:
    try:
        tree = xr.open_datatree(path, engine=ENGINE)
        return az.InferenceData(attrs=dict(tree.attrs), **{name: g.to_dataset() for name, g in tree.children.items()})
    except OSError as err:
        # netCDF4 reports a damaged file as "HDF error" with advice about file locking; name what to do instead
        raise OSError(f"{path}: not a readable fit file (netCDF-4): {err}; re-run the fit that wrote it") from err


def write_fit(idata: az.InferenceData, path: str) -> None:
    idata.to_netcdf(str(path), engine=ENGINE, compress=False)


def read_group(path: str, group: str) -> tuple[str, xr.Dataset]:
    """(prior set, one group of a fit file), without opening the other groups (a figure of prior draws needs only
    the prior group)."""
    import netCDF4

    try:
        with netCDF4.Dataset(path) as root:  # the root's attributes only: xarray would open it as a dataset
            prior_set = root.getncattr("prior_set")
        return prior_set, xr.open_dataset(path, group=group, engine=ENGINE).load()
    except OSError as err:
        raise OSError(f"{path}: not a readable fit file (netCDF-4) with a {group} group: {err}") from err
