"""lessons/claims.py: a measured claim says whether it held; a structural one stops the lesson."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lessons"))
import claims  # noqa: E402


def test_a_claim_that_holds_prints_its_numbers(capsys):
    assert claims.claim("PLT-2 costs at most 1.15x vanilla", 1.08 <= 1.15, ratio=1.08) is True
    assert capsys.readouterr().out.strip() == "✓ PLT-2 costs at most 1.15x vanilla: held  (ratio = 1.08)"


def test_a_claim_that_fails_says_so_and_the_lesson_goes_on(capsys):
    assert claims.claim("loop-2 costs twice vanilla", False, ratio=1.55, runs=3) is False
    out = capsys.readouterr().out
    assert out.startswith("✗ loop-2 costs twice vanilla: did NOT hold on this run")
    assert "ratio = 1.55, runs = 3" in out


def test_a_structural_claim_that_fails_stops_the_lesson(capsys):
    assert claims.must("same logits", True, max_abs_error=0.0) is True
    with pytest.raises(claims.ClaimFailed, match="same logits: did NOT hold"):
        claims.must("same logits", 3e-4 < 1e-9, max_abs_error=3e-4)


@pytest.mark.parametrize("value, shown", [(1234567, "1,234,567"), (0.5, "0.5"), (43.61, "43.61"),
                                          (2.5e-7, "2.5e-07"), (12345.6, "12,346"),
                                          (float("nan"), "nan"), (True, "True"), ("plt-2", "plt-2")])
def test_numbers_are_printed_short(value, shown):
    assert claims.fmt(value) == shown


def test_say_prints_outside_a_notebook(capsys):
    claims.say("On this run: **1.08x**.")
    assert capsys.readouterr().out == "On this run: **1.08x**.\n"
