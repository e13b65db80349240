# Check stage: the convergence gate. With gate.on_fail: stop a failing fit fails this job (and so the
# build) with a message naming model, prior set and parameter; with flag the row says passed = False.


rule check_convergence:
    input:
        idata=get_idata,
    output:
        diagnostics="results/checks/{model}/{prior}.diagnostics.csv",
    log:
        "logs/checks/{model}/{prior}.log",
    conda:
        "../../environment.yml"
    params:
        gate=config["gate"],
    script:
        "../scripts/check_convergence.py"
