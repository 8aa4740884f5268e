"""Checks for lesson 06 (the ablation on language). Each computes its answer from minplt
(or from the committed results of the language ablation) and never raises on yours."""
import json
import math
from pathlib import Path

from exercises import call, check_choice, check_number, right, unanswered, wrong

RESULTS = Path(__file__).resolve().parent.parent / "results" / "06_language.json"


def check_bits_per_byte(answer):
    """Predict, then run: a byte model gives the right next byte probability 1/8 at half
    the positions and 1/2 at the other half. Its loss in bits per byte?"""
    from minplt import corpus
    nats = (math.log(8) + math.log(2)) / 2                  # mean cross-entropy, nats
    return check_number(answer, corpus.bits_per_byte(nats), "bits per byte", rel=1e-3,
                        hint="bits are log2 of 1/p; average over the positions: "
                             "(log2 8 + log2 2) / 2")


def check_paired_interval(answer):
    """Implement: a function (a, b) -> (low, high), the 95% confidence interval of the
    mean of a - b paired by seed (Student's t, n - 1 degrees of freedom)."""
    from minplt import language
    if unanswered(answer, "your function my_paired_interval"):
        return False
    cases = [([1.30, 1.32, 1.29], [1.35, 1.36, 1.33]), ([2.0, 2.5, 2.1, 2.2], [2.1, 2.4, 2.0, 2.0])]
    for a, b in cases:
        ok, got = call(answer, a, b)
        if not ok:
            return wrong(f"your function raised {got}")
        want = language.paired_difference(a, b)
        try:
            low, high = (float(v) for v in got)
        except (TypeError, ValueError):
            return wrong(f"expected (low, high), got {got!r}")
        if not (math.isclose(low, want["low"], rel_tol=1e-3, abs_tol=1e-6)
                and math.isclose(high, want["high"], rel_tol=1e-3, abs_tol=1e-6)):
            return wrong(f"for a={a}, b={b} you gave ({low:.4f}, {high:.4f})",
                         "pair first: d_i = a_i - b_i; then mean(d) ± t * std(d) / sqrt(n), "
                         "with t = 4.303 for 3 seeds and 3.182 for 4 (std with n - 1)")
    return right("the interval is the mean of the per-seed differences ± t · s / √n")


def check_clp_costs_most(answer):
    """Predict, then look: after which kind of byte does CLP (loop+clp-2) lose most
    against loop-2, per prediction, in the committed run?"""
    from minplt import language
    report = json.loads(RESULTS.read_text())
    by_kind = report["clp_cost"]["rows"]["loop+clp-2"]["by_kind"]
    worst = max((k for k in by_kind if by_kind[k]["mean"] is not None),
                key=lambda k: by_kind[k]["mean"])
    return check_choice(answer, worst, language.POSITION_KINDS, "where CLP costs most",
                        f"loop+clp-2 loses {by_kind[worst]['mean']:+.3f} bits per byte there "
                        "against loop-2", hint="read the CLP table or the figure's left panel")
