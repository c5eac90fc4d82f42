"""A HyFea-style baseline (the SMP 2020 winner's recipe): one CatBoost on metadata, the
user id as a categorical and averaged word vectors of title and tags, trained on 5
shuffled folds whose models are averaged.

    python benchmarks/hyfea.py --data SMPD_FOLDER --new NEW_FOLDER --out pred.parquet

Offline there are no GloVe vectors, so the word vectors are LSA ones: an SVD of the
word-post matrix of the training text, averaged over each post's words. Writes the test
predictions and, beside them, a JSON with the fit and unseen-post prediction times.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
from catboost import CatBoostRegressor
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.model_selection import KFold
from sklearn.preprocessing import normalize

from popfusion import load
from popfusion.features.meta import Metadata
from popfusion.features.text import field_texts


class HyFea:
    """fit(posts) on the training split, predict(posts) for any posts."""

    def __init__(self, folds: int = 5, dims: int = 64, iterations: int = 2000, seed: int = 0) -> None:
        self.folds, self.dims, self.iterations, self.seed = folds, dims, iterations, seed

    def _frame(self, posts: pd.DataFrame) -> pd.DataFrame:
        meta = self.meta_.transform(posts)
        words = normalize(self.vectorizer_.transform(field_texts(posts, "joined")), norm="l1")
        vectors = pd.DataFrame(self.svd_.transform(words), index=posts.index).add_prefix("word_")
        frame = pd.concat([meta, vectors], axis=1)
        for col in meta.columns[meta.columns.str.endswith("__cat")]:
            frame[col] = frame[col].fillna(-1).astype(int).astype(str)
        frame["user_id"] = posts["user_id"].astype(str).to_numpy()
        return frame

    def fit(self, posts: pd.DataFrame) -> HyFea:
        train = posts[posts["split"] == "train"]
        self.meta_ = Metadata(language=False).fit(posts)
        self.vectorizer_ = CountVectorizer(min_df=2, binary=True, max_features=100_000)
        words = self.vectorizer_.fit_transform(field_texts(train, "joined"))
        self.svd_ = TruncatedSVD(self.dims, random_state=self.seed).fit(words)
        X, y = self._frame(train), train["label"].to_numpy(float)
        cats = [c for c in X.columns if c.endswith("__cat")]
        self.models_ = []
        for fit_rows, stop_rows in KFold(self.folds, shuffle=True, random_state=self.seed).split(X):
            model = CatBoostRegressor(iterations=self.iterations, learning_rate=0.05, depth=8,
                                      random_seed=self.seed, verbose=0, thread_count=-1,
                                      allow_writing_files=False, cat_features=[*cats, "user_id"])
            model.fit(X.iloc[fit_rows], y[fit_rows], eval_set=(X.iloc[stop_rows], y[stop_rows]),
                      early_stopping_rounds=100)
            self.models_.append(model)
        return self

    def predict(self, posts: pd.DataFrame) -> np.ndarray:
        X = self._frame(posts)
        return np.mean([m.predict(X) for m in self.models_], axis=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--new", type=Path, required=True, help="unseen posts, for prediction speed")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    posts, new = load(args.data), load(args.new)
    start = time.perf_counter()
    model = HyFea().fit(posts)
    fit_seconds = time.perf_counter() - start
    test = posts[posts["split"] == "test"]
    prediction = model.predict(test)
    start = time.perf_counter()
    model.predict(new)
    predict_seconds = time.perf_counter() - start
    pd.DataFrame({"post_id": test["post_id"].to_numpy(), "prediction": prediction}).to_parquet(args.out)
    args.out.with_suffix(".json").write_text(json.dumps({
        "fit_seconds": fit_seconds, "predict_seconds": predict_seconds, "new_posts": len(new)}))


if __name__ == "__main__":
    main()
