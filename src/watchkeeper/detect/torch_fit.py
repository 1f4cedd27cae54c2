"""Fitting and scoring the deep detectors' small PyTorch models, one loop for all of them.

Adam over shuffled mini-batches of normalised windows, on one thread (`single_thread`), with
the weights' initialisation and the batch order both drawn from the detector's seed, so the
same data fits the same model (a saved state resumes identically).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from watchkeeper.detect.base import FloatArray
from watchkeeper.detect.torch_threads import single_thread

BATCH_SIZE = 64
TRAIN_CLIP = 10.0  # normalised values beyond this are outliers the model should not chase
SCORE_CLIP = 50.0  # scoring keeps an extreme value far out yet finite in float32


def fit_minibatches(
    build: Callable[[], Any],
    windows: FloatArray,
    loss: Callable[[Any, Any], Any],
    *,
    lr: float,
    epochs: int,
    seed: int,
) -> Any:
    """The network `build` makes, trained for `epochs` passes to minimise `loss(net, rows)`."""
    import torch

    with single_thread():
        torch.manual_seed(seed)
        net = build()
        data = torch.as_tensor(np.clip(windows, -TRAIN_CLIP, TRAIN_CLIP), dtype=torch.float32)
        opt = torch.optim.Adam(net.parameters(), lr=lr)
        gen = torch.Generator().manual_seed(seed)
        for _ in range(epochs):
            for batch in torch.randperm(len(data), generator=gen).split(BATCH_SIZE):  # type: ignore[no-untyped-call]
                opt.zero_grad()
                loss(net, data[batch]).backward()
                opt.step()
    return net


def score_windows(net: Any, windows: FloatArray, score: Callable[[Any, Any], Any]) -> FloatArray:
    """`score(net, rows)` for every window, without gradients, on one thread."""
    import torch

    data = torch.as_tensor(np.clip(windows, -SCORE_CLIP, SCORE_CLIP), dtype=torch.float32)
    with torch.no_grad(), single_thread():
        return np.asarray(score(net, data).numpy(), dtype=np.float64)
