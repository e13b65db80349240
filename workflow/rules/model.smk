# Model stage: one job per model x prior set. Priors enter the compiled graph as pm.Data, so the graph
# is the same for every prior set; only this job's own prior slice is in its params.


rule fit:
    input:
        observations=get_observations,
    output:
        idata="results/fits/{model}/{prior}.nc",
        convergence="results/fits/{model}/{prior}.convergence.json",
    log:
        "logs/fits/{model}/{prior}.log",
    benchmark:
        "results/benchmarks/fit/{model}/{prior}.tsv"
    wildcard_constraints:
        model=one_of(PUBLISHED_MODELS),
    conda:
        "../../environment.yml"
    threads: 2
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        prior=get_prior,
        grouping=config["published"]["grouping"],
        likelihood=config["published"]["likelihood"],
        sampler=config["sampler"],
        gate=fit_gate(),
        seed=config["seed"],
    script:
        "../scripts/fit.py"


rule fit_participant:
    input:
        clean=get_participant_clean,
    output:
        idata="results/fits/{model}/{prior}.nc",
        convergence="results/fits/{model}/{prior}.convergence.json",
    log:
        "logs/fits/{model}/{prior}.log",
    benchmark:
        "results/benchmarks/fit_participant/{model}/{prior}.tsv"
    wildcard_constraints:
        model=one_of(PARTICIPANT_MODELS),
    conda:
        "../../environment.yml"
    threads: 2
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        info=get_model_info,
        spec=get_model_cohort_spec,
        prior=get_participant_prior,
        residual=config["participant_residual"],
        predictive=predictive_for,
        sampler=config["sampler"],
        gate=fit_gate(),
        seed=config["seed"],
    script:
        "../scripts/fit_participant.py"
