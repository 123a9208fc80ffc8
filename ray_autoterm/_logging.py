"""The package logger: ``ray_autoterm``, with a plain handler at INFO unless configured."""

from __future__ import annotations

import logging


def configure_default_logging() -> None:
    """Give the ``ray_autoterm`` logger a stderr handler at INFO, as Optuna and Ray do for
    theirs, so the stop is visible by default. Applications can reconfigure it freely."""
    logger = logging.getLogger("ray_autoterm")
    if logger.handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("[ray-autoterm] %(levelname)s %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
