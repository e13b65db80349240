# Check stage: the convergence gate. With gate.on_fail: stop a failing fit fails this job (and so the
# build) with a message naming model, prior set and parameter; with flag the row says passed = False.


rule check_convergence:
    input:
        idata=get_idata,
    output:
        diagnostics="results/checks/{model}/{prior}.diagnostics.csv",
    log:
        "logs/checks/{model}/{prior}.log",
    benchmark:
        "results/benchmarks/check_convergence/{model}/{prior}.tsv"
    conda:
        "../../environment.yml"
    params:
        gate=config["gate"],
    script:
        "../scripts/check_convergence.py"


def get_model_fits(wildcards):
    return [f"results/fits/{m}/{p}.nc" for m, p in get_fits() if m == wildcards.model]


def model_kind(model):
    return (
        "published" if model in PUBLISHED_MODELS else PARTICIPANT_MODELS[model]["kind"]
    )


def get_workflow_check_inputs(wildcards):
    inputs = {"fits": get_model_fits(wildcards)}
    if wildcards.model in variant_models():
        inputs["variant"] = get_variant_pairs(wildcards)["variant"]
    return inputs


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


# Prior sensitivity (power-scaling), PSIS-LOO with Pareto k, the variant comparison and prior predictive
# summaries of one model, over its prior sets: one job per model, since each check takes seconds per fit.
rule workflow_checks:
    input:
        unpack(get_workflow_check_inputs),
    output:
        sensitivity="results/checks/{model}/workflow/sensitivity.csv",
        loo="results/checks/{model}/workflow/loo.csv",
        loo_pointwise="results/checks/{model}/workflow/loo_pointwise.csv",
        compare="results/checks/{model}/workflow/loo_compare.csv",
        prior_predictive="results/checks/{model}/workflow/prior_predictive.csv",
        sensitivity_figure="results/figures/{model}/sensitivity.png",
        prior_predictive_figure="results/figures/{model}/prior_predictive.png",
        pareto_figure="results/figures/{model}/pareto_k.png",
    log:
        "logs/checks/{model}/workflow.log",
    conda:
        "../../environment.yml"
    params:
        kind=lambda w: model_kind(w.model),
        scale=get_scale,
        synthetic=is_synthetic,
        variant=lambda w: variant_of(w.model) if w.model in variant_models() else "",
    script:
        "../scripts/workflow_checks.py"
