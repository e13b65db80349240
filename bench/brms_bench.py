"""brms side of the PyMC-vs-brms benchmark: run bench/brms/track_a.R and track_b.R, compare the posteriors.

    python bench/brms_bench.py --out bench/results/brms.json [--config config.yaml] [--pymc-track-b]

or ``run_brms_bench(out_path, ...)`` from a bench driver. R (with brms) is needed only here, never by the pipeline;
without Rscript or brms this exits with status 3 and says how to install them (bench/README.md, "brms comparison").

What runs (settings from config.yaml, written to a JSON the R scripts read):

* Track A (``track_a.R``): the published-statistics model on ``results/data/published/observations.<n_source>.csv``
  under the ``n_sensitivity_prior`` prior set (``reference``): compile, sample, a prior edit to ``sceptical``
  (brms recompiles), a data-only refit on the other n_source's observations (no recompile). The posterior of the
  pooled rho of each brms fit is set beside the PyMC fit of the same data and prior set in ``results/fits/``
  (``published/reference.nc``, ``published/sceptical.nc``, ``published_alt_n/reference.nc``) when present.
* Track B (``track_b.R``): the PTSD outcome model (CAPS-5; data-only refit: IES-R) on
  ``results/data/ptsd/clean.csv``, or, when the pipeline has not made it, on the same SYNTHETIC cohort simulated
  here with the config's seed (``models.cohorts.simulate_cohort`` + the pipeline's validation). With
  ``--pymc-track-b`` the PyMC outcome model is also sampled (nutpie, posterior only) for the same fits, for a
  posterior comparison.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
R_DIR = Path(__file__).resolve().parent / "brms"
INSTALL_HINT = (
    "apt-get update && apt-get install -y --no-install-recommends r-cran-brms r-cran-rstan r-cran-jsonlite "
    "build-essential   (Debian 12; see bench/README.md, section 'brms comparison')"
)
PROBS = (0.025, 0.05, 0.5, 0.95, 0.975)


class BrmsUnavailable(RuntimeError):
    """Rscript or the brms package is missing."""


# ---------------------------------------------------------------------------------------------------------------
# Environment
# ---------------------------------------------------------------------------------------------------------------


def check_brms(rscript: str = "Rscript") -> dict:
    """Versions of R, brms, rstan, StanHeaders; BrmsUnavailable with an install hint when something is missing."""
    exe = shutil.which(rscript)
    if exe is None:
        raise BrmsUnavailable(
            f"Rscript not found on PATH (R is needed for the brms benchmark only). Install: {INSTALL_HINT}"
        )
    code = (
        "pkgs <- c('brms', 'rstan', 'StanHeaders', 'jsonlite');"
        "missing <- Filter(function(p) !requireNamespace(p, quietly = TRUE), pkgs);"
        "if (length(missing)) { cat('MISSING', missing, '\\n'); quit(status = 3) };"
        "cat(paste(R.version$major, R.version$minor, sep = '.'), as.character(packageVersion('brms')),"
        "as.character(packageVersion('rstan')), as.character(packageVersion('StanHeaders')), '\\n')"
    )
    res = subprocess.run([exe, "--vanilla", "-e", code], capture_output=True, text=True)
    if res.returncode != 0:
        missing = res.stdout.replace("MISSING", "").split() if "MISSING" in res.stdout else ["(R failed)"]
        raise BrmsUnavailable(
            f"R package(s) {', '.join(missing)} not installed for {exe}. Install: {INSTALL_HINT}\n{res.stderr.strip()}"
        )
    r, brms, rstan, stanheaders = res.stdout.split()
    return {"Rscript": exe, "R": r, "brms": brms, "rstan": rstan, "StanHeaders": stanheaders}


def machine() -> dict:
    model = ""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        model = next((ln.split(":", 1)[1].strip() for ln in out.splitlines() if ln.startswith("Model name")), "")
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "load_average_at_start": list(os.getloadavg()),
    }


# ---------------------------------------------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------------------------------------------


def _project_on_path() -> None:
    """The project's packages (installed editable in .venv; else from the source tree)."""
    for p in (ROOT / "workflow" / "lib", ROOT):
        if str(p) not in sys.path:
            sys.path.append(str(p))


def bench_settings(config: dict, cohort: str = "ptsd", cores: int = 2) -> dict:
    """What the R scripts read: sampler, seed, grouping, the two prior sets (base and edit), the cohort design."""
    base = config["published"].get("n_sensitivity_prior") or "reference"
    edit = "sceptical"
    for name in (base, edit):
        if name not in config["priors"]:
            raise ValueError(f"prior set {name!r} is not in config.yaml priors ({sorted(config['priors'])})")
    spec = config["cohorts"][cohort]
    return {
        "seed": int(config["seed"]),
        "cores": int(cores),
        "sampler": {k: config["sampler"][k] for k in ("chains", "draws", "tune", "target_accept")},
        "grouping": list(config["published"]["grouping"]),
        "base_prior": base,
        "edit_prior": edit,
        "priors": {name: config["priors"][name] for name in (base, edit)},
        "cohort": {
            "name": cohort,
            "alliance": {"measure": spec["alliance"]["measure"]},
            "alliance_timepoints": list(spec["alliance_timepoints"]),
            "baseline_timepoint": spec["baseline_timepoint"],
            "followups": list(spec["followups"]),
            "outcomes": list(spec["outcomes"]),
        },
        "participant_residual": config.get("participant_residual", "normal"),
    }


def observations_paths(config: dict, root: Path = ROOT) -> tuple[Path, Path]:
    """(observations of the configured n_source, observations of the other one) from a previous pipeline run."""
    n_source = config["published"]["n_source"]
    other = {"reported": "implied", "implied": "reported"}[n_source]
    d = root / "results" / "data" / "published"
    paths = d / f"observations.{n_source}.csv", d / f"observations.{other}.csv"
    for p in paths:
        if not p.is_file():
            raise FileNotFoundError(
                f"{p} not found: run the pipeline's Track A data steps first "
                "(snakemake --cores 2 results/data/published/observations.reported.csv "
                "results/data/published/observations.implied.csv)"
            )
    return paths


def cohort_clean_csv(config: dict, cohort: str, workdir: Path, root: Path = ROOT) -> tuple[Path, str]:
    """The pipeline's clean long table of the cohort, or the same synthetic cohort made here (returns path, origin)."""
    made = root / "results" / "data" / cohort / "clean.csv"
    if made.is_file():
        return made, "pipeline"
    spec = config["cohorts"][cohort]
    if spec["file"] != "synthetic":
        raise FileNotFoundError(f"{made} not found and cohort {cohort!r} is not synthetic: run the pipeline first")
    _project_on_path()
    from models.cohorts import simulate_cohort
    from reanalysis.participant_table import validate_participant_frame
    from reanalysis.scripting import write_table

    frame = simulate_cohort(cohort, spec, int(config["seed"]), n=spec.get("n_synthetic"))
    clean, _, _ = validate_participant_frame(frame, cohort, spec, source=f"synthetic {cohort}")
    out = workdir / f"{cohort}_clean.csv"
    write_table(clean, out)  # as the pipeline writes it
    return out, "simulated here (same code and seed as the pipeline's participant_data rule)"


# ---------------------------------------------------------------------------------------------------------------
# Running R
# ---------------------------------------------------------------------------------------------------------------


def run_r(script: str, args: list[str], log_path: Path, rscript: str = "Rscript", nice: int = 0) -> dict:
    """Run one R script; return its JSON output (the second positional argument) plus the process wall time."""
    cmd = ([shutil.which("nice") or "nice", "-n", str(nice)] if nice else []) + [
        rscript,
        "--vanilla",
        str(R_DIR / script),
        *args,
    ]
    t0 = time.perf_counter()
    with open(log_path, "w") as log:
        res = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    wall = time.perf_counter() - t0
    if res.returncode != 0:
        tail = "".join(Path(log_path).read_text().splitlines(keepends=True)[-20:])
        raise RuntimeError(f"{script} failed (exit {res.returncode}); log {log_path}:\n{tail}")
    out = json.loads(Path(args[1]).read_text())
    out["process_wall_s"] = wall  # the whole Rscript process: start-up, package loading, every step
    Path(args[1]).write_text(json.dumps(out, indent=2))
    return out


# ---------------------------------------------------------------------------------------------------------------
# Posterior comparison
# ---------------------------------------------------------------------------------------------------------------


def summarise(x: np.ndarray) -> dict:
    x = np.asarray(x, float).ravel()
    q = np.quantile(x, PROBS)
    return {
        "mean": float(x.mean()),
        "sd": float(x.std(ddof=1)),
        **{f"q{100 * p:g}": float(v) for p, v in zip(PROBS, q, strict=True)},
    }


def mcse(x: np.ndarray) -> dict:
    """Monte Carlo standard errors (arviz) of the mean and three quantiles of draws shaped (chain, draw)."""
    import arviz as az

    x = np.asarray(x, float)
    out = {"mean": float(np.ravel(az.mcse(x, method="mean"))[0])}
    for key, prob in (("q2.5", 0.025), ("q50", 0.5), ("q97.5", 0.975)):
        out[key] = float(np.ravel(az.mcse(x, method="quantile", prob=prob))[0])
    return out


def pymc_track_a(nc: Path, grouping: list[str]) -> dict:
    import arviz as az

    idata = az.from_netcdf(nc)
    post = idata.posterior
    rho = post["rho_pooled"].values
    out = {
        "file": str(nc.relative_to(ROOT) if nc.is_relative_to(ROOT) else nc),
        "file_modified": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(nc.stat().st_mtime)),
        "data_sha256": str(idata.attrs.get("data_sha256") or idata.attrs.get("observations_sha256") or ""),
        "sampler": str(idata.attrs.get("sampler", "")),
        "rho_pooled": {
            **summarise(rho),
            "p_below_0": float((rho < 0).mean()),
            "p_below_m0.1": float((rho < -0.1).mean()),
            "p_abs_above_0.28": float((np.abs(rho) > 0.28).mean()),
            "p_below_m0.28": float((rho < -0.28).mean()),
            "mcse": mcse(rho),
        },
        "heterogeneity": {g: summarise(post[f"sigma_{g}"].values) for g in [*grouping, "residual"]},
    }
    return out


def _diff(brms: dict, pymc: dict, keys=("mean", "sd", "q2.5", "q50", "q97.5")) -> dict:
    return {k: float(brms[k] - pymc[k]) for k in keys if k in brms and k in pymc}


def _z(brms: dict, pymc: dict) -> dict:
    """Differences in units of their joint Monte Carlo standard error, sqrt(mcse_brms^2 + mcse_pymc^2)."""
    mb, mp = brms.get("mcse", {}), pymc.get("mcse", {})
    return {
        k: float((brms[k] - pymc[k]) / np.hypot(mb[k], mp[k])) for k in mb if k in mp and np.hypot(mb[k], mp[k]) > 0
    }


def compare_track_a(track_a: dict, config: dict, root: Path = ROOT) -> list[dict]:
    grouping = list(config["published"]["grouping"])
    n_source = config["published"]["n_source"]
    fits = track_a["fits"]
    # which PyMC fit has the same data and prior set as each brms fit
    targets = {
        "base": root / "results" / "fits" / "published" / f"{fits['base']['prior_set']}.nc",
        "prior_edit": root / "results" / "fits" / "published" / f"{fits['prior_edit']['prior_set']}.nc",
        "data_refit": (root / "results" / "fits" / "published_alt_n" / f"{fits['data_refit']['prior_set']}.nc")
        if fits["data_refit"]["data"] != f"observations.{n_source}.csv"
        else root / "results" / "fits" / "published" / f"{fits['data_refit']['prior_set']}.nc",
    }
    out = []
    for step, nc in targets.items():
        if not nc.is_file():
            out.append({"step": step, "pymc": None, "note": f"{nc} not found"})
            continue
        p = pymc_track_a(nc, grouping)
        b = fits[step]
        brms_data = track_a["newdata"] if step == "data_refit" else track_a["observations"]
        brms_sha = hashlib.sha256(Path(brms_data).read_bytes()).hexdigest()
        out.append(
            {
                "step": step,
                "prior_set": b["prior_set"],
                "data": b["data"],
                "same_data_as_pymc_fit": (brms_sha == p["data_sha256"]) if p["data_sha256"] else None,
                "brms_rho_pooled": b["rho_pooled"],
                "pymc": p,
                "rho_pooled_diff_brms_minus_pymc": _diff(b["rho_pooled"], p["rho_pooled"]),
                "rho_pooled_diff_in_mcse": _z(b["rho_pooled"], p["rho_pooled"]),
                "heterogeneity_q50_diff_brms_minus_pymc": {
                    g: float(b["heterogeneity"][g]["q50"] - p["heterogeneity"][g]["q50"]) for g in p["heterogeneity"]
                },
            }
        )
    return out


def pymc_track_b(clean_csv: Path, config: dict, settings: dict, cohort: str) -> list[dict]:
    """Posterior of the PyMC outcome model for the brms Track B fits (nutpie; posterior only).

    ``pymc_wall_s`` is the wall time of ``models.sampling.sample_posterior`` (nutpie compile, unless PyTensor's cache
    has it, + sampling + pointwise log-likelihood and log prior): indicative only, not the PyMC side of the benchmark.
    """
    _project_on_path()
    from models.participant import CohortData, build_outcome_model, to_participant_prior
    from models.sampling import SamplerSettings, sample_posterior
    from reanalysis.participant_io import read_clean_participants

    df = read_clean_participants(clean_csv)
    spec = config["cohorts"][cohort]
    outcomes = list(spec["outcomes"])
    runs = [
        ("base", outcomes[0], settings["base_prior"]),
        ("prior_edit", outcomes[0], settings["edit_prior"]),
        ("data_refit", outcomes[min(1, len(outcomes) - 1)], settings["base_prior"]),
    ]
    s = SamplerSettings.from_config(config["sampler"], cores=settings["cores"])
    out = []
    for step, outcome, prior_name in runs:
        data = CohortData.from_long(df, spec, outcome)
        model = build_outcome_model(
            data, to_participant_prior(config["priors"][prior_name]), config.get("participant_residual", "normal")
        )
        t0 = time.perf_counter()
        post = sample_posterior(model, s, int(config["seed"])).posterior
        wall = time.perf_counter() - t0
        gm = post["gamma_mean"].values
        out.append(
            {
                "step": step,
                "outcome": outcome,
                "prior_set": prior_name,
                "pymc_wall_s": wall,
                "gamma_mean": {**summarise(gm), "p_below_0": float((gm < 0).mean()), "mcse": mcse(gm)},
                "tau": summarise(post["tau"].values),
                "sigma": summarise(post["sigma"].values),
                "slope_std": {
                    tp: summarise(post["slope_std"].sel(alliance_time=tp).values) for tp in data.alliance_timepoints
                },
            }
        )
    return out


def compare_track_b(track_b: dict, pymc: list[dict]) -> list[dict]:
    out = []
    for p in pymc:
        b = track_b["fits"][p["step"]]
        out.append(
            {
                "step": p["step"],
                "outcome": p["outcome"],
                "prior_set": p["prior_set"],
                "gamma_mean_diff_brms_minus_pymc": _diff(b["gamma_mean"], p["gamma_mean"]),
                "gamma_mean_diff_in_mcse": _z(b["gamma_mean"], p["gamma_mean"]),
                "tau_q50_diff": float(b["tau"]["q50"] - p["tau"]["q50"]),
                "sigma_q50_diff": float(b["sigma"]["q50"] - p["sigma"]["q50"]),
                "slope_std_q50_diff": {
                    tp: float(b["slope_std"][tp]["q50"] - p["slope_std"][tp]["q50"]) for tp in p["slope_std"]
                },
                "pymc": p,
            }
        )
    return out


# ---------------------------------------------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------------------------------------------


def run_brms_bench(
    out_path: str | Path,
    config_path: str | Path = ROOT / "config.yaml",
    *,
    cohort: str = "ptsd",
    cores: int = 2,
    tracks: tuple[str, ...] = ("a", "b"),
    pymc_track_b_compare: bool = False,
    sampler_override: dict | None = None,
    nice: int = 0,
    rscript: str = "Rscript",
    reuse: bool = False,
) -> dict:
    """Run the brms scripts and write one JSON of timings and posterior comparisons to ``out_path``.

    ``reuse``: do not run R; take the R scripts' outputs of the last run (beside ``out_path``) and only redo the
    comparisons with the PyMC fits (e.g. after the pipeline has refitted them).
    """
    versions = check_brms(rscript)

    def r_output(script: str, args: list[str], log: Path) -> dict:
        if reuse:
            if not Path(args[1]).is_file():
                raise FileNotFoundError(f"{args[1]} not found: run without --reuse first")
            return json.loads(Path(args[1]).read_text())
        return run_r(script, args, log, rscript, nice)

    config = yaml.safe_load(Path(config_path).read_text())
    if sampler_override:
        config["sampler"] = {**config["sampler"], **sampler_override}
    out_path = Path(out_path)
    workdir = out_path.with_suffix("")  # e.g. bench/results/brms/ beside brms.json: R outputs and logs
    workdir.mkdir(parents=True, exist_ok=True)
    settings = bench_settings(config, cohort=cohort, cores=cores)
    settings_path = workdir / "settings.json"
    settings_path.write_text(json.dumps(settings, indent=2))
    result: dict = {"machine": machine(), "versions": versions, "settings": settings}

    if "a" in tracks:
        obs, obs_other = observations_paths(config)
        a_json = workdir / "track_a.json"
        print(f"Track A (brms): {obs.name}, data-only refit on {obs_other.name} ...", flush=True)
        ta = r_output(
            "track_a.R",
            [str(obs), str(a_json), "--settings", str(settings_path), "--newdata", str(obs_other)],
            workdir / "track_a.log",
        )
        ta.pop("stancode", None)
        result["track_a"] = ta
        result["track_a_vs_pymc"] = compare_track_a(ta, config)
        print(f"  {json.dumps(ta['timings'])}", flush=True)

    if "b" in tracks:
        clean, origin = cohort_clean_csv(config, cohort, workdir)
        b_json = workdir / "track_b.json"
        print(f"Track B (brms): {cohort} from {clean} ({origin}) ...", flush=True)
        tb = r_output("track_b.R", [str(clean), str(b_json), "--settings", str(settings_path)], workdir / "track_b.log")
        tb.pop("stancode", None)
        tb["clean_origin"] = origin
        result["track_b"] = tb
        print(f"  {json.dumps(tb['timings'])}", flush=True)
        if pymc_track_b_compare:
            print("Track B (PyMC, for the posterior comparison) ...", flush=True)
            result["track_b_vs_pymc"] = compare_track_b(tb, pymc_track_b(clean, config, settings, cohort))

    result["machine"]["load_average_at_end"] = list(os.getloadavg())
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(result, indent=2))
    print(f"wrote {out_path}")
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="JSON file of timings and comparisons (R outputs go beside it)")
    ap.add_argument("--config", default=str(ROOT / "config.yaml"))
    ap.add_argument("--cohort", default="ptsd")
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--tracks", default="ab", help="a, b or ab")
    ap.add_argument(
        "--pymc-track-b", action="store_true", help="also sample the PyMC Track B model to compare posteriors"
    )
    ap.add_argument("--draws", type=int, help="override sampler.draws (smoke tests only)")
    ap.add_argument("--tune", type=int, help="override sampler.tune (smoke tests only)")
    ap.add_argument("--nice", type=int, default=0, help="run R under nice -n N")
    ap.add_argument("--reuse", action="store_true", help="reuse the last R outputs; only redo the comparisons")
    args = ap.parse_args(argv)
    override = {k: v for k, v in {"draws": args.draws, "tune": args.tune}.items() if v is not None}
    try:
        run_brms_bench(
            args.out,
            args.config,
            cohort=args.cohort,
            cores=args.cores,
            tracks=tuple(args.tracks),
            pymc_track_b_compare=args.pymc_track_b,
            sampler_override=override,
            nice=args.nice,
            reuse=args.reuse,
        )
    except BrmsUnavailable as e:
        print(f"brms benchmark skipped: {e}", file=sys.stderr)
        return 3
    except (FileNotFoundError, RuntimeError) as e:
        print(f"brms benchmark failed: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
