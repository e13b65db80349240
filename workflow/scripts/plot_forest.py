"""Forest plot of rho for every published row under every prior set."""

from reanalysis.worker import delegate

delegate(snakemake)  # runs this script in the pipeline's pre-imported worker process, when there is one

from reanalysis.fit_files import read_fit
from reanalysis.plots import forest, save
from reanalysis.published_table import read_observations
from reanalysis.scripting import log_to


def main(idata_paths, obs_path, out, log) -> None:
    idatas = {idata.attrs["prior_set"]: idata for idata in map(read_fit, idata_paths)}
    obs = read_observations(obs_path)
    save(forest(idatas, obs, "Track A · published summary statistics (real data)"), out)
    log.info("wrote %s", out)


with log_to(snakemake.log[0]) as log:
    main(list(snakemake.input.idata), snakemake.input.observations[0], snakemake.output.figure, log)
