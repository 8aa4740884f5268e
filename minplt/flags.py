"""Argument types for the command line's numeric flags: NaN and infinities are refused.

argparse's plain `type=float` takes "nan" and "inf" without a word, and a NaN learning
rate or temperature then ruins a run silently. Each type here raises
argparse.ArgumentTypeError, which argparse prints after the flag's name:

    minplt train: error: argument --lr: must be a finite number, got 'nan'

Every floating-point flag of every command uses one of these (tests/test_flags.py).
"""
from __future__ import annotations

import argparse
import math


def finite_float(text: str) -> float:
    """Any finite number."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


def positive_float(text: str) -> float:
    """A finite number > 0."""
    value = finite_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {text!r}")
    return value


def nonnegative_float(text: str) -> float:
    """A finite number >= 0."""
    value = finite_float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {text!r}")
    return value


def probability(text: str) -> float:
    """A number in (0, 1]: a top-p mass, a fraction."""
    value = finite_float(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must be a number in (0, 1], got {text!r}")
    return value
