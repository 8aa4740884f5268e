"""Worked solutions to lesson 02's exercises (try them first).

1. Parameters of loop-6. Every loop runs the same stack, so a looped model has the
   parameters of its stack, once: loop-6 has exactly vanilla's count for the same preset
   and vocabulary. For the tiny preset with V = 40 (C = 32, NL = 2, F = 64):
       embedding and head   2 · V · C          = 2,560
       per block            4 C² + 3 C F + 2 C = 10,304   (wq wk wv wo, w1 w3 w2, 2 gains)
       two blocks                               = 20,608
       final norm           C                  = 32
   in all 23,200, the table's vanilla row. Multiplying by L (WRONG below) counts the
   shared stack six times.

2. Passes for 10 tokens after a prompt of 6, loop-4. The prefill runs each of the 4 loops
   once over the 6 prompt positions: 4 passes, whose logits at the last position give the
   first new token. Each of the other 9 new tokens is fed back and takes 4 sequential
   passes: 36. In all 4 + 36 = 40. (The 10th token is produced but not fed back.) Counting
   4 passes for every one of the 10 new tokens on top of the prefill gives 44 (WRONG).

3. KV bytes of loop-L. Without KV sharing every loop keeps its own full cache, so
       bytes = L · n_pos · 2 · NL · C · itemsize
   (L caches; n_pos positions; a key and a value; NL layers; C numbers; 4 bytes in
   float32, 8 in float64). For vanilla L = 1. Forgetting the factor L (WRONG below) gives
   vanilla's bytes for every family.
"""
import numpy as np


def loop6_params(V=40, C=32, NL=2, F=64):
    block = 4 * C * C + 3 * C * F + 2 * C
    return 2 * V * C + NL * block + C              # 23,200


def kv_bytes(cfg, n_pos):
    return cfg.n_loops * n_pos * 2 * cfg.n_layer * cfg.n_embd * np.dtype(cfg.dtype).itemsize


def kv_bytes_without_L(cfg, n_pos):
    return n_pos * 2 * cfg.n_layer * cfg.n_embd * np.dtype(cfg.dtype).itemsize


SOLUTIONS = {
    "check_loop_params": loop6_params(),
    "check_passes": 4 + 9 * 4,
    "check_loop_kv_bytes": kv_bytes,
}
WRONG = {
    "check_loop_params": 6 * loop6_params(),
    "check_passes": 4 + 10 * 4,
    "check_loop_kv_bytes": kv_bytes_without_L,
}
