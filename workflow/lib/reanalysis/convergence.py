"""R-hat and effective sample sizes of many scalars at once, as ArviZ computes them.

ArviZ's ``rhat`` and ``ess`` loop over the scalars of a posterior in Python, one rank transform and one FFT
each: 0.4 s for the 82 scalars of a Track A fit, as long as sampling it takes. The convergence gate measures
every fit (and every retry), so these functions do the same arithmetic for an array of shape
(scalars, chains, draws) in whole-array operations: rank-normalised split R-hat (Vehtari et al. 2021, the
larger of the bulk and folded-tail values), bulk ESS and tail ESS (the smaller of the 5% and 95% quantile
ESS), with ArviZ's Geyer truncation and R's type-7 quantiles. tests/test_convergence.py holds them to ArviZ's
own results to 1e-10. Scalars that ArviZ treats specially (non-finite draws, fewer than 4 draws or 2 chains)
are handed to ArviZ itself.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
from scipy import special
from scipy.fft import next_fast_len

_BLOM = 3.0 / 8.0  # ArviZ's offset in the back-transform of ranks


def _split(a: np.ndarray) -> np.ndarray:
    """(n, chains, draws) -> (n, 2 chains, draws // 2): first halves, then second halves (ArviZ drops a middle
    draw when the count is odd)."""
    half = a.shape[2] // 2
    return np.concatenate([a[:, :, :half], a[:, :, a.shape[2] - half :]], axis=1)


def _rank_transform(flat: np.ndarray, transform) -> np.ndarray:
    """``transform`` of the ranks 1..m along each row, ties sharing their average rank (scipy's
    ``rankdata(method="average")``, which loops over rows in Python when given an axis).

    Every draw gets ``transform`` of its position in its row's sort order, computed once for all rows; only the
    draws in tie groups (repeated draws, or the two draws equally far from an even count's median in the folded
    R-hat) get it of their group's average rank instead (:func:`_placed`). Applied elementwise either way, so a
    draw's value does not depend on how its row was treated.
    """
    order = np.argsort(flat, axis=1)  # any order within a tie group: they all get its average
    out, rows, columns, ranks = _placed(flat, order, transform(np.arange(1.0, flat.shape[1] + 1.0)))
    if len(ranks):
        out[rows, columns] = transform(ranks)
    return out


@numba.njit(cache=True, nogil=True)  # runs beside rhat_ess's other thread
def _placed(flat, order, scores):
    """``out[r, order[r, p]] = scores[p]`` for every row r, and (rows, columns, average ranks) of the draws in tie
    groups, in one pass over each sorted row (the whole-array version spent 30 ms of a Track A gate on rows whose
    only ties were two draws)."""
    n, m = flat.shape
    out = np.empty((n, m))
    rows = np.empty(n * m, np.int64)
    columns = np.empty(n * m, np.int64)
    ranks = np.empty(n * m)
    count = 0
    for r in range(n):
        j = 0
        while j < m:
            k = j
            while k + 1 < m and flat[r, order[r, k + 1]] == flat[r, order[r, j]]:
                k += 1
            for p in range(j, k + 1):
                out[r, order[r, p]] = scores[p]
            if k > j:
                for p in range(j, k + 1):
                    rows[count], columns[count], ranks[count] = r, order[r, p], (j + k) / 2.0 + 1.0
                    count += 1
            j = k + 1
    return out, rows[:count], columns[:count], ranks[:count]


def _average_ranks(flat: np.ndarray) -> np.ndarray:
    """Ranks 1..m along each row, ties sharing their average rank."""
    return _rank_transform(flat, lambda ranks: ranks)


def _z_scale(a: np.ndarray) -> np.ndarray:
    """Normal scores of the pooled ranks of each scalar's draws (average ranks for ties); the m scores of an untied
    row are computed once for all rows (the gate measures every fit and retry)."""
    flat = a.reshape(a.shape[0], -1)
    m = flat.shape[1]
    return _rank_transform(flat, lambda ranks: special.ndtri((ranks - _BLOM) / (m - 2 * _BLOM + 1))).reshape(a.shape)


def _rhat(a: np.ndarray) -> np.ndarray:
    draws = a.shape[2]
    between = draws * np.var(a.mean(axis=2), axis=1, ddof=1)
    within = np.mean(np.var(a, axis=2, ddof=1), axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):  # a constant scalar: NaN, as ArviZ
        return np.sqrt((between / within + draws - 1) / draws)


def _mean_autocov(a: np.ndarray) -> np.ndarray:
    """Autocovariance of each chain, averaged over chains: (n, chains, draws) -> (n, draws). The inverse FFT is
    linear, so the chains' power spectra are averaged first and transformed back once per scalar."""
    n = a.shape[2]
    centred = a - a.mean(axis=2, keepdims=True)
    spectrum = np.fft.rfft(centred, n=next_fast_len(2 * n), axis=2)
    power = (spectrum.real**2 + spectrum.imag**2).mean(axis=1)
    return np.fft.irfft(power, n=next_fast_len(2 * n), axis=1)[:, :n] / n


@numba.njit(cache=True)
def _geyer_tau(mean_acov: np.ndarray, var_plus: float, n_draw: int) -> float:
    """Integrated autocorrelation time of one scalar: Geyer's initial positive, then monotone, sequence
    (the loop of ArviZ's ``_ess``; it runs to the first negative pair, a few dozen lags)."""
    mean_var = mean_acov[0] * n_draw / (n_draw - 1.0)
    rho = np.zeros(n_draw)
    rho_even, rho_odd = 1.0, 1.0 - (mean_var - mean_acov[1]) / var_plus
    rho[0], rho[1] = rho_even, rho_odd
    t = 1
    while t < n_draw - 3 and rho_even + rho_odd > 0.0:
        rho_even = 1.0 - (mean_var - mean_acov[t + 1]) / var_plus
        rho_odd = 1.0 - (mean_var - mean_acov[t + 2]) / var_plus
        if rho_even + rho_odd >= 0:
            rho[t + 1], rho[t + 2] = rho_even, rho_odd
        t += 2
    max_t = t - 2
    if rho_even > 0:
        rho[max_t + 1] = rho_even
    t = 1
    while t <= max_t - 2:
        if rho[t + 1] + rho[t + 2] > rho[t - 1] + rho[t]:
            rho[t + 1] = (rho[t - 1] + rho[t]) / 2.0
            rho[t + 2] = rho[t + 1]
        t += 2
    return -1.0 + 2.0 * np.sum(rho[: max_t + 1]) + np.sum(rho[max_t + 1 : max_t + 2])


def load_compiled() -> None:
    """Load :func:`_geyer_tau` and :func:`_placed` from numba's cache (compiling them if absent), with the argument
    types the gate gives them. The job worker's server calls this once for all its forks: the first numba function a
    process loads also sets up numba's typing and target contexts."""
    _geyer_tau(np.zeros(4), 1.0, 4)
    _placed(np.zeros((1, 2)), np.argsort(np.zeros((1, 2)), axis=1), np.zeros(2))


def _ess(a: np.ndarray) -> np.ndarray:
    """ESS of each scalar of an (n, chains, draws) array, as ArviZ's ``_ess`` of one (chains, draws) array."""
    n, n_chain, n_draw = a.shape
    out = np.full(n, float(n_chain * n_draw))  # ArviZ: a (numerically) constant scalar has ESS = its size
    varying = np.flatnonzero(np.ptp(a.reshape(n, -1), axis=1) >= np.finfo(float).resolution)
    if len(varying) == 0:
        return out
    a = a[varying]
    mean_acov = _mean_autocov(a)
    var_plus = (mean_acov[:, 0] * n_draw / (n_draw - 1.0)) * (n_draw - 1.0) / n_draw  # ArviZ's order of operations
    if n_chain > 1:
        var_plus = var_plus + np.var(a.mean(axis=2), axis=1, ddof=1)
    floor = 1.0 / np.log10(n_chain * n_draw)
    for i, j in enumerate(varying):
        out[j] = n_chain * n_draw / max(_geyer_tau(mean_acov[i], var_plus[i], n_draw), floor)
    return out


def _type7_quantiles(a: np.ndarray, probs) -> list[np.ndarray]:
    """Per-scalar quantiles of all draws, as scipy's ``mquantiles(alphap=1, betap=1)`` (R's type 7), which ArviZ
    uses: the same interpolation, written out so the indicator draws <= quantile match exactly. Only the order
    statistics it reads are put in place (a partition, not a sort)."""
    flat = a.reshape(a.shape[0], -1)
    size, at = flat.shape[1], []
    for p in probs:
        aleph = size * p + (1.0 - p)
        k = int(np.floor(np.clip(aleph, 1, size - 1)))
        at.append((k, float(np.clip(aleph - k, 0.0, 1.0))))
    x = np.partition(flat, sorted({i for k, _ in at for i in (k - 1, k)}), axis=1)
    return [(1.0 - gamma) * x[:, k - 1] + gamma * x[:, k] for k, gamma in at]


def _valid(a: np.ndarray, min_chains: int) -> np.ndarray:
    return np.isfinite(a).reshape(a.shape[0], -1).all(axis=1) & (a.shape[1] >= min_chains) & (a.shape[2] >= 4)


def _with_arviz_fallback(a: np.ndarray, fast, arviz_fn, min_chains: int) -> np.ndarray:
    a = np.asarray(a, dtype=float)
    valid = _valid(a, min_chains)
    out = np.empty(a.shape[0])
    if valid.any():
        out[valid] = fast(a[valid])
    for i in np.flatnonzero(~valid):
        out[i] = arviz_fn(a[i])
    return out


def _folded_rhat(split: np.ndarray) -> np.ndarray:
    """R-hat of the normal scores of split chains' distances from their pooled median (the tail R-hat)."""
    return _rhat(_z_scale(np.abs(split - np.median(split.reshape(len(split), -1), axis=1)[:, None, None])))


def _rank_rhat(split: np.ndarray, z: np.ndarray) -> np.ndarray:
    """The larger of the bulk and folded-tail R-hat of split chains; ``z``: their normal scores."""
    return np.maximum(_rhat(z), _folded_rhat(split))


def rhat(a: np.ndarray) -> np.ndarray:
    """Rank-normalised split R-hat of each scalar of ``a`` (scalars, chains, draws), as ``az.rhat``."""
    from arviz.stats.diagnostics import _rhat_rank

    def fast(x):
        split = _split(x)
        return _rank_rhat(split, _z_scale(split))

    return _with_arviz_fallback(a, fast, _rhat_rank, min_chains=2)


def ess_bulk(a: np.ndarray) -> np.ndarray:
    """Bulk ESS of each scalar of ``a`` (scalars, chains, draws), as ``az.ess(method="bulk")``."""
    from arviz.stats.diagnostics import _ess_bulk

    return _with_arviz_fallback(a, lambda x: _ess(_z_scale(_split(x))), _ess_bulk, min_chains=1)


def ess_tail(a: np.ndarray) -> np.ndarray:
    """Tail ESS of each scalar of ``a`` (scalars, chains, draws), as ``az.ess(method="tail")``."""
    from arviz.stats.diagnostics import _ess_tail

    def fast(x):
        low, high = (_ess(_split((x <= q[:, None, None]).astype(float))) for q in _type7_quantiles(x, (0.05, 0.95)))
        return np.minimum(low, high)

    return _with_arviz_fallback(a, fast, _ess_tail, min_chains=1)


def ess_mean(a: np.ndarray) -> np.ndarray:
    """ESS of the mean of each scalar of ``a`` (scalars, chains, draws), as ``az.ess(method="mean")``."""
    from arviz.stats.diagnostics import _ess_mean

    return _with_arviz_fallback(a, lambda x: _ess(_split(x)), _ess_mean, min_chains=1)


def scalars(posterior) -> np.ndarray:
    """Every scalar of a posterior (an xarray Dataset with chain and draw dims) as one (scalars, chains, draws)
    array: variables in order, each one's elements in C order."""
    parts = []
    for name in posterior.data_vars:
        values = posterior[name].transpose("chain", "draw", ...).values
        parts.append(values.reshape(values.shape[0], values.shape[1], -1).transpose(2, 0, 1))
    return np.concatenate(parts) if parts else np.empty((0, 1, 1))


def relative_ess(posterior) -> float:
    """``az.loo``'s default ``reff``: the mean ESS of the mean over every posterior scalar, over the number of
    draws (1 with one chain). ArviZ computes it scalar by scalar, about 0.2 s of every LOO of a fit."""
    n_chains, n_draws = posterior.sizes["chain"], posterior.sizes["draw"]
    if n_chains == 1:
        return 1.0
    return float(np.mean(ess_mean(scalars(posterior)))) / (n_chains * n_draws)


def rhat_ess(a: np.ndarray) -> dict[str, np.ndarray]:
    """``{"r_hat", "ess_bulk", "ess_tail"}`` of each scalar of ``a`` (scalars, chains, draws), sharing the rank
    transform of the bulk R-hat and the bulk ESS (what the gate measures)."""
    a = np.asarray(a, dtype=float)
    fast = _valid(a, min_chains=2)
    out = {"r_hat": np.empty(len(a)), "ess_bulk": np.empty(len(a))}
    # three independent parts; numpy's sorts and FFTs release the GIL, so two threads share them (a Track A fit's
    # 82 scalars: 92-96 -> 57-67 ms). A pool per call: a fork of the job worker inherits no threads.
    with ThreadPoolExecutor(max_workers=2) as pool:
        tail = pool.submit(ess_tail, a)
        if fast.any():
            split = _split(a[fast])
            folded = pool.submit(_folded_rhat, split)
            z = _z_scale(split)  # shared by the bulk R-hat and the bulk ESS
            out["ess_bulk"][fast] = _ess(z)
            out["r_hat"][fast] = np.maximum(_rhat(z), folded.result())
        if (~fast).any():  # one chain, few draws or non-finite draws: ArviZ's own handling
            out["r_hat"][~fast], out["ess_bulk"][~fast] = rhat(a[~fast]), ess_bulk(a[~fast])
        out["ess_tail"] = tail.result()
    return out


def bfmi(energy: np.ndarray) -> np.ndarray:
    """E-BFMI per chain of an energy array (chains, draws), as ``az.bfmi`` (whose variance is a numba function
    compiled afresh in every process: 0.27 s)."""
    energy = np.atleast_2d(np.asarray(energy, dtype=float))
    return np.square(np.diff(energy, axis=1)).mean(axis=1) / np.var(energy, axis=1, ddof=1)
