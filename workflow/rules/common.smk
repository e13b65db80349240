# Validate the config first (a bad key stops the run before any job), then helpers named for what
# they return. Config reaches jobs only through params:, one slice per rule, so that editing one prior
# set reruns only that prior set's jobs.
import re
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
COHORTS = config["cohorts"]


def participant_models():
    """Track B model id -> cohort, kind (outcome | alliance) and outcome measure."""
    models = {}
    for cohort, spec in COHORTS.items():
        for outcome in spec["outcomes"]:
            models[f"{cohort}_outcome_{outcome}"] = {
                "cohort": cohort,
                "kind": "outcome",
                "outcome": outcome,
            }
        models[f"{cohort}_alliance"] = {
            "cohort": cohort,
            "kind": "alliance",
            "outcome": None,
        }
    return models


PARTICIPANT_MODELS = participant_models()
PUBLISHED_MODELS = ["published", "published_alt_n"]


def fit_gate():
    """The gate thresholds a fit job samples against (a failing first attempt is retried with sampler.retry);
    on_fail only matters to the gate job, so editing it reruns no fit.
    """
    return {k: v for k, v in config["gate"].items() if k != "on_fail"}


def predictive_for(wildcards):
    """Posterior predictive draws only where the report checks them: the first prior set's fits (a fit of 8000
    draws spends about 3 s on them, and the other prior sets' draws were never read)."""
    return wildcards.prior == PRIOR_SETS[0]


def one_of(names):
    """Regex alternation of names; matches nothing for an empty list (an empty pattern would match anything)."""
    return "|".join(re.escape(n) for n in names) if names else "(?!)"


wildcard_constraints:
    prior=one_of(PRIOR_SETS),
    model=one_of(PUBLISHED_MODELS + list(PARTICIPANT_MODELS)),
    cohort=one_of(COHORTS) if COHORTS else "no-cohort",
    n_source="reported|implied",


def get_fits():
    """(model, prior set) of every fit: Track A under each prior set plus the n sensitivity fit; Track B
    outcome models under each prior set; the alliance model once (its priors do not involve the prior set).
    """
    fits = [("published", p) for p in PRIOR_SETS]
    sens = config["published"]["n_sensitivity_prior"]
    if sens:
        fits.append(("published_alt_n", sens))
    for model, info in PARTICIPANT_MODELS.items():
        priors = PRIOR_SETS if info["kind"] == "outcome" else PRIOR_SETS[:1]
        fits += [(model, p) for p in priors]
    return fits


def get_cohort_spec(wildcards):
    return COHORTS[wildcards.cohort]


def get_cohort_input(wildcards):
    """The user's participant file, or nothing when the cohort is synthetic (simulated in the job)."""
    path = COHORTS[wildcards.cohort]["file"]
    return [] if path == "synthetic" else [path]


def get_model_info(wildcards):
    return PARTICIPANT_MODELS[wildcards.model]


def get_model_cohort_spec(wildcards):
    return COHORTS[PARTICIPANT_MODELS[wildcards.model]["cohort"]]


def get_participant_clean(wildcards):
    return f"results/data/{PARTICIPANT_MODELS[wildcards.model]['cohort']}/clean.csv"


def get_participant_prior(wildcards):
    """The prior set of an outcome model; none for the alliance model, so prior edits never refit it."""
    if PARTICIPANT_MODELS[wildcards.model]["kind"] == "alliance":
        return {}
    return config["priors"][wildcards.prior]


def get_participant_idata(wildcards):
    return [
        f"results/fits/{m}/{p}.nc" for m, p in get_fits() if m in PARTICIPANT_MODELS
    ]


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


def get_all_diagnostics(wildcards):
    """The gate rows of every fit, the LOO variants' included: with gate.on_fail: flag, a variant that fails is
    marked in the report's diagnostics table and gate banner like any fit."""
    fits = [f"results/checks/{m}/{p}.diagnostics.csv" for m, p in get_fits()]
    return fits + [variant_gate(m) for m in variant_models()]


def outcome_models():
    return [m for m, info in PARTICIPANT_MODELS.items() if info["kind"] == "outcome"]


def get_model_idata_all_priors(wildcards):
    return [f"results/fits/{wildcards.model}/{p}.nc" for p in PRIOR_SETS]


def get_alliance_idata(wildcards):
    return f"results/fits/{wildcards.cohort}_alliance/{PRIOR_SETS[0]}.nc"


def get_participant_figures(wildcards):
    figures = [
        f"results/figures/{m}/{kind}.png"
        for m in outcome_models()
        for kind in ("slopes", "ppc")
    ]
    return figures + [
        f"results/figures/{c}_alliance/{kind}.png"
        for c in COHORTS
        for kind in ("trajectory", "ppc")
    ]


def get_participant_ppc_tables(wildcards):
    models = outcome_models() + [f"{c}_alliance" for c in COHORTS]
    return [f"results/tables/ppc/{m}.csv" for m in models]


def get_participant_raw(wildcards):
    return [c["file"] for c in COHORTS.values() if c["file"] != "synthetic"]


def get_convergence(wildcards):
    return f"results/fits/{wildcards.model}/{wildcards.prior}.convergence.json"


def get_main_idata(wildcards):
    return [f"results/fits/published/{p}.nc" for p in PRIOR_SETS]


# ---- helpers of variants.smk (Snakemake lint wants functions apart from rules) ----


PHASE_POOLED = "phase_pooled"


OTHER_RESIDUAL = {"normal": "student_t", "student_t": "normal"}


VARIANT_PRIOR = PRIOR_SETS[0]


def variant_of(model):
    if model == "published":
        return PHASE_POOLED
    return OTHER_RESIDUAL[config["participant_residual"]]


def variant_models():
    with_phase = "alliance_phase" in config["published"]["grouping"]
    return (["published"] if with_phase else []) + outcome_models()


def variant_gate(model):
    """The gate row of ``model``'s LOO variant (rule check_variant)."""
    return f"results/checks/variants/{model}/{VARIANT_PRIOR}.{variant_of(model)}.diagnostics.csv"


def get_variant_pairs(wildcards):
    return {
        "main": f"results/fits/{wildcards.model}/{VARIANT_PRIOR}.nc",
        "variant": f"results/variants/{wildcards.model}/{VARIANT_PRIOR}.{variant_of(wildcards.model)}.nc",
    }


# ---- helpers of sbc.smk (Snakemake lint wants functions apart from rules) ----


def sbc_priors():
    """Every fitted model -> the first prior set it is fitted with (the n-sensitivity fit: its own prior set)."""
    priors = {}
    for model, prior in get_fits():
        priors.setdefault(model, prior)
    return priors


SBC_PRIOR = sbc_priors()
SBC_MODELS = list(SBC_PRIOR)


def get_sbc_prior(wildcards):
    return config["priors"][SBC_PRIOR[wildcards.model]]


def sbc_replicates():
    return config["sbc_settings"]["replicates"][config["sbc"]]


def get_sbc_chunks(wildcards):
    n_chunks = -(-sbc_replicates() // config["sbc_settings"]["chunk_size"])
    return [f"results/sbc/{wildcards.model}/chunk{c}.csv" for c in range(n_chunks)]


def get_sbc_data(wildcards):
    if wildcards.model in PUBLISHED_MODELS:
        return get_observations(wildcards)
    return get_participant_clean(wildcards)


def get_sbc_info(wildcards):
    if wildcards.model in PUBLISHED_MODELS:
        return {"kind": "published", "cohort": None, "outcome": None}
    return PARTICIPANT_MODELS[wildcards.model]


def get_sbc_spec(wildcards):
    if wildcards.model in PUBLISHED_MODELS:
        return {}
    return get_model_cohort_spec(wildcards)


def get_sbc_published(wildcards):
    if wildcards.model in PUBLISHED_MODELS:
        return {k: config["published"][k] for k in ("grouping", "likelihood")}
    return {}


# ---- helpers of check.smk (Snakemake lint wants functions apart from rules) ----


def get_model_fits(wildcards):
    return [f"results/fits/{m}/{p}.nc" for m, p in get_fits() if m == wildcards.model]


def model_kind(model):
    return (
        "published" if model in PUBLISHED_MODELS else PARTICIPANT_MODELS[model]["kind"]
    )


# the tables a check_fit job writes: the first four joined by summarise, the rest by workflow_checks
FIT_TABLE_NAMES = [
    "posterior_summary",
    "threshold_probabilities",
    "contrasts",
    "ppc",
    "sensitivity",
    "loo",
    "loo_pointwise",
    "prior_predictive",
]
SUMMARY_TABLES = FIT_TABLE_NAMES[:4]
CHECK_TABLES = FIT_TABLE_NAMES[4:]


def fit_table(model, prior, name):
    return f"results/tables/fits/{model}/{prior}/{name}.csv"


def get_check_fit_inputs(wildcards):
    inputs = {
        "convergence": get_convergence(wildcards),
        "idata": f"results/fits/{wildcards.model}/{wildcards.prior}.nc",
    }
    # Track A: row labels of the main model's table; the PPC against the fit's own rows
    if wildcards.model in PUBLISHED_MODELS:
        inputs["labels"] = (
            f"results/data/published/observations.{config['published']['n_source']}.csv"
        )
        inputs["observations"] = get_observations(wildcards)
    return inputs


def get_all_fit_tables(wildcards):
    return {
        name: [fit_table(m, p, name) for m, p in get_fits()] for name in SUMMARY_TABLES
    }


def get_workflow_check_inputs(wildcards):
    fits = [(m, p) for m, p in get_fits() if m == wildcards.model]
    inputs = {name: [fit_table(m, p, name) for m, p in fits] for name in CHECK_TABLES}
    return inputs | {"fits": get_model_fits(wildcards)}


def get_compare_inputs(wildcards):
    """The main fit and its variant, and the variant's gate row: check_variant judges the variant's draws (with
    gate.on_fail: stop a failing variant stops the build, as any fit does) before LOO compares them.
    """
    if wildcards.model not in variant_models():
        return {}
    return get_variant_pairs(wildcards) | {
        "variant_gate": variant_gate(wildcards.model)
    }


def get_scale(wildcards):
    """The instrument a model's prior predictive summary is judged against (none for Track A)."""
    info = PARTICIPANT_MODELS.get(wildcards.model)
    if info is None:
        return {}
    spec = COHORTS[info["cohort"]]
    return (
        spec["outcomes"][info["outcome"]]
        if info["kind"] == "outcome"
        else spec["alliance"]
    )


def is_synthetic(wildcards):
    info = PARTICIPANT_MODELS.get(wildcards.model)
    return info is not None and COHORTS[info["cohort"]]["file"] == "synthetic"


# ---- inputs of the report's Bayesian-workflow section ----


def workflow_check_models():
    return list(dict.fromkeys(m for m, _ in get_fits()))


def get_workflow_tables(wildcards):
    parts = ["sensitivity", "loo", "loo_pointwise", "loo_compare", "prior_predictive"]
    return [
        f"results/checks/{m}/workflow/{part}.csv"
        for m in workflow_check_models()
        for part in parts
    ]


def get_workflow_figures(wildcards):
    figures = [
        f"results/figures/{m}/{kind}.png"
        for m in workflow_check_models()
        for kind in ("sensitivity", "prior_predictive", "pareto_k")
    ]
    return figures + [f"results/figures/{m}/sbc.png" for m in SBC_MODELS]


def get_sbc_tables(wildcards):
    return [f"results/tables/sbc/{m}.csv" for m in SBC_MODELS]
