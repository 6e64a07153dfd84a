r"""Marginal effect of semantic scale: curves over subset sizes, saturation fit, matched scale.

S grows with the number of images m of a class and saturates (Ma et al., ICLR 2023). For each
size on a geometric grid, :func:`marginal_curve` averages S over seeded random subsets;
:func:`fit_saturation` fits a saturating curve to it and turns the fit into the actionable
numbers (asymptote S∞, saturation at n, images still needed); :func:`matched_scale` compares
classes at one common size m*. Definitions and choices: ``docs/method.md``.

Subset scales use ``det(I_d + c AᵀA) = det(I_m + c AAᵀ)`` on the smaller side, through a
Cholesky factor of that SPD matrix (all eigenvalues ≥ 1, so it is well conditioned). For m ≤ d
the centred Gram of a subset is cut out of the class Gram ``G = ZZᵀ`` and double-centred:
``HG[idx][:, idx]H`` with ``H = I − 11ᵀ/m``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import optimize

from semaudit.errors import UsageError
from semaudit.stats.defaults import METHOD
from semaudit.stats.scale import check_features, class_scale, gram_scale, l2_normalize

__all__ = [
    "SaturationFit",
    "fit_saturation",
    "marginal_curve",
    "matched_scale",
    "saturation_model",
    "size_grid",
]

_GRAM_MAX_N = 4096  # precompute the class Gram (n² float64) only up to this many images
_NEED_MORE_CAP = 100  # need_more is capped at this many times n (flagged as capped)
_MIN_CURVE_POINTS = 4
_S_INF_MAX = 100.0  # S∞ is searched in [max S, 100 · max S]
_K_RANGE = (0.2, 4.0)  # bounds of the shape exponent k
_CHUNK_ENTRIES = 1 << 22  # float64 entries per batch of subset Grams (32 MiB)


def size_grid(n: int, points: int = METHOD.curve_points) -> np.ndarray:
    """Unique subset sizes, geometric from 2 to n inclusive (always ending at n); empty if n < 2.

    >>> size_grid(10, points=4)
    array([ 2,  3,  6, 10])
    """
    if points < 2:
        raise UsageError(f"points must be >= 2; received {points}.")
    if n < 2:
        return np.zeros(0, dtype=np.int64)
    grid = np.unique(np.rint(np.geomspace(2, n, points)).astype(np.int64))
    grid[-1] = n
    return grid


def _prepare(
    features: np.ndarray, alpha: float | None, normalize: bool
) -> tuple[np.ndarray, float]:
    z = check_features(features)
    if alpha is not None and not (math.isfinite(alpha) and alpha > 0):
        raise UsageError(f"alpha must be a positive number; received {alpha!r}.")
    z = l2_normalize(z) if normalize else z.astype(np.float64)
    return z, float(z.shape[1] if alpha is None else alpha)


def _double_centre(gram: np.ndarray) -> np.ndarray:
    """``H G H`` for a stack of (m, m) Grams, ``H = I − 11ᵀ/m``: the Gram of centred rows."""
    row = gram.mean(axis=-1, keepdims=True)
    col = gram.mean(axis=-2, keepdims=True)
    return gram - row - col + row.mean(axis=-2, keepdims=True)


def _subset_scales(
    z: np.ndarray, idx: np.ndarray, alpha: float, gram: np.ndarray | None
) -> np.ndarray:
    """S of each subset ``z[idx[r]]`` (idx: draws × m), in chunks of bounded memory."""
    m, d = idx.shape[1], z.shape[1]
    chunk = max(1, _CHUNK_ENTRIES // (m * max(m, d)))
    return np.concatenate(
        [_subset_chunk(z, idx[i : i + chunk], alpha, gram) for i in range(0, idx.shape[0], chunk)]
    )


def _subset_chunk(
    z: np.ndarray, idx: np.ndarray, alpha: float, gram: np.ndarray | None
) -> np.ndarray:
    """``½ log2 det(I + α/m · K)`` with K the centred Gram (m ≤ d) or scatter (m > d)."""
    m, d = idx.shape[1], z.shape[1]
    if m <= d:
        if gram is not None:
            sub = gram[idx[:, :, None], idx[:, None, :]]
        else:
            zs = z[idx]
            sub = zs @ zs.transpose(0, 2, 1)
        kernel = _double_centre(sub)
    else:
        kernel = np.empty((idx.shape[0], d, d))
        for r, rows in enumerate(idx):
            a = z[rows]
            mu = a.mean(axis=0)
            kernel[r] = a.T @ a - m * np.outer(mu, mu)
    return gram_scale(kernel, m, alpha)


def _use_gram(n: int, d: int, grid: np.ndarray, draws: int) -> bool:
    """Precompute ``ZZᵀ`` when it costs less than the subset Grams it replaces."""
    small = grid[(grid < n) & (grid <= d)].astype(np.float64)
    return n <= _GRAM_MAX_N and draws * float(np.sum(small**2)) > float(n) ** 2


def _shift(z: np.ndarray) -> np.ndarray:
    """Rows minus the class mean: subset scales are shift-invariant, and the Grams of shifted
    rows lose less to cancellation when double-centred."""
    return z - z.mean(axis=0)


def _draw_subsets(rng: np.random.Generator, n: int, m: int, draws: int) -> np.ndarray:
    return np.stack([rng.permutation(n)[:m] for _ in range(draws)])


def marginal_curve(
    features: np.ndarray,
    *,
    alpha: float | None = None,
    normalize: bool = METHOD.normalize,
    draws: int = METHOD.draws,
    seed: int = 0,
    points: int = METHOD.curve_points,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Marginal-effect curve of one class: ``(m, S_mean, S_std)`` over :func:`size_grid`.

    For each m < n, S on ``draws`` random subsets of m images without replacement
    (``np.random.default_rng(seed)``, sizes in grid order); at m = n the exact class scale,
    std 0. Population std (ddof 0). Equal to calling ``class_scale`` on every subset.
    """
    if draws < 1:
        raise UsageError(f"draws must be >= 1; received {draws}.")
    z, a = _prepare(features, alpha, normalize)
    n = z.shape[0]
    grid = size_grid(n, points)
    rng = np.random.default_rng(seed)
    shifted = _shift(z)
    gram = shifted @ shifted.T if _use_gram(n, z.shape[1], grid, draws) else None
    mean = np.zeros(grid.size)
    std = np.zeros(grid.size)
    for i, m in enumerate(grid.tolist()):
        if m == n:
            mean[i] = class_scale(z, alpha=a, normalize=False)
            continue
        values = _subset_scales(shifted, _draw_subsets(rng, n, m, draws), a, gram)
        mean[i], std[i] = values.mean(), values.std()
    return grid, mean, std


def matched_scale(
    features: np.ndarray,
    m_star: int,
    *,
    alpha: float | None = None,
    normalize: bool = METHOD.normalize,
    draws: int = METHOD.draws,
    seed: int = 0,
) -> tuple[float, float]:
    """Count-matched scale: mean and std of S over ``draws`` random subsets of ``m_star`` images.

    With n == m_star the class scale itself (std 0); n < m_star raises ``UsageError``.
    """
    if draws < 1:
        raise UsageError(f"draws must be >= 1; received {draws}.")
    z, a = _prepare(features, alpha, normalize)
    n = z.shape[0]
    if m_star < 1:
        raise UsageError(f"m_star must be >= 1; received {m_star}.")
    if n < m_star:
        raise UsageError(
            f"matched scale needs at least m* = {m_star} images; the class has {n}. "
            "Choose a smaller m* or leave the class out."
        )
    if n == m_star or m_star == 1:
        return class_scale(z[:m_star], alpha=a, normalize=False), 0.0
    rng = np.random.default_rng(seed)
    values = _subset_scales(_shift(z), _draw_subsets(rng, n, m_star, draws), a, None)
    return float(values.mean()), float(values.std())


# --- saturation fit ------------------------------------------------------------------------


def saturation_model(m: np.ndarray, scale_inf: float, tau: float, k: float) -> np.ndarray:
    r"""Log-logistic saturation ``S(m) = S∞ · mᵏ / (mᵏ + τᵏ)`` (our choice, docs/method.md)."""
    x = np.asarray(m, dtype=np.float64) / tau
    return scale_inf / (1.0 + x ** (-k))


def _target_size(tau: float, k: float, target: float) -> float:
    """m at which ``S(m)/S∞ = target``: ``τ · (target / (1 − target))^(1/k)``."""
    return tau * math.exp(math.log(target / (1.0 - target)) / k)


@dataclass(frozen=True)
class SaturationFit:
    """Fitted saturation of one class; ``ok=False`` with a ``reason`` when no fit was possible.

    ``saturation`` is the *fitted* S(n) over S∞; ``need_more`` the extra images to reach the
    target. ``capped`` marks a ``need_more`` clipped to 100·n (the curve barely bends).
    """

    scale_inf: float | None
    saturation: float | None
    need_more: int | None
    params: dict[str, float] = field(default_factory=dict)
    ok: bool = False
    reason: str = ""
    capped: bool = False


def _failed(reason: str) -> SaturationFit:
    return SaturationFit(None, None, None, {}, False, reason)


def fit_saturation(
    m: np.ndarray,
    s_mean: np.ndarray,
    s_std: np.ndarray | None = None,
    *,
    n: int,
    target: float = METHOD.target_saturation,
) -> SaturationFit:
    r"""Robust fit of :func:`saturation_model` to a marginal-effect curve.

    ``scipy.optimize.least_squares`` (``loss="soft_l1"``) on residuals ``(S_fit − S) / σ`` with
    ``σ = S_std + 1 % of max S``, in log-parameters with bounds. Reports S∞, the fitted
    saturation ``S_fit(n)/S∞`` clipped into (0, 1], and ``need_more = max(0, ⌈m_target − n⌉)``
    with ``m_target = τ (target/(1 − target))^{1/k}``, capped at 100·n. Fails (``ok=False``)
    with fewer than 4 points, a flat curve or a fit that does not converge; never NaN.
    """
    if not 0.0 < target < 1.0:
        raise UsageError(f"target saturation must lie in (0, 1); received {target!r}.")
    if n < 1:
        raise UsageError(f"n must be >= 1; received {n}.")
    x = np.asarray(m, dtype=np.float64)
    y = np.asarray(s_mean, dtype=np.float64)
    sd = np.zeros_like(y) if s_std is None else np.asarray(s_std, dtype=np.float64)
    if not x.shape == y.shape == sd.shape or x.ndim != 1:
        raise UsageError("m, s_mean and s_std must be 1-D arrays of one length.")
    keep = np.isfinite(x) & np.isfinite(y) & np.isfinite(sd) & (x > 0)
    order = np.argsort(x[keep], kind="stable")
    x, y, sd = x[keep][order], y[keep][order], sd[keep][order]
    if x.size < _MIN_CURVE_POINTS:
        return _failed(f"fewer than {_MIN_CURVE_POINTS} curve points")
    top = float(y.max())
    if top <= 0 or np.ptp(y) <= 1e-9 * top:
        return _failed("flat curve (zero scale)")
    params = _fit_params(x, y, sd + 0.01 * top, top)
    if params is None:
        return _failed("fit did not converge")
    scale_inf, tau, k = params
    saturation = float(saturation_model(np.array([n]), 1.0, tau, k)[0])
    if not (math.isfinite(saturation) and math.isfinite(scale_inf)):
        return _failed("fit did not converge")
    saturation = min(1.0, max(saturation, np.finfo(float).tiny))
    m_target = _target_size(tau, k, target)
    cap = _NEED_MORE_CAP * n
    need = max(0.0, math.ceil(m_target - n)) if math.isfinite(m_target) else math.inf
    capped = need > cap or scale_inf >= 0.99 * _S_INF_MAX * top
    return SaturationFit(
        scale_inf=scale_inf,
        saturation=saturation,
        need_more=int(min(need, cap)),
        params={"scale_inf": scale_inf, "tau": tau, "k": k},
        ok=True,
        reason="",
        capped=capped,
    )


def _fit_params(
    x: np.ndarray, y: np.ndarray, sigma: np.ndarray, top: float
) -> tuple[float, float, float] | None:
    """(S∞, τ, k) by robust least squares in log-parameters; ``None`` when it fails."""
    lo = np.log([top, 1e-3 * x.min(), _K_RANGE[0]])
    hi = np.log([_S_INF_MAX * top, 1e4 * x.max(), _K_RANGE[1]])

    def residuals(theta: np.ndarray) -> np.ndarray:
        s_inf, tau, k = np.exp(theta)
        return (saturation_model(x, s_inf, tau, k) - y) / sigma

    best = None
    for s0, k0 in ((1.2, 1.0), (2.0, 0.7), (1.05, 2.0)):
        m_half = float(np.interp(0.5 * s0 * top, y, x)) if np.all(np.diff(y) > 0) else x.mean()
        start = np.clip(np.log([s0 * top, max(m_half, x.min()), k0]), lo + 1e-9, hi - 1e-9)
        try:
            res = optimize.least_squares(
                residuals, start, bounds=(lo, hi), loss="soft_l1", x_scale=1.0, max_nfev=2000
            )
        except (ValueError, FloatingPointError):  # pragma: no cover - defensive
            continue
        if res.status > 0 and np.all(np.isfinite(res.x)) and (best is None or res.cost < best.cost):
            best = res
    if best is None:
        return None
    s_inf, tau, k = (float(v) for v in np.exp(best.x))
    return s_inf, tau, k
