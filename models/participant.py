"""Track B: participant-level models of alliance and symptom outcome (one cohort, one outcome).

Outcome model (:func:`build_outcome_model`), on the standardised scale, for participant i and follow-up t:

    y[i, t]   = alpha[t] + beta[t] * b[i] + sum_a gamma[a, t] * x[i, a] + u[i] + eps[i, t]
    gamma     = gamma_mean + tau * delta,  delta[a, t] ~ Normal(0, 1)           (non-centred partial pooling)
    u[i]      ~ Normal(0, sigma_u)      only with more than one follow-up (else confounded with eps)
    eps       ~ Normal(0, sigma) or StudentT(nu, 0, sigma)

where x[i, a] is alliance at alliance timepoint a standardised with that timepoint's observed mean and SD,
b[i] the standardised baseline outcome and y the follow-up outcome standardised with the mean and SD of all
observed follow-up values. gamma[a, t] is therefore "outcome SDs per SD of alliance at a", ADJUSTED for
alliance at the other alliance timepoints (one multiple regression per follow-up, not one regression per
alliance timepoint as in the published analyses) and for baseline. Negative = stronger alliance, fewer symptoms.

Missing data (missing at random) are handled inside the model: standardised alliance follows the trajectory
model x[i, a] ~ Normal(theta_x[a] + v[i], sigma_x), v[i] ~ Normal(0, sigma_v), whose observed cells are an
observed likelihood and whose missing cells are free parameters (``x_missing``, dims ``alliance_missing``);
a missing baseline is imputed from Normal(0, 1) (``b_missing``, dims ``baseline_missing``); a missing
outcome is simply absent from the outcome likelihood (``y`` has dims ``y_obs``, the observed cells).

Alliance model (:func:`build_alliance_model`): the same trajectory model on the raw scale, reporting the change
of mean alliance from the first alliance timepoint, in scale points and in pooled-SD units.

As in Track A, prior hyperparameters enter as ``pm.Data`` (names ``prior_*``) so every prior set maps to the
same compiled graph. The data values enter as ``pm.Data`` too (:func:`outcome_data_values`,
:func:`alliance_data_values`): two cohorts with the same participants and the same missing-data pattern give
the same graph, so one compiled model serves both (``pm.set_data`` or nutpie's ``with_data``). Only the
missing-data pattern (index arrays) is baked into the graph.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt

from models.compile import register_handwritten
from models.correlation import Z95
from models.participant_kernel import alliance_gradient_for, gradient_for

RESIDUALS = ("normal", "student_t")
LONG_COLUMNS = ("participant_id", "timepoint", "measure", "value")


# ---------------------------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------------------------


def _observed_stats(values: np.ndarray, what: str) -> tuple[float, float]:
    obs = values[np.isfinite(values)]
    if obs.size < 2:
        raise ValueError(f"{what}: {obs.size} observed value(s); at least 2 are needed to standardise")
    sd = float(np.std(obs, ddof=1))
    if not sd > 0:
        raise ValueError(f"{what}: all observed values are equal ({obs[0]}); cannot standardise")
    return float(np.mean(obs)), sd


def _cells(mask: np.ndarray) -> tuple[np.ndarray, ...]:
    """Row-major (participant, column) indices of the True cells of a 2-D mask."""
    return tuple(ix.astype("int64") for ix in np.nonzero(mask))


@dataclass(frozen=True)
class CohortData:
    """One cohort and one outcome as arrays, raw scale (NaN = missing), with the standardisation constants.

    ``alliance`` is participants x alliance timepoints, ``baseline`` participants, ``followup`` participants x
    follow-ups. Standardisation: alliance per timepoint with the mean and SD (ddof=1) of its observed values;
    follow-up outcome with the mean (``outcome_center``) and SD (``outcome_scale``) of all observed follow-up
    values; baseline with its own observed mean and SD.
    """

    outcome: str
    participants: tuple[str, ...]
    alliance_timepoints: tuple[str, ...]
    followups: tuple[str, ...]
    alliance: np.ndarray
    baseline: np.ndarray
    followup: np.ndarray
    alliance_mean: np.ndarray
    alliance_sd: np.ndarray
    outcome_center: float
    outcome_scale: float
    baseline_mean: float
    baseline_sd: float
    mcid: float
    coords: dict[str, list[str]] = field(repr=False)

    @classmethod
    def from_long(cls, df: pd.DataFrame, spec: dict, outcome: str) -> CohortData:
        """Arrays from the long table (participant_id, timepoint, measure, value) for one cohort spec.

        Participants are every id in ``df`` (as text, sorted). A designed cell absent from ``df`` counts as
        missing; a duplicated cell is an error.
        """
        missing_cols = [c for c in LONG_COLUMNS if c not in df.columns]
        if missing_cols:
            raise ValueError(f"long table has no column(s) {missing_cols}; expected {list(LONG_COLUMNS)}")
        if outcome not in spec["outcomes"]:
            raise ValueError(f"outcome={outcome!r} is not in the cohort's outcomes {sorted(spec['outcomes'])}")
        df = df.assign(participant_id=df["participant_id"].astype(str), value=df["value"].astype(float))
        ids = sorted(df["participant_id"].unique())
        alliance_tps = list(spec["alliance_timepoints"])
        followups = list(spec["followups"])
        baseline_tp = spec["baseline_timepoint"]

        def grid(measure: str, timepoints: list[str]) -> np.ndarray:
            sub = df[(df["measure"] == measure) & df["timepoint"].isin(timepoints)]
            dup = sub.duplicated(["participant_id", "timepoint"], keep=False)
            if dup.any():
                first = sub[dup].iloc[0]
                raise ValueError(
                    f"measure {measure!r} has duplicated rows, e.g. participant {first['participant_id']!r} "
                    f"at {first['timepoint']!r}"
                )
            wide = sub.pivot(index="participant_id", columns="timepoint", values="value")
            return wide.reindex(index=ids, columns=timepoints).to_numpy(float)

        alliance = grid(spec["alliance"]["measure"], alliance_tps)
        baseline = grid(outcome, [baseline_tp])[:, 0]
        followup = grid(outcome, followups)
        stats = [_observed_stats(alliance[:, a], f"alliance at {tp!r}") for a, tp in enumerate(alliance_tps)]
        center, scale = _observed_stats(followup, f"{outcome} at the follow-ups")
        b_mean, b_sd = _observed_stats(baseline, f"{outcome} at {baseline_tp!r}")
        return cls(
            outcome=outcome,
            participants=tuple(ids),
            alliance_timepoints=tuple(alliance_tps),
            followups=tuple(followups),
            alliance=alliance,
            baseline=baseline,
            followup=followup,
            alliance_mean=np.array([s[0] for s in stats]),
            alliance_sd=np.array([s[1] for s in stats]),
            outcome_center=center,
            outcome_scale=scale,
            baseline_mean=b_mean,
            baseline_sd=b_sd,
            mcid=float(spec["outcomes"][outcome]["mcid"]),
            coords={"participant": list(ids), "alliance_time": alliance_tps, "followup": followups},
        )

    @property
    def alliance_std(self) -> np.ndarray:
        return (self.alliance - self.alliance_mean) / self.alliance_sd

    @property
    def baseline_std(self) -> np.ndarray:
        return (self.baseline - self.baseline_mean) / self.baseline_sd

    @property
    def followup_std(self) -> np.ndarray:
        return (self.followup - self.outcome_center) / self.outcome_scale

    @property
    def alliance_observed_cells(self) -> tuple[np.ndarray, np.ndarray]:
        return _cells(np.isfinite(self.alliance))

    @property
    def alliance_missing_cells(self) -> tuple[np.ndarray, np.ndarray]:
        return _cells(~np.isfinite(self.alliance))

    @property
    def baseline_missing(self) -> np.ndarray:
        return np.flatnonzero(~np.isfinite(self.baseline)).astype("int64")

    @property
    def followup_observed_cells(self) -> tuple[np.ndarray, np.ndarray]:
        return _cells(np.isfinite(self.followup))

    def cell_labels(self, cells: tuple[np.ndarray, np.ndarray], columns: tuple[str, ...]) -> list[str]:
        """Readable coordinate labels "participant:timepoint" for index arrays of cells."""
        return [f"{self.participants[i]}:{columns[j]}" for i, j in zip(*cells, strict=True)]


# ---------------------------------------------------------------------------------------------------------------
# Priors
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParticipantPrior:
    """Hyperparameters of the participant-level models (standardised scale unless stated).

    ``gamma_mean``/``gamma_sd``: normal prior of the mean standardised alliance slope (outcome SDs per alliance SD);
    ``tau``: half-normal scale of the slopes' spread across alliance timepoints x follow-ups. The rest are fixed
    weakly-informative choices: intercepts and baseline slopes Normal(0, 1), residual SD HalfNormal(1),
    participant SD HalfNormal(0.5), Student-t nu ~ Gamma(2, 0.1), and for the alliance trajectory
    timepoint means Normal(0, 1) and both SDs HalfNormal(1) (in pooled-SD units in the raw-scale alliance model).
    """

    gamma_mean: float
    gamma_sd: float
    tau: float
    alpha_sd: float = 1.0
    beta_sd: float = 1.0
    sigma: float = 1.0
    sigma_u: float = 0.5
    nu_alpha: float = 2.0
    nu_beta: float = 0.1
    theta_sd: float = 1.0
    sigma_v: float = 1.0
    sigma_x: float = 1.0


def to_participant_prior(prior_set: dict) -> ParticipantPrior:
    """One named prior set of config.yaml -> participant-level priors.

    The set's 95% interval for rho becomes the normal prior of the mean standardised slope gamma_mean, on the
    raw (not atanh) scale: mean = midpoint, sd = width / (2 * 1.96). For standardised variables a simple
    regression slope equals the correlation, so the interval keeps its meaning; with baseline and the other
    alliance timepoints in the model it reads as the prior of an adjusted standardised slope. The slope
    heterogeneity scale tau is ``heterogeneity.alliance_phase`` (0.15 when absent).
    """
    lo, hi = prior_set["rho"]["lower95"], prior_set["rho"]["upper95"]
    if not -1.0 < lo < hi < 1.0:
        raise ValueError(f"rho.lower95={lo} and rho.upper95={hi}: expected -1 < lower95 < upper95 < 1")
    tau = float(prior_set.get("heterogeneity", {}).get("alliance_phase", 0.15))
    if not tau > 0:
        raise ValueError(f"heterogeneity.alliance_phase={tau}: expected > 0")
    return ParticipantPrior(gamma_mean=float((lo + hi) / 2.0), gamma_sd=float((hi - lo) / (2.0 * Z95)), tau=tau)


def participant_prior_data(prior: ParticipantPrior, *, residual: str = "normal", n_followups: int = 2) -> dict:
    """Values of the outcome model's prior ``pm.Data`` containers, keyed by name (only those the graph uses)."""
    out = {
        "prior_gamma_mean": prior.gamma_mean,
        "prior_gamma_sd": prior.gamma_sd,
        "prior_tau": prior.tau,
        "prior_alpha_sd": prior.alpha_sd,
        "prior_beta_sd": prior.beta_sd,
        "prior_sigma": prior.sigma,
        "prior_theta_sd": prior.theta_sd,
        "prior_sigma_v": prior.sigma_v,
        "prior_sigma_x": prior.sigma_x,
    }
    if n_followups > 1:
        out["prior_sigma_u"] = prior.sigma_u
    if residual == "student_t":
        out["prior_nu_alpha"] = prior.nu_alpha
        out["prior_nu_beta"] = prior.nu_beta
    return out


def alliance_prior_data(prior: ParticipantPrior) -> dict:
    """Values of the alliance model's prior ``pm.Data`` containers (units of the pooled alliance SD)."""
    return {"prior_theta_sd": prior.theta_sd, "prior_sigma_v": prior.sigma_v, "prior_sigma_x": prior.sigma_x}


# ---------------------------------------------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------------------------------------------


def outcome_data_values(data: CohortData) -> dict[str, np.ndarray | float]:
    """Values of the outcome model's data containers; swap them in for another cohort with the same pattern."""
    x_cells = data.alliance_observed_cells
    y_cells = data.followup_observed_cells
    return {
        "x_data": data.alliance_std[x_cells],
        "b_data": np.nan_to_num(data.baseline_std, nan=0.0),  # missing entries are replaced by b_missing
        "y_data": data.followup_std[y_cells],
        "outcome_scale": float(data.outcome_scale),
        "mcid": float(data.mcid),
    }


def alliance_data_values(data: CohortData) -> dict[str, np.ndarray | float]:
    """Values of the alliance model's data containers: observed raw alliance, its pooled mean and SD."""
    obs = data.alliance[data.alliance_observed_cells]
    return {"alliance_data": obs, "alliance_centre": float(np.mean(obs)), "alliance_spread": float(np.std(obs, ddof=1))}


def build_outcome_model(data: CohortData, prior: ParticipantPrior, residual: str = "normal") -> pm.Model:
    """Pure factory: the outcome model for one cohort, one outcome and one prior set (see the module docstring).

    The slopes ``slope_std[alliance_time, followup]`` are ADJUSTED for alliance at the other alliance timepoints
    (a joint multiple regression per follow-up) and for baseline severity; they are not the bivariate slopes of
    the published per-timepoint analyses. Reported Deterministics: ``slope_std`` (outcome SDs per alliance SD),
    ``slope_points`` (outcome points per alliance SD), ``slope_mcid`` (slope_points / MCID), and the mean slope
    ``slope_mean_points`` / ``slope_mean_mcid`` (gamma_mean on those scales).
    """
    if residual not in RESIDUALS:
        raise ValueError(f"residual={residual!r}; expected one of {RESIDUALS}")
    n, n_a = data.alliance.shape
    n_t = data.followup.shape[1]
    x_obs, x_mis = data.alliance_observed_cells, data.alliance_missing_cells
    b_mis = data.baseline_missing
    y_obs = data.followup_observed_cells
    if y_obs[0].size == 0:
        raise ValueError(f"{data.outcome}: no observed follow-up value")
    coords = {
        **data.coords,
        "alliance_obs": data.cell_labels(x_obs, data.alliance_timepoints),
        "y_obs": data.cell_labels(y_obs, data.followups),
    }
    if x_mis[0].size:
        coords["alliance_missing"] = data.cell_labels(x_mis, data.alliance_timepoints)
    if b_mis.size:
        coords["baseline_missing"] = [data.participants[i] for i in b_mis]
    values = outcome_data_values(data)
    with pm.Model(coords=coords) as model:
        hyper = {k: pm.Data(k, v) for k, v in participant_prior_data(prior, residual=residual, n_followups=n_t).items()}
        x_data = pm.Data("x_data", values["x_data"], dims="alliance_obs")
        b_data = pm.Data("b_data", values["b_data"], dims="participant")
        y_data = pm.Data("y_data", values["y_data"], dims="y_obs")
        scale = pm.Data("outcome_scale", values["outcome_scale"])
        mcid = pm.Data("mcid", values["mcid"])

        # Alliance trajectory: the imputation model of standardised alliance (MAR).
        theta_x = pm.Normal("theta_x", 0.0, hyper["prior_theta_sd"], dims="alliance_time")
        sigma_v = pm.HalfNormal("sigma_v", hyper["prior_sigma_v"])
        sigma_x = pm.HalfNormal("sigma_x", hyper["prior_sigma_x"])
        v = sigma_v * pm.Normal("v_z", 0.0, 1.0, dims="participant")
        x_mean = theta_x[None, :] + v[:, None]
        # x is built from the observed RV, not from x_data: the log density is the same (PyMC substitutes the
        # data), but forward draws (prior predictive, SBC) then make y from the simulated alliance.
        x_observed = pm.Normal("x_observed", x_mean[x_obs], sigma_x, observed=x_data, dims="alliance_obs")
        x = pt.set_subtensor(pt.zeros((n, n_a))[x_obs], x_observed)
        if x_mis[0].size:
            x_missing = pm.Normal("x_missing", x_mean[x_mis], sigma_x, dims="alliance_missing")
            x = pt.set_subtensor(x[x_mis], x_missing)
        b = b_data
        if b_mis.size:
            b = pt.set_subtensor(b[b_mis], pm.Normal("b_missing", 0.0, 1.0, dims="baseline_missing"))

        # Outcome regression.
        alpha = pm.Normal("alpha", 0.0, hyper["prior_alpha_sd"], dims="followup")
        beta = pm.Normal("beta", 0.0, hyper["prior_beta_sd"], dims="followup")
        gamma_mean = pm.Normal("gamma_mean", hyper["prior_gamma_mean"], hyper["prior_gamma_sd"])
        tau = pm.HalfNormal("tau", hyper["prior_tau"])
        delta = pm.Normal("delta", 0.0, 1.0, dims=("alliance_time", "followup"))
        gamma = pm.Deterministic("slope_std", gamma_mean + tau * delta, dims=("alliance_time", "followup"))
        mu = alpha[None, :] + b[:, None] * beta[None, :] + pt.dot(x, gamma)
        if n_t > 1:
            sigma_u = pm.HalfNormal("sigma_u", hyper["prior_sigma_u"])
            mu = mu + (sigma_u * pm.Normal("u_z", 0.0, 1.0, dims="participant"))[:, None]
        sigma = pm.HalfNormal("sigma", hyper["prior_sigma"])
        if residual == "normal":
            pm.Normal("y", mu[y_obs], sigma, observed=y_data, dims="y_obs")
        else:
            nu = pm.Gamma("nu", alpha=hyper["prior_nu_alpha"], beta=hyper["prior_nu_beta"])
            pm.StudentT("y", nu=nu, mu=mu[y_obs], sigma=sigma, observed=y_data, dims="y_obs")

        points = pm.Deterministic("slope_points", gamma * scale, dims=("alliance_time", "followup"))
        pm.Deterministic("slope_mcid", points / mcid, dims=("alliance_time", "followup"))
        pm.Deterministic("slope_mean_points", gamma_mean * scale)
        pm.Deterministic("slope_mean_mcid", gamma_mean * scale / mcid)
    # nutpie samples with a hand-written gradient, verified against this graph once per model structure
    register_handwritten(model, gradient_for(data))
    return model


def build_alliance_model(data: CohortData, prior: ParticipantPrior) -> pm.Model:
    """Pure factory: raw-scale alliance trajectory x[i, a] = theta[a] + v[i] + e, v ~ N(0, sigma_v), e ~ N(0, sigma_x).

    Priors are weakly informative relative to the observed alliance values (centre m, spread s = their mean and
    SD over all timepoints): theta ~ Normal(m, theta_sd * s), sigma_v ~ HalfNormal(sigma_v * s),
    sigma_x ~ HalfNormal(sigma_x * s). Missing values are left out of the likelihood. Deterministics:
    ``alliance_change[alliance_time]`` = theta[a] - theta[first] (scale points) and ``alliance_change_d`` = that
    change / sqrt(sigma_v^2 + sigma_x^2) (pooled within-timepoint SD).
    """
    x_obs = data.alliance_observed_cells
    coords = {**data.coords, "alliance_obs": data.cell_labels(x_obs, data.alliance_timepoints)}
    values = alliance_data_values(data)
    with pm.Model(coords=coords) as model:
        hyper = {k: pm.Data(k, v) for k, v in alliance_prior_data(prior).items()}
        x_data = pm.Data("alliance_data", values["alliance_data"], dims="alliance_obs")
        centre = pm.Data("alliance_centre", values["alliance_centre"])
        spread = pm.Data("alliance_spread", values["alliance_spread"])
        theta = pm.Normal("theta", centre, hyper["prior_theta_sd"] * spread, dims="alliance_time")
        sigma_v = pm.HalfNormal("sigma_v", hyper["prior_sigma_v"] * spread)
        sigma_x = pm.HalfNormal("sigma_x", hyper["prior_sigma_x"] * spread)
        v = sigma_v * pm.Normal("v_z", 0.0, 1.0, dims="participant")
        pm.Normal("x_observed", theta[x_obs[1]] + v[x_obs[0]], sigma_x, observed=x_data, dims="alliance_obs")
        change = pm.Deterministic("alliance_change", theta - theta[0], dims="alliance_time")
        pm.Deterministic("alliance_change_d", change / pt.sqrt(sigma_v**2 + sigma_x**2), dims="alliance_time")
    register_handwritten(model, alliance_gradient_for(data))  # checked against this graph (models.compile)
    return model


# ---------------------------------------------------------------------------------------------------------------
# Simulation with known parameters (recovery tests)
# ---------------------------------------------------------------------------------------------------------------

SIM_DEFAULTS: dict = {
    # outcome model, standardised units (outcome_scale SDs per SD of the population alliance distribution)
    "gamma": None,  # (A, T) slopes; None: gamma_mean in every cell
    "gamma_mean": -0.3,
    "alpha": 0.0,  # scalar or (T,)
    "beta": 0.5,  # scalar or (T,)
    "sigma": 0.7,
    "sigma_u": 0.4,  # used only with more than one follow-up
    "nu": None,  # None: normal residuals; a number: Student-t residuals with nu degrees of freedom
    # raw scales; None: placed inside the outcome's range (see simulate_from_model)
    "outcome_center": None,
    "outcome_scale": None,
    "baseline_center": None,
    "baseline_scale": None,
    # alliance trajectory, raw points
    "theta": None,  # (A,) timepoint means; None: 5.0 rising to 5.5
    "sigma_v": 0.5,
    "sigma_x": 0.35,
    # missing cells (MCAR): counts drawn at random, or explicit lists of (participant index, column index)
    "n_missing_alliance": 0,
    "missing_alliance": None,
    "n_missing_baseline": 0,
    "n_missing_followup": 0,
    "missing_followup": None,
    "clip": True,  # clip values to the measures' ranges
    "outcomes": {},  # per-outcome overrides of any key above, {outcome: {key: value}}
}


def _sim_params(spec: dict, params: dict | None, outcome: str | None = None) -> dict:
    p = {**SIM_DEFAULTS, **(params or {})}
    if outcome is not None:
        p = {**p, **p["outcomes"].get(outcome, {})}
        o = spec["outcomes"][outcome]
        width = o["max"] - o["min"]
        defaults = {
            "outcome_center": o["min"] + 0.4 * width,
            "outcome_scale": 0.15 * width,
            "baseline_center": o["min"] + 0.6 * width,
            "baseline_scale": 0.12 * width,
        }
        p.update({k: v for k, v in defaults.items() if p[k] is None})
    n_a, n_t = len(spec["alliance_timepoints"]), len(spec["followups"])
    p["theta"] = np.linspace(5.0, 5.5, n_a) if p["theta"] is None else np.asarray(p["theta"], float)
    gamma = np.full((n_a, n_t), p["gamma_mean"]) if p["gamma"] is None else np.asarray(p["gamma"], float)
    if gamma.shape != (n_a, n_t):
        raise ValueError(f"gamma has shape {gamma.shape}; expected (alliance timepoints, follow-ups) = {(n_a, n_t)}")
    p["gamma"] = gamma
    p["alpha"] = np.broadcast_to(np.asarray(p["alpha"], float), (n_t,))
    p["beta"] = np.broadcast_to(np.asarray(p["beta"], float), (n_t,))
    return p


def simulation_truth(spec: dict, params: dict | None = None) -> dict:
    """Known values, in units that do not depend on a sample's standardisation.

    ``alliance_change`` (theta[a] - theta[0], points) and ``alliance_change_d`` (divided by
    sqrt(sigma_v^2 + sigma_x^2)), and per outcome ``slope_raw[outcome]`` (A x T): outcome points per alliance
    scale point. Map ``slope_raw`` onto a fitted cohort's standardised slopes with :func:`std_slope_from_raw`.
    """
    p = _sim_params(spec, params)
    s_pop = float(np.hypot(p["sigma_v"], p["sigma_x"]))
    change = p["theta"] - p["theta"][0]
    slope_raw = {}
    for outcome in spec["outcomes"]:
        q = _sim_params(spec, params, outcome)
        slope_raw[outcome] = q["gamma"] * q["outcome_scale"] / s_pop
    return {"alliance_change": change, "alliance_change_d": change / s_pop, "slope_raw": slope_raw}


def std_slope_from_raw(data: CohortData, slope_raw: np.ndarray) -> np.ndarray:
    """Points per alliance point -> the model's slope_std for this cohort's standardisation constants (exact)."""
    return np.asarray(slope_raw) * data.alliance_sd[:, None] / data.outcome_scale


def _pick_cells(rng, shape, n_missing, explicit) -> np.ndarray:
    mask = np.zeros(shape, bool)
    if explicit is not None:
        for i, j in explicit:
            mask[i, j] = True
    elif n_missing:
        flat = rng.choice(mask.size, size=n_missing, replace=False)
        mask.flat[flat] = True
    return mask


def simulate_from_model(spec: dict, n: int, params: dict | None = None, seed: int = 0) -> pd.DataFrame:
    """Draw one cohort from the outcome model's generative process with known parameters, in raw units.

    Alliance (1-7 scale): x_raw[i, a] = theta[a] + v[i] + e[i, a], v ~ N(0, sigma_v), e ~ N(0, sigma_x); its
    population-standardised value x[i, a] = (x_raw - theta[a]) / sqrt(sigma_v^2 + sigma_x^2) drives every outcome.
    Each outcome of ``spec``: baseline b = baseline_center + baseline_scale * z, z ~ N(0, 1), and follow-ups
    y = outcome_center + outcome_scale * (alpha[t] + beta[t] z + sum_a gamma[a, t] x[i, a] + u[i] + eps).
    Missing cells are masked completely at random (a special case of MAR) after drawing; values are clipped
    to the measures' ranges (the defaults keep clipping rare). ``params`` overrides :data:`SIM_DEFAULTS`.

    Returns the long table (participant_id, timepoint, measure, value) with every designed cell. The known
    values follow from ``spec`` and ``params`` alone: :func:`simulation_truth` (not stored in ``df.attrs``,
    which pandas compares on concat).
    """
    rng = np.random.default_rng(seed)
    p = _sim_params(spec, params)
    alliance_tps, followups = list(spec["alliance_timepoints"]), list(spec["followups"])
    n_a, n_t = len(alliance_tps), len(followups)
    ids = [f"S{i + 1:03d}" for i in range(n)]
    s_pop = float(np.hypot(p["sigma_v"], p["sigma_x"]))
    x_raw = p["theta"][None, :] + rng.normal(0.0, p["sigma_v"], n)[:, None] + rng.normal(0.0, p["sigma_x"], (n, n_a))
    x_std = (x_raw - p["theta"][None, :]) / s_pop
    a_spec = spec["alliance"]
    if p["clip"]:
        x_raw = np.clip(x_raw, a_spec["min"], a_spec["max"])
    x_raw[_pick_cells(rng, (n, n_a), p["n_missing_alliance"], p["missing_alliance"])] = np.nan
    frames = [_long(ids, alliance_tps, a_spec["measure"], x_raw)]
    for outcome, o in spec["outcomes"].items():
        q = _sim_params(spec, params, outcome)
        z = rng.normal(size=n)
        u = rng.normal(0.0, q["sigma_u"], n) if n_t > 1 else np.zeros(n)
        eps = rng.standard_t(q["nu"], (n, n_t)) if q["nu"] is not None else rng.normal(size=(n, n_t))
        y_std = q["alpha"][None, :] + z[:, None] * q["beta"][None, :] + x_std @ q["gamma"] + u[:, None]
        y = q["outcome_center"] + q["outcome_scale"] * (y_std + q["sigma"] * eps)
        b = q["baseline_center"] + q["baseline_scale"] * z
        if q["clip"]:
            y, b = np.clip(y, o["min"], o["max"]), np.clip(b, o["min"], o["max"])
        b[_pick_cells(rng, (n, 1), q["n_missing_baseline"], None)[:, 0]] = np.nan
        y[_pick_cells(rng, (n, n_t), q["n_missing_followup"], q["missing_followup"])] = np.nan
        frames += [_long(ids, [spec["baseline_timepoint"]], outcome, b[:, None]), _long(ids, followups, outcome, y)]
    return pd.concat(frames, ignore_index=True)


def _long(ids: list[str], timepoints: list[str], measure: str, values: np.ndarray) -> pd.DataFrame:
    n, k = values.shape
    return pd.DataFrame(
        {
            "participant_id": np.repeat(ids, k),
            "timepoint": np.tile(timepoints, n),
            "measure": measure,
            "value": values.reshape(-1).astype(float),
        }
    )
