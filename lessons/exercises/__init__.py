"""Checks for the lessons' exercises: `exercises/exNN.py` holds lesson NN's.

Every lesson ends with 2-4 exercises of graded difficulty (predict, then run; change one
thing and explain what moved; implement a small piece). Each has a `check_...` function
that tells the learner whether their answer is right:

    from exercises.ex02 import check_kv_bytes
    my_answer = None            # replace None with your answer, then run the cell
    check_kv_bytes(my_answer)

A check prints one line (right, not yet and why, or not answered) and returns True only
for a right answer. It never raises on the learner's answer: an answer that is a
function is called inside the check, and an error in it is reported as a wrong answer,
with the error. Worked solutions are in `lessons/solutions/exNN.py`, and the test suite
runs each of them through its check (`tests/test_exercises.py`), together with a wrong
answer that the check must refuse.

The helpers below are what the checks have in common.
"""
import math
import traceback

import numpy as np


def unanswered(answer, name="your answer"):
    """True (and a line saying what to do) when the learner left the placeholder."""
    if answer is None or answer is Ellipsis:
        print(f"… not answered yet: replace None with {name}, then run the cell again.")
        return True
    return False


def right(message):
    print(f"✓ right: {message}")
    return True


def wrong(message, hint=None):
    print(f"✗ not yet: {message}" + (f"\n  hint: {hint}" if hint else ""))
    return False


def as_number(answer):
    """float(answer), or None when it is not a single finite number."""
    try:
        x = float(np.asarray(answer).item()) if np.ndim(answer) == 0 else None
    except (TypeError, ValueError):
        return None
    return x if x is not None and math.isfinite(x) else None


def check_number(answer, expected, what, rel=1e-6, abs_tol=0.0, hint=None):
    """A numeric answer against the value the check computed itself."""
    if unanswered(answer, what):
        return False
    x = as_number(answer)
    if x is None:
        return wrong(f"expected one number for {what}, got {answer!r}", hint)
    if math.isclose(x, expected, rel_tol=rel, abs_tol=abs_tol):
        return right(f"{what} = {expected:,.6g}")
    return wrong(f"{what}: you said {x:,.6g}", hint)


def check_choice(answer, expected, choices, what, explanation, hint=None):
    """An answer that is one of a few named options (case and spaces ignored)."""
    if unanswered(answer, f"one of {choices}"):
        return False
    given = str(answer).strip().lower()
    options = [str(c).strip().lower() for c in choices]
    if given not in options:
        return wrong(f"{answer!r} is not one of {list(choices)}", hint)
    if given == str(expected).strip().lower():
        return right(f"{what}: {expected}. {explanation}")
    return wrong(f"{what}: not {answer!r}", hint)


def call(function, *args, **kwargs):
    """(True, result) or (False, a short error) for the learner's function."""
    if not callable(function):
        return False, f"expected a function, got {type(function).__name__}"
    try:
        return True, function(*args, **kwargs)
    except Exception as error:                      # the learner's code: report, don't raise
        frame = traceback.extract_tb(error.__traceback__)[-1]
        return False, f"{type(error).__name__}: {error} (line {frame.lineno} of {frame.name})"


def same_array(got, want, what, atol=1e-9, hint=None):
    """The learner's array against the reference: shape first, then the values."""
    got = np.asarray(got)
    if got.shape != np.shape(want):
        return wrong(f"{what} has shape {got.shape}, expected {np.shape(want)}", hint)
    err = float(np.max(np.abs(got.astype(np.float64) - want))) if got.size else 0.0
    if not err <= atol:
        return wrong(f"{what} differs from the reference by up to {err:.3g}", hint)
    return True
