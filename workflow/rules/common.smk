# Validate the config first (a bad key stops the run before any job), then helpers named for what
# they return. Config reaches jobs only through params:, one slice per rule, so that editing one prior
# set reruns only that prior set's jobs.
import sys

from reanalysis.config import validate_config
from reanalysis.errors import InputError

try:
    config = validate_config(
        config, source=workflow.configfiles[-1] if workflow.configfiles else "config"
    )
except InputError as err:
    sys.exit(f"Error: {err}")

PRIOR_SETS = list(config["priors"])
OTHER_N_SOURCE = {"reported": "implied", "implied": "reported"}


wildcard_constraints:
    prior="|".join(PRIOR_SETS),
    model="published|published_alt_n",
    n_source="reported|implied",


def get_fits():
    """(model, prior set) of every fit: the main model under each prior set, plus the n sensitivity fit."""
    fits = [("published", p) for p in PRIOR_SETS]
    sens = config["published"]["n_sensitivity_prior"]
    if sens:
        fits.append(("published_alt_n", sens))
    return fits


def get_n_source(wildcards):
    main = config["published"]["n_source"]
    return main if wildcards.model == "published" else OTHER_N_SOURCE[main]


def get_observations(wildcards):
    return f"results/data/published/observations.{get_n_source(wildcards)}.csv"


def get_prior(wildcards):
    return config["priors"][wildcards.prior]


def get_evidence_settings(wildcards):
    p = config["published"]
    return {
        "alpha": p["alpha"],
        "correction": p["multiplicity"]["correction"],
        "family_size": p["multiplicity"]["family_size"],
        "family_size_by_study": p["multiplicity"]["family_size_by_study"],
        "omitted_rows": p["omitted_rows"],
        "std_beta_extra_sd": p["std_beta_extra_sd"],
        "widen_for_rounding": p["widen_for_rounding"],
        "shared_sample_error_correlation": p["shared_sample_error_correlation"],
    }


def get_all_idata(wildcards):
    return [f"results/fits/{m}/{p}.nc" for m, p in get_fits()]


def get_all_diagnostics(wildcards):
    return [f"results/checks/{m}/{p}.diagnostics.csv" for m, p in get_fits()]


def get_main_idata(wildcards):
    return [f"results/fits/published/{p}.nc" for p in PRIOR_SETS]


def get_final_outputs():
    return ["results/report.html"]
