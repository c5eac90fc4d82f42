"""The generic reader (CSV / Parquet / JSON Lines with a column map) and the schema."""

from __future__ import annotations

from pathlib import Path

import orjson
import pandas as pd
import pytest

from popfusion import DataError, load
from popfusion.data import schema
from popfusion.data.table import parse_column_map, read_posts

TWEETS = pd.DataFrame({
    "tweet_id": ["t1", "t2", "t3"],
    "author": ["a", "b", "a"],
    "created_at": ["2024-01-02T10:00:00Z", "2024-01-03 11:30:00+02:00", "1704300000"],
    "content": ["hello world", "", "third post"],
    "log_likes": ["3.5", "4", ""],
    "media": ["img/1.jpg", "", "/abs/3.jpg"],
    "retweets": ["1", "2", "3"],
})
MAP = "id=tweet_id,user=author,time=created_at,text=content,label=log_likes,image=media"


def test_column_map_parsing() -> None:
    assert parse_column_map("id=tweet_id, text = content") == {"post_id": "tweet_id", "title": "content"}
    assert parse_column_map({"label": "y"}) == {"label": "y"}
    with pytest.raises(DataError, match="unknown column 'likes'"):
        parse_column_map("likes=x")
    with pytest.raises(DataError, match="canonical=source"):
        parse_column_map("id")


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".jsonl"])
def test_every_format_maps_onto_the_canonical_table(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"posts{suffix}"
    if suffix == ".csv":
        TWEETS.to_csv(path, index=False)
    elif suffix == ".parquet":
        TWEETS.to_parquet(path)
    else:
        path.write_bytes(b"\n".join(orjson.dumps(r) for r in TWEETS.to_dict("records")))
    table = load(path, MAP)
    assert table["post_id"].tolist() == ["t1", "t2", "t3"]
    assert table["posted_at"].tolist() == [pd.Timestamp("2024-01-02 10:00", tz="UTC"),
                                           pd.Timestamp("2024-01-03 09:30", tz="UTC"),
                                           pd.Timestamp(1704300000, unit="s", tz="UTC")]
    assert table["label"].tolist()[:2] == [3.5, 4.0] and pd.isna(table["label"].iloc[2])
    assert table["split"].tolist() == ["train", "train", "test"]  # unlabelled rows are test rows
    assert pd.isna(table["title"].iloc[1])
    assert table["image_path"].iloc[0] == f"{tmp_path}/img/1.jpg"
    assert table["image_path"].iloc[2] == "/abs/3.jpg"
    assert table["retweets"].tolist() == ["1", "2", "3"]  # other columns are kept as they are


def test_parquet_times_are_taken_as_times(tmp_path: Path) -> None:
    frame = pd.DataFrame({"post_id": ["1", "2"], "user_id": "u", "label": [1.0, 2.0],
                          "posted_at": pd.to_datetime(["2024-01-02 10:00", "2024-01-03 11:30"])})
    frame.to_parquet(naive := tmp_path / "naive.parquet")
    frame.assign(posted_at=frame["posted_at"].dt.tz_localize("Europe/Paris")).to_parquet(
        aware := tmp_path / "aware.parquet")
    assert load(naive)["posted_at"].tolist() == [pd.Timestamp("2024-01-02 10:00", tz="UTC"),
                                                 pd.Timestamp("2024-01-03 11:30", tz="UTC")]
    assert load(aware)["posted_at"].iloc[0] == pd.Timestamp("2024-01-02 09:00", tz="UTC")


def test_canonical_names_need_no_map_and_tags_lists_are_joined(tmp_path: Path) -> None:
    path = tmp_path / "posts.jsonl"
    rows = [{"post_id": 1, "user_id": "u", "posted_at": 1704300000, "tags": ["a", "b"], "label": 2},
            {"post_id": 2, "user_id": "u", "posted_at": 1704300001, "tags": "c d", "label": 3}]
    path.write_bytes(b"\n".join(orjson.dumps(r) for r in rows) + b"\n\n")
    table = read_posts(path)
    assert table["tags"].tolist() == ["a b", "c d"]
    assert table["post_id"].tolist() == ["1", "2"]


def test_missing_required_column_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "posts.csv"
    TWEETS.to_csv(path, index=False)
    with pytest.raises(DataError, match=r"required column\(s\) user_id missing") as err:
        load(path, "id=tweet_id,time=created_at")
    assert err.value.source == str(path) and "author" in str(err.value)


def test_mapped_column_absent_from_the_file(tmp_path: Path) -> None:
    path = tmp_path / "posts.csv"
    TWEETS.to_csv(path, index=False)
    with pytest.raises(DataError, match="'nope' not in the file"):
        load(path, MAP + ",title=nope")


def test_bad_values_name_the_row_and_field(tmp_path: Path) -> None:
    path = tmp_path / "posts.csv"
    bad = TWEETS.copy()
    bad.loc[1, "log_likes"] = "lots"
    bad.to_csv(path, index=False)
    with pytest.raises(DataError) as err:
        load(path, MAP)
    assert (err.value.source, err.value.row, err.value.field) == (str(path), 1, "label")
    assert "not a number: 'lots'" in str(err.value)


def test_malformed_json_line_and_unknown_suffix(tmp_path: Path) -> None:
    path = tmp_path / "posts.jsonl"
    path.write_text('{"post_id": 1}\n{"post_id": \n')
    with pytest.raises(DataError, match="malformed JSON") as err:
        load(path)
    assert err.value.row == 1
    other = tmp_path / "posts.xlsx"
    other.write_text("x")
    with pytest.raises(DataError, match="unknown file type"):
        load(other)
    with pytest.raises(DataError, match="file not found"):
        load(tmp_path / "missing.csv")


def _table(**overrides) -> pd.DataFrame:
    base = {"post_id": ["1", "2"], "user_id": ["u", "v"], "posted_at": ["1704300000", "1704300001"],
            "label": ["1.5", "2.5"], "split": ["train", "train"]}
    return schema.coerce(pd.DataFrame({**base, **overrides}), "t.csv")


@pytest.mark.parametrize(("overrides", "field", "message"), [
    ({"post_id": ["1", "1"]}, "post_id", "duplicate post id"),
    ({"user_id": ["u", None]}, "user_id", "required value missing"),
    ({"latitude": ["10", "95"]}, "latitude", "above 90"),
    ({"is_public": ["1", "2"]}, "is_public", "must be 0 or 1"),
    ({"split": ["train", "valid"]}, "split", "split must be"),
    ({"label": ["1.5", None]}, "label", "training row has no label"),
])
def test_validate_names_row_and_field(overrides: dict, field: str, message: str) -> None:
    with pytest.raises(DataError, match=message) as err:
        schema.validate(_table(**overrides), "t.csv")
    assert (err.value.source, err.value.row, err.value.field) == ("t.csv", 1, field)


def test_validate_catches_wrong_dtypes_and_missing_columns() -> None:
    table = _table()
    with pytest.raises(DataError, match="required column"):
        schema.validate(table.drop(columns="user_id"))
    with pytest.raises(DataError, match="UTC timestamp"):
        schema.validate(table.assign(posted_at=table["posted_at"].dt.tz_convert(None)))
    with pytest.raises(DataError, match="must be float"):
        schema.validate(table.assign(label=["a", "b"]))
    assert schema.validate(table) is table


def test_timestamps_in_seconds_milliseconds_and_text() -> None:
    values = pd.Series(["1704300000", 1704300000000, "2024-01-03T16:40:00Z", None, "None"])
    out = schema.to_utc(values, "posted_at")
    assert out.iloc[:3].nunique() == 1 and out.iloc[3:].isna().all()
    with pytest.raises(DataError, match="out of range"):
        schema.to_utc(pd.Series(["99999999999999999"]), "posted_at")


def test_a_list_where_one_value_belongs_is_an_error_and_unlabelled_rows_are_counted(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    jsonl = tmp_path / "posts.jsonl"
    jsonl.write_text('{"post_id": "a", "user_id": "u", "posted_at": "2020-01-01", "category": "x"}\n'
                     '{"post_id": "b", "user_id": "u", "posted_at": "2020-01-02", "category": [1, 2]}\n')
    with pytest.raises(DataError, match=r"row 1, field 'category': a list or mapping"):
        read_posts(jsonl)
    csv = tmp_path / "posts.csv"
    csv.write_text("post_id,user_id,posted_at,label\na,u,2020-01-01,1.5\nb,u,2020-01-02,NaN\nc,u,2020-01-03,\n")
    with caplog.at_level("INFO", logger="popfusion"):
        table = read_posts(csv)
    assert table["split"].tolist() == ["train", "test", "test"]
    assert "2 of 3 rows have no label" in caplog.text and "1 hold a missing marker" in caplog.text


def test_day_first_dates_are_never_read_month_first_silently(tmp_path: Path) -> None:
    csv = tmp_path / "posts.csv"
    csv.write_text("post_id,user_id,posted_at\na,u,07/02/2016\nb,u,03/04/2016\n")
    with pytest.raises(DataError, match=r"ambiguous dates such as '07/02/2016'.*--time-format dayfirst"):
        read_posts(csv)
    read = read_posts(csv, time_format="dayfirst")
    assert read["posted_at"].dt.strftime("%Y-%m-%d").tolist() == ["2016-02-07", "2016-04-03"]
    assert read_posts(csv, time_format="%m/%d/%Y")["posted_at"].dt.month.tolist() == [7, 3]
    csv.write_text("post_id,user_id,posted_at\na,u,07/02/2016\nb,u,13/04/2016\n")  # 13 can only be a day
    assert read_posts(csv)["posted_at"].dt.strftime("%Y-%m-%d").tolist() == ["2016-02-07", "2016-04-13"]
    csv.write_text("post_id,user_id,posted_at\na,u,13/02/2016\nb,u,02/13/2016\n")
    with pytest.raises(DataError, match="day first and others with the month first"):
        read_posts(csv)
