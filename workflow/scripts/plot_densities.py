"""Prior and posterior densities of the pooled rho, and rho by alliance phase, per prior set."""

from reanalysis.worker import delegate

delegate(snakemake)  # runs this script in the pipeline's pre-imported worker process, when there is one

from reanalysis.fit_files import read_fit
from reanalysis.plots import densities, save
from reanalysis.scripting import log_to


def main(idata_paths, out, log) -> None:
    idatas = {idata.attrs["prior_set"]: idata for idata in map(read_fit, idata_paths)}
    first = next(iter(idatas.values()))
    groups = [
        v[4:] for v in first.posterior.data_vars if v.startswith("rho_") and v[4:] not in ("pooled", "cell", "row")
    ]
    group = "alliance_phase" if "alliance_phase" in groups else groups[0]
    save(densities(idatas, group, "Track A · published summary statistics (real data)"), out)
    log.info("wrote %s", out)


with log_to(snakemake.log[0]) as log:
    main(list(snakemake.input.idata), snakemake.output.figure, log)
