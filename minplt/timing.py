"""The one timing helper: the benchmark, the experiments, the demo and the lessons all
time code through `repeat` (or `per_call`, for calls of a few milliseconds).

    times = timing.repeat(lambda: model.step(...), repeats=5)        # seconds per call
    times = timing.repeat(decode, repeats=3, setup=fresh_cache)       # decode(fresh_cache())
    seconds = timing.per_call(train_step, min_seconds=0.3)           # short calls, averaged
    print(timing.summary(times))                                      # "8.41 ms (8.37-9.02)"

Why the best (minimum) and the spread, not the mean: other programs on the machine only
ever add time to a run, so the minimum is the cleanest estimate of the code's own cost;
the spread shows how much the machine disturbed the run. Nothing here asserts a time:
tests never do (a benchmark prints ratios measured in one run instead).
"""
from __future__ import annotations

import statistics
import time


def repeat(fn, repeats: int = 3, setup=None, number: int = 1, warmup: int = 0) -> list[float]:
    """Seconds per call of fn, once per repeat (the mean over `number` calls each).
    With `setup`, each repeat first calls state = setup() untimed, then times fn(state):
    the way to time decoding from a fresh copy of a prefilled cache. `warmup` untimed
    repeats come first (compilation, caches)."""
    if repeats < 1 or number < 1:
        raise ValueError(f"repeats and number must be >= 1, got {repeats} and {number}")
    times = []
    for run in range(warmup + repeats):
        state = setup() if setup is not None else None
        start = time.perf_counter()
        for _ in range(number):
            fn(state) if setup is not None else fn()
        if run >= warmup:
            times.append((time.perf_counter() - start) / number)
    return times


def per_call(fn, min_seconds: float) -> float:
    """Seconds per call of fn, called again and again until at least min_seconds have
    passed (once at least): for calls of a few milliseconds, whose single timings the
    machine's noise would swamp."""
    start, calls = time.perf_counter(), 0
    while calls == 0 or time.perf_counter() - start < min_seconds:
        fn()
        calls += 1
    return (time.perf_counter() - start) / calls


def best(fn, repeats: int = 3, **kwargs) -> float:
    """The fastest of `repeats` timed runs, in seconds (see `repeat`)."""
    return min(repeat(fn, repeats, **kwargs))


def summary(times: list[float], unit: str = "ms") -> str:
    """'best (min-max)' in ms or s, e.g. '8.41 ms (8.41-9.02)'; the median is in
    `stats`."""
    scale = {"ms": 1e3, "s": 1.0, "us": 1e6}[unit]
    return f"{scale * min(times):.3g} {unit} ({scale * min(times):.3g}-{scale * max(times):.3g})"


def stats(times: list[float]) -> dict:
    """min, median and max of a list of seconds, in milliseconds (for JSON)."""
    return {"ms_min": 1e3 * min(times), "ms_median": 1e3 * statistics.median(times),
            "ms_max": 1e3 * max(times), "runs": len(times)}
