"""A denoising autoencoder + 1D-CNN regressor, as in the SMP seeds.

The autoencoder learns, without labels, to rebuild every post's features (train and
test) from a copy with a share of its values swapped for values of other posts (swap
noise); its hidden code, seen as a short 1-channel signal, feeds a small 1D-CNN.
"""

from __future__ import annotations

import numpy as np

from popfusion.features.base import resolve_device
from popfusion.models.base import Preprocessor
from popfusion.models.torchfit import NetRegressor, seed_everything, shuffled_batches


class DaeCnn(NetRegressor):
    """A denoising autoencoder (swap noise, ``swap`` share of cells) pretrained on every
    row's features, the rows to predict included (no labels), then a 1D-CNN head on its
    ``code``-wide encoding, as in the SMP solutions."""

    kind = "dae_cnn"

    def __init__(self, code: int = 128, swap: float = 0.15, dae_epochs: int = 15, epochs: int = 30,
                 batch_size: int = 512, lr: float = 1e-3, seed: int = 0, device: str = "auto") -> None:
        super().__init__(code=code, swap=swap, dae_epochs=dae_epochs, epochs=epochs,
                         batch_size=batch_size, lr=lr, seed=seed, device=device)

    def fit(self, X, y, X_val=None, y_val=None, *, unlabelled=None, texts=None, weight=None) -> DaeCnn:
        p = self.params
        seed_everything(p["seed"])
        self.prep_ = Preprocessor().fit(X)
        pool = [part for part in (X, X_val, unlabelled) if part is not None]
        everything = np.vstack([self.prep_.transform(part) for part in pool])
        self.encoder_ = self._pretrain(everything)
        head = _cnn_head(p["code"])
        self.net_ = _stack(self.encoder_, head)
        self._train(X, y, X_val, y_val, weight)
        return self

    def _pretrain(self, x: np.ndarray):
        import torch
        from torch import nn

        p = self.params
        width = x.shape[1]
        device = resolve_device(p["device"])
        encoder = nn.Sequential(nn.Linear(width, 512), nn.SiLU(), nn.Linear(512, p["code"]), nn.SiLU())
        decoder = nn.Sequential(nn.Linear(p["code"], 512), nn.SiLU(), nn.Linear(512, width))
        encoder, decoder = encoder.to(device), decoder.to(device)
        opt = torch.optim.AdamW([*encoder.parameters(), *decoder.parameters()], lr=p["lr"])
        xt = torch.from_numpy(x)
        gen = torch.Generator().manual_seed(p["seed"])
        for _ in range(p["dae_epochs"]):
            for idx in shuffled_batches(len(xt), p["batch_size"], gen):
                clean = xt[idx]
                swap = torch.rand(clean.shape, generator=gen) < p["swap"]
                donors = xt[torch.randint(0, len(xt), (len(idx),), generator=gen)]
                noisy = torch.where(swap, donors, clean).to(device)
                opt.zero_grad()
                nn.functional.mse_loss(decoder(encoder(noisy)), clean.to(device)).backward()
                opt.step()
        return encoder.cpu()


def _cnn_head(code: int):
    from torch import nn

    return nn.Sequential(nn.Unflatten(1, (1, code)), nn.Conv1d(1, 16, 5, padding=2), nn.SiLU(),
                         nn.MaxPool1d(2), nn.Conv1d(16, 32, 3, padding=1), nn.SiLU(),
                         nn.AdaptiveAvgPool1d(8), nn.Flatten(), nn.Linear(256, 64), nn.SiLU(), nn.Linear(64, 1))


def _stack(encoder, head):
    from torch import nn

    return nn.Sequential(encoder, head)
