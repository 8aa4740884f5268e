"""Claims checked in code: what a lesson says, printed beside the numbers that back it.

    from claims import claim, must, say

    claim("PLT-2 costs at most 1.15x vanilla at batch 1", ratio <= 1.15, ratio=ratio)
    must("decoding gives the forward's logits", err < 1e-9, max_abs_error=err)
    say(f"On this run PLT-2 took **{ratio:.2f}x** vanilla's time per token.")

- `claim` is for what is *measured*: a time, an accuracy, a ratio. It varies with the
  machine and the seed, so a claim that does not hold prints that it did not, with its
  numbers, and the lesson goes on. It is never silently wrong.
- `must` is for what is *structural*: equal logits, bytes equal to a formula, a gradient
  check. If it does not hold the code is wrong, so the lesson stops with an error.
- `say` shows a sentence built from the measured values (Markdown in a notebook, plain
  text elsewhere), so that a summary can never state a number the cells did not compute.

Each returns whether the claim held, so a lesson can branch on it (`if claim(...):`).
"""
import math

HELD, NOT_HELD = "held", "did NOT hold on this run"


class ClaimFailed(AssertionError):
    """A structural claim (`must`) that did not hold: the code, not the machine, is wrong."""


def fmt(value):
    """A number as a lesson prints it: 4 significant digits, thousands separated."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    try:
        x = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(x) or math.isinf(x):
        return str(x)
    if x != 0 and (abs(x) >= 1e6 or abs(x) < 1e-3):
        return f"{x:.3g}"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.4g}"


def _line(text, held, numbers):
    shown = ", ".join(f"{name} = {fmt(value)}" for name, value in numbers.items())
    mark = "✓" if held else "✗"
    return f"{mark} {text}: {HELD if held else NOT_HELD}" + (f"  ({shown})" if shown else "")


def claim(text, held, **numbers):
    """Print a measured claim, its numbers and whether it held on this run; return it."""
    held = bool(held)
    print(_line(text, held, numbers))
    return held


def must(text, held, **numbers):
    """A structural claim: print it like `claim`, and raise ClaimFailed if it did not hold."""
    held = bool(held)
    line = _line(text, held, numbers)
    print(line)
    if not held:
        raise ClaimFailed(line + " -- this is not a matter of machine or seed: the code "
                          "disagrees with what the lesson says it computes")
    return held


def say(markdown):
    """Show text built from measured values: rendered Markdown in a notebook, else print."""
    try:
        from IPython import get_ipython
        from IPython.display import Markdown, display
        if get_ipython() is not None:
            display(Markdown(markdown))
            return
    except ImportError:
        pass
    print(markdown)
