"""``AutoTermCallback``: what Tune tells a ``Callback`` and not a ``Stopper``, for the stopper.

A Tune ``Stopper`` is called with ``(trial_id, result)`` only, and not at all when an earlier
stopper of a ``CombinedStopper`` already said stop. The supported hooks for the rest are a
``tune.Callback``'s: every result (``on_trial_result``), trials that end without a final
``done`` result (stopped by a scheduler or another stopper, or raising: ``on_trial_complete``,
``on_trial_error``), the experiment's storage (``trial.storage``) and its end
(``on_experiment_end``, where the stopper makes its final decision).

``stop=AutoTermStopper()`` alone attaches this callback itself when Tune first calls it (see
:mod:`ray_autoterm.tune._tune_internals`); passing it explicitly is the supported way and
costs nothing: ``RunConfig(stop=stopper, callbacks=[stopper.callback()])``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ray.tune import Callback

from ray_autoterm.tune import _tune_internals as internals

if TYPE_CHECKING:
    from ray_autoterm.tune.stopper import AutoTermStopper


class AutoTermCallback(Callback):
    """Feeds an :class:`~ray_autoterm.AutoTermStopper` what only a Tune ``Callback`` sees.

    Args:
        stopper: The stopper to feed (``stopper.callback()`` builds this).

    Example:
        >>> from ray import tune
        >>> from ray_autoterm import AutoTermStopper
        >>> stopper = AutoTermStopper(param_space={"x": tune.uniform(0, 1)})
        >>> run_config = tune.RunConfig(stop=stopper, callbacks=[stopper.callback()])
        >>> run_config.callbacks[0].stopper is stopper
        True
    """

    def __init__(self, stopper: AutoTermStopper) -> None:
        self.stopper = stopper

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.stopper._on_trial_start(trial.trial_id, getattr(trial, "storage", None))

    def on_trial_result(
        self, iteration: int, trials: list, trial: Any, result: dict[str, Any], **info: Any
    ) -> None:
        self.stopper._on_callback_result(trial.trial_id, result, getattr(trial, "storage", None))

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.stopper._on_trial_end(trial.trial_id, error=False)

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        error = internals.trial_error_text(trial)
        self.stopper._on_trial_end(trial.trial_id, error=True, message=error)

    def on_experiment_end(self, trials: list, **info: Any) -> None:
        self.stopper._on_experiment_end()
