"""Building a feature block or a model from its recipe name and parameters."""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from difflib import get_close_matches
from typing import Any, TypeVar

T = TypeVar("T")


def construct(registry: dict[str, type[T]], name: str, params: dict[str, Any] | None, what: str) -> T:
    """``registry[name](**params)``, with an error that names what went wrong."""
    if name not in registry:
        raise ValueError(f"unknown {what} {name!r}{did_you_mean(name, registry)}; known: {', '.join(registry)}")
    takes = [p for p in inspect.signature(registry[name].__init__).parameters if p != "self"]
    for key in params or {}:
        if key not in takes:
            raise ValueError(f"{what} {name!r} has no parameter {key!r}{did_you_mean(key, takes)}; "
                             f"it takes {', '.join(takes)}")
    try:
        return registry[name](**(params or {}))
    except TypeError as err:
        raise ValueError(f"bad parameters for {what} {name!r}: {err}") from None


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """" (did you mean 'x'?)" for the closest known name, or nothing."""
    close = get_close_matches(str(name), list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def reference(registry: dict[str, type], title: str) -> str:
    """A Markdown reference of every entry of ``registry``: its recipe name, what its
    docstring says, and each parameter with its default, from the code itself."""
    parts = [f"## {title}", ""]
    for name, cls in registry.items():
        doc = inspect.cleandoc(cls.__doc__ or "").strip()
        parts += [f"### `{name}`", "", doc or "(no description)", ""]
        params = [p for p in inspect.signature(cls.__init__).parameters.values() if p.name != "self"]
        if params:
            parts += ["| parameter | default |", "|---|---|"]
            parts += [f"| `{p.name}` | `{p.default!r}` |" for p in params]
            parts.append("")
    return "\n".join(parts)
