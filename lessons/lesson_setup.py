"""What every lesson's first cell does, in one place:

    from lesson_setup import FAST, LECTURE, M, claim, data, must, np, plt, say

- FAST: MINPLT_FAST=1 in the environment selects the quick version (fewer steps,
  smaller shapes; the test suite runs it), anything else the full one;
- LECTURE: MINPLT_LECTURE=1 selects the lecture version, for a class: a lesson whose full
  version trains for minutes loads instead the results that the project's own command
  produced and committed (small JSON files beside the lessons, lessons/results/), and
  says so; everything else runs as in the full version;
- claim, must, say: claims checked in code (lessons/claims.py): a measured claim prints
  whether it held on this run, a structural one stops the lesson if it does not, and a
  summary is built from the measured values;
- minplt importable from lessons/ without installing it (the folder above goes on
  sys.path);
- figures inline and small, numpy printing short;
- one line saying which version runs.

It also hands lessons 02 and 03 the decode timer, `experiments.decode_times`.

The lessons import it from their own folder (the working directory of a notebook's
kernel, in JupyterLab and in `make lessons` alike).
"""
import os
import sys
from pathlib import Path

FAST = os.environ.get("MINPLT_FAST", "") not in ("", "0")
LECTURE = os.environ.get("MINPLT_LECTURE", "") not in ("", "0") and not FAST
PAPER = "arXiv 2510.24824"   # the Parallel Loop Transformer paper every lesson cites

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

from minplt import data                # noqa: E402
from minplt.experiments import decode_times  # noqa: E402  (shared by lessons 02, 03)
from minplt import model as M          # noqa: E402
from claims import claim, must, say    # noqa: E402  (lessons/claims.py)

plt.rcParams.update({"figure.dpi": 80, "savefig.dpi": 80, "figure.figsize": (6, 3.5)})
np.set_printoptions(precision=4, suppress=True, linewidth=100)

__all__ = ["FAST", "LECTURE", "PAPER", "M", "data", "np", "plt", "matplotlib", "decode_times",
           "claim", "must", "say"]

VERSION = ("quick version" if FAST else
           "lecture version (committed results are loaded where the full version trains)"
           if LECTURE else "full version")
print(f"MINPLT_FAST={'1' if FAST else 'off'}, MINPLT_LECTURE={'1' if LECTURE else 'off'}: "
      f"the {VERSION}; numpy {np.__version__}")
