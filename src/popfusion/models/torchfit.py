"""What the neural models share: the training loop (mini-batches, AdamW, a Huber loss,
early stopping on validation loss, the best weights restored at the end) and
``NetRegressor``, their common fit-to-predict plumbing."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd

from popfusion.features.base import resolve_device
from popfusion.linalg import padded_rows
from popfusion.models.base import Model
from popfusion.progress import step
from popfusion.training.target import LabelTransform


def seed_everything(seed: int) -> None:
    import torch

    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)


def shuffled_batches(n: int, batch_size: int, gen) -> list:
    """Row indices of one epoch in shuffled mini-batches. When ``n`` leaves one row over,
    it joins the batch before it: batch norm cannot train on a single row (training on
    100,000 posts, n % 512 == 1 stopped a run), and a one-row step is mostly noise."""
    import torch

    batches = list(torch.randperm(n, generator=gen).split(batch_size))
    if len(batches) > 1 and len(batches[-1]) == 1:
        batches[-2:] = [torch.cat(batches[-2:])]
    return batches


def train_regressor(module, x: np.ndarray, y: np.ndarray, x_val: np.ndarray | None = None,
                    y_val: np.ndarray | None = None, epochs: int = 30, batch_size: int = 512,
                    lr: float = 1e-3, weight_decay: float = 1e-5, patience: int = 5, seed: int = 0,
                    device: str = "cpu", weight: np.ndarray | None = None):
    """Fit ``module`` (inputs -> one output per row) to its best weights on ``device``,
    mini-batches moved there one at a time, each row's loss times its ``weight``; returns
    how many epochs those took (all of them without validation data). The module ends on
    the CPU, so a saved model loads on a machine without the GPU it was trained on."""
    import torch

    seed_everything(seed)
    module.to(device)
    opt = torch.optim.AdamW(module.parameters(), lr=lr, weight_decay=weight_decay)
    loss_fn = torch.nn.HuberLoss(delta=1.0)
    xt, yt = torch.from_numpy(np.ascontiguousarray(x, np.float32)), torch.from_numpy(np.asarray(y, np.float32))
    wt = None if weight is None else torch.from_numpy(np.asarray(weight, np.float32))
    best, best_loss, best_epochs, waited = copy.deepcopy(module.state_dict()), np.inf, epochs, 0
    gen = torch.Generator().manual_seed(seed)
    for epoch in range(1, epochs + 1):
        module.train()
        for idx in shuffled_batches(len(xt), batch_size, gen):
            opt.zero_grad()
            weighted_huber(module(xt[idx].to(device)).squeeze(-1), yt[idx].to(device),
                           None if wt is None else wt[idx].to(device)).backward()
            opt.step()
        step(epoch, epochs)
        if x_val is None:
            continue
        val = predict(module, x_val, device=device)
        val_loss = float(loss_fn(val, torch.from_numpy(np.asarray(y_val, np.float32))))
        if val_loss < best_loss - 1e-5:
            best, best_loss, best_epochs, waited = copy.deepcopy(module.state_dict()), val_loss, epoch, 0
        else:
            waited += 1
            if waited >= patience:
                break
    if x_val is not None:
        module.load_state_dict(best)
    module.to("cpu").eval()
    return best_epochs


def weighted_huber(pred, target, weight=None):
    """The Huber loss (delta 1) of a batch, each row's term times its weight (a weighted
    mean); without weights, torch's own."""
    import torch

    if weight is None:
        return torch.nn.functional.huber_loss(pred, target)
    terms = torch.nn.functional.huber_loss(pred, target, reduction="none")
    return (terms * weight).sum() / weight.sum().clamp(min=1e-12)


def predict(module, x: np.ndarray, batch_size: int = 4096, device: str = "cpu"):
    """The module's outputs for ``x``, computed on ``device`` in batches of exactly
    ``batch_size`` rows (the last one padded), so that a row's output does not depend on
    the rows predicted with it; returned on the CPU."""
    import torch

    module.eval()
    with torch.inference_mode():
        xt = torch.from_numpy(padded_rows(np.ascontiguousarray(x, np.float32), batch_size))
        return torch.cat([module(b.to(device)).squeeze(-1).cpu() for b in xt.split(batch_size)])[: len(x)]


class NetRegressor(Model):
    """A torch network on preprocessed features with a standardised target. Subclasses
    build ``prep_`` and ``net_`` in ``fit`` and hand over to ``_train``; the rest (the
    training loop, the epoch budget for refits, prediction) is shared."""

    def _train(self, X: pd.DataFrame, y, X_val: pd.DataFrame | None, y_val, weight=None) -> None:
        p = self.params
        self.target_ = LabelTransform("standard").fit(y)
        x_val = self.prep_.transform(X_val) if X_val is not None else None
        y_val = None if y_val is None else self.target_.transform(y_val)
        self.epochs_ = train_regressor(self.net_, self.prep_.transform(X), self.target_.transform(y), x_val,
                                       y_val, epochs=p["epochs"], batch_size=p["batch_size"], lr=p["lr"],
                                       seed=p["seed"], device=resolve_device(p["device"]), weight=weight)

    def budget(self) -> dict:
        return {"epochs": self.epochs_}

    def predict(self, X: pd.DataFrame, *, texts: pd.Series | None = None) -> np.ndarray:
        return self.target_.inverse(predict(self.net_, self.prep_.transform(X)).numpy().astype(np.float64))
