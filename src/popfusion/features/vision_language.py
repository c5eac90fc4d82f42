"""Vision-language encoders that read a post's image together with one of its texts, as
the SMP-2025 solution used them: ViLT's pooled image-text embedding of (image, title),
and BLIP-2's Q-Former query embeddings (mean-pooled) with its image-text similarity.
They are backends of the cross-modal block (``xmodal`` with ``backend: vilt`` or
``blip2``), by hub name or local folder; nothing downloads unless the user names a hub
model. Pairs go through the embedding store, keyed by the image file (its size and time)
and the text, so a rerun or a second stage reuses them.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np

from popfusion.compute import Portable
from popfusion.features.base import resolve_device
from popfusion.features.image import CLIP_MEAN, CLIP_STD, decode


class PairEncoder(Portable, ABC):
    """(image, text) pairs -> float32 vectors; a pair whose image is missing gives NaN."""

    kind: str  # of the encoder's name, which keys its cached vectors
    name: str
    dim: int
    size: int  # the square image side the model reads
    gpu: bool
    mean, std = np.full(3, 0.5, np.float32), np.full(3, 0.5, np.float32)  # pixel normalisation

    def __init__(self, model: str, device: str = "auto", batch: int = 16) -> None:
        import torch

        if Path(model).is_dir():
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
        self.args, self.gpu, self.batch = (model, device, batch), device != "cpu", batch
        self.torch, self.device = torch, resolve_device(device)
        self.dtype = torch.float16 if self.device.startswith("cuda") else torch.float32
        self.name = f"{self.kind}-{Path(model).name}"
        self._load(model)

    @abstractmethod
    def _load(self, model: str) -> None: ...

    @abstractmethod
    def _encode(self, pixels, texts: list[str]) -> np.ndarray:
        """One batch: ``pixels`` (N, 3, size, size) normalised, on the device."""

    def encode(self, pairs: list[tuple[str | None, str]]) -> np.ndarray:
        out = np.full((len(pairs), self.dim), np.nan, np.float32)
        for start in range(0, len(pairs), self.batch):
            chunk = pairs[start : start + self.batch]
            images = [decode(path, self.size) for path, _ in chunk]
            ok = np.flatnonzero([image is not None for image in images])
            if not len(ok):
                continue
            x = (np.stack([images[i] for i in ok]).astype(np.float32) / 255.0 - self.mean) / self.std
            pixels = self.torch.from_numpy(x).permute(0, 3, 1, 2).to(self.device, self.dtype)
            with self.torch.inference_mode():
                out[start + ok] = self._encode(pixels, [chunk[i][1] for i in ok])
        return out


class ViltEncoder(PairEncoder):
    """ViLT (for example dandelin/vilt-b32-finetuned-vqa or -flickr30k): the pooled
    embedding of an image and a text read together by one transformer."""

    kind = "vilt"

    def _load(self, model: str) -> None:
        from transformers import AutoTokenizer, ViltModel

        self.tokenizer = AutoTokenizer.from_pretrained(model)
        self.model = ViltModel.from_pretrained(model, dtype=self.dtype).to(self.device).eval()
        self.size, self.dim = self.model.config.image_size, self.model.config.hidden_size
        self.max_length = self.model.config.max_position_embeddings

    def _encode(self, pixels, texts: list[str]) -> np.ndarray:
        batch = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_length,
                               return_tensors="pt").to(self.device)
        mask = self.torch.ones(pixels.shape[0], *pixels.shape[2:], dtype=self.torch.long, device=self.device)
        return self.model(**batch, pixel_values=pixels, pixel_mask=mask).pooler_output.float().cpu().numpy()


class Blip2Encoder(PairEncoder):
    """BLIP-2's image-text retrieval model (for example Salesforce/blip2-itm-vit-g): the
    Q-Former's query embeddings of the image, projected and mean-pooled, then the
    image-text similarity (the highest cosine between a query and the text)."""

    kind = "blip2"
    mean, std = CLIP_MEAN, CLIP_STD

    def _load(self, model: str) -> None:
        from transformers import AutoTokenizer, Blip2ForImageTextRetrieval

        self.tokenizer = AutoTokenizer.from_pretrained(model)
        self.model = Blip2ForImageTextRetrieval.from_pretrained(model, dtype=self.dtype).to(self.device).eval()
        config = self.model.config
        self.size = config.vision_config.image_size
        self.dim = config.image_text_hidden_size + 1
        self.max_length = config.qformer_config.max_position_embeddings

    def _encode(self, pixels, texts: list[str]) -> np.ndarray:
        batch = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_length,
                               return_tensors="pt").to(self.device)
        out = self.model(pixel_values=pixels, input_ids=batch["input_ids"],
                         attention_mask=batch["attention_mask"], use_image_text_matching_head=False)
        queries, text = out.image_embeds.float(), out.text_embeds.float()  # both normalised
        similarity = self.torch.einsum("nqd,nd->nq", queries, text).max(dim=1).values
        return self.torch.cat([queries.mean(dim=1), similarity[:, None]], dim=1).cpu().numpy()


def make_pair_encoder(backend: str, model: str | None, device: str = "auto") -> PairEncoder:
    if not model:
        raise ValueError(f"the {backend} cross-modal backend needs a model: a hub name or a local folder")
    if backend == "vilt":
        return ViltEncoder(model, device)
    if backend == "blip2":
        return Blip2Encoder(model, device)
    raise ValueError(f"unknown vision-language backend {backend!r}: vilt or blip2")
