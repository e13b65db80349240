"""Convergence gate: R-hat, bulk/tail ESS, divergences and E-BFMI of one fit against config thresholds.

Every posterior variable is checked (raw offsets included: a sampler that cannot explore them has not
explored the model). The result names the worst parameter for each criterion, so a failure message can
say exactly what to look at.

Measuring and judging are separate: the fit job measures (:func:`measure`, while the draws are in memory
and arviz is loaded) and writes a small JSON; the gate job judges it against the thresholds
(:func:`judge`) with no arviz import or netCDF read, and editing a threshold re-runs only the gate jobs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import arviz as az

DIAGNOSTIC_COLUMNS = [
    "model", "prior_set", "passed", "max_r_hat", "worst_r_hat_parameter", "min_ess_bulk",
    "worst_ess_bulk_parameter", "min_ess_tail", "worst_ess_tail_parameter", "divergences", "min_ebfmi",
    "n_draws", "n_constant", "attempts", "failures",
]  # fmt: skip


PARAMETER_COLUMNS = ["parameter", "constant", "r_hat", "ess_bulk", "ess_tail"]  # per_parameter's table
MEASURE_KEYS = ("parameters", "divergences", "min_ebfmi", "n_draws")  # what measure() writes for the gate


class GateFailure(RuntimeError):
    """A fit failed the convergence gate with on_fail: stop."""


@dataclass(frozen=True)
class Gate:
    r_hat_max: float = 1.01
    ess_bulk_min: float = 400
    ess_tail_min: float = 400
    divergences_max: int = 0
    ebfmi_min: float = 0.3
    on_fail: str = "stop"

    @classmethod
    def from_config(cls, cfg: dict) -> Gate:
        return cls(**{k: cfg[k] for k in cls.__dataclass_fields__ if k in cfg})


# dims whose labels carry participant ids: shown by position, so no id reaches a table or the report
PARTICIPANT_DIMS = ("participant", "alliance_obs", "alliance_missing", "baseline_missing", "y_obs")


def _label(name: str, dims: tuple, index: tuple, post) -> str:
    """``name[level,...]``; a participant dim by position (#1, #2, ...), never by its id."""
    levels = [f"#{i + 1}" if d in PARTICIPANT_DIMS else post[d].values[i] for d, i in zip(dims, index, strict=True)]
    return name + ("[" + ",".join(str(v) for v in levels) + "]" if levels else "")


def per_parameter(idata: az.InferenceData) -> pd.DataFrame:
    """R-hat and ESS of every scalar in the posterior, one row each (computed as ArviZ does, all scalars at
    once: :mod:`reanalysis.convergence`)."""
    from reanalysis.convergence import rhat_ess, scalars

    post = idata.posterior
    labels = []
    for name in post.data_vars:  # in the order of convergence.scalars
        da = post[name].transpose("chain", "draw", ...)
        labels += [_label(name, da.dims[2:], index, post) for index in np.ndindex(*da.shape[2:])]
    every = scalars(post)
    stats = rhat_ess(every)
    return pd.DataFrame({
        "parameter": labels, "constant": np.all(every == every[:, :1, :1], axis=(1, 2)), **stats
    }, columns=PARAMETER_COLUMNS)  # fmt: skip


def measure(idata: az.InferenceData) -> dict:
    """Everything the gate looks at, as plain values: per-parameter R-hat/ESS, divergences, E-BFMI, and the
    sampler's attempts (models.sampling: settings and failures of each; none recorded = one attempt).
    """
    from reanalysis.convergence import bfmi

    return {
        "parameters": per_parameter(idata).to_dict("records"),
        "divergences": int(idata.sample_stats["diverging"].sum()),
        "min_ebfmi": float(np.min(bfmi(idata.sample_stats["energy"].transpose("chain", "draw").values))),
        "n_draws": int(idata.posterior.sizes["chain"] * idata.posterior.sizes["draw"]),
        "attempts": json.loads(idata.attrs.get("sampler_attempts", "[]")),
    }


def write_measures(idata: az.InferenceData, path: str, measured: dict | None = None) -> None:
    """The gate's measures of ``idata`` as JSON; ``measured``: measure(idata) taken already (by the retry test),
    so the draws are not measured twice. The attempts are read from ``idata`` here: they are recorded after the
    retry test has looked at the draws.
    """
    measured = {**(measured or measure(idata)), "attempts": json.loads(idata.attrs.get("sampler_attempts", "[]"))}
    with open(path, "w") as fh:
        json.dump(measured, fh, indent=1)  # NaN (undefined R-hat) is written as NaN and read back


def read_measures(path: str) -> dict:
    with open(path) as fh:
        try:
            measured = json.load(fh)
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}: not a convergence-measures JSON ({err}); re-run the fit that wrote it") from err
    missing = set(MEASURE_KEYS) - set(measured)
    if missing:
        raise ValueError(f"{path}: convergence measures lack {sorted(missing)}; re-run the fit that wrote it")
    return measured


def _verdict(measured: dict, gate: Gate) -> tuple[dict, list[str]]:
    """The worst parameter per criterion, and the gate's failures (empty when the draws pass)."""
    every = pd.DataFrame(measured["parameters"], columns=PARAMETER_COLUMNS)
    # exactly constant in every chain (e.g. a change from the reference level, 0 by definition): nothing to
    # converge, and R-hat is undefined; a stuck sampler would not give identical values in independent chains
    table = every[~every["constant"].astype(bool)].astype({"r_hat": float, "ess_bulk": float, "ess_tail": float})
    worst = {  # a NaN diagnostic (non-finite draws) is the worst, not skipped
        "r_hat": table.loc[table["r_hat"].fillna(np.inf).idxmax()],
        "ess_bulk": table.loc[table["ess_bulk"].fillna(-np.inf).idxmin()],
        "ess_tail": table.loc[table["ess_tail"].fillna(-np.inf).idxmin()],
    }
    divergences = int(measured["divergences"])
    ebfmi = float(measured["min_ebfmi"])
    failures = []
    if not worst["r_hat"]["r_hat"] <= gate.r_hat_max:
        failures.append(f"R-hat {worst['r_hat']['r_hat']:.3f} > {gate.r_hat_max} for {worst['r_hat']['parameter']}")
    for kind, bound in (("ess_bulk", gate.ess_bulk_min), ("ess_tail", gate.ess_tail_min)):
        if not worst[kind][kind] >= bound:
            failures.append(f"{kind} {worst[kind][kind]:.0f} < {bound:g} for {worst[kind]['parameter']}")
    if divergences > gate.divergences_max:
        failures.append(f"{divergences} divergent transitions > {gate.divergences_max}")
    if not ebfmi >= gate.ebfmi_min:
        failures.append(f"E-BFMI {ebfmi:.2f} < {gate.ebfmi_min} in at least one chain")
    return worst, failures


def judge(measured: dict, gate: Gate, model: str, prior_set: str) -> dict:
    """One diagnostics row; ``failures`` says which criterion failed and for which parameter."""
    worst, failures = _verdict(measured, gate)
    return {
        "model": model,
        "prior_set": prior_set,
        "passed": not failures,
        "max_r_hat": float(worst["r_hat"]["r_hat"]),
        "worst_r_hat_parameter": worst["r_hat"]["parameter"],
        "min_ess_bulk": float(worst["ess_bulk"]["ess_bulk"]),
        "worst_ess_bulk_parameter": worst["ess_bulk"]["parameter"],
        "min_ess_tail": float(worst["ess_tail"]["ess_tail"]),
        "worst_ess_tail_parameter": worst["ess_tail"]["parameter"],
        "divergences": int(measured["divergences"]),
        "min_ebfmi": float(measured["min_ebfmi"]),
        "n_draws": int(measured["n_draws"]),
        "n_constant": sum(bool(p["constant"]) for p in measured["parameters"]),
        "attempts": max(len(measured.get("attempts") or []), 1),
        "failures": "; ".join(failures),
    }


class RetryTest:
    """The sampler's retry test (models.sampling.Verdict): the gate's failures for a set of draws.

    ``measured`` keeps the measures of the draws it saw last, which are the draws the sampler keeps, so the fit
    job writes them (:func:`write_measures`) without measuring again.
    """

    def __init__(self, gate: Gate):
        self.gate, self.measured = gate, None

    def __call__(self, idata: az.InferenceData) -> list[str]:
        self.measured = measure(idata)
        return _verdict(self.measured, self.gate)[1]


def check(idata: az.InferenceData, gate: Gate, model: str, prior_set: str) -> dict:
    """Measure and judge in one step (the pipeline splits them across the fit and gate jobs)."""
    return judge(measure(idata), gate, model, prior_set)


def enforce(row: dict, gate: Gate) -> None:
    """Raise GateFailure naming model, prior set and parameter when the fit failed and on_fail is stop."""
    if not row["passed"] and gate.on_fail == "stop":
        raise GateFailure(
            f"convergence gate failed for model {row['model']!r}, prior set {row['prior_set']!r}: "
            f"{row['failures']}. Set gate.on_fail: flag in config.yaml to build the report with this fit marked red."
        )


def gate_table(measures_path: str, gate_cfg: dict, model: str, prior: str, log) -> pd.DataFrame:
    """The gate's row of one fit, judged from the measures its fit job wrote (:func:`read_measures`) and logged;
    raises GateFailure (:func:`enforce`) when the fit failed and on_fail is stop."""
    gate = Gate.from_config(gate_cfg)
    row = judge(read_measures(measures_path), gate, model, prior)
    log.info("gate %s: %s", "passed" if row["passed"] else "FAILED", row)
    enforce(row, gate)
    return pd.DataFrame([row], columns=DIAGNOSTIC_COLUMNS)
