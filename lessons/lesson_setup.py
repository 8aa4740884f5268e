"""What every lesson's first cell does, in one place:

    from lesson_setup import FAST, M, data, np, plt

- FAST: MINPLT_FAST=1 in the environment selects the quick version (fewer steps,
  smaller shapes; the test suite runs it), anything else the full one;
- minplt importable from lessons/ without installing it (the folder above goes on
  sys.path);
- figures inline and small, numpy printing short;
- one line saying which version runs.

It also holds the one decode timer that lessons 02 and 03 share, `decode_times`.

The lessons import it from their own folder (the working directory of a notebook's
kernel, in JupyterLab and in `make lessons` alike).
"""
import os
import sys
from pathlib import Path

FAST = os.environ.get("MINPLT_FAST", "") not in ("", "0")

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import matplotlib                      # noqa: E402  (after the path, before pyplot)
import numpy as np                     # noqa: E402

try:                                   # in a notebook: figures inline (as %matplotlib inline)
    from IPython import get_ipython
    if get_ipython() is not None:
        get_ipython().run_line_magic("matplotlib", "inline")
except ImportError:
    pass
import matplotlib.pyplot as plt        # noqa: E402

from minplt import data, timing        # noqa: E402
from minplt import model as M          # noqa: E402

plt.rcParams.update({"figure.dpi": 80, "savefig.dpi": 80, "figure.figsize": (6, 3.5)})
np.set_printoptions(precision=4, suppress=True, linewidth=100)

__all__ = ["FAST", "M", "data", "np", "plt", "matplotlib", "decode_times"]


def decode_times(params, cfg, prompt, n_steps, schedule="auto", repeats=1, backend="numpy"):
    """Seconds per decode step (the mean over n_steps greedy M.step calls), one value per
    repeat, each run from a fresh prefill of `prompt` that is not timed (minplt.timing)."""
    def fresh():
        logits, cache = M.prefill(params, cfg, prompt, capacity=len(prompt) + n_steps,
                                  backend=backend)
        return cache, int(np.argmax(logits))

    def decode(state):
        cache, token = state
        for _ in range(n_steps):
            token = int(np.argmax(M.step(params, cfg, cache, token, schedule)))

    return [seconds / n_steps for seconds in timing.repeat(decode, repeats, setup=fresh)]

print(f"MINPLT_FAST={'1 (quick version)' if FAST else 'off (full version)'}; numpy {np.__version__}")
