"""Calibrated SYNTHETIC participant cohorts, shaped like the two trials whose participant data are not public.

``simulate_cohort(name, spec, seed, n)`` draws one cohort in long format (``participant_id, timepoint, measure,
value``): a multivariate normal on a latent scale, then every score is rounded and clipped to its instrument's range
in ``spec`` (alliance item means to 2 decimals in [alliance.min, alliance.max]; symptom scores to integers in
[min, max]), then a few cells are set missing completely at random, as the published reports imply. Each parameter
below carries the published number (or the stated assumption) it is calibrated to.

Calibration conventions:

* Means and SDs are targets on the OBSERVED (clipped) scale. The latent mean and SD of each variable are solved so
  that the normal censored to the spec's [min, max] has exactly that mean and SD (``latent_moments``); integer
  rounding adds about 1/12 to a variance and is ignored. Without this, the floor at 0 (HAMD at follow-up) and the
  ceiling at 7 (alliance) would shrink SDs by up to 10% and inflate the within-person d from baseline.
* Correlations are targets on the observed scale too. Clipping attenuates a correlation (by up to .026 here), so
  each latent correlation is solved from the Hermite expansion of the two clipped normals (``clipped_correlation``,
  exact up to rounding to integers or 2 decimals). Pairs not listed are 0. The solved latent matrix is checked for
  positive definiteness and never adjusted: a non-PD matrix raises ValueError.
* Alliance is uncorrelated with baseline severity (not reported; an assumption), so the partial correlation of
  alliance with a follow-up score given the baseline score is ``r / sqrt(1 - r_baseline_followup**2)``: each
  alliance-follow-up r is the targeted partial r times that factor (``_via_baseline``).
* A published "variance explained" range is read as a partial r^2 after the baseline covariate (Zeifman et al. 2024).

Nothing here is participant data. Every output derived from these cohorts must carry ``SYNTHETIC_LABEL``.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, stats

SYNTHETIC_LABEL = "SYNTHETIC"
COLUMNS = ["participant_id", "timepoint", "measure", "value"]


@dataclass(frozen=True)
class Variable:
    """One (timepoint, measure) cell of the design, with its target mean and SD on the observed (clipped) scale."""

    key: str  # short name used in the correlation list
    timepoint: str
    measure: str
    mean: float
    sd: float
    calibration: str  # the published number (or the assumption) behind mean and sd


@dataclass(frozen=True)
class Correlation:
    a: str
    b: str
    r: float
    calibration: str


@dataclass(frozen=True)
class MissingCells:
    """Cells of one variable set to NaN completely at random: max(1, round(fraction * n)) participants."""

    key: str
    fraction: float
    calibration: str

    def count(self, n: int) -> int:
        return min(n, max(1, int(round(self.fraction * n))))


@dataclass(frozen=True)
class CohortParameters:
    name: str
    description: str
    alliance_measure: str
    alliance_timepoints: tuple[str, ...]
    baseline_timepoint: str
    followups: tuple[str, ...]
    outcomes: tuple[str, ...]
    variables: tuple[Variable, ...]
    correlations: tuple[Correlation, ...]  # observed-scale targets; pairs not listed are 0
    missing: tuple[MissingCells, ...]

    @property
    def keys(self) -> list[str]:
        return [v.key for v in self.variables]

    def variable(self, key: str) -> Variable:
        return next(v for v in self.variables if v.key == key)

    def correlation_matrix(self) -> np.ndarray:
        """Target correlation matrix on the observed scale (variables in design order)."""
        index = {k: i for i, k in enumerate(self.keys)}
        matrix = np.eye(len(index))
        for c in self.correlations:
            if c.a not in index or c.b not in index or c.a == c.b:
                raise ValueError(
                    f"{self.name}: correlation {c.a!r}-{c.b!r}: expected two different keys of {self.keys}"
                )
            matrix[index[c.a], index[c.b]] = matrix[index[c.b], index[c.a]] = c.r
        return matrix

    def latent_correlation_matrix(self, spec: dict) -> np.ndarray:
        """Latent correlations whose clipped normals have the target correlations; ValueError if not PD."""
        target = self.correlation_matrix()
        margins = self.latent_margins(spec)
        latent = np.eye(len(margins))
        for i, j in zip(*np.triu_indices(len(margins), k=1), strict=True):
            if target[i, j] != 0.0:
                latent[i, j] = latent[j, i] = latent_correlation(target[i, j], margins[i], margins[j])
        smallest = float(np.linalg.eigvalsh(latent).min())
        if smallest <= 1e-8:
            raise ValueError(
                f"{self.name}: latent correlation matrix is not positive definite (smallest eigenvalue {smallest:.3g});"
                " expected every eigenvalue > 0 (change the listed correlations; nothing is adjusted automatically)"
            )
        return latent

    def bounds(self, spec: dict) -> list[tuple[float, float]]:
        """[min, max] of each variable's instrument, from the cohort spec."""
        ranges = {self.alliance_measure: spec["alliance"], **spec["outcomes"]}
        return [(float(ranges[v.measure]["min"]), float(ranges[v.measure]["max"])) for v in self.variables]

    def latent_margins(self, spec: dict) -> list[tuple[float, float, float, float]]:
        """(latent mean, latent sd, min, max) of each variable, so that its clipped normal has the target moments."""
        margins = []
        for v, (lo, hi) in zip(self.variables, self.bounds(spec), strict=True):
            try:
                margins.append((*latent_moments(v.mean, v.sd, lo, hi), lo, hi))
            except ValueError as err:
                raise ValueError(f"synthetic cohort {self.name!r}, {v.measure} at {v.timepoint}: {err}") from None
        return margins

    def parameter_table(self, spec: dict) -> pd.DataFrame:
        """Target (observed-scale) and solved latent means and SDs, one row per variable, for the report."""
        rows = []
        for v, (latent_mean, latent_sd, lo, hi) in zip(self.variables, self.latent_margins(spec), strict=True):
            rows.append((v.timepoint, v.measure, v.mean, v.sd, latent_mean, latent_sd, lo, hi, v.calibration))
        columns = ["timepoint", "measure", "target_mean", "target_sd", "latent_mean", "latent_sd", "min", "max"]
        return pd.DataFrame(rows, columns=[*columns, "calibration"])

    def correlation_table(self, spec: dict) -> pd.DataFrame:
        """The listed target correlations, the solved latent ones, and what each is calibrated to, for the report."""
        name = {v.key: f"{v.measure} @ {v.timepoint}" for v in self.variables}
        index = {k: i for i, k in enumerate(self.keys)}
        latent = self.latent_correlation_matrix(spec)
        rows = [(name[c.a], name[c.b], c.r, latent[index[c.a], index[c.b]], c.calibration) for c in self.correlations]
        return pd.DataFrame(rows, columns=["variable_a", "variable_b", "target_r", "latent_r", "calibration"])


def censored_moments(mu: float, sigma: float, lo: float, hi: float) -> tuple[float, float]:
    """Mean and SD of N(mu, sigma^2) clipped to [lo, hi]."""
    a, b = (lo - mu) / sigma, (hi - mu) / sigma
    p_lo, p_hi, p_in = stats.norm.cdf(a), stats.norm.sf(b), stats.norm.cdf(b) - stats.norm.cdf(a)
    d_phi = stats.norm.pdf(a) - stats.norm.pdf(b)
    m1 = lo * p_lo + hi * p_hi + mu * p_in + sigma * d_phi
    m2 = (
        lo**2 * p_lo
        + hi**2 * p_hi
        + (mu**2 + sigma**2) * p_in
        + 2 * mu * sigma * d_phi
        + sigma**2 * (a * stats.norm.pdf(a) - b * stats.norm.pdf(b))
    )
    return float(m1), float(np.sqrt(max(m2 - m1**2, 0.0)))


def latent_moments(mean: float, sd: float, lo: float, hi: float) -> tuple[float, float]:
    """Latent (mu, sigma) whose normal, clipped to [lo, hi], has the target observed ``mean`` and ``sd``.

    Raises ValueError when no such normal exists (mean outside the range, or sd too large for it).
    """
    if not lo < mean < hi or sd <= 0:
        raise ValueError(f"target mean {mean}, sd {sd}: expected lo < mean < hi ({lo}, {hi}) and sd > 0")

    def gap(x):
        m, s = censored_moments(x[0], float(np.exp(x[1])), lo, hi)
        return [(m - mean) / sd, (s - sd) / sd]

    sol = optimize.least_squares(gap, x0=[mean, np.log(sd)], xtol=1e-12, ftol=1e-12, gtol=1e-12)
    if max(abs(g) for g in sol.fun) > 1e-6:
        raise ValueError(f"target mean {mean}, sd {sd}: no normal clipped to [{lo}, {hi}] has these moments")
    return float(sol.x[0]), float(np.exp(sol.x[1]))


def _hermite_coefficients(mu: float, sigma: float, lo: float, hi: float, order: int = 120) -> np.ndarray:
    """c_k = E[f(Z) He_k(Z)] / sqrt(k!), k = 1..order, for f(z) = clip(mu + sigma z, lo, hi), Z ~ N(0, 1).

    By Stein's identity E[f He_k] = E[f^(k)]; f' = sigma on (a, b) = ((lo - mu) / sigma, (hi - mu) / sigma), so
    c_1 = sigma P(a < Z < b) and c_k = sigma (h_{k-2}(a) phi(a) - h_{k-2}(b) phi(b)) / sqrt(k (k - 1)) for k >= 2,
    with h_m = He_m / sqrt(m!) from the normalised recurrence.
    """
    a, b = (lo - mu) / sigma, (hi - mu) / sigma

    def normalised_hermite(x: float) -> np.ndarray:
        h = np.zeros(order)
        h[0], h[1] = 1.0, x
        for m in range(1, order - 1):
            h[m + 1] = (x * h[m] - np.sqrt(m) * h[m - 1]) / np.sqrt(m + 1)
        return h

    k = np.arange(2, order + 1)
    h_a, h_b = normalised_hermite(a)[: order - 1], normalised_hermite(b)[: order - 1]
    tail = h_a * stats.norm.pdf(a) - h_b * stats.norm.pdf(b)
    c = np.empty(order)
    c[0] = sigma * (stats.norm.cdf(b) - stats.norm.cdf(a))
    c[1:] = sigma * tail / np.sqrt(k * (k - 1))
    return c


def clipped_correlation(rho: float, margin_a: tuple, margin_b: tuple) -> float:
    """Correlation of clip(X_a) and clip(X_b) when latent (X_a, X_b) is bivariate normal with correlation ``rho``.

    Each margin is (mu, sigma, lo, hi). Mehler's expansion: Cov = sum_k c_k d_k rho^k.
    """
    ca, cb = _hermite_coefficients(*margin_a), _hermite_coefficients(*margin_b)
    sd_a = censored_moments(*margin_a)[1]
    sd_b = censored_moments(*margin_b)[1]
    powers = rho ** np.arange(1, len(ca) + 1)
    return float(np.sum(ca * cb * powers) / (sd_a * sd_b))


def latent_correlation(target: float, margin_a: tuple, margin_b: tuple) -> float:
    """Latent rho at which the clipped pair has correlation ``target``; ValueError when out of reach."""
    limit = 0.999
    lo_r, hi_r = clipped_correlation(-limit, margin_a, margin_b), clipped_correlation(limit, margin_a, margin_b)
    if not lo_r < target < hi_r:
        raise ValueError(f"target correlation {target}: expected within ({lo_r:.3f}, {hi_r:.3f}) for these ranges")
    return float(optimize.brentq(lambda r: clipped_correlation(r, margin_a, margin_b) - target, -limit, limit))


def _via_baseline(partial_r: float, r_baseline_followup: float) -> float:
    """r(alliance, follow-up) giving ``partial_r`` after the baseline score, when r(alliance, baseline) = 0."""
    return round(partial_r * float(np.sqrt(1.0 - r_baseline_followup**2)), 3)


# --- PTSD: MDMA-assisted therapy, shaped like Zeifman et al. 2024 (n = 22 analysed of 23) -----------------------
_CAPS_BP = 0.30  # r(baseline CAPS-5, post CAPS-5): not reported; restricted baseline range keeps it low (assumed)
_IES_BP = 0.40  # r(baseline IES-R, post IES-R): not reported (assumed)

PTSD = CohortParameters(
    name="ptsd",
    description="PTSD, MDMA-assisted therapy, shaped like Zeifman et al. 2024 (doi 10.1080/20008066.2023.2297536)",
    alliance_measure="WAI",
    alliance_timepoints=("pre_session_3", "session_4", "session_9"),
    baseline_timepoint="baseline",
    followups=("post",),
    outcomes=("CAPS-5", "IES-R"),
    variables=(
        # WAI item means are not reported; alliance in therapy trials is high and rises slightly over sessions
        Variable("a3", "pre_session_3", "WAI", 5.4, 0.8, "assumed: high alliance, rising over sessions"),
        Variable("a4", "session_4", "WAI", 5.7, 0.8, "assumed: high alliance, rising over sessions"),
        Variable("a9", "session_9", "WAI", 6.0, 0.8, "assumed: high alliance, rising over sessions"),
        # CAPS-5 entry criteria for MDMA-AT trials; change ~ -24 as in Ot'alora 2018 (100 mg arm -24.4, 125 mg -26.3)
        Variable("cb", "baseline", "CAPS-5", 44.0, 6.0, "severe-PTSD entry (assumed); change -24 ~ Ot'alora 2018"),
        Variable("cp", "post", "CAPS-5", 20.0, 12.0, "baseline 44 - 24 (Ot'alora 2018 CAPS change -24.4 / -26.3)"),
        Variable("ib", "baseline", "IES-R", 55.0, 12.0, "assumed: severe IES-R at entry"),
        Variable("ip", "post", "IES-R", 25.0, 15.0, "assumed: change of about 2.5 baseline SDs, like CAPS"),
    ),
    correlations=(
        Correlation("a3", "a4", 0.65, "assumed: WAI across sessions r ~ .6-.7"),
        Correlation("a4", "a9", 0.70, "assumed: WAI across sessions r ~ .6-.7"),
        Correlation("a3", "a9", 0.60, "assumed: WAI across sessions r ~ .6-.7"),
        Correlation("cb", "cp", _CAPS_BP, "assumed (not reported)"),
        Correlation("ib", "ip", _IES_BP, "assumed (not reported)"),
        Correlation("cb", "ib", 0.50, "assumed: clinician vs self-report at baseline"),
        Correlation("cp", "ip", 0.70, "assumed: clinician vs self-report after treatment"),
        Correlation("cb", "ip", 0.20, "assumed"),
        Correlation("cp", "ib", 0.20, "assumed"),
        # Z01: baseline alliance did not predict post CAPS (n.s.): partial r -.15
        Correlation("a3", "cp", _via_baseline(-0.15, _CAPS_BP), "Z01 not significant: partial r -.15 (assumed)"),
        # Z02/Z03: sessions 4 and 9 explained 24-29% of post CAPS variance: partial r^2 .26 and .28
        Correlation("a4", "cp", _via_baseline(-0.51, _CAPS_BP), "Z02 partial r^2 in .24-.29: partial r -.51"),
        Correlation("a9", "cp", _via_baseline(-0.53, _CAPS_BP), "Z03 partial r^2 in .24-.29: partial r -.53"),
        # Z04: significant uncorrected, not after Bonferroni over 6 (p in (.0083, .05) at df 19: |r| in (.43, .56))
        Correlation("a3", "ip", _via_baseline(-0.45, _IES_BP), "Z04 p < .05 uncorrected only: partial r -.45"),
        # Z05/Z06: sessions 4 and 9 explained 26-40% of post IES-R variance: partial r^2 .30 and .36
        Correlation("a4", "ip", _via_baseline(-0.55, _IES_BP), "Z05 partial r^2 in .26-.40: partial r -.55"),
        Correlation("a9", "ip", _via_baseline(-0.60, _IES_BP), "Z06 partial r^2 in .26-.40: partial r -.60"),
    ),
    missing=(MissingCells("a9", 1 / 22, "23 enrolled, 22 analysed: one session-9 WAI missing of 22"),),
)

# --- MDD: psilocybin-assisted therapy, shaped like Levin et al. 2024 (N = 24; parent trial Davis 2021) -------------
MDD = CohortParameters(
    name="mdd",
    description="Depression, psilocybin-assisted therapy, like Levin et al. 2024 (doi 10.1371/journal.pone.0300501)",
    alliance_measure="alliance_total",
    alliance_timepoints=("final_preparation", "post_1_week"),
    baseline_timepoint="baseline",
    followups=("week_4", "month_3", "month_6", "month_12"),
    outcomes=("GRID-HAMD",),
    variables=(
        # P05: alliance rose from final preparation to 1 week post, d = .43 (type not stated). Read as
        # d_av = difference / SD: .43 * .8 = .344; with r = .6, d_z = .48, paired t(23) = 2.35, p = .027 (printed .03)
        Variable("af", "final_preparation", "alliance_total", 5.6, 0.8, "assumed level; P05 d = .43 rise to next"),
        Variable("ap", "post_1_week", "alliance_total", 5.944, 0.8, "P05 within-person d = .43 (as d_av): +.344"),
        # Davis 2021 GRID-HAMD: baseline 22.9 (SD 3.6 immediate, 4.4 delayed arm); week 8 = 4 weeks after the 2nd
        # dose 8.5 (5.7). With r(baseline, week 4) = .20 the SD of change is 6.27 and d_z = 14.4 / 6.27 = 2.30,
        # Gukasyan 2022's 1-month d (read as d_z = mean change / SD of change; the type is not stated).
        Variable("hb", "baseline", "GRID-HAMD", 22.9, 4.0, "Davis 2021 baseline 22.9, SD 3.6 / 4.4"),
        Variable("h1", "week_4", "GRID-HAMD", 8.5, 5.7, "Davis 2021 4 weeks after 2nd dose 8.5 (5.7)"),
        # Later follow-ups: SD 6 (assumed); mean = 22.9 - d * SD of change, SD of change = sqrt(4^2 + 6^2 - 2 r 4 6)
        # = 6.32 (r .25), 6.32 (r .25), 6.51 (r .20)
        Variable("h3", "month_3", "GRID-HAMD", 10.25, 6.0, "Gukasyan 2022 d = 2.0 at 3 months: 22.9 - 2.0 * 6.32"),
        Variable("h6", "month_6", "GRID-HAMD", 6.46, 6.0, "Gukasyan 2022 d = 2.6 at 6 months: 22.9 - 2.6 * 6.32"),
        Variable("h12", "month_12", "GRID-HAMD", 7.27, 6.0, "Gukasyan 2022 d = 2.4 at 12 months: 22.9 - 2.4 * 6.51"),
    ),
    correlations=(
        Correlation("af", "ap", 0.60, "assumed: alliance final preparation vs 1 week post r ~ .6"),
        Correlation("hb", "h1", 0.20, "Davis 2021 means/SDs + Gukasyan 2022 d = 2.3 at 1 month imply r = .20"),
        Correlation("hb", "h3", 0.25, "assumed: baseline weakly related to follow-ups (.2-.3)"),
        Correlation("hb", "h6", 0.25, "assumed: baseline weakly related to follow-ups (.2-.3)"),
        Correlation("hb", "h12", 0.20, "assumed: baseline weakly related to follow-ups (.2-.3)"),
        Correlation("h1", "h3", 0.65, "assumed: follow-ups inter-correlated .5-.7"),
        Correlation("h1", "h6", 0.65, "assumed: follow-ups inter-correlated .5-.7"),
        Correlation("h1", "h12", 0.55, "assumed: follow-ups inter-correlated .5-.7"),
        Correlation("h3", "h6", 0.65, "assumed: follow-ups inter-correlated .5-.7"),
        Correlation("h3", "h12", 0.55, "assumed: follow-ups inter-correlated .5-.7"),
        Correlation("h6", "h12", 0.70, "assumed: follow-ups inter-correlated .5-.7"),
        Correlation("af", "h1", -0.65, "L01 r = -.65"),
        Correlation("af", "h3", -0.30, "L02 omitted from abstract, presumably n.s.: r -.30 (assumed)"),
        Correlation("af", "h6", -0.47, "L03 r = -.47"),
        Correlation("af", "h12", -0.54, "L04 r = -.54"),
        Correlation("ap", "h1", -0.85, "L05 r = -.85"),
        Correlation("ap", "h3", -0.52, "L06 r = -.52"),
        Correlation("ap", "h6", -0.77, "L07 r = -.77"),
        Correlation("ap", "h12", -0.61, "L08 r = -.61"),
    ),
    missing=(MissingCells("af", 4 / 24, "L01-L04 r and p agree with n ~ 20 of 24: 4 final-preparation ratings"),),
)

COHORT_PARAMETERS: dict[str, CohortParameters] = {"ptsd": PTSD, "mdd": MDD}


def _check_design(params: CohortParameters, spec: dict) -> None:
    """The spec must have the design the parameters were calibrated for (the alliance measure may be renamed)."""
    expected = {
        "alliance_timepoints": list(params.alliance_timepoints),
        "baseline_timepoint": params.baseline_timepoint,
        "followups": list(params.followups),
        "outcomes": sorted(params.outcomes),
    }
    found = {
        "alliance_timepoints": list(spec["alliance_timepoints"]),
        "baseline_timepoint": spec["baseline_timepoint"],
        "followups": list(spec["followups"]),
        "outcomes": sorted(spec["outcomes"]),
    }
    wrong = [f"{k}: found {found[k]}, expected {expected[k]}" for k in expected if found[k] != expected[k]]
    if wrong:
        raise ValueError(
            f"synthetic cohort {params.name!r} is calibrated for another design ({'; '.join(wrong)});"
            " use that design or give a participant file instead of 'synthetic'"
        )


def simulate_cohort(name: str, spec: dict, seed: int, n: int | None = None) -> pd.DataFrame:
    """One SYNTHETIC cohort in long format, deterministic in (name, seed, n).

    ``spec`` is the cohort's config block (ranges, alliance measure name, design); ``n`` defaults to
    ``spec["n_synthetic"]``. Returns columns ``participant_id, timepoint, measure, value`` with one row per
    participant and design cell (participant-major, design order), ``value`` float with NaN for missing cells.
    """
    if name not in COHORT_PARAMETERS:
        raise ValueError(f"no synthetic parameters for cohort {name!r}; expected one of {sorted(COHORT_PARAMETERS)}")
    params = COHORT_PARAMETERS[name]
    _check_design(params, spec)
    n = int(spec["n_synthetic"] if n is None else n)
    if n < 2:
        raise ValueError(f"n = {n}: expected at least 2 participants")
    corr = params.latent_correlation_matrix(spec)
    margins = params.latent_margins(spec)
    mean, sd = np.array([m[:2] for m in margins]).T
    # one stream per cohort name, so two cohorts simulated with the same seed are not driven by the same numbers
    rng = np.random.default_rng([int(seed), zlib.crc32(name.encode())])
    latent = mean + sd * (rng.standard_normal((n, len(mean))) @ np.linalg.cholesky(corr).T)

    values = np.empty_like(latent)
    measures = []
    for j, (var, (_, _, lo, hi)) in enumerate(zip(params.variables, margins, strict=True)):
        if var.measure == params.alliance_measure:  # item mean, 2 decimals; the spec may rename the measure
            measures.append(spec["alliance"]["measure"])
            values[:, j] = np.clip(np.round(latent[:, j], 2), lo, hi)
        else:  # symptom score, integer
            measures.append(var.measure)
            values[:, j] = np.clip(np.rint(latent[:, j]), lo, hi)
    for cells in params.missing:
        rows = rng.choice(n, size=cells.count(n), replace=False)
        values[rows, params.keys.index(cells.key)] = np.nan

    width = max(2, len(str(n)))
    ids = [f"P{i:0{width}d}" for i in range(1, n + 1)]
    k = len(params.variables)
    return pd.DataFrame(
        {
            "participant_id": np.repeat(ids, k),
            "timepoint": np.tile([v.timepoint for v in params.variables], n),
            "measure": np.tile(measures, n),
            "value": values.reshape(-1).astype(float),
        }
    )


def to_wide(long: pd.DataFrame) -> pd.DataFrame:
    """Participants x "measure@timepoint" columns (a convenience for summaries and tests)."""
    wide = long.assign(cell=long["measure"] + "@" + long["timepoint"]).pivot(
        index="participant_id", columns="cell", values="value"
    )
    return wide.loc[long["participant_id"].drop_duplicates()]
