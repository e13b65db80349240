# Check stage, one job per fit: the convergence gate, then the fit's tables. With gate.on_fail: stop a failing
# fit fails this job (and so the build) with a message naming model, prior set and parameter; with flag its row
# says passed = False. The tables: posterior summary, threshold probabilities, contrasts and PPC (joined by
# summarise) and the fit's rows of the workflow checks (power-scaling sensitivity, PSIS-LOO, prior predictive;
# joined by workflow_checks). Made per fit, so that a prior edit recomputes the edited prior set's rows only.


rule check_fit:
    input:
        unpack(get_check_fit_inputs),
    output:
        **{
            name: f"results/tables/fits/{{model}}/{{prior}}/{name}.csv"
            for name in FIT_TABLE_NAMES
        },
        diagnostics="results/checks/{model}/{prior}.diagnostics.csv",
    log:
        "logs/checks/{model}/{prior}.log",
    benchmark:
        "results/benchmarks/check_fit/{model}/{prior}.tsv"
    conda:
        "../../environment.yml"
    params:
        gate=config["gate"],
        kind=lambda w: model_kind(w.model),
        scale=get_scale,
        thresholds=config["thresholds"],
        participant_thresholds=config["participant_thresholds"],
        seed=config["seed"],
    script:
        "../scripts/check_fit.py"


# Prior sensitivity, PSIS-LOO and prior predictive summaries of one model over its prior sets (its fits' rows,
# joined), with their figures.
rule workflow_checks:
    input:
        unpack(get_workflow_check_inputs),
    output:
        sensitivity="results/checks/{model}/workflow/sensitivity.csv",
        loo="results/checks/{model}/workflow/loo.csv",
        loo_pointwise="results/checks/{model}/workflow/loo_pointwise.csv",
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
    script:
        "../scripts/workflow_checks.py"


# PSIS-LOO of a model's first-prior-set fit against its variant (variants.smk); a model without a variant gets
# the header only. Its own job: an edit of another prior set leaves both fits, and so this table, alone.
rule compare_variant:
    input:
        unpack(get_compare_inputs),
    output:
        compare="results/checks/{model}/workflow/loo_compare.csv",
    log:
        "logs/checks/{model}/loo_compare.log",
    benchmark:
        "results/benchmarks/compare_variant/{model}.tsv"
    conda:
        "../../environment.yml"
    params:
        kind=lambda w: model_kind(w.model),
        variant=lambda w: variant_of(w.model) if w.model in variant_models() else "",
    script:
        "../scripts/compare_variant.py"
