"""Which way is better for the fold values, from wherever a run declares it.

The direction is declared where the numbers are made (``report_cv_scores(..., mode=...)``
reports ``cv_mode``) and may be repeated elsewhere: ``AutoTermStopper(mode=...)``, a linked
``AutoTermSearcher(mode=...)``, Tune's ``TuneConfig``/``tune.run``, the search algorithm or the
scheduler (when their metric is the fold mean). :class:`Direction` collects these declarations,
refuses two that disagree (naming both places), and refuses to decide when there is none:
with the wrong direction the incumbent would be the worst trial, so it never guesses.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ray_autoterm.errors import InvalidArgumentError, invalid
from ray_autoterm.tune._keys import CV_MODE_KEY

RESULTS = "the trials' results (`cv_mode`, from report_cv_scores(..., mode=...))"


class Direction:
    """The declarations of the direction seen so far, and the mode they agree on.

    Example:
        >>> d = Direction()
        >>> d.known, d.claim("TuneConfig", "max"), d.mode
        (False, True, 'max')
        >>> d.claim("the trials' results", "min")
        Traceback (most recent call last):
        ...
        ray_autoterm.errors.InvalidArgumentError: The `mode` of the fold values must agree wherever it is declared: TuneConfig says "max" but the trials' results says "min". Make them agree (with the wrong one the incumbent would be the worst trial).
    """  # noqa: E501 - a doctest's expected line

    def __init__(self) -> None:
        self.claims: dict[str, str] = {}  # where it was declared -> "min" / "max"

    @property
    def known(self) -> bool:
        """Whether anything declared the direction."""
        return bool(self.claims)

    @property
    def mode(self) -> str:
        """The declared mode (``"min"`` while nothing declared one)."""
        return next(iter(self.claims.values()), "min")

    def claim(self, where: str, mode: str) -> bool:
        """Record that ``where`` declares ``mode``; returns whether this is a new declaration.

        Raises:
            InvalidArgumentError: ``mode`` contradicts an earlier declaration (both named).
        """
        for other, theirs in self.claims.items():
            if theirs != mode:
                raise InvalidArgumentError(
                    f'The `mode` of the fold values must agree wherever it is declared: {other} '
                    f'says "{theirs}" but {where} says "{mode}". Make them agree (with the '
                    "wrong one the incumbent would be the worst trial)."
                )
        if where in self.claims:
            return False
        self.claims[where] = mode
        return True

    def claim_from_result(self, result: Mapping[str, Any]) -> bool:
        """Take ``cv_mode`` from a trial's result, if it has one (see :meth:`claim`)."""
        declared = result.get(CV_MODE_KEY)
        if declared is None or self.claims.get(RESULTS) == declared:
            return False
        if declared not in ("min", "max"):
            raise invalid(CV_MODE_KEY, declared, '"min" or "max" in the trials\' results')
        return self.claim(RESULTS, declared)

    def require(self) -> None:
        """Refuse to go on when nothing declared the direction.

        Raises:
            InvalidArgumentError: always, when :attr:`known` is ``False``.
        """
        if not self.known:
            raise invalid(
                "mode", None,
                '"min" (the fold values are losses) or "max" (scores) -- nothing in this run '
                "says which: report with report_cv_scores(..., mode=...), or pass mode= to "
                'AutoTermStopper or to Tune (TuneConfig(metric="cv_mean", mode=...)); '
                "ray-autoterm does not guess, since with the wrong one the incumbent would be "
                "the worst trial",
            )
