# Model stage: one job per model x prior set. Priors enter the compiled graph as pm.Data, so the graph
# is the same for every prior set; only this job's own prior slice is in its params.


rule fit:
    input:
        observations=get_observations,
    output:
        idata="results/fits/{model}/{prior}.nc",
    log:
        "logs/fits/{model}/{prior}.log",
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
        seed=config["seed"],
    script:
        "../scripts/fit.py"
