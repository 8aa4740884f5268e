"""Fixtures shared by several test files."""
import os
import signal

import numpy as np
import pytest


def assert_close(got, ref, rtol):
    """Max error relative to the largest reference value (elementwise relative error is
    meaningless for entries that happen to be near 0); shapes and dtypes must match.
    For the kernels' tests against their NumPy references."""
    got, ref = np.asarray(got), np.asarray(ref)
    assert got.shape == ref.shape and got.dtype == ref.dtype, (got.shape, ref.shape, got.dtype)
    scale = max(float(np.max(np.abs(ref))), 1e-30)
    err = float(np.max(np.abs(got.astype(np.float64) - ref.astype(np.float64)))) / scale
    assert err <= rtol, f"relative error {err:.3g} > {rtol:.0e}"


@pytest.fixture
def read_only_folder(tmp_path, monkeypatch):
    """A function returning a folder this process cannot write to. As root, which writes
    anywhere, os.access is made to say the folder is read-only."""
    def make():
        folder = tmp_path / "read-only"
        folder.mkdir()
        folder.chmod(0o555)
        if os.geteuid() == 0:
            real = os.access
            monkeypatch.setattr(os, "access", lambda p, mode: False if str(p) == str(folder)
                                else real(p, mode))
        return folder
    return make


@pytest.fixture
def ctrl_c():
    """A function that sends a running process Ctrl-C (SIGINT), waits for it and returns
    its (stdout, stderr); a process still running after `timeout` s is killed."""
    def interrupt(proc, timeout=120):
        try:
            proc.send_signal(signal.SIGINT)
            return proc.communicate(timeout=timeout)
        finally:
            if proc.poll() is None:
                proc.kill()
    return interrupt
