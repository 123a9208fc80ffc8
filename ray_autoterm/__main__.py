"""``python -m ray_autoterm report EXPERIMENT_DIR``: the same as the ``ray-autoterm`` command."""

from __future__ import annotations

from ray_autoterm.report import main

if __name__ == "__main__":
    raise SystemExit(main())
