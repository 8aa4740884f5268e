"""Checks for lesson 02's exercises (looped transformers).

- check_loop_params: the parameter count of loop-6 (tiny preset, V = 40);
- check_passes: the passes a loop-4 model records to generate 10 tokens after 6;
- check_loop_kv_bytes: the KV cache's bytes of a vanilla or loop-L config.

Each prints one line and returns True only for a right answer (exercises/__init__.py).
"""
import numpy as np

from exercises import as_number, call, check_number, right, unanswered, wrong
from minplt import model as M

V = 40


def check_loop_params(answer):
    """Parameters of loop-6, tiny preset, V = 40 (counted from the model)."""
    cfg = M.make_config("loop", 6, "tiny", vocab_size=V)
    expected = M.count_params(M.init_params(cfg))
    return check_number(answer, expected, "the parameters of loop-6 (tiny, V = 40)",
                        hint="the loops reuse one stack: how many does vanilla have?")


def check_passes(answer):
    """len(trace) of M.generate for loop-4, a prompt of 6, 10 new tokens (measured)."""
    cfg = M.make_config("loop", 4, "tiny", vocab_size=V)
    prompt = np.arange(6) % V
    _, cache = M.generate(M.init_params(cfg, seed=0), cfg, prompt, 10, return_cache=True)
    return check_number(answer, len(cache.trace), "passes for 10 new tokens after a prompt of 6 "
                        "(loop-4)", hint="the prefill is L passes over the prompt and its logits "
                        "give the first new token; each further token costs L passes")


def check_loop_kv_bytes(function):
    """The learner's bytes against caches that M.generate filled, for four configs."""
    if unanswered(function, "your function my_kv_bytes"):
        return False
    if not callable(function):
        return wrong(f"expected a function, got {type(function).__name__}")
    configs = [M.make_config("vanilla", None, "tiny", vocab_size=V),
               M.make_config("loop", 2, "tiny", vocab_size=V),
               M.make_config("loop", 3, "tiny", vocab_size=V, n_layer=3, n_embd=48),
               M.make_config("loop", 4, "tiny", vocab_size=V, dtype="float64")]
    for cfg, n_new in zip(configs, (5, 9, 3, 12)):
        _, cache = M.generate(M.init_params(cfg, seed=0), cfg, np.arange(7) % V, n_new,
                              return_cache=True)
        n_pos, want = int(cache.pos[0]), M.kv_cache_bytes(cfg, cache)
        ok, got = call(function, cfg, n_pos)
        if not ok:
            return wrong(f"for {cfg.variant} your function raised {got}")
        x = as_number(got)
        if x is None or x != want:
            return wrong(f"{cfg.variant} (NL={cfg.n_layer}, C={cfg.n_embd}, {cfg.dtype}) after "
                         f"{n_pos} positions: you said {got!r}, the cache holds {want:,} bytes",
                         "L caches, each n_pos positions of a key and a value per layer")
    return right("L · n_pos · 2 · NL · C · bytes per number, for every config")
