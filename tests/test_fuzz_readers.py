"""A fuzzed contract for the readers: whatever a CSV, JSON Lines or Parquet file holds,
reading it either gives a canonical table (the canonical types and ranges) or raises a
DataError that names the file; nothing else escapes."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from popfusion.data import schema
from popfusion.data.schema import DataError
from popfusion.data.table import read_posts

MARKERS = ["", "None", "NaN", "null", "N/A"]
cell = st.one_of(
    st.sampled_from(MARKERS),
    st.integers(-10**12, 10**13).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["2020-01-01", "07/02/2016", "13/02/2016", "2020-02-30", "2500-01-01", "GMT+8",
                     "1e308", "-1e308", "1.5", "true", "[1, 2]", "{'a': 1}", "x,y", 'quo"te', "\u00e9\u00e8"]),
    st.text(max_size=12),
)
COLUMNS = ["post_id", "user_id", "posted_at", "label", "title", "tags", "category", "latitude", "longitude",
           "split", "extra"]
table = st.integers(0, 8).flatmap(lambda n: st.fixed_dictionaries(
    {c: st.lists(cell, min_size=n, max_size=n) for c in COLUMNS},
    optional={}).map(lambda d: pd.DataFrame(d)))
columns = st.lists(st.sampled_from(COLUMNS), min_size=1, max_size=len(COLUMNS), unique=True)


def _check_contract(path: Path) -> None:
    try:
        posts = read_posts(path)
    except DataError as err:
        assert err.source == str(path)
        return
    assert posts["post_id"].is_unique and posts["post_id"].notna().all()
    assert str(posts["posted_at"].dtype) == "datetime64[ns, UTC]" and posts["posted_at"].notna().all()
    assert set(posts["split"]) <= set(schema.SPLITS)
    if "label" in posts:
        assert posts["label"].dtype == "float64" and np.isfinite(posts["label"].dropna()).all()
        assert posts.loc[posts["split"] == "train", "label"].notna().all()
    for col in ("latitude", "longitude"):
        if col in posts:
            c = schema.BY_NAME[col]
            assert posts[col].dropna().between(c.low, c.high).all()


FUZZ = settings(max_examples=1000, derandomize=True, deadline=None,  # the same examples on every machine
                suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(frame=table, keep=columns)
def test_csv_reader_contract(frame: pd.DataFrame, keep: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "posts.csv"
        frame[keep].to_csv(path, index=False)
        _check_contract(path)


@FUZZ
@given(frame=table, keep=columns, data=st.data())
def test_jsonl_reader_contract(frame: pd.DataFrame, keep: list[str], data: st.DataObject) -> None:
    """JSON values as JSON gives them: strings, numbers, lists, nulls."""
    value = st.one_of(cell, st.integers(-10**13, 10**13), st.floats(allow_nan=False), st.none(),
                      st.lists(st.integers(0, 3), max_size=2), st.booleans())
    rows = [{c: data.draw(value) for c in keep} for _ in range(len(frame))]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "posts.jsonl"
        path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
        _check_contract(path)


@FUZZ
@given(frame=table, keep=columns)
def test_parquet_reader_contract(frame: pd.DataFrame, keep: list[str]) -> None:
    """Parquet with typed columns: numbers where they parse, times where they parse."""
    typed = frame[keep].copy()
    for col in typed:
        numbers = pd.to_numeric(typed[col], errors="coerce")
        if numbers.notna().all() and len(typed):
            typed[col] = numbers
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "posts.parquet"
        typed.to_parquet(path)
        _check_contract(path)


@settings(max_examples=300, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_smpd_reader_contract(data: st.DataObject) -> None:
    """One value of one SMPD file replaced by anything JSON can hold: the folder reads
    into a canonical table or the error names a file."""
    from conftest import smpd_records, write_smpd

    from popfusion.data.smpd import read_smpd

    records = smpd_records()
    key = data.draw(st.sampled_from(sorted(records)))
    row = data.draw(st.integers(0, len(records[key]) - 1))
    field = data.draw(st.sampled_from(sorted(records[key][row])))
    records[key][row][field] = data.draw(st.one_of(
        cell, st.none(), st.integers(-10**13, 10**13), st.floats(allow_nan=False), st.booleans(),
        st.lists(st.integers(0, 3), max_size=3)))
    with tempfile.TemporaryDirectory() as tmp:
        folder = write_smpd(Path(tmp) / "smpd", records, labels=["1.5", "2.5", "3.5", "4.5"])
        try:
            posts = read_smpd(folder)
        except DataError as err:
            assert err.source is not None
            return
    assert posts["post_id"].is_unique and str(posts["posted_at"].dtype) == "datetime64[ns, UTC]"
    assert np.isfinite(posts["label"]).all()
