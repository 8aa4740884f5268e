"""Using the cores: threads for small products, independent runs in worker processes,
and memory that training steps reuse.

    with parallel.threads(1):           # numpy's products and Numba's loops on one thread
        ...
    results = parallel.map_runs(fn, jobs, workers=2)   # fn(job) for each job, one per core
    parallel.keep_freed_memory()        # training: no page faults on every step's arrays

Why one thread for training at toy sizes: OpenBLAS splits even a small product
over its threads, and they spin while they wait for each other. On an idle machine two
threads barely help products this small; on a busy one a product waits for a thread to
get a core, and a training step runs several times slower (docs/performance.md has
the measurements). Independent runs (seeds, variants) use the cores better,
one per worker process.
"""
from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import signal


@contextlib.contextmanager
def threads(n: int | None):
    """numpy's BLAS and Numba's parallel loops limited to n threads inside the block
    (None: leave them as they are)."""
    if n is None:
        yield
        return
    import numba
    from threadpoolctl import threadpool_limits
    before = numba.get_num_threads()
    numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    try:
        with threadpool_limits(limits=n, user_api="blas"):
            yield
    finally:
        numba.set_num_threads(before)


_kept_freed_memory = None


def keep_freed_memory() -> bool:
    """Ask the C library (glibc) to keep freed memory for reuse instead of handing it
    back to the system. A training step allocates and frees the same hundred or so
    arrays every time. By default glibc maps each array above 128 KB fresh from the
    system and unmaps it when freed, and returns the top of its heap when much is free;
    every step then touches new pages, and at the demo size the page faults took longer
    than the arithmetic (docs/performance.md has the measurements). Here
    arrays up to 32 MB come from the heap, and up to 512 MB of free heap is kept.

    Once per process; does nothing where the C library is not glibc, or when you set
    any MALLOC_* variable yourself. Returns whether the setting is in force."""
    global _kept_freed_memory
    if _kept_freed_memory is None:
        _kept_freed_memory = False
        if not any(name.startswith("MALLOC_") for name in os.environ):
            try:
                mallopt = ctypes.CDLL(None).mallopt
            except (OSError, AttributeError):          # not glibc (macOS, Windows)
                return False
            M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
            _kept_freed_memory = (mallopt(M_MMAP_THRESHOLD, 32 << 20) == 1
                                  and mallopt(M_TRIM_THRESHOLD, 512 << 20) == 1)
    return _kept_freed_memory


def default_workers() -> int:
    """Worker processes for independent runs: one per core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:                              # not on every platform
        return max(1, os.cpu_count() or 1)


_stop = False          # set by Ctrl-C (or stop()): runs not yet started are skipped


def stop() -> None:
    """Ask the runs that have not started yet to be skipped (after a Ctrl-C)."""
    global _stop
    _stop = True


def stopped() -> bool:
    return _stop


def _worker_start() -> None:
    """In a worker: a Ctrl-C between runs skips the runs still to come. (During a run,
    training's own handler saves a checkpoint and returns; see train.py.)"""
    signal.signal(signal.SIGINT, lambda signum, frame: stop())


def map_runs(fn, jobs: list[tuple], workers: int | None = None) -> list:
    """[fn(*job) for job in jobs], in up to `workers` worker processes (default: one per
    core), results in the order of `jobs`. Each worker is a fresh interpreter ('spawn'),
    so nothing about the parent's threads is inherited; fn and the jobs must pickle.
    With one worker, or one job, everything runs in this process. A run gives the same
    result in a worker as here: it depends on its own seed only, and training runs on
    the same number of threads (TrainSettings.threads) wherever it runs.

    Ctrl-C reaches every worker: fn should then save what it has, call stop() and
    return; the runs not started yet see stopped() and return at once. map_runs waits
    for them all, so nothing is cut off in the middle of a write."""
    global _stop
    _stop = False
    workers = default_workers() if workers is None else workers
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if workers == 1 or len(jobs) <= 1:
        return [fn(*job) for job in jobs]
    with multiprocessing.get_context("spawn").Pool(min(workers, len(jobs)),
                                                   initializer=_worker_start) as pool:
        pending = pool.starmap_async(fn, jobs, chunksize=1)
        try:
            return pending.get()
        except KeyboardInterrupt:          # the workers got it too: wait while they save
            print("stopping: the runs save their checkpoints (Ctrl-C again to quit now)",
                  flush=True)
            return pending.get()
