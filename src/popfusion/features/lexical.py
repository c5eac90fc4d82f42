"""The lexical text model: sparse TF-IDF word and character n-grams of every text field,
and a ridge regression on them, whose predictions become a feature.

On real short texts (headlines, tweets) n-grams often beat sentence embeddings: a domain
word, a hashtag, "Show HN" carry more than the gist of a sentence. The ridge's
predictions are out of fold: labelled posts are cut into contiguous time folds (the
ensemble's scheme), and a post's prediction comes from a ridge fitted on the other folds,
never on its own label; every other post gets the prediction of a ridge fitted on all
labelled posts. The vocabularies are fitted on the texts of every post, which reads no
label. The GBDTs see the prediction as a feature, and a tier-1 model on the ``lexical``
feature group puts it into the blend, which decides what it is worth.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import sparse

from popfusion.atomic import load_pickle, save_pickle
from popfusion.features.base import FeatureBlock, labelled_mask, lookup, utc_seconds
from popfusion.features.text import field_texts, text_fields
from popfusion.training.splits import folds as time_folds

log = logging.getLogger(__name__)


class LexicalModel(FeatureBlock):
    """Out-of-fold ridge predictions from TF-IDF n-grams of the text fields.

    ``fields``: the text fields (``auto``: title, tags and every text or list column of
    the data, each with its own vocabulary). ``word_ngrams`` / ``char_ngrams``: n-gram
    ranges of words and of characters within words. ``max_features``: vocabulary size per
    field and analyzer. ``alpha``: the ridge penalty. ``folds``: contiguous time folds for
    the out-of-fold predictions.
    """

    name = "lexical"
    uses_labels = True

    def __init__(self, fields: tuple[str, ...] = ("auto",), word_ngrams: tuple[int, int] = (1, 2),
                 char_ngrams: tuple[int, int] = (2, 5), max_features: int = 100_000, alpha: float = 10.0,
                 folds: int = 5) -> None:
        super().__init__(fields=list(fields), word_ngrams=list(word_ngrams), char_ngrams=list(char_ngrams),
                         max_features=max_features, alpha=alpha, folds=folds)

    def fit(self, posts: pd.DataFrame) -> LexicalModel:
        self._fit(posts)
        return self

    def fit_transform(self, posts: pd.DataFrame) -> pd.DataFrame:
        return self._predict(posts, self._fit(posts))

    def transform(self, posts: pd.DataFrame) -> pd.DataFrame:
        return self._predict(posts, self._matrix(posts))

    def _fit(self, posts: pd.DataFrame) -> sparse.csr_matrix:
        """Fit the vocabularies and ridges; the posts' n-gram matrix (used once more by
        ``fit_transform``)."""
        p = self.params
        self.fields_ = text_fields(posts) if "auto" in p["fields"] else list(p["fields"])
        self.vectorizers_, X = self._vocabularies(posts)
        labelled = labelled_mask(posts)
        y = posts["label"].to_numpy(float)[labelled]
        self.oof_ = pd.Series(dtype=float)
        self.model_ = None
        if X.shape[1] == 0 or labelled.sum() < 2 * p["folds"]:
            log.info("lexical: no text to learn from; no column")
            return X
        X_train = X[np.flatnonzero(labelled)]
        fold = time_folds(utc_seconds(posts.loc[labelled, "posted_at"]), p["folds"])
        oof = np.empty(len(y))
        for f in range(p["folds"]):
            rows = fold == f
            oof[rows] = self._ridge(X_train[~rows], y[~rows]).predict(X_train[rows])
        self.oof_ = pd.Series(oof, index=posts["post_id"].to_numpy()[labelled])
        self.model_ = self._ridge(X_train, y)
        return X

    def _vocabularies(self, posts: pd.DataFrame) -> tuple[list, sparse.csr_matrix]:
        """Each field's fitted vectorizers, and the posts' n-gram matrix. Neither reads a
        label, so the validation and final stages (the same posts, other labels) share
        them: with a cache folder they are saved there, keyed by the texts and the n-gram
        parameters, and the second stage reads them instead of tokenizing every text again
        (at full SMPD the character n-grams are most of this block's time)."""
        from sklearn.feature_extraction.text import TfidfVectorizer

        p = self.params
        texts = {field: _clipped(field_texts(posts, field)) for field in self.fields_}
        path = self._saved(texts)
        if path is not None and path.exists():
            return load_pickle(path, tuple)
        vectorizers, parts = [], []
        for field, values in texts.items():
            if not values.str.strip().any():
                continue
            for analyzer, ngrams, min_df in (("word", p["word_ngrams"], 2), ("char_wb", p["char_ngrams"], 3)):
                vectorizer = TfidfVectorizer(analyzer=analyzer, ngram_range=tuple(ngrams), min_df=min_df,
                                             max_features=p["max_features"], sublinear_tf=True,
                                             dtype=np.float32)
                try:
                    parts.append(vectorizer.fit_transform(values))
                except ValueError:  # no term occurs often enough
                    continue
                vectorizers.append((field, vectorizer))
        X = _stacked(parts, len(posts))
        if path is not None:
            save_pickle((vectorizers, X), path)
        return vectorizers, X

    def _saved(self, texts: dict[str, pd.Series]) -> Path | None:
        """Where the vocabularies of these texts are kept (None without a cache folder)."""
        if self.cache_dir is None:
            return None
        p = self.params
        spec = (self.version, p["word_ngrams"], p["char_ngrams"], p["max_features"])
        digest = hashlib.sha256(repr(spec).encode())
        for field, values in texts.items():
            digest.update(field.encode())
            digest.update(pd.util.hash_pandas_object(values, index=False).to_numpy().tobytes())
        return Path(self.cache_dir) / f"lexical-{digest.hexdigest()[:16]}.pkl"

    def _ridge(self, X: sparse.csr_matrix, y: np.ndarray):
        from sklearn.linear_model import Ridge

        return Ridge(alpha=self.params["alpha"], solver="sparse_cg", tol=1e-4).fit(X, y)

    def _matrix(self, posts: pd.DataFrame) -> sparse.csr_matrix:
        texts = {f: _clipped(field_texts(posts, f)) for f in dict.fromkeys(f for f, _ in self.vectorizers_)}
        return _stacked([v.transform(texts[f]) for f, v in self.vectorizers_], len(posts))

    def _predict(self, posts: pd.DataFrame, X: sparse.csr_matrix) -> pd.DataFrame:
        if self.model_ is None:  # no text: no column, and models on the lexical group are skipped
            return pd.DataFrame(index=posts.index)
        pred = self.model_.predict(X)
        own = lookup(self.oof_, posts["post_id"])  # out of fold for labelled posts
        pred = np.where(np.isnan(own), pred, own)
        return pd.DataFrame({f"{self.name}_pred": pred.astype(np.float32)}, index=posts.index)


MAX_CHARS = 3000  # of each text: a post's opening carries its n-grams; a long body would only cost time


def _clipped(texts: pd.Series) -> pd.Series:
    return texts.str.slice(0, MAX_CHARS)


def _stacked(parts: list[sparse.csr_matrix], rows: int) -> sparse.csr_matrix:
    """The fields' n-gram matrices side by side (no column when there is no text)."""
    return sparse.hstack(parts, format="csr") if parts else sparse.csr_matrix((rows, 0))
