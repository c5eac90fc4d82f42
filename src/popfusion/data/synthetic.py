"""A calibrated synthetic SMPD: the built-in sample, test data and scale benchmarks.

It writes a folder in the exact SMPD file format (2023+ names) with small JPEG images.
It is realistic where that matters to the models (see ../shared/SMPD.md, "Calibration
facts"): heavy-tailed posts per user, a dominant user effect that user profiles only
partly explain, an 11 / 77 / 668 category hierarchy, multilingual titles and tags whose
words carry signal, images whose content carries some, geo on a minority of posts, a
downward drift over a 16-month span split 2:1 by time, and labels with SMPD's
distribution. Each post's noise-free expected score is written to ``truth.parquet``
beside the data, so a benchmark can report the best SRC any model could reach.

It is not the truth: nothing may be tuned to its quirks.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
from scipy.special import ndtr

from popfusion.data import calibration, lexicon
from popfusion.data.schema import LOC_DESC_DIM, USER_DESC_DIM
from popfusion.progress import progress_bar

log = logging.getLogger(__name__)

VERSION = 2  # bump whenever the generated data changes: cached samples are regenerated
SAMPLE_POSTS = 6000
MANIFEST = "synth.json"
TRUTH = "truth.parquet"
NOISE_SD = 0.18  # post-level noise no model can explain, in latent units
_DAY = 86400


@dataclass(frozen=True)
class SynthSpec:
    """Everything that decides the generated data: same spec, same bytes."""

    posts: int = SAMPLE_POSTS
    seed: int = 0
    images: bool = True
    image_size: int = 64
    start: str = "2015-02-15"
    end: str = "2016-06-10"
    test_share: float = 1 / 3


# --- public API ------------------------------------------------------------------------------


def generate(out: str | Path, spec: SynthSpec = SynthSpec(), progress: bool = True) -> Path:
    """Write a synthetic SMPD folder to ``out``; reuse it if it already holds ``spec``.

    The folder is built beside ``out`` and renamed into place when complete, so an
    interrupted run never leaves a folder that looks finished.
    """
    out = Path(out)
    if is_complete(out, spec):
        log.info("synthetic SMPD already at %s", out)
        return out
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} exists and is not this synthetic SMPD; choose an empty folder")
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    rng = np.random.default_rng(spec.seed)
    users = _users(rng, spec.posts)
    posts = _posts(rng, users, spec)
    _write_smpd(partial, posts, users, progress)
    if spec.images:
        _write_images(partial, posts, spec, progress)
    posts[["post_id", "split", "label", "expected_score"]].to_parquet(partial / TRUTH, index=False)
    (partial / MANIFEST).write_text(json.dumps({"version": VERSION, **asdict(spec)}, indent=2))
    if out.exists():
        out.rmdir()
    os.replace(partial, out)
    return out


def is_complete(folder: Path, spec: SynthSpec) -> bool:
    """True when ``folder`` holds a finished generation of exactly ``spec``."""
    try:
        meta = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return False
    return meta == {"version": VERSION, **asdict(spec)}


def cache_dir() -> Path:
    """Where popfusion keeps generated data: $POPFUSION_HOME, else the user cache."""
    if os.environ.get("POPFUSION_HOME"):
        return Path(os.environ["POPFUSION_HOME"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "popfusion"


def sample_path(posts: int = SAMPLE_POSTS, seed: int = 0) -> Path:
    return cache_dir() / f"sample-v{VERSION}-{posts}-{seed}"


def ensure_sample(posts: int = SAMPLE_POSTS, seed: int = 0, progress: bool = True) -> Path:
    """The built-in sample, generated into the cache on first use."""
    return generate(sample_path(posts, seed), SynthSpec(posts=posts, seed=seed), progress)


def read_truth(folder: str | Path) -> pd.DataFrame:
    """Labels and noise-free expected scores of every post of a synthetic folder."""
    return pd.read_parquet(Path(folder) / TRUTH)


# --- users -----------------------------------------------------------------------------------


def _posts_per_user(rng: np.random.Generator, n_posts: int) -> np.ndarray:
    """Most users post once; the rest follow a lognormal tail (SMPD: mean 6.4, p99 113)."""
    cap = max(20, int(0.015 * n_posts))
    counts = []
    total = 0
    while total < n_posts:
        k = max(64, (n_posts - total) // 4)
        single = rng.random(k) < calibration.SINGLE_POST_USER_SHARE
        tail = 2 + np.floor(np.minimum(rng.lognormal(0.7, 1.95, k), cap - 2))
        batch = np.where(single, 1, tail).astype(np.int64)
        counts.append(batch)
        total += int(batch.sum())
    counts = np.concatenate(counts)
    over = np.cumsum(counts) - n_posts
    last = int(np.searchsorted(over, 0))
    counts = counts[: last + 1].copy()
    counts[-1] -= int(over[last])
    return counts[counts > 0]


def _users(rng: np.random.Generator, n_posts: int) -> pd.DataFrame:
    counts = _posts_per_user(rng, n_posts)
    n = len(counts)
    activity = np.log(counts)
    activity = (activity - activity.mean()) / (activity.std() + 1e-9)
    # Hidden quality: a profile part that profiles reveal, and a part nothing reveals.
    z_profile = 0.35 * activity + np.sqrt(1 - 0.35**2) * rng.standard_normal(n)
    z_private = rng.standard_normal(n)
    lang = rng.choice(len(lexicon.LANGUAGES), n, p=lexicon.LANGUAGE_SHARE)
    tz = np.array([rng.choice(lexicon.LANGUAGE_TIMEZONES[lexicon.LANGUAGES[i]]) for i in lang])
    n_cat = len(lexicon.CATEGORIES)
    age_years = np.clip(5 + 2.5 * (0.5 * z_profile + 0.85 * rng.standard_normal(n)), 0.1, 11)
    users = pd.DataFrame({
        "user_id": _uids(rng, n),
        "count": counts,
        "effect": np.sqrt(0.4) * z_profile + np.sqrt(0.6) * z_private,
        "z_profile": z_profile,
        "lang": lang,
        "tz": tz,
        "favourite": rng.choice(n_cat, n, p=rng.dirichlet(np.full(n_cat, 3.0))),
        "geotagger": rng.random(n) < 0.25,
        "centre": _ramp_inverse_cdf(rng.random(n)),
        "spread": rng.uniform(0.01, 0.25, n),
        "photo_count": np.round(10 ** (2.5 + 0.6 * (0.7 * z_profile + 0.7 * rng.standard_normal(n)))),
        "ispro": (rng.random(n) < 1 / (1 + np.exp(1.3 - 0.9 * z_profile))).astype(int),
        "age_years": age_years,
        "taken_before_years": rng.exponential(1.5, n),
        "has_alias": rng.random(n) < 0.55,
        "has_user_desc": rng.random(n) < 0.5,
        "has_loc_desc": rng.random(n) < 0.6,
    })
    users["canbuypro"] = 1 - users["ispro"]
    users["region_effect"] = rng.normal(0, 0.1, len(lexicon.TIMEZONES))[tz]
    return users


def _uids(rng: np.random.Generator, n: int) -> np.ndarray:
    codes = rng.choice(100_000 * 100, n, replace=False)
    return np.array([f"{c // 100}@N{c % 100:02d}" for c in codes])


def _ramp_inverse_cdf(u: np.ndarray) -> np.ndarray:
    """Times in [0, 1] with a density rising threefold over the span (Flickr grew)."""
    # density (1 + 2t) / 2, CDF (t + t^2) / 2
    return (-1 + np.sqrt(1 + 8 * u)) / 2


# --- posts -----------------------------------------------------------------------------------


@dataclass
class _Vocabulary:
    """Categories, concepts and word effects, drawn once per seed."""

    cat_names: list[str]
    sub_names: list[str]
    sub_cat: np.ndarray  # subcategory -> category
    concept_names: list[str]
    concept_sub: np.ndarray  # concept -> subcategory
    concept_topic: np.ndarray  # concept -> topic word index within its category
    concept_effect: np.ndarray
    concept_trend: np.ndarray
    topic_words: list[list[list[str]]]  # category -> topic -> language -> word
    topic_effect: np.ndarray  # (category, topic)
    photo_effect: np.ndarray
    object_names: list[str]
    object_effect: np.ndarray


def _vocabulary(rng: np.random.Generator) -> _Vocabulary:
    cat_names = list(lexicon.CATEGORIES)
    sub_names, sub_cat, topic_words = [], [], []
    for c, (subs, topics) in enumerate(lexicon.CATEGORIES.values()):
        sub_names += subs
        sub_cat += [c] * len(subs)
        topic_words.append([t.split("|") for t in topics])
    n_concepts = calibration.CATEGORY_LEVELS[2]
    per_sub = np.full(len(sub_names), n_concepts // len(sub_names))
    per_sub[: n_concepts - per_sub.sum()] += 1
    concept_names, concept_sub, concept_topic = [], [], []
    for s, k in enumerate(per_sub):
        stem = sub_names[s].lower().replace(" ", "")
        topics = topic_words[sub_cat[s]]
        for j in range(k):
            word = topics[j][0] if j < len(topics) else lexicon.PHOTO_WORDS[(s + j) % len(lexicon.PHOTO_WORDS)]
            name = f"{stem}{word}" if word != stem else f"{stem}{lexicon.PHOTO_WORDS[s % 7]}"
            concept_names.append(name if name not in concept_names else f"{name}{j}")
            concept_sub.append(s)
            concept_topic.append(j % len(topics))
    objects = sorted({o for objs in lexicon.PHOTOS.values() for o in objs})
    return _Vocabulary(
        cat_names, sub_names, np.array(sub_cat), concept_names, np.array(concept_sub),
        np.array(concept_topic), rng.normal(0, 0.12, n_concepts),
        rng.normal(0, 0.15, n_concepts) * (rng.random(n_concepts) < 0.1), topic_words,
        rng.normal(0, 0.25, (len(cat_names), 6)), rng.normal(0, 0.2, len(lexicon.PHOTO_WORDS)),
        objects, rng.normal(0, 0.12, len(objects)),
    )


def _posts(rng: np.random.Generator, users: pd.DataFrame, spec: SynthSpec) -> pd.DataFrame:
    voc = _vocabulary(rng)
    u = np.repeat(np.arange(len(users)), users["count"].to_numpy())
    n = len(u)
    U = {k: users[k].to_numpy()[u] for k in users.columns}
    t = _post_times(rng, U["centre"], U["spread"])
    cat = np.where(rng.random(n) < 0.6, U["favourite"], rng.choice(len(voc.cat_names), n))
    concept = _pick_concepts(rng, cat, voc)
    sub = voc.concept_sub[concept]
    topic = voc.concept_topic[concept]
    geo = rng.random(n) < np.where(U["geotagger"], 0.75, 0.03)
    video = rng.random(n) < 0.03
    objects = _pick_objects(rng, cat, voc)
    colour, bright = rng.uniform(0, 1, n), rng.uniform(0.5, 1.3, n)
    posted_at, local_hour = _timestamps(rng, t, U["tz"], spec)
    title, tags, text_effect = _texts(rng, voc, cat, topic, concept, U["lang"], u, users["user_id"].to_numpy())
    content = (
        voc.concept_effect[concept] + voc.concept_trend[concept] * (t - 0.5)
        + text_effect
        + voc.object_effect[objects] + 0.1 * (colour - 0.5) - 0.1 * np.abs(bright - 0.95)
        + np.where((local_hour >= 18) & (local_hour <= 22), 0.05, 0.0)
        - np.where(local_hour < 6, 0.05, 0.0)
        + 0.08 * geo - 0.1 * video
    )
    signal = U["effect"] + U["region_effect"] + content - 0.22 * t
    posts = pd.DataFrame({
        "user": u, "user_id": U["user_id"], "t": t, "posted_at": posted_at,
        "category": np.array(voc.cat_names)[cat], "subcategory": np.array(voc.sub_names)[sub],
        "concept": np.array(voc.concept_names)[concept], "title": title, "tags": tags,
        "geo": geo, "video": video, "object": np.array(voc.object_names)[objects],
        "colour": colour, "bright": bright, "signal": signal,
    })
    posts = _assign_split_and_ids(rng, posts, spec)
    posts["label"], posts["expected_score"] = _labels(rng, posts["signal"].to_numpy(),
                                                      posts["split"].to_numpy() == "train")
    _add_geo(rng, posts, users)
    return posts


def _post_times(rng: np.random.Generator, centre: np.ndarray, spread: np.ndarray) -> np.ndarray:
    t = centre + spread * rng.standard_normal(len(centre))
    t = np.abs(t)  # reflect at both ends of the span
    return np.where(t > 1, 2 - t, t).clip(0, 1 - 1e-9)


def _timestamps(rng: np.random.Generator, t: np.ndarray, tz: np.ndarray,
                spec: SynthSpec) -> tuple[np.ndarray, np.ndarray]:
    """Unix seconds: a day from ``t``, a local hour peaking in the evening, shifted to UTC."""
    start = int(pd.Timestamp(spec.start, tz="UTC").timestamp())
    days = (pd.Timestamp(spec.end, tz="UTC") - pd.Timestamp(spec.start, tz="UTC")).days
    hour_weights = np.array([1, .6, .4, .3, .3, .4, .8, 1.2, 1.5, 1.7, 1.8, 1.9, 2.0, 2, 2, 2,
                             2.1, 2.3, 2.6, 2.9, 3.0, 2.7, 2.1, 1.5])
    local_hour = rng.choice(24, len(t), p=hour_weights / hour_weights.sum())
    offsets = np.array([_offset_hours(z[1]) for z in lexicon.TIMEZONES])[tz]
    secs = (start + np.floor(t * days) * _DAY + local_hour * 3600 - offsets * 3600
            + rng.integers(0, 3600, len(t)))
    return secs.astype(np.int64), local_hour


def _offset_hours(text: str) -> float:
    sign = -1 if text.startswith("-") else 1
    hours, minutes = text.lstrip("+-").split(":")
    return sign * (int(hours) + int(minutes) / 60)


def _pick_concepts(rng: np.random.Generator, cat: np.ndarray, voc: _Vocabulary) -> np.ndarray:
    """A concept of the post's category, popular concepts more often (Zipf-like)."""
    concept_cat = voc.sub_cat[voc.concept_sub]
    out = np.empty(len(cat), np.int64)
    for c in range(len(voc.cat_names)):
        members = np.flatnonzero(concept_cat == c)
        weights = 1 / np.arange(1, len(members) + 1) ** 0.8
        rows = np.flatnonzero(cat == c)
        out[rows] = rng.choice(rng.permutation(members), len(rows), p=weights / weights.sum())
    return out


def _pick_objects(rng: np.random.Generator, cat: np.ndarray, voc: _Vocabulary) -> np.ndarray:
    index = {name: i for i, name in enumerate(voc.object_names)}
    out = np.empty(len(cat), np.int64)
    for c, name in enumerate(voc.cat_names):
        rows = np.flatnonzero(cat == c)
        out[rows] = rng.choice([index[o] for o in lexicon.PHOTOS[name]], len(rows))
    return out


def _texts(rng: np.random.Generator, voc: _Vocabulary, cat: np.ndarray, topic: np.ndarray,
           concept: np.ndarray, lang: np.ndarray, user: np.ndarray,
           uids: np.ndarray) -> tuple[list[str], list[str], np.ndarray]:
    """Titles and tags in the author's language, and the popularity their words carry."""
    n = len(cat)
    n_title = rng.choice(4, n, p=[0.12, 0.45, 0.3, 0.13])
    camera_default = rng.random(n) < 0.08
    n_tags = np.where(rng.random(n) < 0.2, 0, np.minimum(rng.geometric(0.12, n), 40))
    second = rng.integers(0, 6, (n, 3))
    photo = rng.integers(0, len(lexicon.PHOTO_WORDS), (n, 6))
    filler = rng.integers(0, 100, (n, 3))
    personal = [f"{uids[i].split('@')[0]}photo" for i in range(len(uids))]
    titles, tags, effects = [], [], np.empty(n)
    for i in range(n):
        c, lg = cat[i], lang[i]
        words = voc.topic_words[c]
        signal_topics = [topic[i], *second[i, : max(0, n_title[i] - 1)]]
        if camera_default[i]:
            titles.append(f"IMG_{1000 + filler[i, 0] * 97}")
        elif n_title[i] == 0:
            titles.append("")
        else:
            fill = lexicon.FILLERS[lg]
            parts = [words[k][lg] for k in signal_topics]
            parts.insert(1, fill[filler[i, 1] % len(fill)])
            titles.append(" ".join(parts).capitalize() if lg < 5 else "".join(parts))
        k = n_tags[i]
        tag_list = [voc.concept_names[concept[i]], words[topic[i]][0], words[topic[i]][lg]]
        tag_list += [lexicon.PHOTO_WORDS[p] for p in photo[i, : max(0, k - 4) % 7]]
        tag_list += [personal[user[i]], words[second[i, 0]][0]]
        tags.append(" ".join(dict.fromkeys(tag_list[:k])) if k else "")
        used_photo = photo[i, : max(0, k - 4) % 7] if k > 3 else photo[i, :0]
        topic_part = voc.topic_effect[c, signal_topics].mean() if n_title[i] and not camera_default[i] else 0.0
        effects[i] = (topic_part + (voc.topic_effect[c, topic[i]] if k else 0.0)) / 2 \
            + voc.photo_effect[used_photo].sum() / np.sqrt(max(1, len(used_photo))) * 0.5 \
            + 0.05 * np.log1p(k) - 0.15 * camera_default[i]
    return titles, tags, effects


def _assign_split_and_ids(rng: np.random.Generator, posts: pd.DataFrame, spec: SynthSpec) -> pd.DataFrame:
    """The last third by time is the test split; rows are in ascending Pid as published."""
    order = np.argsort(posts["posted_at"].to_numpy(), kind="stable")
    rank = np.empty(len(posts), np.int64)
    rank[order] = np.arange(len(posts))
    n_train = round(len(posts) * (1 - spec.test_share))
    posts["split"] = np.where(rank < n_train, "train", "test")
    pids = np.sort(rng.choice(np.arange(700, 700 + 3 * len(posts)), len(posts), replace=False))
    posts["post_id"] = rng.permutation(pids).astype(str)
    posts["pid_num"] = posts["post_id"].astype(np.int64)
    return posts.sort_values(["split", "pid_num"], ascending=[False, True], ignore_index=True)


def _labels(rng: np.random.Generator, signal: np.ndarray, train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Map the latent score onto SMPD's label distribution; return labels and their
    noise-free expectations (the noise integrated out by Gauss-Hermite quadrature)."""
    latent = signal + NOISE_SD * rng.standard_normal(len(signal))
    mean, sd = latent[train].mean(), latent[train].std()
    ranks = np.linspace(0, 1, len(calibration.LABEL_PERCENTILES))

    def to_label(z: np.ndarray) -> np.ndarray:
        return np.interp(ndtr((z - mean) / sd), ranks, calibration.LABEL_PERCENTILES)

    views = np.maximum(np.round(2 ** to_label(latent) - 1), 1)
    labels = np.round(np.log2(views + 1), 2)
    nodes, weights = np.polynomial.hermite_e.hermegauss(16)
    weights = weights / weights.sum()
    expected = sum(w * to_label(signal + NOISE_SD * x) for x, w in zip(nodes, weights, strict=True))
    return labels, np.round(expected, 4)


def _add_geo(rng: np.random.Generator, posts: pd.DataFrame, users: pd.DataFrame) -> None:
    home = np.array([(z[2], z[3]) for z in lexicon.TIMEZONES])[users["tz"].to_numpy()[posts["user"]]]
    travel = rng.random(len(posts)) < 0.1
    scale = np.where(travel, 15.0, 0.4)[:, None]
    coords = home + scale * rng.standard_normal((len(posts), 2))
    geo = posts["geo"].to_numpy()
    posts["latitude"] = np.where(geo, np.clip(coords[:, 0], -89.9, 89.9).round(6), 0.0)
    posts["longitude"] = np.where(geo, ((coords[:, 1] + 180) % 360 - 180).round(6), 0.0)
    posts["geo_accuracy"] = np.where(geo, rng.integers(11, 17, len(posts)), 0)


# --- writing ---------------------------------------------------------------------------------


def _write_smpd(out: Path, posts: pd.DataFrame, users: pd.DataFrame, progress: bool) -> None:
    aliases = np.where(users["has_alias"], "user" + users.index.astype(str), "None")
    for split, rows in posts.groupby("split", sort=False):
        folder = out / f"{split}_allmetadata_json"
        folder.mkdir()
        uid, pid = rows["user_id"].tolist(), rows["post_id"].tolist()
        ids = [{"Uid": a, "Pid": b} for a, b in zip(uid, pid, strict=True)]
        _dump(folder / f"{split}_category.json", ids, {
            "Category": rows["category"], "Subcategory": rows["subcategory"], "Concept": rows["concept"]})
        _dump(folder / f"{split}_text.json", ids, {
            "Title": rows["title"], "Mediatype": np.where(rows["video"], "video", "photo"),
            "Alltags": rows["tags"]})
        _dump(folder / f"{split}_temporalspatial_information.json", ids, {
            "Postdate": rows["posted_at"].astype(str), "Latitude": _geo_text(rows["latitude"]),
            "Longitude": _geo_text(rows["longitude"]), "Geoaccuracy": rows["geo_accuracy"].astype(str)})
        _dump(folder / f"{split}_additional_information.json", ids, {
            "Pathalias": aliases[rows["user"]], "Ispublic": ["1"] * len(rows),
            "Mediastatus": ["ready"] * len(rows)})
        _write_user_data(folder / f"{split}_user_data.json", rows, users, progress)
        if split == "train":
            (out / "train_label.txt").write_text("\n".join(f"{v:.2f}" for v in rows["label"]) + "\n")
        (out / f"{split}_img_filepath.txt").write_text(
            "\n".join(f"{split}/{u}/{p}.jpg" for u, p in zip(uid, pid, strict=True)) + "\n")


def _geo_text(values: pd.Series) -> list[str]:
    return ["0" if v == 0 else f"{v:.6f}" for v in values]


def _dump(path: Path, ids: list[dict], fields: dict) -> None:
    columns = {k: list(v) for k, v in fields.items()}
    records = [{**ids[i], **{k: v[i] for k, v in columns.items()}} for i in range(len(ids))]
    path.write_bytes(orjson.dumps(records))


def _write_user_data(path: Path, rows: pd.DataFrame, users: pd.DataFrame, progress: bool) -> None:
    """The user-data file, streamed in chunks: 799 floats a post make it the largest."""
    rng = np.random.default_rng(len(rows))
    directions = _description_directions()
    now = pd.Timestamp("2016-06-10", tz="UTC").timestamp()
    first = now - users["age_years"].to_numpy() * 365.25 * _DAY
    taken = pd.to_datetime(first - users["taken_before_years"].to_numpy() * 365.25 * _DAY, unit="s")
    profile = {  # per user, as the official files write them
        "photo_firstdate": first.astype(np.int64).astype(str).tolist(),
        "photo_count": users["photo_count"].astype(int).tolist(),
        "ispro": users["ispro"].tolist(),
        "canbuypro": users["canbuypro"].tolist(),
        "timezone_offset": [lexicon.TIMEZONES[z][1] for z in users["tz"]],
        "photo_firstdatetaken": taken.strftime("%Y-%m-%d %H:%M:%S").tolist(),
        "timezone_timezone_id": [lexicon.TIMEZONES[z][0] for z in users["tz"]],
    }
    u_all = rows["user"].to_numpy()
    chunk = 20_000
    with open(path, "wb") as fh, progress_bar(progress) as bar:
        task = bar.add_task(f"writing {path.name}", total=len(rows))
        fh.write(b"[")
        for start in range(0, len(rows), chunk):
            u = u_all[start : start + chunk]
            user_vec = _user_vectors(rng, users, u, directions)
            loc_vec = _location_vectors(rng, users, u, directions)
            records = [{
                **{key: values[k] for key, values in profile.items()},
                "user_description": user_vec[j],
                "location_description": loc_vec[j],
            } for j, k in enumerate(u)]
            body = orjson.dumps(records, option=orjson.OPT_SERIALIZE_NUMPY)[1:-1]
            fh.write((b"," if start else b"") + body)
            bar.advance(task, len(u))
        fh.write(b"]")


def _description_directions() -> np.ndarray:
    """Fixed unit directions: how quality and region show in the description vectors."""
    rng = np.random.default_rng(12345)
    d = rng.standard_normal((1 + len(lexicon.TIMEZONES), max(USER_DESC_DIM, LOC_DESC_DIM)))
    return d / np.linalg.norm(d, axis=1, keepdims=True)


def _user_vectors(rng, users: pd.DataFrame, u: np.ndarray, directions: np.ndarray) -> np.ndarray:
    z = users["z_profile"].to_numpy()[u]
    vec = 0.05 * (rng.standard_normal((len(u), USER_DESC_DIM)) + 8 * z[:, None] * directions[0, :USER_DESC_DIM])
    vec[~users["has_user_desc"].to_numpy()[u]] = 0
    return vec.round(4).astype(np.float32)


def _location_vectors(rng, users: pd.DataFrame, u: np.ndarray, directions: np.ndarray) -> np.ndarray:
    region = directions[1 + users["tz"].to_numpy()[u], :LOC_DESC_DIM]
    vec = 0.05 * (rng.standard_normal((len(u), LOC_DESC_DIM)) + 8 * region)
    vec[~users["has_loc_desc"].to_numpy()[u]] = 0
    return vec.round(4).astype(np.float32)


# --- images ----------------------------------------------------------------------------------


def _write_images(out: Path, posts: pd.DataFrame, spec: SynthSpec, progress: bool) -> None:
    """Small JPEGs: a crop of the post's object photo, recoloured and relit."""
    rng = np.random.default_rng(spec.seed + 1)
    jobs = pd.DataFrame({
        "path": [str(out / s / u / f"{p}.jpg") for s, u, p in
                 zip(posts["split"], posts["user_id"], posts["post_id"], strict=True)],
        "object": posts["object"], "colour": posts["colour"], "bright": posts["bright"],
        "ox": rng.random(len(posts)), "oy": rng.random(len(posts)), "seed": rng.integers(0, 2**31, len(posts)),
    })
    for folder in {os.path.dirname(p) for p in jobs["path"]}:
        os.makedirs(folder, exist_ok=True)
    chunks = [jobs.iloc[i : i + 2000] for i in range(0, len(jobs), 2000)]
    with progress_bar(progress) as bar:
        task = bar.add_task("writing images", total=len(jobs))
        if len(chunks) == 1:
            bar.advance(task, _render_chunk(chunks[0], spec.image_size))
            return
        with ProcessPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            for done in pool.map(_render_chunk, chunks, [spec.image_size] * len(chunks)):
                bar.advance(task, done)


_BASES: dict[tuple[str, int], np.ndarray] = {}


def _base_photo(name: str, size: int) -> np.ndarray:
    """The scikit-image photo ``name`` as RGB, scaled so its short side is 1.5 x size."""
    key = (name, size)
    if key not in _BASES:
        import skimage.data
        from PIL import Image

        img = getattr(skimage.data, name)()
        if img.dtype == bool:
            img = img.astype(np.uint8) * 255
        if img.ndim == 2:
            img = np.stack([img] * 3, axis=-1)
        pil = Image.fromarray(img[..., :3].astype(np.uint8))
        scale = 1.5 * size / min(pil.size)
        pil = pil.resize((max(size, round(pil.width * scale)), max(size, round(pil.height * scale))))
        _BASES[key] = np.asarray(pil, dtype=np.float32)
    return _BASES[key]


def _render_chunk(jobs: pd.DataFrame, size: int) -> int:
    from PIL import Image

    for row in jobs.itertuples(index=False):
        base = _base_photo(row.object, size)
        y = int(row.oy * (base.shape[0] - size))
        x = int(row.ox * (base.shape[1] - size))
        img = base[y : y + size, x : x + size]
        grey = img.mean(axis=2, keepdims=True)
        img = (grey + (0.2 + 1.6 * row.colour) * (img - grey)) * row.bright
        img += np.random.default_rng(row.seed).normal(0, 6, img.shape)
        Image.fromarray(img.clip(0, 255).astype(np.uint8)).save(row.path, quality=85)
    return len(jobs)
