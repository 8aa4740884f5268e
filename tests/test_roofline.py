"""The roofline model of a decode step: bytes and FLOPs counted by hand for small
configs, and the crossover batch where arithmetic overtakes reading."""

import pytest

from minplt import model as M
from minplt import roofline


def cfg_of(variant, **kw):
    return M.make_config(variant, preset="tiny", vocab_size=10, **kw)   # C 32, F 64, NL 2, W 4


def test_weight_bytes_match_the_parameters_a_step_reads():
    for variant in ("vanilla", "loop-2", "plt-3", "loop+clp+kvshare-2"):
        cfg = cfg_of(variant)
        params = M.init_params(cfg)
        stack = sum(v.nbytes for k, v in params.items()
                    if k.startswith("layers.") and v.ndim == 2)          # matrices of the stack
        head = params["lm_head"].nbytes
        # one parallel pass reads every matrix once (row 1 needs wk, wv); L passes L times
        assert roofline.weight_bytes_per_step(cfg, "parallel" if cfg.clp else "sequential") \
            == (stack if cfg.clp else cfg.n_loops * stack) + head, variant


def test_sequential_kvshare_passes_skip_the_key_and_value_matrices():
    cfg = cfg_of("loop+clp+kvshare-2")
    C, F, NL = 32, 64, 2
    full = NL * (4 * C * C + 3 * C * F) * 4
    no_kv = NL * (2 * C * C + 3 * C * F) * 4
    assert roofline.weight_bytes_per_step(cfg, "sequential") == full + no_kv + C * 10 * 4


def test_kv_bytes_read_per_family():
    n, c = 20, 2 * 2 * 32 * 4
    assert roofline.kv_bytes_read_per_sequence(cfg_of("vanilla"), n, "sequential") == n * c
    assert roofline.kv_bytes_read_per_sequence(cfg_of("loop-3"), n, "sequential") == 3 * n * c
    # PLT, parallel: loop 1's cache once for all rows, plus two windows of W = 4
    assert roofline.kv_bytes_read_per_sequence(cfg_of("plt-3"), n, "parallel") == n * c + 2 * 4 * c
    # the same model decoded sequentially reads loop 1's cache in each of its 3 passes
    assert roofline.kv_bytes_read_per_sequence(cfg_of("plt-3"), n, "sequential") == 3 * n * c + 2 * 4 * c


def test_flops_grow_with_rows_and_context():
    cfg = cfg_of("vanilla")
    C, F, NL, V, n = 32, 64, 2, 10, 7
    per_row = 2 * NL * (4 * C * C + 3 * C * F) + 4 * NL * n * C + 2 * C * V
    assert roofline.flops_per_step(cfg, 1, n, "sequential") == per_row
    assert roofline.flops_per_step(cfg, 5, n, "sequential") == 5 * per_row
    plt = cfg_of("plt-2")
    assert roofline.flops_per_step(plt, 1, n, "parallel") == roofline.flops_per_step(plt, 1, n, "sequential")


def test_crossover_batch_is_where_the_roofline_turns():
    cfg = cfg_of("plt-2")
    bw, rate = 20.0, 100.0
    b = roofline.crossover_batch(cfg, 8, "parallel", bw, rate)
    assert b is not None and b > 1
    assert roofline.predict_ms(cfg, b, 8, "parallel", bw, rate)["bound"] == "compute"
    assert roofline.predict_ms(cfg, b - 1, 8, "parallel", bw, rate)["bound"] == "memory"
    # a long context adds more reading per sequence than arithmetic: never compute-bound
    assert roofline.crossover_batch(cfg, 10**6, "parallel", 1.0, 1e6) is None


def test_no_overlap_is_read_plus_arithmetic():
    """The roofline takes the larger of read and arithmetic; no_overlap_ms their sum, at
    most twice the roofline (equal parts) and never below it."""
    cfg = cfg_of("plt-2")
    for batch in (1, 4, 64):
        p = roofline.predict_ms(cfg, batch, 8, "parallel", 20.0, 100.0)
        read = roofline.bytes_per_step(cfg, batch, 8, "parallel") / 20e9 * 1e3
        compute = roofline.flops_per_step(cfg, batch, 8, "parallel") / 100e9 * 1e3
        assert p["read_ms"] == pytest.approx(read) and p["compute_ms"] == pytest.approx(compute)
        assert p["no_overlap_ms"] == pytest.approx(read + compute)
        assert p["roofline_ms"] <= p["no_overlap_ms"] <= 2 * p["roofline_ms"]


def test_measured_rates_are_positive_numbers():
    assert roofline.measure_bandwidth(n_bytes=8 << 20, repeats=1) > 0
    assert roofline.measure_flop_rate(size=64, repeats=1) > 0


def test_weight_bytes_count_one_pass_per_schedule_pass():
    cfg = M.make_config("plt", 2, "tiny")
    params = M.init_params(cfg)
    stack = sum(params[f"layers.{j}.{w}"].nbytes for j in range(cfg.n_layer)
                for w in ("wq", "wk", "wv", "wo", "w1", "w3", "w2", "gate_w"))
    head = params["lm_head"].nbytes
    assert roofline.weight_bytes_per_step(cfg, "parallel") == stack + head
    # sequential: loop 1 has no gate; loop 2 reads the gate
    gate = sum(params[f"layers.{j}.gate_w"].nbytes for j in range(cfg.n_layer))
    assert roofline.weight_bytes_per_step(cfg, "sequential") == 2 * stack - gate + head
