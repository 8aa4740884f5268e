"""Worked solutions for lesson 05's exercises (try them first).

1. One read of a float32 (1024, 2816) matrix at 20 GB/s.
   bytes = 4 x 1024 x 2816 = 11,534,336 (11.5 MB);
   time  = 11,534,336 / 20e9 s = 0.577 ms.
   On the machine that ran the lesson, section 1 prints the same prediction from its own
   bandwidth, and section 2 the measured time of a 1-row product: the measurement can
   only be slower than the prediction when the weights come from memory.

2. The break-even at 25 GB/s and 300 GFLOP/s.
   read time    = 4 C F / 25e9          (bytes / bandwidth)
   compute time = 2 R C F / 300e9       (FLOPs / FLOP rate)
   equal when 2 R / 300e9 = 4 / 25e9, so R* = 2 x 300 / 25 = 24 rows.
   Below 24 rows the product waits for memory and extra rows are nearly free (with a
   kernel that reads each weight once); above it every row costs its arithmetic.
   Change one thing: bfloat16 weights are 2 bytes, so the read time halves and
   R* = 300 / 25 = 12: the arithmetic catches up with the reading at half the rows.
   Smaller weights make decoding faster, and the extra rows stop being free sooner.
   (The common mistake is R* = FLOP rate / bandwidth = 12 for float32: forgetting that a
   float32 weight is 4 bytes and a row does 2 FLOPs with it.)

3. The weight bytes of one decode step.
   A pass reads every matrix of every layer once: wq, wk, wv, wo are (C, C), w1 and w3
   (C, F), w2 (F, C): 4 C^2 + 3 C F values per layer. The sequential schedule makes
   L passes per token, the parallel schedule one (that is PLT's saving). The output head
   (C, V) is read once per step, whatever the schedule. float32: 4 bytes per value.
   minplt.roofline.weight_bytes_per_step also counts the G-SWA gate (C, H) of the PLT
   families, and leaves out wk, wv in a pass whose loops all read a shared cache;
   neither changes the total by more than a fraction of a percent at the bench size.

4. The least time of a product of R rows.
   A kernel that reads every weight once, and computes on one block of weights while
   the next streams in, is limited by whichever takes longer:
       read       = 4 C F / bandwidth          (the same for every R)
       arithmetic = 2 R C F / FLOP rate        (grows with R)
       time       = max(read, arithmetic)
   At 25 GB/s and 300 GFLOP/s, for (1024, 2816): one read is 11,534,336 / 25e9 s
   = 0.461 ms; the arithmetic of one row 0.019 ms. Up to R* = 24 rows (exercise 2) the
   time stays 0.461 ms; at R = 64 the arithmetic sets it: 2 x 64 x 2,883,584 / 300e9 s
   = 1.23 ms. Row by row the same 64 rows would read the matrix 64 times: 29.5 ms.
   On the machine that ran the lesson, section 3 prints this bound ("max(read,
   arithmetic)") beside the packed product. The common mistake is adding the two
   times (read + arithmetic): that is a kernel that waits for each block of weights
   before it computes on it, and it is never below the bound.
"""


def weight_read_ms(cfg, schedule, gb_per_s):
    C, F, V = cfg.n_embd, cfg.d_ff, cfg.vocab_size
    passes = cfg.n_loops if schedule == "sequential" else 1
    values = passes * cfg.n_layer * (4 * C * C + 3 * C * F) + C * V
    return 4 * values / (gb_per_s * 1e9) * 1e3


def weight_read_ms_one_pass(cfg, schedule, gb_per_s):
    """A plausible mistake: one pass whatever the schedule (loop-2 would read like vanilla)."""
    C, F, V = cfg.n_embd, cfg.d_ff, cfg.vocab_size
    return 4 * (cfg.n_layer * (4 * C * C + 3 * C * F) + C * V) / (gb_per_s * 1e9) * 1e3


def product_ms(R, C, F, gb_per_s, gflop_per_s):
    read = 4 * C * F / (gb_per_s * 1e9)
    arithmetic = 2 * R * C * F / (gflop_per_s * 1e9)
    return 1e3 * max(read, arithmetic)


def product_ms_no_overlap(R, C, F, gb_per_s, gflop_per_s):
    """A plausible mistake: the read and the arithmetic one after the other."""
    return 1e3 * (4 * C * F / (gb_per_s * 1e9) + 2 * R * C * F / (gflop_per_s * 1e9))


SOLUTIONS = {
    "check_read_ms": 4 * 1024 * 2816 / 20e9 * 1e3,       # 0.577 ms
    "check_break_even": 2 * 300 / 25,                     # 24 rows
    "check_weight_read_ms": weight_read_ms,
    "check_product_ms": product_ms,
}

WRONG = {
    "check_read_ms": 1024 * 2816 / 20e9 * 1e3,           # forgot 4 bytes per float32
    "check_break_even": 300 / 25,                         # forgot 4 bytes and 2 FLOPs
    "check_weight_read_ms": weight_read_ms_one_pass,
    "check_product_ms": product_ms_no_overlap,
}
