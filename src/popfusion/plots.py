"""What every plot shares."""

from __future__ import annotations


def date_axis(ax) -> None:
    """Readable date ticks at any span, days to decades (at most about ten labels)."""
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator(maxticks=10)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
