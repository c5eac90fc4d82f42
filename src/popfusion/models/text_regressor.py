"""A transformer fine-tuned to predict popularity from title + tags (any Hugging Face
encoder by hub name or local folder, e.g. RoBERTa or BERTweet as in the seeds).

It reads text, not the feature frame: ``fit`` and ``predict`` take each post's text in
``texts``, indexed like the posts, and read the texts of ``X``'s rows.

With ``pretrain``, the encoder first learns the data's own language by masked-language-
model training on every post's text (training and test posts: texts, never labels), as
the SMP-2025 solution trained its RoBERTa. The result is saved under the popfusion cache,
keyed by the model, the texts and the settings: the folds, the refit and the final fit
(and a rerun) read it instead of training it again.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from popfusion.models.base import Model
from popfusion.models.torchfit import seed_everything, shuffled_batches, weighted_huber

log = logging.getLogger(__name__)
PREDICT_BATCH = 64
TEXT_COLUMN = "text_finetuned"  # the one "feature" an explanation credits this model's output to


class TextRegressor(Model):
    """A transformer encoder (``model``: a hub name or a local folder) fine-tuned with a
    regression head on each post's title and tags. ``pretrain``: ``{epochs,
    mlm_probability, lr}`` of masked-language-model training on every post's text first
    (None: none)."""

    kind = "text_regressor"

    def __init__(self, model: str = "", max_length: int = 48, epochs: int = 2, batch_size: int = 32,
                 lr: float = 3e-5, pretrain: dict | None = None, seed: int = 0, device: str = "auto") -> None:
        super().__init__(model=model, max_length=max_length, epochs=epochs, batch_size=batch_size,
                         lr=lr, pretrain=pretrain, seed=seed, device=device)

    @staticmethod
    def _texts(X: pd.DataFrame, texts: pd.Series | None) -> list[str]:
        if texts is None:
            raise ValueError("the text regressor needs the posts' texts (texts=...)")
        return texts.reindex(X.index).fillna("").astype(str).tolist()

    def fit(self, X, y, X_val=None, y_val=None, *, unlabelled=None, texts=None, weight=None) -> TextRegressor:
        import torch
        from transformers import AutoModel, AutoTokenizer

        from popfusion.features.base import resolve_device

        p = self.params
        if not p["model"]:
            raise ValueError("the text regressor needs a model: a hub name or a local folder")
        if Path(p["model"]).is_dir():
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
        seed_everything(p["seed"])
        self.device_ = resolve_device(p["device"])
        self.tokenizer_ = AutoTokenizer.from_pretrained(p["model"])
        source = self._pretrained(texts) if p["pretrain"] is not None else p["model"]
        encoder = AutoModel.from_pretrained(source)
        self.net_ = _Regressor(encoder).to(self.device_)
        self.scale_ = (float(np.mean(y)), float(np.std(y) or 1.0))
        target = torch.tensor((np.asarray(y) - self.scale_[0]) / self.scale_[1], dtype=torch.float32)
        texts = self._texts(X, texts)
        wt = None if weight is None else torch.tensor(np.asarray(weight), dtype=torch.float32)
        opt = torch.optim.AdamW(self.net_.parameters(), lr=p["lr"])
        gen = torch.Generator().manual_seed(p["seed"])
        for _ in range(p["epochs"]):
            self.net_.train()
            for idx in shuffled_batches(len(texts), p["batch_size"], gen):
                batch = self._tokens([texts[i] for i in idx])
                opt.zero_grad()
                loss = weighted_huber(self.net_(**batch), target[idx].to(self.device_),
                                      None if wt is None else wt[idx].to(self.device_))
                loss.backward()
                opt.step()
        return self

    def _pretrained(self, texts: pd.Series | None) -> str:
        """The folder of the encoder after masked-language-model training on the distinct
        texts of every post (``texts``: training and test posts, never a label), trained
        once and kept under the popfusion cache."""
        import torch
        from transformers import AutoModelForMaskedLM, DataCollatorForLanguageModeling

        from popfusion.data.synthetic import cache_dir

        p = self.params
        settings = {"epochs": 1, "mlm_probability": 0.15, "lr": 5e-5, **p["pretrain"]}
        corpus = sorted({t for t in (texts if texts is not None else []) if isinstance(t, str) and t.strip()})
        digest = hashlib.sha256(repr((p["model"], p["max_length"], p["batch_size"], p["seed"],
                                      sorted(settings.items()))).encode())
        digest.update("\x00".join(corpus).encode())
        folder = cache_dir() / "pretrained" / f"{Path(p['model']).name}-{digest.hexdigest()[:16]}"
        if (folder / "config.json").exists():
            log.info("text regressor: in-task pretraining reused from %s", folder)
            return str(folder)
        log.info("text regressor: masked-language-model training on %d texts, %d epoch(s)", len(corpus),
                 settings["epochs"])
        mlm = AutoModelForMaskedLM.from_pretrained(p["model"]).to(self.device_)
        collate = DataCollatorForLanguageModeling(self.tokenizer_, mlm_probability=settings["mlm_probability"])
        opt = torch.optim.AdamW(mlm.parameters(), lr=settings["lr"])
        gen = torch.Generator().manual_seed(p["seed"])
        mlm.train()
        for _ in range(settings["epochs"]):
            for idx in shuffled_batches(len(corpus), p["batch_size"], gen):
                tokens = self.tokenizer_([corpus[i] for i in idx], truncation=True, max_length=p["max_length"])
                batch = collate([{"input_ids": ids} for ids in tokens["input_ids"]]).to(self.device_)
                opt.zero_grad()
                mlm(**batch).loss.backward()
                opt.step()
        partial = folder.with_name(f".{folder.name}.tmp{os.getpid()}")  # complete or absent
        mlm.save_pretrained(partial)
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(partial, folder)
        return str(folder)

    def __getstate__(self) -> dict:
        """Torch modules built inside a function do not pickle: keep their weights and config."""
        state = self.__dict__.copy()
        net = state.pop("net_", None)
        if net is not None:
            state["net_state_"] = {k: v.cpu() for k, v in net.state_dict().items()}
            state["encoder_config_"] = net.encoder.config.to_dict()
        return state

    def __setstate__(self, state: dict) -> None:
        net_state, config = state.pop("net_state_", None), state.pop("encoder_config_", None)
        self.__dict__.update(state)
        if net_state is not None:
            from transformers import AutoConfig, AutoModel

            encoder = AutoModel.from_config(AutoConfig.for_model(**config))
            self.net_ = _Regressor(encoder).to(self.device_)
            self.net_.load_state_dict(net_state)
            self.net_.eval()

    def _tokens(self, texts: list[str], padding: bool | str = True):
        return self.tokenizer_(texts, padding=padding, truncation=True, max_length=self.params["max_length"],
                               return_tensors="pt").to(self.device_)

    def contributions(self, X, background, *, texts=None) -> tuple[pd.DataFrame, np.ndarray]:
        """The model reads the whole text as one input: its move away from the training
        labels' mean is credited to the text as a single feature."""
        pred = self.predict(X, texts=texts)
        base = np.full(len(X), self.scale_[0])
        return pd.DataFrame({TEXT_COLUMN: pred - base}, index=X.index), base

    def predict(self, X: pd.DataFrame, *, texts: pd.Series | None = None) -> np.ndarray:
        import torch

        texts = self._texts(X, texts)
        n = len(texts)
        texts += [""] * (-n % PREDICT_BATCH)  # full batches of full-length tokens: a post's score
        self.net_.eval()  # does not depend on the posts scored with it
        out = []
        with torch.inference_mode():
            for start in range(0, len(texts), PREDICT_BATCH):
                tokens = self._tokens(texts[start : start + PREDICT_BATCH], padding="max_length")
                out.append(self.net_(**tokens).float().cpu().numpy())
        pred = np.concatenate(out)[:n] if out else np.zeros(0)
        return pred * self.scale_[1] + self.scale_[0]


def _Regressor(encoder):
    from torch import nn

    class Regressor(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = encoder
            self.head = nn.Linear(encoder.config.hidden_size, 1)

        def forward(self, input_ids, attention_mask, **_):
            hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            return self.head((hidden * mask).sum(1) / mask.sum(1).clamp(min=1)).squeeze(-1)

    return Regressor()
