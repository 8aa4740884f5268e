"""`python -m minplt inspect`: every loop's and layer's attention, and the G-SWA gates,
as PNGs labelled with the prompt's characters."""
import numpy as np
import pytest

from minplt import checkpoint, cli, data, inspect_model
from minplt import model as M


def save_task_model(path, variant):
    task = data.make_task("sort", length=4)
    cfg = M.make_config(variant, vocab_size=task.vocab_size, n_layer=2)
    checkpoint.save(str(path), M.init_params(cfg, 0), cfg,
                    meta={"tokenizer": task.tokenizer.to_dict(),
                          "data": {"kind": "task", "name": "sort", "kwargs": task.config()}})
    return cfg


@pytest.mark.parametrize("variant, names", [
    ("plt-2", ["attention_loop1_layer1.png", "attention_loop1_layer2.png",
               "attention_loop2_layer1.png", "attention_loop2_layer2.png", "gates.png"]),
    ("vanilla", ["attention_loop1_layer1.png", "attention_loop1_layer2.png"]),
])
def test_inspect_writes_every_loop_and_layer(tmp_path, capsys, variant, names):
    save_task_model(tmp_path / "ckpt.npz", variant)
    assert cli.main(["inspect", str(tmp_path / "ckpt.npz")]) == 0      # default prompt
    written = sorted(p.name for p in (tmp_path / "inspect").iterdir())
    assert written == names
    assert all((tmp_path / "inspect" / n).stat().st_size > 1000 for n in names)
    assert f"wrote {len(names)} figures" in capsys.readouterr().out


def test_maps_are_the_forward_s_and_the_axes_carry_the_characters(tmp_path):
    cfg = save_task_model(tmp_path / "ckpt.npz", "plt-2")
    ckpt, tokenizer, _ = cli.load_model(str(tmp_path / "ckpt.npz"))
    prompt = "dbca=abcd"
    maps = inspect_model.attention_maps(ckpt.params, cfg, tokenizer.encode(prompt))
    T = len(prompt)
    assert len(maps) == 2 and len(maps[0]) == 2
    first, later = maps[0][0], maps[1][0]
    assert first["probs"].shape == (cfg.n_head, T, T) and first["gate"] is None
    assert later["gate"].shape == (T, cfg.n_head) and later["probs_loc"].shape == (cfg.n_head, T, T)
    np.testing.assert_allclose(first["probs"].sum(-1), 1, rtol=1e-5)     # rows are weights
    assert np.all(np.triu(first["probs"][0], 1) == 0)                    # causal
    fig = inspect_model.attention_figure(later, prompt, "t", cfg.window)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == list(prompt)
    assert [t.get_text() for t in ax.get_yticklabels()] == list(prompt)
    assert len(fig.axes) == 2 * cfg.n_head + 1                           # global, local, bar
    assert inspect_model.labels("a b\n") == ["a", "\u2423", "b", "\u23ce"]


def test_inspect_errors(tmp_path, capsys):
    cfg = save_task_model(tmp_path / "ckpt.npz", "plt-2")
    ckpt = str(tmp_path / "ckpt.npz")
    for argv, message in ((["--prompt", "a" * (cfg.block_size + 1)], "shorten it"),
                          (["--prompt", "ab?"], "'?'"),
                          (["--out", ckpt], "is an existing file")):
        assert cli.main(["inspect", ckpt, *argv]) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, argv
    text = data.TextDataset("abcab" * 40, block_size=8)
    cfg = M.make_config("plt-2", vocab_size=text.vocab_size)
    checkpoint.save(str(tmp_path / "text.npz"), M.init_params(cfg, 0), cfg,
                    meta={"tokenizer": text.tokenizer.to_dict(),
                          "data": {"kind": "text", "source": "x.txt", "block_size": 8}})
    assert cli.main(["inspect", str(tmp_path / "text.npz")]) == 2
    assert "give the text to look at with --prompt" in capsys.readouterr().err
    assert cli.main(["inspect", str(tmp_path / "text.npz"), "--prompt", "abca"]) == 0
