"""User statistics the SMP seeds crawled (totalViews, totalFaves, followerCount, ...),
from the Flickr REST API or from the public profile page, behind one interface.

Both sources answer with the canonical crawled columns (``schema.CRAWLED``). The profile
page gives all eight totals; the REST API has no call for tags, geotags, faves, group
photos or followers, so those stay empty from it.

Mind the leak: totals crawled today include the later views of the very posts a model
is asked to predict. The ``meta`` block uses them only with ``crawled: true``.
"""

from __future__ import annotations

import json
import os
import re
from abc import ABC, abstractmethod
from pathlib import Path

from popfusion.crawl.client import FetchError, PoliteClient

# the profile page's names -> canonical columns
PAGE_FIELDS = {
    "totalViews": "total_views", "totalTags": "total_tags", "totalGeotagged": "total_geotagged",
    "totalFaves": "total_faves", "totalInGroup": "total_in_group", "photoCount": "user_photo_count",
    "followerCount": "follower_count", "followingCount": "following_count",
}
API_KEY_ENV = "FLICKR_API_KEY"
API_KEY_FILE = Path("~/.config/popfusion/flickr_api_key")


class UserSource(ABC):
    """One user's key (path alias, or id when there is none) -> canonical totals."""

    name: str

    def __init__(self, client: PoliteClient, base_url: str) -> None:
        self.client, self.base_url = client, base_url.rstrip("/")

    @abstractmethod
    def fetch(self, user: str) -> dict[str, float]: ...


class ProfilePage(UserSource):
    """The public profile page, ``<base>/people/<user>/``: its statistics are in the JSON
    the page embeds for its scripts (``modelExport: {...}``), found by name wherever the
    page nests them."""

    name = "page"

    def __init__(self, client: PoliteClient, base_url: str = "https://www.flickr.com") -> None:
        super().__init__(client, base_url)

    def fetch(self, user: str) -> dict[str, float]:
        return parse_profile_page(self.client.get(f"{self.base_url}/people/{user}/").text)


def parse_profile_page(html: str) -> dict[str, float]:
    """The totals in a profile page; ``FetchError`` when the page has none."""
    start = html.find("modelExport")
    brace = html.find("{", start) if start >= 0 else -1
    if brace < 0:
        raise FetchError("malformed page", "no modelExport data")
    try:
        data, _ = json.JSONDecoder().raw_decode(html, brace)
    except json.JSONDecodeError as err:
        raise FetchError("malformed page", str(err)) from None
    found: dict[str, float] = {}
    _collect(data, found)
    if not found:
        raise FetchError("malformed page", "no statistics in modelExport")
    return found


def _collect(node: object, found: dict[str, float]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in PAGE_FIELDS and PAGE_FIELDS[key] not in found:
                number = _number(value)
                if number is not None:
                    found[PAGE_FIELDS[key]] = number
            _collect(value, found)
    elif isinstance(node, list):
        for value in node:
            _collect(value, found)


def _number(value: object) -> float | None:
    """12, 12.0, "12", "1,234" -> a float; anything else -> None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and re.fullmatch(r"\d[\d,]*(\.\d+)?", value.strip()):
        return float(value.strip().replace(",", ""))
    return None


class FlickrApi(UserSource):
    """The Flickr REST API: ``flickr.urls.lookupUser`` (path alias -> NSID),
    ``flickr.people.getInfo`` (photo count, views) and ``flickr.contacts.getPublicList``
    (following). Its key comes from $FLICKR_API_KEY or a key file, never the command line."""

    name = "api"

    def __init__(self, client: PoliteClient, base_url: str = "https://api.flickr.com/services/rest",
                 key_file: Path | None = None) -> None:
        super().__init__(client, base_url)
        self.api_key = read_api_key(key_file)

    def call(self, method: str, **params: str) -> dict:
        response = self.client.get(f"{self.base_url}/", params={
            "method": method, "api_key": self.api_key, "format": "json", "nojsoncallback": "1", **params})
        try:
            body = response.json()
        except ValueError as err:
            raise FetchError("malformed json", str(err)) from None
        if not isinstance(body, dict) or body.get("stat") != "ok":
            message = body.get("message", "no stat") if isinstance(body, dict) else "not an object"
            raise FetchError("api error", f"{method}: {message}")
        return body

    def fetch(self, user: str) -> dict[str, float]:
        nsid = user if "@N" in user else self._lookup(user)
        person = self.call("flickr.people.getInfo", user_id=nsid).get("person", {})
        photos = person.get("photos", {})
        contacts = self.call("flickr.contacts.getPublicList", user_id=nsid, per_page="1").get("contacts", {})
        found = {"user_photo_count": _number(_content(photos.get("count"))),
                 "total_views": _number(_content(photos.get("views"))),
                 "following_count": _number(contacts.get("total"))}
        return {k: v for k, v in found.items() if v is not None}

    def _lookup(self, alias: str) -> str:
        url = f"https://www.flickr.com/photos/{alias}/"
        user = self.call("flickr.urls.lookupUser", url=url).get("user", {})
        if not user.get("id"):
            raise FetchError("api error", f"no NSID for {alias}")
        return str(user["id"])


def _content(value: object) -> object:
    return value.get("_content") if isinstance(value, dict) else value


def read_api_key(key_file: Path | None = None) -> str:
    """$FLICKR_API_KEY, else the first line of the key file."""
    if os.environ.get(API_KEY_ENV):
        return os.environ[API_KEY_ENV].strip()
    path = (key_file or API_KEY_FILE).expanduser()
    if path.is_file() and path.read_text().strip():
        return path.read_text().split()[0]
    raise FetchError("no api key", f"set ${API_KEY_ENV} or write the key to {path}")
