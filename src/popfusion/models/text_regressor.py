"""A transformer fine-tuned to predict popularity from title + tags (any Hugging Face
encoder by hub name or local folder, e.g. RoBERTa or BERTweet as in the seeds).

It reads text, not the feature frame: ``fit`` and ``predict`` take each post's text in
``texts``, indexed like the posts, and read the texts of ``X``'s rows.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from popfusion.models.base import Model
from popfusion.models.torchfit import seed_everything, shuffled_batches

PREDICT_BATCH = 64
TEXT_COLUMN = "text_finetuned"  # the one "feature" an explanation credits this model's output to


class TextRegressor(Model):
    """A transformer encoder (``model``: a hub name or a local folder) fine-tuned with a
    regression head on each post's title and tags."""

    kind = "text_regressor"

    def __init__(self, model: str = "", max_length: int = 48, epochs: int = 2, batch_size: int = 32,
                 lr: float = 3e-5, seed: int = 0, device: str = "auto") -> None:
        super().__init__(model=model, max_length=max_length, epochs=epochs, batch_size=batch_size,
                         lr=lr, seed=seed, device=device)

    @staticmethod
    def _texts(X: pd.DataFrame, texts: pd.Series | None) -> list[str]:
        if texts is None:
            raise ValueError("the text regressor needs the posts' texts (texts=...)")
        return texts.reindex(X.index).fillna("").astype(str).tolist()

    def fit(self, X, y, X_val=None, y_val=None, *, unlabelled=None, texts=None) -> TextRegressor:
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
        encoder = AutoModel.from_pretrained(p["model"])
        self.net_ = _Regressor(encoder).to(self.device_)
        self.scale_ = (float(np.mean(y)), float(np.std(y) or 1.0))
        target = torch.tensor((np.asarray(y) - self.scale_[0]) / self.scale_[1], dtype=torch.float32)
        texts = self._texts(X, texts)
        opt = torch.optim.AdamW(self.net_.parameters(), lr=p["lr"])
        gen = torch.Generator().manual_seed(p["seed"])
        for _ in range(p["epochs"]):
            self.net_.train()
            for idx in shuffled_batches(len(texts), p["batch_size"], gen):
                batch = self._tokens([texts[i] for i in idx])
                opt.zero_grad()
                loss = torch.nn.functional.huber_loss(self.net_(**batch), target[idx].to(self.device_))
                loss.backward()
                opt.step()
        return self

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
