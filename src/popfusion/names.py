"""Human names for feature columns and the family each belongs to, for reports and
explanations: "user's mean earlier label", not ``user_label_mean``."""

from __future__ import annotations

import re

# (pattern on the column name, family); the first match wins
FAMILIES: tuple[tuple[str, str], ...] = (
    (r"^user_", "user history"),
    (r"^trend_", "audience trend"),
    (r"^columns_", "platform columns"),
    (r"^(cluster|knn)_", "clusters and neighbours"),
    (r"^xmodal_", "cross-modal"),
    (r"^external_", "external"),
    (r"^(image|imgstat)_", "image"),
    (r"^(text|lexical)_", "text"),
    (r"^meta_(hour|weekday|week_hour|day_of_year|month|epoch_days|local_hour|days_since)", "time"),
    (r"^drift_", "time"),
    (r"^meta_(latitude|longitude|geo|has_geo|timezone)", "place"),
    (r"^meta_(category|subcategory|concept|media_type|is_video)", "category"),
    (r"^meta_(title|tags)_", "text"),
    (r"^meta_", "user profile and metadata"),
)

NAMES = {
    "user_label_mean": "user's mean earlier label",
    "user_label_median": "user's median earlier label",
    "user_label_std": "spread of the user's earlier labels",
    "user_label_count": "number of the user's earlier labels",
    "user_label_last": "user's latest earlier label",
    "user_label_recent_mean": "user's mean of recent earlier labels",
    "user_label_decayed_mean": "user's time-decayed mean earlier label",
    "user_label_slope_per_year": "trend of the user's labels, per year",
    "user_label_mean_shrunk": "user's mean earlier label, shrunk to the overall mean",
    "user_label_seen": "user has earlier labels",
    "user_label_age_days": "days since the user's latest earlier label",
    "user_posts": "user's posts in the data",
    "user_rank": "post's rank in the user's timeline",
    "user_rank_share": "post's place in the user's timeline (0 first, 1 last)",
    "user_days_since_prev": "days since the user's previous post",
    "user_days_to_next": "days to the user's next post",
    "user_active_days": "days the user has been active",
    "user_id__cat": "user id",
    "meta_hour": "hour of posting (UTC)",
    "meta_local_hour": "local hour of posting",
    "meta_weekday": "weekday of posting",
    "meta_week_hour": "hour of the week",
    "meta_day_of_year": "day of the year",
    "meta_month": "month of posting",
    "meta_epoch_days": "posting date (days)",
    "meta_category__cat": "category",
    "meta_subcategory__cat": "subcategory",
    "meta_concept__cat": "concept",
    "meta_title_chars": "title length (characters)",
    "meta_title_words": "title length (words)",
    "meta_tags_words": "number of tags",
    "meta_has_geo": "has a location",
    "meta_ispro": "user has a pro account",
    "meta_log_photo_count": "user's photo count (log)",
    "lexical_pred": "word and n-gram model's prediction",
    "text_finetuned": "fine-tuned text model",
    "drift_correction": "drift correction for the posting date",
    "knn_text_label_mean": "mean label of the most similar earlier texts",
    "knn_text_label_weighted": "similarity-weighted label of similar earlier texts",
    "knn_image_label_mean": "mean label of the most similar earlier images",
    "knn_image_label_weighted": "similarity-weighted label of similar earlier images",
    "trend_recent_mean_100": "mean of the latest 100 earlier labels",
    "trend_recent_mean_1000": "mean of the latest 1,000 earlier labels",
}


def family(column: str) -> str:
    """The feature family of a column (user history, time, place, text, ...)."""
    return next((name for pattern, name in FAMILIES if re.match(pattern, column)), "other")


def human(column: str) -> str:
    """A column's name in words: a known one as written above, else its own name without
    the block prefix, categories marked, embedding axes numbered."""
    if column in NAMES:
        return NAMES[column]
    axis = re.match(r"^(text|image)_(?:(\w+?)_)?(?:pc)?(\d+)$", column)
    if axis:
        return f"{axis[1]} embedding{f' of {axis[2]}' if axis[2] else ''}, axis {int(axis[3])}"
    name = re.sub(r"^(meta|user|columns|trend|cluster|knn|xmodal|imgstat|image|text|lexical)_", "", column)
    category = name.endswith("__cat")
    name = name.removesuffix("__cat").replace("_", " ")
    return f"{name} (category)" if category else name
