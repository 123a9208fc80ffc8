"""Lazy package exports (PEP 562), shared by the package ``__init__`` files.

Trial processes import the reporting helpers through ``ray_autoterm``; loading every public name
eagerly would pull in torch, gpytorch and BoTorch there. Each ``__init__`` maps its public names
to the modules defining them, and :func:`lazy_exports` gives it the module-level ``__getattr__``
and ``__dir__`` that import a name's module on first access and cache the name.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(
    namespace: dict[str, Any],
    names: Mapping[str, str],
    moved: Mapping[str, str] | None = None,
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for a package whose ``names`` map to defining modules.

    Args:
        namespace: The package's ``globals()`` (the name is cached there on first access).
        names: Public name -> the module that defines it.
        moved: Former public name -> the module to import it from now. Accessing such a name
            raises :class:`AttributeError` with a message that says where it moved.

    Example:
        >>> ns = {"__name__": "pkg", "__all__": ["sqrt"]}
        >>> getattr_, dir_ = lazy_exports(ns, {"sqrt": "math"}, moved={"pi": "math"})
        >>> getattr_("sqrt")(4.0), "sqrt" in ns, dir_()[-1]
        (2.0, True, 'sqrt')
        >>> getattr_("pi")
        Traceback (most recent call last):
        ...
        AttributeError: 'pi' is no longer exported by 'pkg'; import it from its module: ...
    """
    moved = dict(moved or {})

    def __getattr__(name: str) -> Any:
        module = names.get(name)
        if module is None:
            package = namespace["__name__"]
            if name in moved:
                raise AttributeError(
                    f"{name!r} is no longer exported by {package!r}; import it from its "
                    f"module: `from {moved[name]} import {name}`."
                )
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(namespace.get("__all__", ())))

    return __getattr__, __dir__
