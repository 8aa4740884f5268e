"""Checkpoint files: a round trip keeps everything, and every broken file is a clear
error that names it."""
import os

import numpy as np
import pytest

from minplt import checkpoint
from minplt import model as M


def tiny(family, n_loops=None):
    return M.make_config(family, n_loops, "tiny", vocab_size=13, window=3)


def test_checkpoint_round_trip(tmp_path):
    cfg = tiny("plt", 3)
    params = M.init_params(cfg, 5)
    path = tmp_path / "ckpt.npz"
    checkpoint.save(str(path), params, cfg, meta={"step": 7}, extra={"x": np.arange(3)})
    ck = checkpoint.load(str(path))
    assert ck.config == cfg and ck.meta == {"step": 7}
    np.testing.assert_array_equal(ck.extra["x"], np.arange(3))
    for name in params:
        np.testing.assert_array_equal(ck.params[name], params[name])
    assert [f for f in os.listdir(tmp_path) if f != "ckpt.npz"] == []  # no temp files left


def test_broken_checkpoints_give_clear_errors(tmp_path):
    cfg = tiny("plt", 2)
    params = M.init_params(cfg, 0)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        checkpoint.load(str(tmp_path / "missing.npz"))
    good = tmp_path / "good.npz"
    checkpoint.save(str(good), params, cfg)
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good.read_bytes()[:500])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        checkpoint.load(str(truncated))
    nan_params = {k: v.copy() for k, v in params.items()}
    nan_params["layers.1.w2"][0, 0] = np.nan
    bad = tmp_path / "nan.npz"
    checkpoint.save(str(bad), nan_params, cfg)
    with pytest.raises(ValueError, match="layers.1.w2 contains NaN"):
        checkpoint.load(str(bad))
    wrong_shape = dict(params, lm_head=np.zeros((3, 3), np.float32))
    bad = tmp_path / "shape.npz"
    checkpoint.save(str(bad), wrong_shape, cfg)
    with pytest.raises(ValueError, match="lm_head has shape"):
        checkpoint.load(str(bad))
    old = tmp_path / "old.npz"
    checkpoint.FORMAT_VERSION, saved = 0, checkpoint.FORMAT_VERSION
    try:
        checkpoint.save(str(old), params, cfg)
    finally:
        checkpoint.FORMAT_VERSION = saved
    with pytest.raises(ValueError, match="format version 0"):
        checkpoint.load(str(old))
    plain = tmp_path / "plain.npz"
    np.savez(plain, a=np.zeros(3))
    with pytest.raises(ValueError, match="not a minplt checkpoint"):
        checkpoint.load(str(plain))
