"""How well a post's image and its texts agree: cosine similarities image-title,
image-tags and title-tags in a shared space.

With a CLIP model configured, the space is CLIP's. Otherwise a ridge projection, learned on
training posts, maps the default image embedding into the default text space. With a
vision-language ``backend`` (``vilt`` or ``blip2``, features.vision_language) the block
reads each image together with its texts instead.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from popfusion.features.base import FeatureBlock, has_images
from popfusion.features.image import ClipEncoder, embed_images, image_key, image_paths
from popfusion.features.reduce import fit_pca, project
from popfusion.features.sources import normalise, source_embeddings
from popfusion.features.store import EmbeddingStore
from popfusion.features.text import field_texts, make_encoder
from popfusion.features.vision_language import make_pair_encoder


class CrossModal(FeatureBlock):
    """Cosine similarities image-title, image-tags and title-tags: in CLIP's space with
    ``clip_model`` (a hub name or local folder), else through a ridge projection of the
    default image embedding into the default text space, learned without labels.

    ``backend: vilt`` with ``model`` (a ViLT hub name or folder): the pooled embedding of
    each image read with its title, as ``components`` principal axes
    (``xmodal_vilt_<i>``). ``backend: blip2`` with ``model`` (a BLIP-2 image-text
    retrieval model): the Q-Former's mean-pooled query embedding as principal axes
    (``xmodal_blip2_<i>``) and BLIP-2's image-title and image-tags similarities. Either
    replaces the similarities above; a second ``xmodal`` block keeps them."""

    name = "xmodal"
    version = 3  # projections in float64 rounded to float32 (2: the ridge learns from every post with an image)

    def __init__(self, clip_model: str | None = None, alpha: float = 10.0, image_size: int = 224,
                 backend: str | None = None, model: str | None = None, components: int = 32,
                 device: str = "auto") -> None:
        super().__init__(clip_model=clip_model, alpha=alpha, image_size=image_size, backend=backend,
                         model=model, components=components, device=device)

    def applies(self, posts: pd.DataFrame) -> bool:
        return has_images(posts)

    def fit(self, posts: pd.DataFrame) -> CrossModal:
        if self.params["backend"]:
            vectors = self._pairs(posts, "title")[:, : self._width()]
            ok = np.isfinite(vectors).all(axis=1)  # every post with an image: no label is read
            self.pca_ = fit_pca(vectors[ok], self.params["components"])
            return self
        if self.params["clip_model"]:
            self.clip_ = ClipEncoder(self.params["clip_model"])
            return self
        from sklearn.linear_model import Ridge

        self.clip_ = None
        image, joined = self._image(posts), self._text(posts, "joined")
        rows = np.isfinite(image).all(axis=1)  # every post with an image: no label is read
        self.ridge_ = Ridge(alpha=self.params["alpha"]).fit(image[rows][:100_000], joined[rows][:100_000])
        return self

    def __getstate__(self) -> dict:
        return {**self.__dict__, "clip_": None, "pairs_": None}

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        if self.params["clip_model"]:
            self.clip_ = ClipEncoder(self.params["clip_model"])

    def transform(self, posts: pd.DataFrame) -> pd.DataFrame:
        if self.params["backend"]:
            return self._vision_language(posts)
        image = normalise(self._image(posts))
        if self.clip_ is None:
            image = normalise(self.ridge_.predict(np.nan_to_num(image)) + np.where(
                np.isfinite(image).all(axis=1, keepdims=True), 0, np.nan))
        title, tags = normalise(self._text(posts, "title")), normalise(self._text(posts, "tags"))
        f = {"image_title": (image * title).sum(1), "image_tags": (image * tags).sum(1),
             "title_tags": (title * tags).sum(1)}
        return pd.DataFrame(f, index=posts.index).astype("float32").add_prefix(f"{self.name}_")

    def _image(self, posts: pd.DataFrame) -> np.ndarray:
        if self.clip_ is None:
            return source_embeddings(posts, "image", self.cache_dir, self.params["image_size"])
        vectors, _ = embed_images(self.clip_, image_paths(posts), self.cache_dir,
                                  {"batch_size": 32, "workers": 2})
        return vectors

    def _text(self, posts: pd.DataFrame, field: str) -> np.ndarray:
        texts = field_texts(posts, field).tolist()
        if self.clip_ is not None:
            store = EmbeddingStore(self.cache_dir, f"{self.clip_.name}-text", 256)
            return store.encode(self.clip_.encode_text, texts, f"clip text:{field}", gpu=self.clip_.gpu)
        encoder = make_encoder("use")
        return EmbeddingStore(self.cache_dir, encoder.fingerprint(), 1024).encode(
            encoder.encode, texts, f"text:{field}")

    def _vision_language(self, posts: pd.DataFrame) -> pd.DataFrame:
        backend = self.params["backend"]
        title = self._pairs(posts, "title")
        axes = project(title[:, : self._width()], self.pca_)
        frame = pd.DataFrame(axes, index=posts.index).add_prefix(f"{self.name}_{backend}_")
        if backend == "blip2":  # its last column: the image-text similarity
            frame[f"{self.name}_blip2_image_title"] = title[:, -1]
            frame[f"{self.name}_blip2_image_tags"] = self._pairs(posts, "tags")[:, -1]
        return frame.astype("float32")

    def _width(self) -> int | None:
        """The columns of a pair's vector that are its embedding (BLIP-2 adds a similarity)."""
        return -1 if self.params["backend"] == "blip2" else None

    def _pairs(self, posts: pd.DataFrame, field: str) -> np.ndarray:
        """The vision-language encoder's vector of each post's (image, ``field`` text)."""
        if getattr(self, "pairs_", None) is None:  # pretrained: rebuilt when needed
            self.pairs_ = make_pair_encoder(self.params["backend"], self.params["model"], self.params["device"])
        paths, texts = image_paths(posts), field_texts(posts, field).tolist()
        store = EmbeddingStore(self.cache_dir, self.pairs_.name, 256)
        return store.encode(self.pairs_.encode, list(zip(paths, texts, strict=True)),
                            f"{self.params['backend']}:{field}",
                            keys=[f"{image_key(p)}\t{t}" for p, t in zip(paths, texts, strict=True)],
                            gpu=self.pairs_.gpu)
