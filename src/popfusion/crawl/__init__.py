"""The crawler: user statistics and images for a dataset, resumable, polite and
fault-tolerant (``popfusion crawl users|images``).

Every outcome goes to a manifest as it happens (``crawl/manifest.py``), so a run that is
stopped at any moment continues where it stopped; every request goes through one polite
client (``crawl/client.py``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from popfusion.atomic import atomic_parquet, atomic_write
from popfusion.crawl import runner
from popfusion.crawl.client import CrawlSettings, FetchError, PoliteClient
from popfusion.crawl.images import download_image, image_jobs
from popfusion.crawl.manifest import Manifest
from popfusion.crawl.users import FlickrApi, ProfilePage, UserSource
from popfusion.data import schema
from popfusion.data.crawled import user_keys

SOURCES = {"page": ProfilePage, "api": FlickrApi}

__all__ = ["CrawlSettings", "FetchError", "crawl_images", "crawl_users", "make_source", "users_manifest"]


def make_source(name: str, client: PoliteClient, base_url: str | None = None,
                key_file: Path | None = None) -> UserSource:
    """The user-statistics source a name selects: ``page`` or ``api``."""
    if name not in SOURCES:
        raise ValueError(f"unknown user source {name!r}: {', '.join(SOURCES)}")
    kwargs = {"base_url": base_url} if base_url else {}
    if name == "api":
        kwargs["key_file"] = key_file
    return SOURCES[name](client, **kwargs)


def users_manifest(out: Path) -> Path:
    return out.with_name(out.name + ".manifest.jsonl")


def crawl_users(posts: pd.DataFrame, out: Path, source: UserSource, settings: CrawlSettings,
                retry_failed: bool = False, dry_run: bool = False) -> runner.CrawlSummary:
    """Fetch every distinct author's totals into ``out`` (Parquet or CSV, keyed by
    ``pathalias``: the path alias, or the user id for authors without one). The table is
    rewritten from the manifest at the end, even when the crawl is stopped."""
    manifest = Manifest(users_manifest(out))
    keys = user_keys(posts).dropna().astype(str).tolist()

    def fetch(user: str) -> dict:
        return {**source.fetch(user), "crawled_at": datetime.now(UTC).isoformat(timespec="seconds")}

    try:
        return runner.run(keys, fetch, manifest, settings.concurrency, retry_failed, dry_run,
                          f"users ({source.name})")
    finally:
        if not dry_run:
            write_user_table(manifest, out)


def write_user_table(manifest: Manifest, out: Path) -> pd.DataFrame:
    """The done users as a table, written atomically to ``out`` (.parquet or .csv)."""
    rows = [{"pathalias": key, **result} for key, result in manifest.results().items()]
    columns = ["pathalias", *schema.CRAWLED, "crawled_at"]
    table = pd.DataFrame(rows).reindex(columns=columns)
    table["crawled_at"] = pd.to_datetime(table["crawled_at"], utc=True)
    for col in columns[1:-1]:
        table[col] = table[col].astype("float64")
    if out.suffix.lower() == ".csv":
        atomic_write(out, table.to_csv(index=False))
    else:
        atomic_parquet(table, out)
    return table


def crawl_images(posts: pd.DataFrame, out: Path, client: PoliteClient, retry_failed: bool = False,
                 dry_run: bool = False, base_url: str | None = None) -> runner.CrawlSummary:
    """Download every post's image URL into ``out/<split>/<user_id>/<post_id>.jpg``
    (from ``base_url`` instead of each URL's own host, when given)."""
    jobs = image_jobs(posts, out, base_url)
    manifest = Manifest(out / "manifest.jsonl")
    gone = {k for k, (_, dest) in jobs.items() if manifest.status(k) == "done" and not dest.exists()}

    def fetch(post: str) -> dict:
        url, dest = jobs[post]
        return download_image(client, url, dest)

    return runner.run(list(jobs), fetch, manifest, client.settings.concurrency, retry_failed, dry_run,
                      "images", redo=gone)
