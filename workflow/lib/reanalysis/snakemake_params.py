"""How Snakemake compares a job's params with the last run's, without importing pandas for it.

To decide which jobs' params changed (``--rerun-triggers params``), Snakemake serialises every job's params, and
when pandas is installed it imports pandas first, only to hash DataFrames, Series and Indexes by their content
(``Persistence._serialize_param_pandas``): 0.32-0.39 s of every start on the 2-core machine, dry runs included,
though no param of this workflow is a pandas object. A value can only be a pandas object if pandas is imported
already, so :func:`serialise` hands such values to Snakemake's pandas serialiser and every other value to its
built-in one: the same serialisation for every value, without the import.
"""

from __future__ import annotations

import sys


def serialise(persistence, value):
    """Snakemake's serialisation of one param value (``Persistence._serialize_param``'s result for ``value``)."""
    pandas = sys.modules.get("pandas")
    if pandas is not None and isinstance(value, (pandas.DataFrame, pandas.Series, pandas.Index)):
        return persistence._serialize_param_pandas(value)
    return persistence._serialize_param_builtin(value)


def install() -> bool:
    """Make :func:`serialise` Snakemake's param serialiser; False (nothing changed) when this Snakemake version
    has not the serialisers it calls."""
    from snakemake.persistence import PersistenceBase as Persistence

    if not all(hasattr(Persistence, n) for n in ("_serialize_param", "_serialize_param_pandas",
                                                  "_serialize_param_builtin")):  # fmt: skip
        return False
    Persistence._serialize_param = property(lambda self: lambda value: serialise(self, value))
    return True
