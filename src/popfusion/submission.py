"""The SMP Challenge submission file:
``{"version": "VERSION 1.0", "result": [{"post_id": "post<Pid>", "popularity_score": 6.51}, ...],
"external_data": {"used": "true"|"false", "details": "..."}}``."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from popfusion.atomic import atomic_write


def to_submission(post_ids: pd.Series, scores: pd.Series, external: bool = False,
                  details: str = "") -> dict:
    ids = [p if str(p).startswith("post") else f"post{p}" for p in post_ids.astype(str)]
    return {
        "version": "VERSION 1.0",
        "result": [{"post_id": i, "popularity_score": round(float(s), 4)}
                   for i, s in zip(ids, scores, strict=True)],
        "external_data": {"used": "true" if external else "false", "details": details},
    }


def write_submission(path: Path, post_ids: pd.Series, scores: pd.Series, **kwargs) -> Path:
    return atomic_write(path, json.dumps(to_submission(post_ids, scores, **kwargs), indent=1))


def read_submission(path: str | Path) -> pd.DataFrame:
    """post_id (without the 'post' prefix) and popularity_score of a submission file."""
    doc = json.loads(Path(path).read_text())
    frame = pd.DataFrame(doc["result"])
    frame["post_id"] = frame["post_id"].str.removeprefix("post")
    return frame
