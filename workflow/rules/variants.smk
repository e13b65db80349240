# Model variants for LOO comparison, fitted under the first prior set with the same scripts as the main fits:
# Track A without the alliance-phase term (one rho for every phase: does the timing of the alliance rating
# matter?), each Track B outcome model with the other residual distribution (normal <-> student_t). The main
# fit of each pair is results/fits/{model}/{prior}.nc. (The exact likelihood is not a default variant: a fit
# took over 10 minutes on 2 cores against 20 s for Fisher-z.)


rule fit_variant_published:
    input:
        observations=f"results/data/published/observations.{config['published']['n_source']}.csv",
    output:
        idata="results/variants/{model}/{prior}.{variant}.nc",
        convergence="results/variants/{model}/{prior}.{variant}.convergence.json",
    log:
        "logs/variants/{model}/{prior}.{variant}.log",
    benchmark:
        "results/benchmarks/fit_variant_published/{model}/{prior}.{variant}.tsv"
    wildcard_constraints:
        model="published",
        prior=VARIANT_PRIOR,
        variant=PHASE_POOLED,
    conda:
        "../../environment.yml"
    threads: 2
    params:
        prior=get_prior,
        grouping=[g for g in config["published"]["grouping"] if g != "alliance_phase"],
        likelihood=config["published"]["likelihood"],
        sampler=config["sampler"],
        gate=fit_gate(),
        seed=config["seed"],
    script:
        "../scripts/fit.py"


rule fit_variant_participant:
    input:
        clean=get_participant_clean,
    output:
        idata="results/variants/{model}/{prior}.{variant}.nc",
        convergence="results/variants/{model}/{prior}.{variant}.convergence.json",
    log:
        "logs/variants/{model}/{prior}.{variant}.log",
    benchmark:
        "results/benchmarks/fit_variant_participant/{model}/{prior}.{variant}.tsv"
    wildcard_constraints:
        model=one_of(outcome_models()) if outcome_models() else "no-model",
        prior=VARIANT_PRIOR,
        variant=one_of(OTHER_RESIDUAL),
    conda:
        "../../environment.yml"
    threads: 2
    params:
        info=get_model_info,
        spec=get_model_cohort_spec,
        prior=get_participant_prior,
        residual=lambda w: w.variant,
        predictive=False,  # the variants serve the LOO comparison only
        sampler=config["sampler"],
        gate=fit_gate(),
        seed=config["seed"],
    script:
        "../scripts/fit_participant.py"


rule check_variant:
    input:
        convergence="results/variants/{model}/{prior}.{variant}.convergence.json",
    output:
        diagnostics="results/checks/variants/{model}/{prior}.{variant}.diagnostics.csv",
    log:
        "logs/checks/variants/{model}/{prior}.{variant}.log",
    benchmark:
        "results/benchmarks/check_variant/{model}/{prior}.{variant}.tsv"
    conda:
        "../../environment.yml"
    params:
        gate=config["gate"],
    script:
        "../scripts/check_convergence.py"
