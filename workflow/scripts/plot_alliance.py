"""Figure of one cohort's alliance trajectory model. Synthetic cohorts are stamped SYNTHETIC."""

import arviz as az

from reanalysis.plots import alliance_trajectory, mark_synthetic, save
from reanalysis.scripting import log_to


def main(idata_path: str, spec: dict, out: str, log) -> None:
    synthetic = spec["file"] == "synthetic"
    title = f"{spec['label']}: alliance over treatment" + (" · SYNTHETIC DATA" if synthetic else "")
    fig = alliance_trajectory(az.from_netcdf(idata_path), title)
    if synthetic:
        mark_synthetic(fig)
    save(fig, out)
    log.info("wrote %s", out)


with log_to(snakemake.log[0]) as log:
    main(snakemake.input.idata, dict(snakemake.params.spec), snakemake.output.figure, log)
