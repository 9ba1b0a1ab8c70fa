"""How every cielo process runs Python: the cyclic garbage collector's thresholds.

CPython collects its youngest generation after every 700 net allocations of container
objects (the default), and each such collection also walks whatever a long batch still holds.
A batch of 1,000 transactions allocates hundreds of thousands of short-lived dicts, tuples and
lists, so the collector ran hundreds of times per batch; on the engine benchmark it cost about
a tenth of batched ingestion (ingestion at 0.46 of the plain insert's rate with the collector
off or at these thresholds, 0.41 at the defaults, the same run). Reference cycles are rare
here (plain values, no parent links), so collecting ~14x less often holds little memory back.
Set once per process: by the application factory (every serving worker) and by the command
line (workers, imports, seeds)."""

from __future__ import annotations

import gc

GC_THRESHOLDS = (10_000, 10, 10)


def tune() -> None:
    gc.set_threshold(*GC_THRESHOLDS)
