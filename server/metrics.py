"""Prometheus text exposition: counters, gauges and latency histograms, free of I/O."""

from __future__ import annotations

import bisect

LATENCY_BUCKETS_S = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0)


class Histogram:
    """Observations counted into cumulative ``le`` buckets, as Prometheus histograms are."""

    def __init__(self, buckets: tuple[float, ...] = LATENCY_BUCKETS_S):
        self.buckets = buckets
        self.counts = [0] * (len(buckets) + 1)  # the last one is +Inf
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.buckets, value)] += 1
        self.total += value

    @property
    def count(self) -> int:
        return sum(self.counts)


def metric(name: str, kind: str, help: str, value: float | dict[str, float]) -> list[str]:
    """Lines of one counter or gauge; ``value`` maps label text (``'code="1002"'``) to values when labelled."""
    lines = [f"# HELP {name} {help}", f"# TYPE {name} {kind}"]
    if isinstance(value, dict):
        lines += [f"{name}{{{labels}}} {number:g}" for labels, number in sorted(value.items())]
    else:
        lines.append(f"{name} {value:g}")
    return lines


def histogram(name: str, help: str, hist: Histogram) -> list[str]:
    lines = [f"# HELP {name} {help}", f"# TYPE {name} histogram"]
    cumulative = 0
    for bound, count in zip([*map(str, hist.buckets), "+Inf"], hist.counts):
        cumulative += count
        lines.append(f'{name}_bucket{{le="{bound}"}} {cumulative}')
    lines += [f"{name}_sum {hist.total:.6f}", f"{name}_count {hist.count}"]
    return lines
