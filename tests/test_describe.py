"""Dataset summaries, on synthetic data and on the real SMPD labels when they are here."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from conftest import SHARED_DATA

from popfusion import load
from popfusion.data import calibration
from popfusion.data.describe import describe, plot


def test_summary_of_a_synthetic_folder(synth_small: Path, tmp_path: Path) -> None:
    table = load(synth_small)
    summary = describe(table)
    assert summary["rows"] == 1500 and summary["rows_by_split"] == {"train": 1000, "test": 500}
    assert summary["label"]["count"] == 1000
    assert summary["missing"]["label"] == pytest.approx(1 / 3, abs=1e-3)
    assert 0 < summary["missing"]["user_desc_* (empty vector)"] < 1
    assert summary["posts_per_user"]["users"] == table["user_id"].nunique()
    assert set(summary["time_span"]) == {"train", "test"}
    assert len(summary["label_by_time_decile"]) == 10
    assert len(summary["label_by_month"]) >= 11
    png = plot(table, tmp_path / "plot.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_real_smpd_labels_are_read_and_summarised() -> None:
    path = SHARED_DATA / "smpd_train_labels.csv"
    if not path.is_file():
        pytest.skip("../shared/data/smpd_train_labels.csv is not here")
    raw = pd.read_csv(path)
    table = pd.DataFrame({  # chron_rank gives the order in time; one second a rank keeps it
        "post_id": raw["pid"].astype(str),
        "posted_at": pd.to_datetime(raw["chron_rank"], unit="s", utc=True),
        "label": raw["label"],
    })
    summary = describe(table)
    assert summary["rows"] == 305_613
    assert summary["label"]["mean"] == pytest.approx(calibration.LABEL_MEAN, abs=0.005)
    assert summary["label"]["sd"] == pytest.approx(calibration.LABEL_SD, abs=0.005)
    assert (summary["label"]["min"], summary["label"]["max"]) == (1.0, 16.56)
    assert summary["label"]["median"] == calibration.LABEL_PERCENTILES[50]
    assert summary["label_by_time_decile"] == pytest.approx(calibration.DRIFT_DECILE_MEANS, abs=0.011)


def test_real_uid_sample_user_structure() -> None:
    path = SHARED_DATA / "smpd_train_uid_sample.csv"
    if not path.is_file():
        pytest.skip("../shared/data/smpd_train_uid_sample.csv is not here")
    users = describe(pd.read_csv(path).rename(columns={"uid": "user_id"}))["posts_per_user"]
    assert users["users"] == 9303 and users["max"] == 838 and users["median"] == 1
    assert users["single_post_user_share"] == pytest.approx(calibration.SINGLE_POST_USER_SHARE, abs=0.005)
    assert users["p99"] == pytest.approx(calibration.POSTS_PER_USER_P99, abs=1)
