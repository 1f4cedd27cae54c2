"""Run small PyTorch models on one thread.

The deep detectors' models are tiny; torch's default intra-op thread pool costs far more in
synchronisation than it gains (30x slower measured on this 2-core machine), and a detection
worker must not take every core. The previous setting is restored afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def single_thread() -> Iterator[None]:
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
