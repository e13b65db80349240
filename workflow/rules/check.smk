# Check stage: the convergence gate. With gate.on_fail: stop a failing fit fails this job (and so the
# build) with a message naming model, prior set and parameter; with flag the row says passed = False.


rule check_convergence:
    input:
        convergence=get_convergence,
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
    benchmark:
        "results/benchmarks/workflow_checks/{model}.tsv"
    conda:
        "../../environment.yml"
    params:
        kind=lambda w: model_kind(w.model),
        scale=get_scale,
        synthetic=is_synthetic,
        variant=lambda w: variant_of(w.model) if w.model in variant_models() else "",
    script:
        "../scripts/workflow_checks.py"
