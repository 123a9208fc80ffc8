"""k-fold cross-validation of a scikit-learn style estimator inside a trainable."""

from __future__ import annotations

from typing import Any

import numpy as np

from ray_autoterm.errors import invalid


def _fold_loss(estimator: Any, X: Any, y: Any, train: np.ndarray, test: np.ndarray,
               scoring: Any) -> float:
    from sklearn.base import clone
    from sklearn.metrics import check_scoring

    model = clone(estimator).fit(X[train], y[train])
    return -float(check_scoring(model, scoring=scoring)(model, X[test], y[test]))


def cross_validate_folds(
    estimator: Any,
    X: Any,
    y: Any,
    *,
    cv: int | Any = 5,
    scoring: str | Any | None = None,
    seed: int = 0,
    parallel: bool = False,
    num_cpus_per_fold: float = 1.0,
    stream: bool = False,
) -> list[float]:
    """Fold losses of ``estimator`` by k-fold CV (scikit-learn's splitters and scorers).

    Losses are negated scikit-learn scores (scorers are "greater is better"): with
    ``scoring="neg_log_loss"`` the losses are log losses, with ``"accuracy"`` they are negative
    accuracies (use ``mode="min"`` either way). ``cv`` is a fold count (stratified for
    classifiers, shuffled with ``seed``) or any scikit-learn splitter.

    With ``parallel=True`` each fold runs as a Ray task (``num_cpus_per_fold`` CPUs each), so
    the folds of one trial spread over the cluster's nodes; the data go to the object store once,
    and the losses come back in fold order (``ray.get`` on the list of refs). A fold task that
    dies raises in the trial, which Tune marks as errored and the stopper leaves out. Tune runs
    a trial's tasks inside the trial's reserved resources, so reserve CPUs for the folds, spread
    over nodes::

        tune.with_resources(trainable, tune.PlacementGroupFactory(
            [{"CPU": 1}] + [{"CPU": 1}] * k, strategy="SPREAD"))

    With ``stream=True`` (inside a Tune trial) each fold is reported as it finishes
    (:func:`~ray_autoterm.report_fold`; with ``parallel=True`` in the order the tasks finish, each
    under its own fold index), the last report also carrying ``cv_scores`` and ``cv_mean``, so a
    :class:`~ray_autoterm.FoldPruningScheduler` can stop a hopeless trial after a fold or two.
    When Tune stops the trial (or a fold fails), the fold tasks still pending are cancelled
    (``ray.cancel(force=True)``), which frees their CPUs at once.

    Example:
        >>> from sklearn.datasets import load_iris
        >>> from sklearn.linear_model import LogisticRegression
        >>> X, y = load_iris(return_X_y=True)
        >>> losses = cross_validate_folds(LogisticRegression(max_iter=500), X, y, cv=3)
        >>> len(losses)
        3
    """
    from sklearn.base import is_classifier
    from sklearn.model_selection import check_cv

    if isinstance(cv, int) and cv < 2:
        raise invalid("cv", cv, "a fold count >= 2 or a scikit-learn splitter")
    X, y = np.asarray(X), np.asarray(y)
    if isinstance(cv, int):
        from sklearn.model_selection import KFold, StratifiedKFold

        kind = StratifiedKFold if is_classifier(estimator) else KFold
        splitter = kind(n_splits=cv, shuffle=True, random_state=seed)
    else:
        splitter = check_cv(cv, y, classifier=is_classifier(estimator))
    if not isinstance(stream, bool):
        raise invalid("stream", stream, "True or False")
    splits = list(splitter.split(X, y))
    k = len(splits)
    losses: dict[int, float] = {}
    if not parallel:
        for i, (tr, te) in enumerate(splits):
            losses[i] = _fold_loss(estimator, X, y, tr, te, scoring)
            if stream:
                _report(i, losses, k)
        return [losses[i] for i in range(k)]
    import ray

    remote = ray.remote(num_cpus=num_cpus_per_fold, max_retries=1)(_fold_loss)
    X_ref, y_ref = ray.put(X), ray.put(y)
    pending = {
        remote.remote(estimator, X_ref, y_ref, tr, te, scoring): i
        for i, (tr, te) in enumerate(splits)
    }
    try:
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                i = pending.pop(ref)
                losses[i] = float(ray.get(ref))
                if stream:
                    _report(i, losses, k)  # Tune stopping the trial raises here
    finally:
        # Stopped (a pruning scheduler, the experiment's end) or a fold failed: end the fold
        # tasks still running now rather than when they finish, so their CPUs are free at once.
        for ref in pending:
            ray.cancel(ref, force=True)
    return [losses[i] for i in range(k)]


def _report(fold: int, losses: dict[int, float], k: int) -> None:
    from ray_autoterm.tune.reporting import CV_MEAN_KEY, CV_SCORES_KEY, report_fold

    extra: dict[str, Any] = {}
    if len(losses) == k:
        scores = [losses[i] for i in range(k)]
        extra = {CV_SCORES_KEY: scores, CV_MEAN_KEY: float(np.mean(scores))}
    report_fold(fold, losses[fold], k, mode="min", **extra)


def cross_validate_and_report(estimator: Any, X: Any, y: Any, **kwargs: Any) -> list[float]:
    """:func:`cross_validate_folds`, then :func:`~ray_autoterm.report_cv_scores` with the losses
    (with ``stream=True`` the folds are reported one by one instead, see
    :func:`cross_validate_folds`).

    Example:
        >>> def trainable(config):  # doctest: +SKIP
        ...     cross_validate_and_report(RandomForestClassifier(**config), X, y, cv=5)
    """
    from ray_autoterm.tune.reporting import report_cv_scores

    losses = cross_validate_folds(estimator, X, y, **kwargs)
    if not kwargs.get("stream", False):
        report_cv_scores(losses, mode="min")  # losses: the negated scikit-learn scores
    return losses
