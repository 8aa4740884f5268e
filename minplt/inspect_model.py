"""Look inside a trained model: `python -m minplt inspect CKPT --prompt TEXT`.

Runs the training forward over the prompt and draws, as PNGs with the prompt's
characters on both axes:

    attention_loop<l>_layer<j>.png   every head's attention weights in loop l, layer j
                                     (query positions down, key positions across); for
                                     G-SWA a second row: the local window's weights
    gates.png                        G-SWA models only: the gate g of every head and
                                     position in loops >= 2 (1 = all global attention
                                     over loop 1's keys, 0 = all local window)

The model and the gate are described in docs/method.md §5. For a task checkpoint the
default prompt is a validation question with its answer, so the answer positions show
where the model looks.
"""
from __future__ import annotations

import argparse
import os

import numpy as np

# How a special character is written on an axis, so every position has a visible label.
VISIBLE = {"\n": "\u23ce", " ": "\u2423", "\t": "\u21e5"}


def attention_maps(params, cfg, idx) -> list[list[dict]]:
    """[loop][layer] -> {'probs': (H,T,T), 'probs_loc': (H,T,T) or None, 'gate': (T,H) or
    None} for one sequence idx (T,). The one place that reads the forward's saved
    activations (model.forward(...)[2]); it takes dicts or objects with those names."""
    from minplt import model

    def get(saved, name):
        return saved.get(name) if isinstance(saved, dict) else getattr(saved, name, None)

    _, _, saved = model.forward(params, cfg, np.asarray(idx)[None])
    maps = []
    for loop in get(saved, "loops"):
        maps.append([{name: None if get(block, name) is None else get(block, name)[0]
                      for name in ("probs", "probs_loc", "gate")}
                     for block in get(loop, "layers")])
    return maps


def labels(text: str) -> list[str]:
    return [VISIBLE.get(c, c) for c in text]


def attention_figure(block: dict, text: str, title: str, window: int | None = None):
    """One row of heads (and a second row for the local window of G-SWA)."""
    from matplotlib.figure import Figure

    rows = [("attention", block["probs"], None)]
    if block["probs_loc"] is not None:
        rows = [("global: loop 1's keys", block["probs"], None),
                (f"local: window W={window}", block["probs_loc"], window)]
    H, T = block["probs"].shape[0], len(text)
    size = max(2.2, 0.18 * T)
    fig = Figure(figsize=(size * H + 1, size * len(rows) + 0.8), layout="constrained")
    axes = fig.subplots(len(rows), H, squeeze=False)
    query, key = np.arange(T)[:, None], np.arange(T)[None, :]
    for r, (name, probs, w) in enumerate(rows):
        hidden = key > query if w is None else (key > query) | (query - key >= w)
        for h in range(H):
            ax = axes[r, h]
            image = ax.imshow(np.ma.masked_array(probs[h], hidden), vmin=0, vmax=1,
                              cmap="viridis")
            ax.set_xticks(range(T), labels(text), fontsize=7, family="monospace")
            ax.set_yticks(range(T), labels(text), fontsize=7, family="monospace")
            ax.set_title(f"{name}, head {h + 1}", fontsize=8)
            if h == 0:
                ax.set_ylabel("query (position)")
            if r == len(rows) - 1:
                ax.set_xlabel("key (position)")
    fig.colorbar(image, ax=axes, shrink=0.8, label="attention weight")
    fig.suptitle(title)
    return fig


def gates_figure(maps: list[list[dict]], text: str, title: str):
    """The G-SWA gate of loops >= 2: one panel per (layer, loop), positions down, heads across."""
    from matplotlib.figure import Figure

    n_layer, n_loops = len(maps[0]), len(maps)
    T = len(text)
    fig = Figure(figsize=(2.2 * (n_loops - 1) + 1.5, max(3, 0.18 * T) * n_layer),
                 layout="constrained")
    axes = fig.subplots(n_layer, n_loops - 1, squeeze=False)
    for j in range(n_layer):
        for loop in range(1, n_loops):
            ax, gate = axes[j, loop - 1], maps[loop][j]["gate"]            # (T,H)
            image = ax.imshow(gate, vmin=0, vmax=1, cmap="coolwarm", aspect="auto")
            ax.set_yticks(range(T), labels(text), fontsize=7, family="monospace")
            ax.set_xticks(range(gate.shape[1]), [str(h + 1) for h in range(gate.shape[1])])
            ax.set_xlabel("head")
            ax.set_title(f"loop {loop + 1}, layer {j + 1}", fontsize=8)
    fig.colorbar(image, ax=axes, shrink=0.8, label="gate g (1 = global, 0 = local window)")
    fig.suptitle(title)
    return fig


def inspect(path: str, prompt: str | None, out_dir: str | None = None, seed: int = 0) -> list[str]:
    """Write the PNGs for checkpoint `path` into out_dir (default: beside the checkpoint,
    in inspect/). Returns the paths written."""
    from minplt import checkpoint
    from minplt.cli import check_prompt, load_model

    out_dir = out_dir or os.path.join(os.path.dirname(os.path.abspath(path)), "inspect")
    checkpoint.check_out_folder(out_dir)
    if prompt is not None:
        check_prompt(prompt)
    ckpt, tokenizer, task = load_model(path)
    cfg = ckpt.config
    if prompt is None:
        if task is None:
            raise ValueError(f"{path} was trained on text: give the text to look at with "
                             "--prompt TEXT")
        question, answer = task.sample("val", np.random.default_rng(seed))
        prompt = task.layout(question, answer)[0]     # the line as the model was trained on it
    idx = tokenizer.encode(prompt)              # a byte model: one token per UTF-8 byte
    if len(idx) > cfg.block_size:
        raise ValueError(f"--prompt has {len(idx)} tokens, the model reads at most "
                         f"{cfg.block_size} (its block_size); shorten it")
    maps = attention_maps(ckpt.params, cfg, idx)
    os.makedirs(out_dir, exist_ok=True)
    written = []
    for loop, layers in enumerate(maps):
        for j, block in enumerate(layers):
            title = (f"{cfg.variant}: loop {loop + 1} of {cfg.n_loops}, layer {j + 1} of "
                     f"{cfg.n_layer}")
            fig = attention_figure(block, prompt, title, cfg.window)
            written.append(os.path.join(out_dir, f"attention_loop{loop + 1}_layer{j + 1}.png"))
            fig.savefig(written[-1], dpi=110)
    if cfg.gswa:
        fig = gates_figure(maps, prompt, f"{cfg.variant}: G-SWA gates")
        written.append(os.path.join(out_dir, "gates.png"))
        fig.savefig(written[-1], dpi=110)
    return written


# ----------------------------------------------------------------------------------------
# The command line: python -m minplt inspect CKPT --prompt TEXT

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", help="a .npz written by `minplt train` or the demo")
    parser.add_argument("--prompt", help="the text to run through the model (default for a "
                        "task: a validation question with its answer)")
    parser.add_argument("--out", help="folder for the PNGs (default: inspect/ beside the "
                        "checkpoint)")
    parser.add_argument("--seed", type=int, default=0, help="which validation question")


def run(args) -> int:
    written = inspect(args.checkpoint, args.prompt, args.out, args.seed)
    print(f"wrote {len(written)} figures to {os.path.dirname(written[0])}/:")
    for path in written:
        print(f"  {os.path.basename(path)}")
    return 0
