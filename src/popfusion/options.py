"""Command-line options every command shares: the same names for the same things."""

from __future__ import annotations

import logging
from typing import Annotated

import typer


def _log_level(level: int):
    """An option callback that sets popfusion's log level when the option is given."""
    def set_level(value: bool) -> None:
        if value:
            logging.getLogger("popfusion").setLevel(level)
    return set_level


# on every command, and before it (`popfusion -q run` and `popfusion run -q` alike)
VerboseOption = Annotated[bool, typer.Option(
    "--verbose", "-v", help="Log more (debug lines).", callback=_log_level(logging.DEBUG), expose_value=False)]
QuietOption = Annotated[bool, typer.Option(
    "--quiet", "-q", help="Results and errors only: no log lines, no progress bars.",
    callback=_log_level(logging.WARNING), expose_value=False)]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout (no tables).")]
