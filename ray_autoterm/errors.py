"""Exceptions raised by ray-autoterm.

Every argument error is a :class:`ValueError` subclass whose message names the argument, the value
that was given and what is allowed, in the scikit-learn style.
"""

from __future__ import annotations

from typing import Any


class AutoTermError(Exception):
    """Base class of ray-autoterm's own exceptions."""


class InvalidArgumentError(AutoTermError, ValueError):
    """An argument has a value that is not allowed."""


class SearchSpaceError(InvalidArgumentError):
    """A search space holds a domain ray-autoterm cannot model, or a config does not fit it."""


class GPFitError(AutoTermError, RuntimeError):
    """Fitting the Gaussian process failed (after BoTorch's retries)."""


class UnsupportedContextError(AutoTermError, RuntimeError):
    """A helper was called where its result cannot reach the stopper (e.g. a Ray Train worker)."""


def invalid(name: str, value: Any, allowed: str) -> InvalidArgumentError:
    """Build the standard argument error: ``The `name` argument must be ...; got ... instead.``"""
    return InvalidArgumentError(f"The `{name}` argument must be {allowed}; got {value!r} instead.")
