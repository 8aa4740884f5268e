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


def write_with_header(path, header_text, cfg):
    """A checkpoint whose JSON header is replaced by `header_text`."""
    arrays = {"__header__": np.array(header_text)}
    arrays.update({f"param/{k}": v for k, v in M.init_params(cfg, 0).items()})
    np.savez(path, **arrays)
    return str(path)


@pytest.mark.parametrize("header, message", [
    ("{not json", "has a damaged header (not JSON)"),
    ("[1, 2, 3]", "has a damaged header: a JSON list, not an object"),
    ('{"format_version": 1, "config": [], "meta": {}}', "'config' is list, not an object"),
    ('{"format_version": 1, "config": {"n_embd": 32, "colour": 1}, "meta": {}}',
     "unknown config key(s) colour"),
    ('{"format_version": 1, "config": {"n_embd": 30, "n_head": 4}, "meta": {}}',
     "invalid config: config.n_embd (30) must be divisible"),
])
def test_damaged_headers_are_one_line_naming_the_file(tmp_path, header, message):
    path = write_with_header(tmp_path / "edited.npz", header, tiny("plt", 2))
    with pytest.raises(ValueError) as error:
        checkpoint.load(path)
    assert message in str(error.value) and path in str(error.value)
    assert "\n" not in str(error.value)


def test_random_bytes_get_no_pickle_advice(tmp_path):
    rng = np.random.default_rng(0)
    noise = tmp_path / "noise.npz"
    noise.write_bytes(rng.bytes(4096))
    with pytest.raises(ValueError) as error:
        checkpoint.load(str(noise))
    assert "truncated or corrupt" in str(error.value) and "pickle" not in str(error.value)
    # real zips with random bytes inside, as a plain member or after the .npy magic
    # (where numpy would advise allow_pickle=True)
    import io
    import zipfile
    pickled = io.BytesIO()
    np.save(pickled, np.array([1, None], dtype=object), allow_pickle=True)
    for name, content in (("param/wte.npy", rng.bytes(4096)),
                          ("param/wte.npy", b"\x93NUMPY\x01\x00" + rng.bytes(4096)),
                          ("extra/x.npy", pickled.getvalue())):
        member = tmp_path / "member.npz"
        with zipfile.ZipFile(member, "w") as z:
            z.writestr(name, content)
        with pytest.raises(ValueError) as error:
            checkpoint.load(str(member))
        assert "truncated or corrupt" in str(error.value), name
        assert "pickle" not in str(error.value)
    with pytest.raises(ValueError, match="is a folder"):
        checkpoint.load(str(tmp_path))


def test_out_folder_checks(tmp_path, read_only_folder):
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    with pytest.raises(ValueError, match="is an existing file, not a folder"):
        checkpoint.check_out_folder(str(a_file))
    with pytest.raises(ValueError, match="is a file, so the folder cannot be made"):
        checkpoint.check_out_folder(str(a_file / "sub"))
    checkpoint.check_out_folder(str(tmp_path / "new" / "deeper"))     # fine: will be made
    read_only = read_only_folder()
    with pytest.raises(ValueError, match="cannot write to .*read-only"):
        checkpoint.check_out_folder(str(read_only / "run"))
