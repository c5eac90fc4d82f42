"""Images of posts listed as URLs (SMPD 2019/2020 ``train_img.txt``), downloaded into the
layout the SMPD reader expects: ``<out>/<split>/<user_id>/<post_id>.jpg``.

A file is written under a temporary name and renamed only once it is complete and
decodes as an image, so a file with its final name is always a good one.
"""

from __future__ import annotations

import io
from pathlib import Path
from urllib.parse import urlsplit

import pandas as pd
from PIL import Image, UnidentifiedImageError

from popfusion.atomic import atomic_write
from popfusion.crawl.client import FetchError, PoliteClient


def image_jobs(posts: pd.DataFrame, out: Path, base_url: str | None = None) -> dict[str, tuple[str, Path]]:
    """post id -> (url, destination) for every post with an image URL; ``base_url``
    replaces each URL's scheme and host (a mirror, a test server)."""
    if "image_url" not in posts:
        return {}
    listed = posts[posts["image_url"].notna()]
    split = listed["split"].astype(str) if "split" in listed else pd.Series("train", index=listed.index)
    return {str(pid): (rebase(str(url), base_url), out / s / str(uid) / f"{pid}.jpg") for pid, url, uid, s in
            zip(listed["post_id"], listed["image_url"], listed["user_id"], split, strict=True)}


def rebase(url: str, base_url: str | None) -> str:
    """``url`` with the scheme and host of ``base_url`` (its path kept), or as it is."""
    if not base_url:
        return url
    parts = urlsplit(url)
    return base_url.rstrip("/") + parts.path + (f"?{parts.query}" if parts.query else "")


def download_image(client: PoliteClient, url: str, dest: Path) -> dict:
    """Fetch ``url`` into ``dest`` once it decodes as an image; ``FetchError`` if not."""
    body = client.get(url).content
    try:
        with Image.open(io.BytesIO(body)) as image:
            image.load()  # the whole image, not just its header: a truncated JPEG fails here
            size = image.size
    except (UnidentifiedImageError, OSError, SyntaxError) as err:
        raise FetchError("not an image", str(err)) from None
    atomic_write(dest, body)
    return {"path": str(dest), "bytes": len(body), "width": size[0], "height": size[1]}
