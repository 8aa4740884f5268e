"""Worked solutions for lesson 08's exercises (try them first).

1. One point of the roofline, by hand (vanilla and loop-L: no KV sharing, sequential).
   Weights: a pass reads every matrix of every layer once, 4 C^2 + 3 C F values per layer
   (wq, wk, wv, wo; w1, w3; w2), and loop-L makes L passes; the head (C, V) is read once
   per step. They are shared by the whole batch.
   Caches: every loop has its own full cache; a position holds a key and a value of C
   values in each of NL layers, 2 NL C values. A sequence's step reads L caches of n_pos
   positions. Each sequence has its own.
   FLOPs: every row does 2 FLOPs per weight of the stack in each loop, and attention
   over n_pos cached positions: q.k (C multiply-adds per key) and p.v (C per value) in
   each layer, 2 x 2 x NL x n_pos x C. The head's 2 C V once per sequence.
   All float32: 4 bytes per value.

   For PLT the same bookkeeping changes in two places (minplt/roofline.py does it): the
   parallel schedule makes one pass, so the weights are read once for all L rows, and
   with KV sharing the rows of loops 2..L read loop 1's cache in the same call as row 1
   (plus a G-SWA window of at most W positions each): the cache of loop 1 is read once.

2. loop-2, batch 16, 256 positions, 40 GB/s, 250 GFLOP/s (bench preset: C 1024, F 2816,
   NL 4, V 256).
   bytes = 2 x 4 x (4 C^2 + 3 C F) x 4 + C V x 4            = 412 MB of weights
         + 16 x 2 x 256 x (2 x 4 x 1024) x 4                 = 268 MB of caches
   read    = 680 MB / 40 GB/s   = 17.0 ms
   compute = 16 x [2 x (2 x 4 x (4 C^2 + 3 C F) + 4 x 4 x 256 x 1024) + 2 C V] FLOPs
           = 3.43 GFLOP / 250 GFLOP/s = 13.7 ms
   Memory-bound. The machine balance is 250 / 40 = 6.25 FLOP per byte. On the weights
   alone, 16 rows per pass give 8 FLOPs per weight byte, above the balance; but each
   sequence also brings its two caches (2 x 8.4 MB at 256 positions), and attention does
   4 FLOPs per cached key-value pair of 2 C values (8 C bytes): 0.5 FLOP per byte. The
   caches pull the step's intensity (3.43 GFLOP / 680 MB = 5.0) back below the balance.

3. PLT-2, parallel, 256 positions, 40 GB/s, 250 GFLOP/s.
   read(B)    = (W + B kv) / bandwidth     W: weights once, kv: one sequence's cache reads
   compute(B) = B f / rate                 f: one sequence's FLOPs (two rows)
   compute(B) > read(B)  <=>  B > (W / bandwidth) / (f / rate - kv / bandwidth)
   With the bench preset: W = 207 MB -> 5.17 ms; f = 0.216 GFLOP -> 0.86 ms per sequence;
   kv = loop 1's cache (8.4 MB) + a 64-position G-SWA window (2.1 MB) -> 0.26 ms per
   sequence. B > 5.17 / (0.86 - 0.26) = 8.6, so compute-bound from batch 9.
   (The common mistake: only the weights, 2 x balance = 12.5 rows per pass, 2 rows per
   sequence, so about 7 sequences. The caches add reading per sequence and push the
   point out.)
   Change one thing: at 1024 positions a sequence's cache reads grow fourfold while its
   arithmetic grows less (the products do not depend on the context), so the denominator
   shrinks and the crossover moves far out (batch 72 at these rates). For vanilla and
   loop-2 at 1024 positions it never comes: each sequence adds more reading than
   arithmetic. Long contexts keep decoding memory-bound.
"""


def step_point(cfg, batch, n_pos):
    C, F, V, NL, L = cfg.n_embd, cfg.d_ff, cfg.vocab_size, cfg.n_layer, cfg.n_loops
    stack = NL * (4 * C * C + 3 * C * F)                    # values of one pass's matrices
    weight_bytes = 4 * (L * stack + C * V)
    kv_bytes = batch * L * n_pos * 2 * NL * C * 4
    flops = batch * (L * (2 * stack + 4 * NL * n_pos * C) + 2 * C * V)
    return weight_bytes + kv_bytes, flops


def step_point_weights_per_row(cfg, batch, n_pos):
    """A plausible mistake: the weights read once per sequence, as if each sequence were
    decoded on its own (no sharing of the reads across the batch)."""
    nbytes, flops = step_point(cfg, batch, n_pos)
    C, F, V, NL, L = cfg.n_embd, cfg.d_ff, cfg.vocab_size, cfg.n_layer, cfg.n_loops
    return nbytes + (batch - 1) * 4 * (L * NL * (4 * C * C + 3 * C * F) + C * V), flops


SOLUTIONS = {
    "check_step_point": step_point,
    "check_bound": "memory",
    "check_free_rows_batch": 9,
}

WRONG = {
    "check_step_point": step_point_weights_per_row,
    "check_bound": "compute",
    "check_free_rows_batch": 7,              # the weights alone: 2 x balance / 2 rows
}
