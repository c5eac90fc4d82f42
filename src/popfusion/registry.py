"""Building a feature block or a model from its recipe name and parameters."""

from __future__ import annotations

from typing import Any, TypeVar

T = TypeVar("T")


def construct(registry: dict[str, type[T]], name: str, params: dict[str, Any] | None, what: str) -> T:
    """``registry[name](**params)``, with an error that names what went wrong."""
    if name not in registry:
        raise ValueError(f"unknown {what} {name!r}; known: {', '.join(registry)}")
    try:
        return registry[name](**(params or {}))
    except TypeError as err:
        raise ValueError(f"bad parameters for {what} {name!r}: {err}") from None
