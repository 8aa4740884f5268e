"""Worked solutions for lesson 06's exercises (try them first).

check_bits_per_byte: bits are log2(1/p). At half the positions the right byte has
probability 1/8 (3 bits), at the other half 1/2 (1 bit): the mean is (3 + 1) / 2 = 2 bits
per byte. In nats the loss is (ln 8 + ln 2) / 2 = 2 ln 2; dividing by ln 2 gives 2.

check_paired_interval: the seed decides both the initial weights and the batches, so a
row and another row with the same seed share their luck. Subtract per seed first, then
treat the differences as the sample: mean ± t · s / √n, with s their standard deviation
(n - 1 in the denominator) and t the 97.5% quantile of Student's t with n - 1 degrees of
freedom (4.303 for three seeds). The interval is narrower than the rows' own spreads
whenever the seeds move both rows together.

check_clp_costs_most: under CLP, loop 2 at position t reads loop 1 at t - 1, so the
deepest view of the byte just read is one loop shallower. The committed run says where
that hurts most; the answer is computed from lessons/results/06_language.json (the
solution reads it the same way, so it stays right when the run is redone).
"""
import json
import math
from pathlib import Path

from minplt import language


def my_paired_interval(a, b):
    d = [x - y for x, y in zip(a, b)]
    n = len(d)
    mean = sum(d) / n
    s = math.sqrt(sum((v - mean) ** 2 for v in d) / (n - 1))
    t = {2: 4.303, 3: 3.182}[n - 1]
    return mean - t * s / math.sqrt(n), mean + t * s / math.sqrt(n)


def _worst_kind():
    report = json.loads((Path(__file__).resolve().parent.parent / "results" /
                         "06_language.json").read_text())
    by_kind = report["clp_cost"]["rows"]["loop+clp-2"]["by_kind"]
    return max((k for k in by_kind if by_kind[k]["mean"] is not None),
               key=lambda k: by_kind[k]["mean"])


def _best_kind():
    report = json.loads((Path(__file__).resolve().parent.parent / "results" /
                         "06_language.json").read_text())
    by_kind = report["clp_cost"]["rows"]["loop+clp-2"]["by_kind"]
    return min((k for k in by_kind if by_kind[k]["mean"] is not None),
               key=lambda k: by_kind[k]["mean"])


SOLUTIONS = {
    "check_bits_per_byte": 2.0,
    "check_paired_interval": my_paired_interval,
    "check_clp_costs_most": _worst_kind(),
}

WRONG = {
    "check_bits_per_byte": 2 * math.log(2),          # the loss in nats, not bits
    "check_paired_interval": lambda a, b: (min(a) - max(b), max(a) - min(b)),   # unpaired
    "check_clp_costs_most": _best_kind(),
}

assert set(language.POSITION_KINDS) >= {SOLUTIONS["check_clp_costs_most"]}
