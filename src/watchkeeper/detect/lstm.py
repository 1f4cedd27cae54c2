"""LSTM forecast-residual detector (PyTorch, CPU): predict each value from the window before
it; the absolute forecast error, in training units, is the raw novelty.

torch is imported only when a model is fitted or loaded, so the rest of the detection package
works without the `deep` extra.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from watchkeeper.detect.base import FloatArray
from watchkeeper.detect.torch_fit import fit_minibatches, score_windows
from watchkeeper.detect.windowed import WindowedDetector


def _forecaster(hidden: int) -> Any:
    import torch
    from torch import nn

    class LstmForecaster(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lstm = nn.LSTM(input_size=1, hidden_size=hidden, batch_first=True)
            self.head = nn.Linear(hidden, 1)

        def forward(self, context: torch.Tensor) -> torch.Tensor:
            out, _ = self.lstm(context.unsqueeze(-1))
            return self.head(out[:, -1, :]).squeeze(-1)  # type: ignore[no-any-return]

    return LstmForecaster()


def _forecast_error(net: Any, rows: Any) -> Any:
    import torch

    return torch.nn.functional.mse_loss(net(rows[:, :-1]), rows[:, -1])


class LstmDetector(WindowedDetector):
    """Each window's first `window - 1` values predict its last; error = raw novelty."""

    name: ClassVar[str] = "lstm"
    state_version: ClassVar[int] = 1

    def __init__(
        self,
        window: int = 24,
        hidden: int = 16,
        epochs: int = 8,
        min_train: int = 300,
        max_train: int = 2000,
        retrain_every: int = 4000,
        seed: int = 0,
    ) -> None:
        super().__init__(window, min_train, max_train, retrain_every, seed)
        self.hidden = hidden
        self.epochs = epochs
        self.init_kwargs.update(hidden=hidden, epochs=epochs)
        self._net: Any = None

    def _fit(self, windows: FloatArray) -> None:
        self._net = fit_minibatches(
            lambda: _forecaster(self.hidden),
            windows,
            _forecast_error,
            lr=0.01,
            epochs=self.epochs,
            seed=self.seed,
        )

    def _novelty(self, windows: FloatArray) -> FloatArray:
        predicted = score_windows(self._net, windows, lambda net, rows: net(rows[:, :-1]))
        return np.asarray(np.abs(windows[:, -1] - predicted), dtype=np.float64)

    def _model_state(self) -> Any:
        return {"hidden": self.hidden, "weights": self._net.state_dict()}

    def _load_model_state(self, state: Any) -> None:
        self.hidden = state["hidden"]
        self._net = _forecaster(self.hidden)
        self._net.load_state_dict(state["weights"])
