"""The Gaussian-process surrogate: a BoTorch model fitted by type-II maximum likelihood.

Model (the paper's, Appendix A.2): float64, Matérn-5/2 kernel with one lengthscale per dimension
(BoTorch's dimension-scaled log-normal lengthscale prior), a learned homoscedastic noise term,
standardised outcomes (``Standardize``; posteriors come back in the metric's units). Inputs are
already in the unit cube (see :mod:`ray_autoterm.space`), which is the input normalisation.
Categorical parameters arrive one-hot encoded (see :mod:`ray_autoterm.space` for why).
Opt-in (``input_warping=True``): BoTorch's ``Warp`` input transform, a Kumaraswamy CDF per input
dimension on the unit cube (Snoek et al., ICML 2014), learned jointly with the kernel by MAP, with
the LogNormal(0, sqrt(0.75)) priors on both concentrations that BoTorch's warped-GP tutorial uses
(median 1: the identity warp).
Opt-in (``kernel=``): a Matérn-3/2 (rougher) or RBF (smoother) kernel instead of the Matérn-5/2,
with the same dimension-scaled lengthscale prior (:func:`covariance_module`); the kernel ensemble
of :mod:`ray_autoterm.criterion.ensemble` fits one GP of each.

Fitting uses :func:`botorch.fit.fit_gpytorch_mll`: L-BFGS-B on the exact marginal log likelihood,
retried up to 5 times from hyperparameters resampled from their priors when the optimiser fails
or warns. :class:`GPFitter` warm-starts each fit from the previous one's hyperparameters (with a
looser tolerance, ``WARM_FIT_OPTIONS``: a warm start sits near the optimum, and scipy's default
``ftol`` kept L-BFGS-B creeping through flat regions for 100-200 evaluations), refits the
hyperparameters only after ``refit_growth`` of the data have changed since the last fit (in
between, the GP keeps its hyperparameters and is conditioned on the new data), and caches the
model by data, so that a stopper and a searcher asking for the same data share one fit.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import threading
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from ray_autoterm.errors import GPFitError, invalid

logger = logging.getLogger(__name__)

DTYPE = torch.float64

# Only the hyperparameters are carried over between fits: the outcome transform's buffers and the
# training data belong to the data the model was fitted on.
_WARM_PREFIXES = ("likelihood.", "covar_module.", "mean_module.")
# With input warping, the Kumaraswamy concentrations are hyperparameters too (the transform's
# other entries are buffers fixed by the unit cube).
_WARP_PREFIXES = ("input_transform.concentration",)

KERNELS = ("matern52", "matern32", "rbf")
"""The GP kernels :func:`build_gp` offers; the first is the paper's and the default."""

DEFAULT_KERNEL = "matern52"

WARM_FIT_OPTIONS: dict[str, Any] = {"ftol": 1e-6, "maxiter": 50}
"""L-BFGS-B options of a warm-started fit. Measured (``benchmarks/overhead.py``): 1.1-2.3x
faster than scipy's defaults, with the regret bound within 2%."""


ROWS_REFIT_MIN = 500
"""From this many observations on, :class:`GPFitter` also refits once ``refit_growth`` of the
rows are new since the last optimisation, however few fits that took. The bound's capped fit set
(:data:`ray_autoterm.criterion.regret.MAX_FIT` = 500 rows) changes composition as a search goes
on, and with decisions many trials apart the fit count alone kept stale hyperparameters: the
capped bound drifted to +17% of the exact one at 3,000 trials
(``benchmarks/results/scale_stream-stale.md``). Below, only fits are counted, as before."""


_THREADS_LOCK = threading.Lock()
_THREADS_USERS = 0
_THREADS_SAVED = 1


@contextlib.contextmanager
def single_threaded_torch() -> Iterator[None]:
    """Run torch single-threaded inside, restoring the previous setting after.

    The GP matrices here are small (at most a few hundred rows): torch's intra-op threads
    bring no speed-up there, and on a busy driver (trials, Tune) they contend for cores, which
    was measured to make one fit 20-40 times slower. One thread also makes results independent
    of the machine's core count. Reference-counted, so the stopper's worker thread and the
    searcher may overlap.
    """
    global _THREADS_USERS, _THREADS_SAVED
    with _THREADS_LOCK:
        if _THREADS_USERS == 0:
            _THREADS_SAVED = torch.get_num_threads()
            torch.set_num_threads(1)
        _THREADS_USERS += 1
    try:
        yield
    finally:
        with _THREADS_LOCK:
            _THREADS_USERS -= 1
            if _THREADS_USERS == 0:
                torch.set_num_threads(_THREADS_SAVED)


def warping_transform(d: int) -> Any:
    """BoTorch's ``Warp`` input transform for ``d`` inputs in the unit cube.

    Each input ``x`` is mapped to ``1 − (1 − x^a)^b`` (the Kumaraswamy CDF, ``a`` =
    ``concentration1``, ``b`` = ``concentration0``, one pair per dimension, starting at the
    identity ``a = b = 1``), with LogNormal(0, sqrt(0.75)) priors on both, as in BoTorch's
    warped-GP tutorial. The bounds are the unit cube (the encoding's), given explicitly: without
    them ``Warp``'s ``Normalize`` would learn them from the training inputs, which here are only
    the best trials. One-hot columns (0 or 1) are warped too, which leaves them at 0 and 1.

    Example:
        >>> x = torch.tensor([[0.0, 0.5, 1.0]], dtype=DTYPE)
        >>> [round(v, 6) for v in warping_transform(3)(x)[0].tolist()]  # a = b = 1: identity
        [0.0, 0.5, 1.0]
    """
    from botorch.models.transforms.input import Warp
    from gpytorch.priors import LogNormalPrior

    bounds = torch.zeros(2, d, dtype=DTYPE)
    bounds[1] = 1.0
    return Warp(
        d=d, indices=list(range(d)), bounds=bounds,
        concentration1_prior=LogNormalPrior(0.0, 0.75 ** 0.5),
        concentration0_prior=LogNormalPrior(0.0, 0.75 ** 0.5),
    ).to(DTYPE)


def check_kernel(kernel: Any) -> str:
    """Validate a kernel name (one of :data:`KERNELS`)."""
    if not isinstance(kernel, str) or kernel not in KERNELS:
        raise invalid("kernel", kernel, "one of " + ", ".join(f'"{k}"' for k in KERNELS))
    return kernel


def covariance_module(d: int, kernel: str = DEFAULT_KERNEL) -> Any:
    """The ARD kernel of the GP over ``d`` inputs, with BoTorch's dimension-scaled prior.

    ``"matern52"`` and ``"rbf"`` are BoTorch's ``get_covar_module_with_dim_scaled_prior``
    (Hvarfner et al. 2024: lengthscales ~ LogNormal(sqrt(2) + log(d)/2, sqrt(3)), constrained
    above 0.025, starting at the prior's mode); ``"matern32"`` is gpytorch's
    ``MaternKernel(nu=1.5)`` with that same prior, constraint and start. No output scale (the
    outcomes are standardised), as BoTorch's default.

    Example:
        >>> [type(covariance_module(2, k)).__name__ for k in KERNELS]
        ['MaternKernel', 'MaternKernel', 'RBFKernel']
        >>> covariance_module(2, "matern32").nu
        1.5
    """
    from botorch.models.utils.gpytorch_modules import get_covar_module_with_dim_scaled_prior

    kernel = check_kernel(kernel)
    if kernel != "matern32":
        return get_covar_module_with_dim_scaled_prior(
            ard_num_dims=d, use_rbf_kernel=kernel == "rbf")
    from gpytorch.constraints import GreaterThan
    from gpytorch.kernels import MaternKernel
    from gpytorch.priors import LogNormalPrior

    prior = LogNormalPrior(loc=math.sqrt(2) + math.log(d) * 0.5, scale=math.sqrt(3))
    return MaternKernel(
        nu=1.5, ard_num_dims=d, lengthscale_prior=prior,
        lengthscale_constraint=GreaterThan(2.5e-2, transform=None, initial_value=prior.mode),
    )


def build_gp(
    train_X: torch.Tensor,
    train_Y: torch.Tensor,
    train_Yvar: torch.Tensor | None = None,
    input_warping: bool = False,
    kernel: str = DEFAULT_KERNEL,
) -> Any:
    """Build (not fit) the GP for ``n x d`` inputs and ``n x 1`` outcomes.

    Args:
        train_X: ``n x d`` inputs in the encoded space (float64; categoricals one-hot).
        train_Y: ``n x 1`` outcomes (losses, to be minimised).
        train_Yvar: ``n x 1`` known noise variances of the outcomes (metric units), or
            ``None`` for one learned noise term. BoTorch's ``Standardize`` scales them with
            the outcomes (divides by the outcomes' variance), so they stay consistent.
        input_warping: Warp each input through a learned Kumaraswamy CDF first
            (:func:`warping_transform`).
        kernel: One of :data:`KERNELS` (:func:`covariance_module`); ``"matern52"``, the
            paper's, by default.

    Returns:
        A ``SingleTaskGP`` with that ARD kernel (Matérn-5/2 by default) and standardised
        outcomes.
    """
    from botorch.models import SingleTaskGP
    from botorch.models.transforms.outcome import Standardize

    covar = covariance_module(train_X.shape[-1], kernel)
    warp = warping_transform(train_X.shape[-1]) if input_warping else None
    return SingleTaskGP(train_X, train_Y, train_Yvar, covar_module=covar,
                        outcome_transform=Standardize(m=1), input_transform=warp)


def fit_gp(
    X: np.ndarray,
    y: np.ndarray,
    warm_start: dict[str, torch.Tensor] | None = None,
    refit: bool = True,
    yvar: np.ndarray | None = None,
    input_warping: bool = False,
    kernel: str = DEFAULT_KERNEL,
) -> Any:
    """Fit the GP to ``n x d`` inputs ``X`` and ``n`` losses ``y``.

    Args:
        X: ``n x d`` encoded inputs.
        y: ``n`` losses (finite).
        warm_start: Hyperparameters (a state dict) of an earlier fit of the same model structure,
            used as the first attempt's starting point (with ``WARM_FIT_OPTIONS``).
        refit: ``False`` keeps the ``warm_start`` hyperparameters as they are and only
            conditions the GP on ``(X, y)`` (no likelihood optimisation; needs ``warm_start``).
        yvar: ``n`` known noise variances of ``y`` (e.g. each trial's CV variance, Eq. 9
            squared) instead of a learned noise term; floored at ``1e-6`` of the variance
            of ``y`` so that the GP never has to interpolate exactly.
        input_warping: Learn a Kumaraswamy input warping per dimension with the kernel
            (:func:`warping_transform`). A ``warm_start`` should come from a fit with the same
            setting (:class:`GPFitter` keys its warm starts on it); the warping's
            concentrations are carried over only into a warped model.
        kernel: The GP's kernel, one of :data:`KERNELS` (:func:`covariance_module`). A
            ``warm_start`` should come from a fit with the same kernel (:class:`GPFitter`
            keys its warm starts on it).

    Returns:
        The fitted model, in eval mode.

    Raises:
        GPFitError: when ``fit_gpytorch_mll`` fails on every attempt, or the data are unusable.
        InvalidArgumentError: for a ``kernel`` that is not in :data:`KERNELS`.

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> X = rng.random((12, 2)); y = ((X - 0.5) ** 2).sum(1)
        >>> model = fit_gp(X, y)
        >>> model.posterior(torch.tensor(X[:1])).mean.shape
        torch.Size([1, 1])
    """
    from botorch.fit import fit_gpytorch_mll
    from gpytorch.mlls import ExactMarginalLogLikelihood

    kernel = check_kernel(kernel)
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    if X.ndim != 2 or X.shape[0] != y.shape[0] or X.shape[0] < 2:
        raise GPFitError(f"Need at least 2 observations as n x d inputs; "
                         f"got X {X.shape}, y {y.shape}.")
    if not np.all(np.isfinite(X)) or not np.all(np.isfinite(y)):
        raise GPFitError("The GP's training data contain NaN or infinite values.")
    train_X = torch.from_numpy(X).to(DTYPE)
    train_Y = torch.from_numpy(y).to(DTYPE).unsqueeze(-1)
    train_Yvar = None
    if yvar is not None:
        yvar = np.asarray(yvar, dtype=np.float64).reshape(-1)
        if yvar.shape != y.shape or not np.all(np.isfinite(yvar)) or np.any(yvar < 0):
            raise GPFitError(f"Need one finite variance >= 0 per observation; got {yvar!r}.")
        floor = 1e-6 * max(float(np.var(y)), 1e-12)
        train_Yvar = torch.from_numpy(np.maximum(yvar, floor)).to(DTYPE).unsqueeze(-1)
    try:
        with warnings.catch_warnings():
            # A constant outcome (all losses equal) is valid here; BoTorch warns about it.
            warnings.filterwarnings("ignore", message=".*std.*", category=RuntimeWarning)
            warnings.filterwarnings("ignore", category=UserWarning, module="botorch.models.utils")
            model = build_gp(train_X, train_Y, train_Yvar, input_warping, kernel)
            if warm_start:
                own = model.state_dict()
                # Known noise lives in the likelihood and belongs to these data: never carry it.
                prefixes: tuple[str, ...] = (
                    _WARM_PREFIXES if train_Yvar is None else _WARM_PREFIXES[1:])
                if input_warping:
                    prefixes += _WARP_PREFIXES
                compatible = {
                    k: v for k, v in warm_start.items()
                    if k.startswith(prefixes) and k in own and own[k].shape == v.shape
                }
                model.load_state_dict(compatible, strict=False)
            if refit or not warm_start:
                mll = ExactMarginalLogLikelihood(model.likelihood, model)
                options: dict[str, Any] = (
                    {"optimizer_kwargs": {"options": WARM_FIT_OPTIONS}} if warm_start else {}
                )
                fit_gpytorch_mll(mll, **options)
    except Exception as exc:  # ModelFittingError, linear-algebra errors, ...
        raise GPFitError(f"The GP fit failed on {X.shape[0]} observations: {exc}") from exc
    model.eval()
    return model


def hyperparameters(model: Any) -> dict[str, torch.Tensor]:
    """The warm-startable part of a fitted model's state dict (detached copies)."""
    prefixes = _WARM_PREFIXES + _WARP_PREFIXES
    return {
        k: v.detach().clone() for k, v in model.state_dict().items() if k.startswith(prefixes)
    }


class GPFitter:
    """Fits GPs with warm starts and a cache keyed by the training data; counts the fits.

    One fitter may be shared by a stopper and a searcher (in one driver process): a request for
    data already fitted returns the cached model instead of fitting again, and :attr:`num_fits`
    counts the models really computed. Of those, :attr:`num_refits` optimised the
    hyperparameters; the others kept the last fitted hyperparameters of the same role and
    dimension and were only conditioned on the new data, because fewer new data sets than
    ``refit_growth`` times the number of observations had been asked for since that
    optimisation (at ``refit_growth=0.1``: a refit every 2nd new data set at 20 observations,
    every 50th at 500) and, from :data:`ROWS_REFIT_MIN` observations on, fewer than that many
    of the rows were new since then. One more observation barely moves the maximum of the
    marginal likelihood, while optimising it is most of a decision's cost (measured in
    ``benchmarks/overhead.py``: the exact regret bound within -2%..+9% of a full refit's
    and, where it moves up, conservatively so). The cache holds torch models and is dropped on
    pickling.

    Args:
        cache_size: Fitted models kept (least recently used are dropped).
        refit_growth: Re-optimise the hyperparameters once this many new data sets per
            observation have been fitted since the last optimisation (``0`` refits every time).

    Example:
        >>> import numpy as np
        >>> fitter = GPFitter()
        >>> X = np.random.default_rng(1).random((10, 2)); y = X.sum(1)
        >>> m1 = fitter.fit(X, y, role="bound"); m2 = fitter.fit(X, y, role="search")
        >>> fitter.num_fits, m1 is m2
        (1, True)
    """

    def __init__(self, cache_size: int = 4, refit_growth: float = 0.1) -> None:
        if isinstance(cache_size, bool) or not isinstance(cache_size, int) or cache_size < 1:
            raise invalid("cache_size", cache_size, "an integer >= 1")
        if isinstance(refit_growth, bool) or not isinstance(refit_growth, (int, float)) or not (
            0 <= refit_growth < float("inf")
        ):
            raise invalid("refit_growth", refit_growth, "a finite number >= 0 (0.1 = 10%)")
        self.cache_size = cache_size
        self.refit_growth = float(refit_growth)
        self.num_fits = 0
        self.num_refits = 0
        self.fits_by_role: dict[str, int] = {}
        self._init_runtime()

    def _init_runtime(self) -> None:
        self._cache: dict[str, Any] = {}
        self._warm: dict[tuple[Any, ...], dict[str, torch.Tensor]] = {}
        self._since_refit: dict[tuple[Any, ...], int] = {}  # data sets since the optimisation
        self._refit_rows: dict[tuple[Any, ...], set[bytes]] = {}  # rows at the optimisation
        self._in_flight: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        return {"cache_size": self.cache_size, "refit_growth": self.refit_growth,
                "num_fits": self.num_fits, "num_refits": self.num_refits,
                "fits_by_role": dict(self.fits_by_role)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        state.setdefault("refit_growth", 0.1)
        state.setdefault("num_refits", state.get("num_fits", 0))
        self.__dict__.update(state)
        self._init_runtime()

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        role: str = "bound",
        yvar: np.ndarray | None = None,
        input_warping: bool = False,
        kernel: str = DEFAULT_KERNEL,
    ) -> Any:
        """Return a GP fitted to ``(X, y)``, from the cache when the same data were fitted.

        ``role`` labels the fit in :attr:`fits_by_role` and picks the warm-start slot (with the
        input dimension), so the bound's top-half GP and the searcher's GP on all trials keep
        their own hyperparameters. ``yvar`` gives known per-point noise variances (see
        :func:`fit_gp`); such a GP has its own cache key and warm-start slot, and so has one
        with ``input_warping`` (a warped model is never warm-started from an unwarped one), and
        so has one with another ``kernel`` than the default (:data:`KERNELS`; the default's
        key and slot are those of a fitter without the keyword).
        """
        kernel = check_kernel(kernel)
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64).reshape(-1)
        # A canonical row order: the same data listed in another order (the bound sorts by
        # loss, the searcher by completion) is the same GP, and shares one fit.
        order = np.lexsort(np.column_stack([X, y]).T[::-1])
        X, y = np.ascontiguousarray(X[order]), np.ascontiguousarray(y[order])
        payload = X.tobytes() + y.tobytes()
        if yvar is not None:
            yvar = np.ascontiguousarray(np.asarray(yvar, dtype=np.float64).reshape(-1)[order])
            payload += b"yvar" + yvar.tobytes()
        if input_warping:
            payload += b"warp"
        if kernel != DEFAULT_KERNEL:  # only then: the default's keys stay as they were
            payload += b"kernel:" + kernel.encode()
        key = hashlib.sha1(payload).hexdigest()
        structure: tuple[Any, ...] = (role, X.shape[1], yvar is not None, bool(input_warping))
        if kernel != DEFAULT_KERNEL:
            structure += (kernel,)  # the warm-start slot: one per kernel
        while True:
            with self._lock:
                model = self._cache.pop(key, None)
                if model is not None:
                    self._cache[key] = model  # most recently used last
                    return model
                pending = self._in_flight.get(key)
                if pending is None:
                    pending = self._in_flight[key] = threading.Event()
                    warm = self._warm.get(structure)
                    since = self._since_refit.get(structure, 0)
                    seen = self._refit_rows.get(structure)
                    break
            # The same data are being fitted by another thread (the stopper's worker while the
            # searcher asks, say): wait for that fit instead of repeating it.
            # Then look again: a hit, or (if that fit failed) a fit of our own.
            pending.wait()
        rows = {row.tobytes() for row in np.column_stack([X, y])}
        refit = warm is None or since + 1 >= self.refit_growth * len(y) or (
            len(y) >= ROWS_REFIT_MIN and seen is not None
            and len(rows - seen) >= self.refit_growth * len(y)
        )
        # Fit outside the lock: a fit of other data never waits for this one.
        try:
            model = fit_gp(X, y, warm_start=warm, refit=refit, yvar=yvar,
                           input_warping=input_warping, kernel=kernel)
            with self._lock:
                self.num_fits += 1
                self.fits_by_role[role] = self.fits_by_role.get(role, 0) + 1
                if refit:
                    self.num_refits += 1
                    self._warm[structure] = hyperparameters(model)
                    self._since_refit[structure] = 0
                    self._refit_rows[structure] = rows
                else:
                    self._since_refit[structure] = since + 1
                self._cache[key] = model
                while len(self._cache) > self.cache_size:
                    self._cache.pop(next(iter(self._cache)))
        finally:
            with self._lock:
                self._in_flight.pop(key, None)
            pending.set()
        return model
