"""The SMPD reader: both naming generations, real value formats, and every error path."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
import pytest
from conftest import SHARED_DATA, smpd_records, write_smpd

from popfusion import DataError, load
from popfusion.data.smpd import read_smpd


def test_reads_2023_names_with_every_value_converted(tmp_path: Path) -> None:
    table = read_smpd(write_smpd(tmp_path))
    assert len(table) == 4 and set(table["split"]) == {"train"}
    row = table.iloc[0]
    assert row["post_id"] == "100" and row["user_id"] == "10@N00"
    assert row["posted_at"] == pd.Timestamp(1446016778, unit="s", tz="UTC")
    assert row["latitude"] == pytest.approx(40.7128) and row["geo_accuracy"] == 16
    assert math.isnan(table.iloc[1]["latitude"]) and math.isnan(table.iloc[1]["longitude"])
    assert table["pathalias"].iloc[0] == "alias" and pd.isna(table["pathalias"].iloc[1])
    assert table["is_public"].tolist() == [1.0] * 4
    assert table["category"].iloc[0] == "Whether&Season"
    assert table["subcategory"].iloc[0] == "Snow, Ice"
    assert table["tags"].iloc[0] == "snow winter"
    assert table["label"].tolist() == [5.0, 5.1, 5.2, 5.3]
    assert row["timezone_offset"] == -5.0 and row["timezone_id"] == "America/New_York"
    assert row["photo_firstdate"] == pd.Timestamp(1152193500, unit="s", tz="UTC")
    assert row["photo_firstdatetaken"] == pd.Timestamp("2005-08-31 12:00:00", tz="UTC")
    assert row["photo_count"] == 1543 and row["ispro"] == 0 and row["canbuypro"] == 1
    assert table["user_desc_398"].tolist() == [0.5] * 4
    assert np.isnan(table.filter(like="loc_desc_").iloc[0]).all()  # an empty vector
    assert table.filter(like="loc_desc_").shape == (4, 400)
    assert table["image_path"].iloc[0] == f"{tmp_path}/train/10@N00/100.jpg"


def test_2019_names_give_the_same_table(tmp_path: Path) -> None:
    new = read_smpd(write_smpd(tmp_path / "new", generation="2023"))
    old = read_smpd(write_smpd(tmp_path / "old", generation="2019"))
    old["image_path"] = old["image_path"].str.replace("/old/", "/new/")
    pd.testing.assert_frame_equal(new, old)


def test_train_and_test_splits_without_test_labels(tmp_path: Path) -> None:
    write_smpd(tmp_path, split="train")
    test_records = smpd_records(3)
    for rows in test_records.values():
        for r in rows:
            if "Pid" in r:
                r["Pid"] = str(int(r["Pid"]) + 1000)
    write_smpd(tmp_path, test_records, split="test")
    table = load(tmp_path)
    assert table["split"].value_counts().to_dict() == {"train": 4, "test": 3}
    assert table.loc[table["split"] == "test", "label"].isna().all()
    assert table["post_id"].is_unique


def test_vectors_can_be_skipped(tmp_path: Path) -> None:
    table = read_smpd(write_smpd(tmp_path), vectors=False)
    assert not any(c.startswith(("user_desc_", "loc_desc_")) for c in table.columns)
    assert table["photo_count"].tolist() == [1543.0] * 4


def test_urls_list_keeps_url_and_points_image_path_at_the_crawl_layout(tmp_path: Path) -> None:
    write_smpd(tmp_path)
    (tmp_path / "train_img_filepath.txt").unlink()
    (tmp_path / "train_img.txt").write_text("\n".join(f"https://x.test/{i}.jpg" for i in range(4)))
    table = read_smpd(tmp_path, image_root=tmp_path / "imgs")
    assert table["image_url"].iloc[2] == "https://x.test/2.jpg"
    assert table["image_path"].iloc[2] == f"{tmp_path}/imgs/train/10@N00/102.jpg"


def test_real_smpd_records_parse_as_the_official_files_give_them(tmp_path: Path) -> None:
    """The 26 real records from ../shared (linked, never copied), with the two files the
    excerpt lacks written to match their ids."""
    real = SHARED_DATA / "smpd_real_format"
    if not real.is_dir():
        pytest.skip("../shared/data/smpd_real_format is not here")
    folder = tmp_path / "test_allmetadata_json"
    folder.mkdir()
    for name in ("test_category.json", "test_additional_information.json"):
        (folder / name).symlink_to(real / name)
    raw = orjson.loads((real / "test_additional_information.json").read_bytes())
    ids = [{"Uid": r["Uid"], "Pid": r["Pid"]} for r in raw]
    (folder / "test_text.json").write_bytes(orjson.dumps(
        [{**d, "Title": "", "Mediatype": "photo", "Alltags": ""} for d in ids]))
    (folder / "test_temporalspatial_information.json").write_bytes(orjson.dumps(
        [{**d, "Postdate": "1457000000", "Latitude": "0", "Longitude": "0", "Geoaccuracy": "0"}
         for d in ids]))
    table = read_smpd(tmp_path)
    categories = orjson.loads((real / "test_category.json").read_bytes())
    assert len(table) == len(raw) == 26
    assert table["post_id"].tolist() == [r["Pid"] for r in raw]
    assert table["user_id"].tolist() == [r["Uid"] for r in raw]
    assert table["category"].tolist() == [r["Category"] for r in categories]
    assert table["concept"].tolist() == [r["Concept"] for r in categories]
    assert any("&" in c for c in table["category"])  # names keep their '&' and ','
    assert table["is_public"].eq(1.0).all() and table["media_status"].eq("ready").all()
    none_alias = [r["Pathalias"] == "None" for r in raw]
    assert table["pathalias"].isna().tolist() == none_alias and any(none_alias)
    assert table["title"].isna().all() and table["latitude"].isna().all()


# --- errors: each names the file, the row and the field ----------------------------------


def test_missing_required_file(tmp_path: Path) -> None:
    write_smpd(tmp_path)
    (tmp_path / "train_allmetadata_json" / "train_text.json").unlink()
    with pytest.raises(DataError, match=r"missing SMPD file train_text\.json"):
        read_smpd(tmp_path)


def test_missing_train_labels(tmp_path: Path) -> None:
    write_smpd(tmp_path)
    (tmp_path / "train_label.txt").unlink()
    with pytest.raises(DataError, match=r"train_label\.txt"):
        read_smpd(tmp_path)


def test_not_an_smpd_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no SMPD files"):
        load(tmp_path)


@pytest.mark.parametrize("text", [b'[{"Uid": "1@N0", "Pid": "1"', b'{"Uid": 1}', b"",
                                  b'[{"Uid": "1@N0"} {"Pid": 2}]'])
def test_malformed_json(tmp_path: Path, text: bytes) -> None:
    write_smpd(tmp_path)
    path = tmp_path / "train_allmetadata_json" / "train_category.json"
    path.write_bytes(text)
    with pytest.raises(DataError) as err:
        read_smpd(tmp_path)
    assert err.value.source == str(path)


def test_misaligned_row_counts(tmp_path: Path) -> None:
    records = smpd_records()
    records["userdata"] = records["userdata"][:3]
    write_smpd(tmp_path, records)
    with pytest.raises(DataError, match="same number of rows") as err:
        read_smpd(tmp_path)
    assert "train_user_data.json: 3" in str(err.value)


@pytest.mark.parametrize("field", ["Pid", "Uid"])
def test_mismatched_ids_name_file_row_and_field(tmp_path: Path, field: str) -> None:
    records = smpd_records()
    records["temporalspatial"][2][field] = "999"
    write_smpd(tmp_path, records)
    with pytest.raises(DataError) as err:
        read_smpd(tmp_path)
    assert err.value.row == 2 and err.value.field == field
    assert err.value.source.endswith("train_temporalspatial_information.json")
    assert "misaligned" in str(err.value)


def test_bad_timestamp(tmp_path: Path) -> None:
    records = smpd_records()
    records["temporalspatial"][3]["Postdate"] = "yesterday-ish"
    write_smpd(tmp_path, records)
    with pytest.raises(DataError, match="not a timestamp: 'yesterday-ish'") as err:
        read_smpd(tmp_path)
    assert err.value.row == 3 and err.value.field == "posted_at"


def test_non_numeric_label(tmp_path: Path) -> None:
    write_smpd(tmp_path, labels=["5.0", "6.1", "high", "7"])
    with pytest.raises(DataError, match="not a number: 'high'") as err:
        read_smpd(tmp_path)
    assert err.value.row == 2 and err.value.field == "label"
    assert err.value.source.endswith("train_label.txt")


def test_label_count_must_match(tmp_path: Path) -> None:
    write_smpd(tmp_path, labels=["5.0", "6.1"])
    with pytest.raises(DataError, match="2 labels for 4 posts"):
        read_smpd(tmp_path)


def test_vector_of_wrong_length_names_its_row(tmp_path: Path) -> None:
    records = smpd_records()
    records["userdata"][1]["user_description"] = [0.1] * 5
    write_smpd(tmp_path, records)
    with pytest.raises(DataError, match="expected 399 numbers") as err:
        read_smpd(tmp_path)
    assert err.value.row == 1 and err.value.field == "user_description"


def test_out_of_range_latitude(tmp_path: Path) -> None:
    records = smpd_records()
    records["temporalspatial"][0]["Latitude"] = "123.0"
    write_smpd(tmp_path, records)
    with pytest.raises(DataError, match="above 90") as err:
        read_smpd(tmp_path)
    assert err.value.row == 0 and err.value.field == "latitude"


def test_offsets_empty_files_and_stray_bytes_are_read_or_refused_by_name(tmp_path: Path) -> None:
    records = smpd_records()
    for i, r in enumerate(records["userdata"]):
        r["timezone_offset"] = ["GMT+8", "UTC-03:30", "+05:45", "-5"][i]
    assert load(write_smpd(tmp_path / "gmt", records))["timezone_offset"].tolist() == [8.0, -3.5, 5.75, -5.0]
    empty = write_smpd(tmp_path / "empty")
    next(empty.rglob("train_text.json")).write_text("[]")
    with pytest.raises(DataError, match=r"train_text\.json: the file holds no posts"):
        load(empty)
    stray = write_smpd(tmp_path / "stray")
    next(stray.rglob("train_label.txt")).write_bytes(b"1.0\n2.0\n\xff3.0\n4.0\n")
    with pytest.raises(DataError, match=r"train_label.txt, row 2: not UTF-8 text \(byte 0xff\)"):
        load(stray)
