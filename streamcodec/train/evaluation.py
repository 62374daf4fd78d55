"""Perceptual speech scores of a decoded clip: PESQ-wb and STOI (pip ``pesq`` and ``pystoi``).

Both are optional dependencies (the ``bench`` extra). :func:`require_speech_metrics` names the
one to install when it is missing, so that a long job can check before it starts.
"""

from __future__ import annotations

import numpy as np
import soxr

PESQ_RATE = 16000  # PESQ wide-band scores 16 kHz audio


def require_speech_metrics() -> None:
    """Raise an ``ImportError`` naming what to install when ``pesq`` or ``pystoi`` is missing."""
    try:
        import pesq  # noqa: F401
        import pystoi  # noqa: F401
    except ImportError as error:
        raise ImportError(f"speech scores need {error.name}: pip install -e '.[bench]'") from error


def speech_scores(reference: np.ndarray, estimate: np.ndarray, sample_rate: int) -> dict[str, float]:
    """PESQ-wb (NaN where PESQ finds no utterance) and STOI of mono float ``[T]`` clips."""
    require_speech_metrics()
    from pesq import pesq
    from pystoi import stoi

    ref16 = soxr.resample(reference, sample_rate, PESQ_RATE)
    est16 = soxr.resample(estimate, sample_rate, PESQ_RATE)
    try:
        pesq_wb = float(pesq(PESQ_RATE, ref16, est16, "wb"))
    except Exception:  # pesq raises on clips in which it finds no utterance
        pesq_wb = float("nan")
    return {"pesq_wb": pesq_wb, "stoi": float(stoi(reference, estimate, sample_rate, extended=False))}
