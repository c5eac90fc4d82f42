"""When should a post go out: its score at every hour of the coming week.

Only what truly depends on the posting time changes between the hours (the time family:
hour, weekday, date, the author's local hour, and the drift correction for the date);
everything else, the author's history above all, stays as it is at the moment of asking.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass
class Advice:
    """One post's expected score at its own time and at each hour of the week ahead.
    ``curve`` has, per hour: ``posted_at`` (UTC), ``local_time`` (in ``timezone``, the
    author's where the data gives one, else UTC), ``score`` and ``gain`` over the post's
    own time."""

    post_id: str
    own_time: pd.Timestamp
    own_score: float
    timezone: str
    curve: pd.DataFrame

    def best(self, n: int = 3) -> pd.DataFrame:
        """The ``n`` hours with the highest expected score, best first."""
        return self.curve.nlargest(n, "score", keep="first").reset_index(drop=True)

    def week(self) -> pd.DataFrame:
        """Expected score by local weekday (rows, Monday first) and hour (columns): the
        heat map of the week."""
        local = self.curve["local_time"]
        grid = self.curve.assign(weekday=local.dt.day_of_week, hour=local.dt.hour).pivot_table(
            index="weekday", columns="hour", values="score", aggfunc="mean")
        return grid.reindex(index=range(7), columns=range(24)).rename(index=dict(enumerate(WEEKDAYS)))

    def summary(self) -> dict:
        """Plain values for JSON: the post, its own score and the best slots."""
        best = self.best()
        return {"post_id": self.post_id, "own_time": self.own_time.isoformat(), "own_score": self.own_score,
                "timezone": self.timezone,
                "best": [{"posted_at": r.posted_at.isoformat(), "local_time": r.local_time.isoformat(),
                          "score": r.score, "gain": r.gain} for r in best.itertuples()]}


def local_times(post: pd.Series, times: pd.DatetimeIndex) -> tuple[pd.Series, str]:
    """``times`` (UTC) in the author's time zone, by its id or else its UTC offset, and
    that zone's name; UTC where the post gives neither."""
    zone = post.get("timezone_id")
    if isinstance(zone, str) and zone:
        try:
            return pd.Series(times.tz_convert(zone)), zone
        except (KeyError, ValueError):  # an id the time zone database does not know
            pass
    offset = post.get("timezone_offset")
    if offset is not None and pd.notna(offset):
        hours = float(offset)
        shifted = times.tz_convert(None) + pd.Timedelta(hours=hours)
        return pd.Series(shifted), f"UTC{hours:+g}"
    return pd.Series(times), "UTC"
