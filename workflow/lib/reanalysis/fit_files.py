"""Fit files: ArviZ InferenceData as netCDF-4, written and read through one engine.

ArviZ defaults to h5netcdf, which resolves every variable's dimensions through h5py one lookup at a time;
the netCDF4 package (the Unidata C library) opens the same files about twice as fast (19 fits: 3.3 s
against 7.3 s, measured 2026-11-22 on the 2-core machine). Every job after the fits opens several of them
(the summary opens all), so this sits on the path of every rebuild after a prior edit. The files are the
same format either way: a fit written by one engine reads with the other.

``az.from_netcdf`` opens the file once per group (eight for a fit); :func:`read_fit` opens it once as an
xarray tree and hands the groups to ArviZ (19 fits: 2.7 s against 0.7 s; the summary job 8.3 s -> 6.4 s with
identical tables, measured 2026-12-01 on the 2-core machine).

Reading: xarray's netCDF backend wraps every variable in lazy-loading layers and goes through its file cache for
each access (9,500 calls in one prior edit's jobs); a fit job's file is read whole anyway. :func:`read_fit` and
:func:`read_group` read the groups eagerly with the netCDF4 package itself and do the decoding these files need
(xarray's ``_FillValue`` of NaN, booleans stored as int8, ``coordinates``); anything else in a file (another fill
value, scale factors, time units) falls back to xarray. The Datasets are ``identical`` to xarray's (tested on every
kind of fit): 0.026-0.043 -> 0.016-0.024 s for the prior group of a PTSD outcome fit, 0.081-0.096 -> 0.040-0.053 s
for a whole fit loaded (3 alternating reads, 2026-12-03, 2-core machine).

Fits are written without ArviZ's default zlib compression: posterior draws are noise to zlib, which saved 15% of a
PTSD outcome fit's 12.7 MB and cost 0.25 s of every fit job's write (0.37-0.40 s against 0.12-0.13 s) and 0.04 s of
every read (0.08-0.09 s against 0.053 s; 2026-12-02, 2-core machine, three alternating pairs).
"""

from __future__ import annotations

import arviz as az
import numpy as np
import xarray as xr

ENGINE = "netcdf4"


def read_fit(path: str) -> az.InferenceData:
    try:
        return _read(path, None)
    except OSError as err:
        # netCDF4 reports a damaged file as "HDF error" with advice about file locking; name what to do instead
        raise OSError(f"{path}: not a readable fit file (netCDF-4): {err}; re-run the fit that wrote it") from err


def write_fit(idata: az.InferenceData, path: str) -> None:
    idata.to_netcdf(str(path), engine=ENGINE, compress=False)


def read_group(path: str, group: str) -> tuple[str, xr.Dataset]:
    """(prior set, one group of a fit file), without reading the other groups (a figure of prior draws needs only
    the prior group)."""
    try:
        return _read(path, group)
    except (OSError, KeyError) as err:
        raise OSError(f"{path}: not a readable fit file (netCDF-4) with a {group} group: {err}") from err


class _Unsupported(Exception):
    """A variable whose decoding is xarray's business, not :func:`_dataset`'s."""


def _read(path: str, group: str | None):
    """The whole fit (InferenceData) or (prior set, one group), read eagerly; xarray's reader for a file with
    anything :func:`_dataset` does not decode."""
    import netCDF4

    with netCDF4.Dataset(path) as root:
        attrs = {k: root.getncattr(k) for k in root.ncattrs()}
        try:
            if group is not None:
                return attrs["prior_set"], _dataset(root.groups[group])
            return az.InferenceData(attrs=attrs, **{name: _dataset(g) for name, g in root.groups.items()})
        except _Unsupported:
            pass
    if group is not None:
        return attrs["prior_set"], xr.open_dataset(path, group=group, engine=ENGINE).load()
    tree = xr.open_datatree(path, engine=ENGINE)
    return az.InferenceData(attrs=dict(tree.attrs), **{name: g.to_dataset() for name, g in tree.children.items()})


def _dataset(group) -> xr.Dataset:
    """One netCDF group as xarray decodes what ArviZ writes: float variables with a NaN ``_FillValue`` (NaN is
    already NaN), booleans as int8 with ``dtype: bool``, variable-length strings (as ``<U`` arrays), dimension and
    listed coordinates."""
    group.set_auto_maskandscale(False)  # the raw values; the decoding is below
    variables, coords = {}, set()
    for name, var in group.variables.items():
        attrs = {k: var.getncattr(k) for k in var.ncattrs()}
        fill = attrs.pop("_FillValue", None)
        if fill is not None and not (var.dtype.kind == "f" and np.isnan(fill)):
            raise _Unsupported(f"{name}: _FillValue {fill!r}")
        if any(k in attrs for k in ("scale_factor", "add_offset", "units", "calendar", "missing_value")):
            raise _Unsupported(f"{name}: CF encoding attributes")
        values = var[...]
        if attrs.get("dtype") == "bool":
            del attrs["dtype"]
            values = values.astype(bool)
        elif "dtype" in attrs:
            raise _Unsupported(f"{name}: dtype {attrs['dtype']!r}")
        elif var.dtype is str:  # variable-length strings: fixed-width unicode, as xarray gives them
            values = np.asarray(values, dtype=object).astype(str)
        coords.update(attrs.pop("coordinates", "").split())
        if name in group.dimensions:
            coords.add(name)
        variables[name] = xr.Variable(var.dimensions, np.asarray(values), attrs)
    data = {k: v for k, v in variables.items() if k not in coords}
    return xr.Dataset(data, coords={k: v for k, v in variables.items() if k in coords},
                      attrs={k: group.getncattr(k) for k in group.ncattrs()})  # fmt: skip
