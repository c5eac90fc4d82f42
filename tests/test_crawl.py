"""The crawler against a scripted local server: payloads of both user sources, injected
faults, resume after a kill, the rate limit, and the crawled totals reaching features."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fake_server import FakeServer, Step, ok
from PIL import Image

from popfusion import load
from popfusion.crawl import CrawlSettings, crawl_images, crawl_users, make_source, users_manifest
from popfusion.crawl.client import PoliteClient, retry_after
from popfusion.crawl.manifest import Manifest
from popfusion.crawl.users import parse_profile_page
from popfusion.data.describe import describe
from popfusion.features.meta import Metadata

FAST = dict(rate=50.0, concurrency=3, timeout=0.5, retries=3, backoff=0.01)


def profile_page(views: int, photos: str = "1,234") -> str:
    """A profile page as Flickr serves it: statistics nested in the script's modelExport."""
    export = {"main": {
        "person-profile-models": [{"id": "1@N01", "pathAlias": "x", "photoCount": photos,
                                   "followerCount": 56, "followingCount": 7}],
        "person-stats-models": [{"totalViews": views, "totalTags": 432, "totalGeotagged": 10,
                                 "totalFaves": 77, "totalInGroup": 5}]}}
    return ("<!DOCTYPE html><html><head><title>x | Flickr</title></head><body><script>\n"
            "root.YUI_config.flickr.request = {};\n"
            f"modelExport: {json.dumps(export)},\nauth: {{\"signedIn\": false}}\n</script></body></html>")


def jpeg(seed: int, size: int = 24) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 255, (size, size, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "JPEG")
    return buf.getvalue()


def posts_csv(path: Path, users: list[str], server: FakeServer | None = None,
              host: str | None = None) -> Path:
    """Two posts per user (one with the alias missing: the id is the fallback key)."""
    rows = []
    for i, user in enumerate(users):
        for j in range(2):
            rows.append({"post_id": f"{i}{j}", "user_id": f"{i}@N0{i}", "pathalias": user,
                         "posted_at": f"2016-0{1 + j}-1{i % 10}T10:00:00Z", "split": "train" if j else "test",
                         "image_url": f"{host or server.url}/img/{i}{j}.jpg" if server else ""})
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


@pytest.fixture()
def server() -> FakeServer:
    s = FakeServer()
    yield s
    s.close()


def test_profile_page_statistics_are_found_wherever_the_page_nests_them() -> None:
    stats = parse_profile_page(profile_page(98765))
    assert stats == {"user_photo_count": 1234.0, "follower_count": 56.0, "following_count": 7.0,
                     "total_views": 98765.0, "total_tags": 432.0, "total_geotagged": 10.0,
                     "total_faves": 77.0, "total_in_group": 5.0}


def test_retry_after_takes_seconds_and_http_dates() -> None:
    assert retry_after("3") == 3.0 and retry_after(None) is None and retry_after("soon") is None
    later = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 20))
    assert 15 < retry_after(later) <= 21


def test_user_crawl_survives_every_fault_and_reports_what_failed(tmp_path: Path, server: FakeServer) -> None:
    users = ["fine", "busy", "flaky", "slow", "dropped", "garbled", "gone"]
    page = ok(profile_page(100))
    server.routes = {
        "/people/fine/": [page],
        "/people/busy/": [Step(b"slow down", 429, {"Retry-After": "1"}), page],
        "/people/flaky/": [Step(b"", 500), Step(b"", 503), page],
        "/people/slow/": [Step(page.body, delay=1.5, headers=page.headers), page],
        "/people/dropped/": [Step(page.body, cut=True), page],
        "/people/garbled/": [ok("<html><script>modelExport: {\"main\": [1, 2,</script>")],
    }  # "gone" is not routed: 404
    data = load(posts_csv(tmp_path / "posts.csv", users))
    out = tmp_path / "users.parquet"
    source = make_source("page", PoliteClient(CrawlSettings(**FAST), seed=0), server.url)
    summary = crawl_users(data, out, source, source.client.settings)

    table = pd.read_parquet(out).set_index("pathalias")
    assert sorted(table.index) == ["busy", "dropped", "fine", "flaky", "slow"]
    assert (table["total_views"] == 100).all() and (table["user_photo_count"] == 1234).all()
    assert table["crawled_at"].notna().all()
    assert summary.fetched == 5 and dict(summary.failed) == {"malformed page": 1, "http 404": 1}
    assert Manifest(users_manifest(out)).failures() == {"garbled": "malformed page", "gone": "http 404"}
    assert len(server.requests_to("/people/gone/")) == 1  # a 404 is final: never asked again
    assert len(server.requests_to("/people/flaky/")) == 3
    first, second = server.requests_to("/people/busy/")
    assert second - first >= 0.95  # Retry-After: 1 was honoured

    before = len(server.log)
    again = crawl_users(data, out, source, source.client.settings)
    assert len(server.log) == before and again.skipped == 5 and again.failed_before == 2 and not again.ok
    server.routes["/people/gone/"] = [page]
    retried = crawl_users(data, out, source, source.client.settings, retry_failed=True)
    assert retried.fetched == 1 and dict(retried.failed) == {"malformed page": 1}
    assert len(server.log) == before + 2  # only the two failures were asked again
    assert "gone" in set(pd.read_parquet(out)["pathalias"])


def test_rest_api_source(tmp_path: Path, server: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLICKR_API_KEY", "secret")
    rest = "/services/rest"

    def answer(body: dict) -> list[Step]:
        return [ok(json.dumps(body), "application/json")]

    server.routes = {
        f"{rest}/flickr.urls.lookupUser/https://www.flickr.com/photos/ann/": answer(
            {"user": {"id": "42@N01", "username": {"_content": "ann"}}, "stat": "ok"}),
        f"{rest}/flickr.people.getInfo/42@N01": answer({"person": {"id": "42@N01", "photos": {
            "firstdate": {"_content": "1152193500"}, "count": {"_content": 321},
            "views": {"_content": "4567"}}}, "stat": "ok"}),
        f"{rest}/flickr.contacts.getPublicList/42@N01": answer(
            {"contacts": {"page": 1, "pages": 12, "per_page": 1, "total": "12", "contact": []}, "stat": "ok"}),
        f"{rest}/flickr.urls.lookupUser/https://www.flickr.com/photos/bad/": [
            ok("{not json", "application/json")],
        f"{rest}/flickr.urls.lookupUser/https://www.flickr.com/photos/nobody/": answer(
            {"stat": "fail", "code": 1, "message": "User not found"}),
    }
    data = load(posts_csv(tmp_path / "posts.csv", ["ann", "bad", "nobody"]))
    out = tmp_path / "users.csv"
    source = make_source("api", PoliteClient(CrawlSettings(**FAST)), f"{server.url}{rest}")
    summary = crawl_users(data, out, source, source.client.settings)
    table = pd.read_csv(out).set_index("pathalias")
    assert table.loc["ann", ["user_photo_count", "total_views", "following_count"]].tolist() == [321, 4567, 12]
    assert np.isnan(table.loc["ann", "total_faves"])  # the REST API has no call for it
    assert dict(summary.failed) == {"malformed json": 1, "api error": 1}
    assert all("api_key=secret" not in line for line in Path(users_manifest(out)).read_text().splitlines())


def test_api_key_never_comes_from_the_command_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from popfusion.crawl.client import FetchError

    monkeypatch.delenv("FLICKR_API_KEY", raising=False)
    with pytest.raises(FetchError, match="FLICKR_API_KEY"):
        make_source("api", PoliteClient(), key_file=tmp_path / "absent")
    (tmp_path / "key").write_text("abc123\n")
    assert make_source("api", PoliteClient(), key_file=tmp_path / "key").api_key == "abc123"


def test_rate_limit_holds_across_threads(server: FakeServer) -> None:
    server.routes = {f"/people/u{i}/": [ok(profile_page(i))] for i in range(12)}
    client = PoliteClient(CrawlSettings(rate=8.0, concurrency=4, timeout=2))
    for t in [client.get(f"{server.url}/people/u{i}/") for i in range(3)]:
        assert t.status_code == 200
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda i: client.get(f"{server.url}/people/u{i}/"), range(3, 12)))
    times = sorted(t for t, _ in server.log)
    assert (times[-1] - times[0]) >= 11 / 8 * 0.95  # 12 requests at 8/s: at least 1.375 s
    assert min(np.diff(times)) > 0.5 / 8  # never a burst


def test_images_are_checked_and_laid_out_for_the_reader(tmp_path: Path, server: FakeServer) -> None:
    data = load(posts_csv(tmp_path / "posts.csv", ["a", "b"], server))
    server.routes = {"/img/00.jpg": [ok(jpeg(0), "image/jpeg")],
                     "/img/01.jpg": [Step(jpeg(1), cut=True), ok(jpeg(1), "image/jpeg")],
                     "/img/10.jpg": [ok("<html>rate limited</html>")],  # 200, but not an image
                     "/img/11.jpg": [Step(jpeg(3)[:200]), ok(jpeg(3), "image/jpeg")]}  # truncated JPEG
    out = tmp_path / "images"
    summary = crawl_images(data, out, PoliteClient(CrawlSettings(**FAST)))
    assert summary.fetched == 2 and dict(summary.failed) == {"not an image": 2}
    reread = load(tmp_path / "posts.csv", image_root=out)
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.jpg"))
    assert files == ["test/0@N00/00.jpg", "train/0@N00/01.jpg"]
    assert not [p for p in out.rglob(".*") if p.is_file()]  # no temporary files left
    assert Image.open(out / files[1]).size == (24, 24)
    assert data["image_url"].notna().all() and "image_path" not in reread  # CSV: paths come from --image-root


def test_dry_run_lists_and_fetches_nothing(tmp_path: Path, server: FakeServer) -> None:
    data = load(posts_csv(tmp_path / "posts.csv", ["a", "b", "c"]))
    source = make_source("page", PoliteClient(CrawlSettings(**FAST)), server.url)
    summary = crawl_users(data, tmp_path / "u.parquet", source, source.client.settings, dry_run=True)
    assert summary.pending == ["a", "b", "c"] and not server.log and not (tmp_path / "u.parquet").exists()


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-c", "from popfusion.cli import app; app()", *args]


@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGINT], ids=["kill", "ctrl-c"])
def test_a_stopped_crawl_resumes_to_the_same_files(tmp_path: Path, server: FakeServer, stop: int) -> None:
    # stopped at 6 requests/s: 40 users take 6.5 s and 80 images 13 s, ample to stop even on a
    # busy machine; the reruns go at 50/s so the test stays short
    users = [f"user{i}" for i in range(40)]
    server.routes = {f"/people/{u}/": [ok(profile_page(10 * i))] for i, u in enumerate(users)}
    server.routes |= {f"/img/{i}{j}.jpg": [ok(jpeg(10 * i + j), "image/jpeg")]
                      for i in range(len(users)) for j in (0, 1)}
    csv = posts_csv(tmp_path / "posts.csv", users, server, host="https://live.staticflickr.com")
    common = ["--concurrency", "2", "--timeout", "5", "--base-url", server.url]
    run = {"users": ["crawl", "users", str(csv), *common], "images": ["crawl", "images", str(csv), *common]}
    slow, fast = ["--rate", "6"], ["--rate", "50"]
    outs = {"users": tmp_path / "stopped.parquet", "images": tmp_path / "stopped"}
    manifests = {"users": users_manifest(outs["users"]), "images": outs["images"] / "manifest.jsonl"}
    for kind in run:
        # the default Ctrl-C handler even where this test runs in a background job, whose
        # children inherit an ignored SIGINT
        proc = subprocess.Popen(_cli(*run[kind], *slow, "--out", str(outs[kind])), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and _lines(manifests[kind]) < 2:
            time.sleep(0.05)
        os.kill(proc.pid, stop)
        code = proc.wait(30)
        assert code == (130 if stop == signal.SIGINT else -signal.SIGKILL)
        done_at_stop = _lines(manifests[kind])
        total = len(users) if kind == "users" else 2 * len(users)
        assert 2 <= done_at_stop < total
        server.log.clear()
        rerun = subprocess.run(_cli(*run[kind], *fast, "--out", str(outs[kind])), capture_output=True)
        assert rerun.returncode == 0
        asked = len(server.log)
        assert total - done_at_stop <= asked <= total - done_at_stop + 2  # (+ those in flight at the stop)
        whole = tmp_path / ("whole.parquet" if kind == "users" else "whole")
        assert subprocess.run(_cli(*run[kind], *fast, "--out", str(whole)), capture_output=True).returncode == 0
        if kind == "users":
            cols = ["pathalias", "total_views", "user_photo_count", "follower_count"]
            a, b = (pd.read_parquet(p)[cols].sort_values("pathalias").reset_index(drop=True)
                    for p in (outs[kind], whole))
            pd.testing.assert_frame_equal(a, b)
        else:
            assert _tree(outs[kind]) == _tree(whole)


def _lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*.jpg")}


def test_crawled_totals_reach_the_features_and_describe_shows_the_lag(tmp_path: Path,
                                                                      server: FakeServer) -> None:
    server.routes = {f"/people/u{i}/": [ok(profile_page(1000 * (i + 1)))] for i in range(3)}
    csv = posts_csv(tmp_path / "posts.csv", ["u0", "u1", "u2", "u3"])  # u3: not crawled (404)
    out = tmp_path / "users.parquet"
    source = make_source("page", PoliteClient(CrawlSettings(**FAST)), server.url)
    crawl_users(load(csv), out, source, source.client.settings)
    posts = load(csv, crawled=out)
    assert len(posts) == 8 and posts["total_views"].isna().sum() == 2  # u3's posts kept, empty
    feats = Metadata(crawled=True, language=False).fit_transform(posts)
    assert np.allclose(feats["meta_log_total_views"].dropna().unique(), np.log1p([1000, 2000, 3000]))
    assert "meta_log_total_views" not in Metadata(language=False).fit_transform(posts)
    lag = describe(posts)["crawled"]
    assert lag["posts_with_totals"] == 0.75 and lag["days_after_post_median"] > 3000  # crawled years later
