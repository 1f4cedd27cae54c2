"""Variational autoencoder on windows (PyTorch, CPU): a window the model reconstructs badly,
or places in an unlikely region of its latent space, is anomalous (raw novelty = negative ELBO).

torch is imported only when a model is fitted or loaded.
"""

from __future__ import annotations

from typing import Any, ClassVar

from watchkeeper.detect.base import FloatArray
from watchkeeper.detect.torch_fit import fit_minibatches, score_windows
from watchkeeper.detect.windowed import WindowedDetector


def _autoencoder(window: int, hidden: int, latent: int) -> Any:
    import torch
    from torch import nn

    class WindowVae(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = nn.Sequential(nn.Linear(window, hidden), nn.ReLU())
            self.mu = nn.Linear(hidden, latent)
            self.log_var = nn.Linear(hidden, latent)
            self.decoder = nn.Sequential(
                nn.Linear(latent, hidden), nn.ReLU(), nn.Linear(hidden, window)
            )

        def loss(self, x: torch.Tensor, sample: bool) -> torch.Tensor:
            """Per-window negative ELBO: reconstruction error + KL divergence."""
            h = self.encoder(x)
            mu, log_var = self.mu(h), self.log_var(h).clamp(-8, 8)
            z = mu + torch.randn_like(mu) * torch.exp(0.5 * log_var) if sample else mu
            recon = ((self.decoder(z) - x) ** 2).sum(dim=1)
            kl = -0.5 * (1 + log_var - mu**2 - log_var.exp()).sum(dim=1)
            return recon + kl  # type: ignore[no-any-return]

    return WindowVae()


class VaeDetector(WindowedDetector):
    """Dense VAE over windows of normalised values."""

    name: ClassVar[str] = "vae"
    state_version: ClassVar[int] = 1

    def __init__(
        self,
        window: int = 24,
        hidden: int = 32,
        latent: int = 4,
        epochs: int = 15,
        min_train: int = 300,
        max_train: int = 2000,
        retrain_every: int = 4000,
        seed: int = 0,
    ) -> None:
        super().__init__(window, min_train, max_train, retrain_every, seed)
        self.hidden = hidden
        self.latent = latent
        self.epochs = epochs
        self.init_kwargs.update(hidden=hidden, latent=latent, epochs=epochs)
        self._net: Any = None

    def _fit(self, windows: FloatArray) -> None:
        self._net = fit_minibatches(
            lambda: _autoencoder(self.window, self.hidden, self.latent),
            windows,
            lambda net, rows: net.loss(rows, sample=True).mean(),
            lr=0.005,
            epochs=self.epochs,
            seed=self.seed,
        )

    def _novelty(self, windows: FloatArray) -> FloatArray:
        return score_windows(self._net, windows, lambda net, rows: net.loss(rows, sample=False))

    def _model_state(self) -> Any:
        return {"dims": (self.window, self.hidden, self.latent), "weights": self._net.state_dict()}

    def _load_model_state(self, state: Any) -> None:
        self.window, self.hidden, self.latent = state["dims"]
        self._net = _autoencoder(self.window, self.hidden, self.latent)
        self._net.load_state_dict(state["weights"])
