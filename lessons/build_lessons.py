"""Write the lesson notebooks from the Python source in this file.

    python lessons/build_lessons.py            # write every lessons/NN_*.ipynb (no outputs)
    python lessons/build_lessons.py 03 04      # only these
    make lessons                               # then execute them in place, with outputs

A notebook here is a list of cells: `md(...)` for text, `code(...)` for code. The
notebooks stay thin: every cell imports what it needs from `minplt` and
`visualizations`, explains, measures and plots; none holds a copy of the model.
Every notebook reads MINPLT_FAST in its first cell: with MINPLT_FAST=1 (the test
suite) it uses fewer steps and smaller shapes, so the whole series runs in a few
minutes; without it (the committed outputs) it runs at the sizes the text talks about.
"""
from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent


def md(text: str):
    return nbformat.v4.new_markdown_cell(textwrap.dedent(text).strip("\n"))


def code(text: str):
    return nbformat.v4.new_code_cell(textwrap.dedent(text).strip("\n"))


# The first code cell of every notebook: the fast switch, imports, figure size.
SETUP = '''
import os, sys, time
FAST = os.environ.get("MINPLT_FAST", "") not in ("", "0")   # MINPLT_FAST=1: the quick version

import numpy as np
import matplotlib
import matplotlib.pyplot as plt
%matplotlib inline
plt.rcParams.update({"figure.dpi": 80, "savefig.dpi": 80, "figure.figsize": (6, 3.5)})
np.set_printoptions(precision=4, suppress=True, linewidth=100)

sys.path.insert(0, os.path.abspath(".."))      # run from lessons/ without installing
from minplt import model as M, data
print(f"MINPLT_FAST={'1 (quick version)' if FAST else 'off (full version)'}; numpy {np.__version__}")
'''


def setup(*extra_imports: str):
    """SETUP plus the notebook's own imports."""
    return code(SETUP + ("\n" + "\n".join(extra_imports) if extra_imports else ""))


NOTEBOOKS: dict[str, list] = {}


def notebook(name):
    def register(fn):
        NOTEBOOKS[name] = fn
        return fn
    return register


# ======================================================================================
@notebook("00_transformer_in_numpy")
def lesson_00():
    return [
        md("""
        # 00 · The transformer in NumPy

        Before looping anything, the plain transformer that every later lesson loops.
        This notebook shows, with `minplt/model.py` open beside it:

        1. **the forward pass**: token ids → embeddings → pre-norm blocks (RMSNorm,
           attention with RoPE, SwiGLU MLP) → logits, and what each tensor's shape is;
        2. **attention**: a causal softmax whose masked entries are *exactly* zero, and
           rotary positions that make a query·key score depend only on the offset;
        3. **the KV cache and decoding**: decoding one token at a time from a cache of
           keys and values gives the training forward's logits, reads the weights once per
           token, and grows by a fixed number of bytes per position.

        Everything is measured in the notebook; the numbers are printed next to the claims.
        """),
        setup(),
        md("""
        ## A model is a config and a dict of arrays

        `M.make_config(family, n_loops, preset)` builds a `Config`; the `vanilla` family
        is the plain transformer (one loop). Parameters are a flat dict `name -> array`,
        with the shapes listed at the top of `model.py`. The tokenizer is one token per
        character; here its vocabulary is the characters of Python's own documentation,
        the built-in text corpus (nothing is downloaded).
        """),
        code('''
        text = data.load_text("pydoc")
        tok = data.CharTokenizer.from_text(text)
        cfg = M.make_config("vanilla", preset="tiny", vocab_size=tok.vocab_size)
        params = M.init_params(cfg, seed=0)
        print(cfg)
        print(f"\\n{M.count_params(params):,} parameters; vocabulary of {tok.vocab_size} characters")
        for name, p in params.items():
            if not name.startswith("layers.") or name.startswith("layers.0."):
                print(f"  {name:20s} {str(p.shape):12s} {p.size:>7,}")
        print(f"  (layers.1.* has the same shapes as layers.0.*)")
        '''),
        md("""
        ## The forward pass, tensor by tensor

        `M.forward(params, cfg, idx, targets)` returns the logits `(B,T,V)`, the mean
        cross-entropy and a cache holding every intermediate the backward pass needs
        (lesson 01). The cache is also the easiest way to *look* at a forward pass: here
        are the tensors of layer 0 for one sentence, with the line of `block_forward` that
        made each.
        """),
        code('''
        sentence = "The loop runs the same stack again."
        ids = tok.encode(sentence)
        x, y = ids[None, :-1], ids[None, 1:]              # predict each next character
        logits, loss, cache = M.forward(params, cfg, x, y)
        layer0 = cache["loops"][0]["layers"][0]
        made_by = {
            "u": "block input: the token embeddings E = wte[idx]",
            "a": "a = RMSNorm(u; attn_norm)",
            "q": "q = RoPE(a @ wq), split into H heads of D",
            "k": "k = RoPE(a @ wk)",
            "v": "v = a @ wv",
            "probs": "softmax(q k^T / sqrt(D)), causal",
            "y": "y = probs @ v, heads merged",
            "u_mid": "u + y @ wo",
            "h1": "m @ w1 (m = RMSNorm(u_mid; mlp_norm))",
            "z": "z = silu(m w1) * (m w3)",
        }
        print(f"B={x.shape[0]}, T={x.shape[1]}, C={cfg.n_embd}, H={cfg.n_head}, "
              f"D={cfg.head_size}, F={cfg.d_ff}, V={cfg.vocab_size}\\n")
        for key, what in made_by.items():
            print(f"  {key:6s} {str(layer0[key].shape):16s} {what}")
        print(f"\\n  logits {logits.shape}: N(h) @ lm_head")
        print(f"\\nloss at initialisation: {loss:.3f}   vs ln(V) = {np.log(cfg.vocab_size):.3f} "
              "(a uniform guess over the vocabulary)")
        '''),
        md("""
        RMSNorm rescales each position's vector to root-mean-square 1 (times the gain,
        which starts at 1):
        """),
        code('''
        a = layer0["a"][0]                                   # (T,C)
        rms = np.sqrt(np.mean(a ** 2, axis=-1))
        print(f"RMS of the normed input at each position: min {rms.min():.6f}, max {rms.max():.6f}")
        print(f"RMS of the raw embeddings: {np.sqrt(np.mean(layer0['u'][0] ** 2)):.3f}")
        '''),
        md("""
        ## Attention: causal, masked entries excluded

        Query `t` may look at keys `s <= t`. The mask is applied by setting the scores of
        the other keys to `-inf` before the softmax, so they get a weight of *exactly* 0,
        not "almost 0" (a large finite negative number leaves a little weight behind that a
        model can learn to exploit). At initialisation the weights are tiny, all scores are
        close to 0, and each query spreads its attention evenly over its past: weight
        `1/(t+1)` on each of the `t+1` keys.
        """),
        code('''
        probs = layer0["probs"][0]                          # (H,T,T) for the one sequence
        T = probs.shape[-1]
        future = np.triu(np.ones((T, T), bool), k=1)        # key after query
        print(f"rows sum to 1: max |sum - 1| = {np.abs(probs.sum(-1) - 1).max():.1e}")
        print(f"weights on future keys: {np.count_nonzero(probs[:, future])} nonzero "
              f"of {probs[:, future].size} (max {probs[:, future].max()})")
        uniform = np.tril(1.0 / np.arange(1, T + 1)[:, None] * np.ones((T, T)))
        print(f"at init, max |probs - 1/(t+1)| = {np.abs(probs - uniform).max():.4f}")
        '''),
        md("""
        Untrained attention is boring to look at, so here are the same maps after
        spreading the weights out (parameters drawn with a standard deviation of 0.3 instead
        of 0.02): each head now prefers some keys over others, and every map is still lower
        triangular. Query position runs down, key position across; grey is weight exactly 0.
        """),
        code('''
        from visualizations import charts
        rng = np.random.default_rng(1)
        spread = {k: (v if v.ndim == 1 else rng.normal(0, 0.3, v.shape).astype(v.dtype))
                  for k, v in params.items()}
        spread_probs = M.forward(spread, cfg, x)[2]["loops"][0]["layers"][0]["probs"][0]
        charts.plot_attention(list(spread_probs), [f"layer 0, head {h}" for h in range(cfg.n_head)])
        '''),
        md("""
        ## Rotary positions: scores depend on the offset

        RoPE rotates each pair of channels of `q` and `k` by an angle proportional to the
        position. A rotation by `a` dotted with a rotation by `b` is a rotation by `b - a`,
        so the score of a query at `t` and a key at `s` depends on `t - s` only. Measured:
        the same query and key vectors placed at positions `(t, s)` and `(t + 40, s + 40)`.
        """),
        code('''
        D = cfg.head_size
        cos, sin = M.rope_tables(D, 64, cfg.rope_base)
        rng = np.random.default_rng(0)
        qv, kv = rng.normal(size=D), rng.normal(size=D)
        def score(t, s):
            return M.rope_forward(qv, cos[t], sin[t]) @ M.rope_forward(kv, cos[s], sin[s])
        for t, s in [(5, 2), (45, 42), (20, 17), (9, 0), (49, 40)]:
            print(f"query at {t:2d}, key at {s:2d} (offset {t - s}): score {score(t, s):+.6f}")
        '''),
        md("""
        ## The KV cache: decoding one token at a time

        Generating text means predicting one token, appending it, predicting the next.
        Re-running the forward over the whole prefix for every new token would redo the
        work of all earlier positions. Their keys and values do not change (causal
        attention: a later token never changes an earlier position), so decoding keeps them
        in a **KV cache**: `M.prefill` runs the forward over the prompt and stores every
        layer's keys and values; `M.step` then runs *one row* (the new token) through the
        stack, appends its key and value to the cache, and attends over the cache.

        The claim to check: stepping through a sequence reproduces the training forward's
        logits at every position.
        """),
        code('''
        seq = tok.encode("def loop(x): return stack(stack(x))")
        reference = M.forward(params, cfg, seq[None])[0][0]          # (T,V), the whole sequence at once
        P = 6                                                       # prompt length
        logits, kv = M.prefill(params, cfg, seq[:P], capacity=len(seq))
        decoded = [logits]
        bytes_per_position = 2 * cfg.n_layer * cfg.n_embd * 4       # K and V, all layers, float32
        for t in range(P, len(seq)):
            decoded.append(M.step(params, cfg, kv, int(seq[t])))
            if t < P + 3 or t == len(seq) - 1:
                print(f"after token {t:2d}: cache holds {kv.pos:2d} positions, "
                      f"{M.kv_cache_bytes(cfg, kv):6,} bytes = {kv.pos} x {bytes_per_position}")
        diff = np.abs(np.array(decoded) - reference[P - 1:]).max()
        print(f"\\ncache arrays: k {kv.k.shape} = (caches, NL, H, capacity, D)")
        print(f"max |decoded logits - forward logits| over {len(decoded)} positions: {diff:.2e}")
        '''),
        md("""
        ## What the cache buys: time per token

        Greedy generation two ways, on the `small` preset (C=128, 4 layers): with the
        cache (`M.generate`: one row per new token) and without it (run `M.forward` over
        the whole prefix again for every token, then take the last position's logits).
        Both must produce the same tokens; the cost per token of the second grows with the
        length of the prefix.
        """),
        code('''
        big = M.make_config("vanilla", preset="small", vocab_size=tok.vocab_size)
        big_params = M.init_params(big, seed=0)
        prompt = tok.encode("Return the ")
        n_new = 40 if FAST else 200

        t0 = time.perf_counter()
        with_cache = M.generate(big_params, big, prompt, n_new)
        time_cache = time.perf_counter() - t0

        without_cache, per_token = [], []
        tokens = list(prompt)
        for _ in range(n_new):
            times = []
            for _ in range(3):                       # best of 3: other programs only add time
                t0 = time.perf_counter()
                logits = M.forward(big_params, big, np.array(tokens)[None])[0][0, -1]
                times.append(time.perf_counter() - t0)
            per_token.append(min(times))
            tokens.append(int(np.argmax(logits)))
            without_cache.append(tokens[-1])

        print("same tokens:", np.array_equal(with_cache, without_cache))
        print(f"with the cache:    {1e3 * time_cache / n_new:6.2f} ms per token (whole run)")
        print(f"without the cache: {1e3 * np.mean(per_token[:10]):6.2f} ms per token for the first 10, "
              f"{1e3 * np.mean(per_token[-10:]):6.2f} ms for the last 10")

        # the cached step alone, at the end of the sequence
        step_times = []
        for _ in range(3):
            _, kv = M.prefill(big_params, big, np.array(tokens[:-1]), capacity=len(tokens))
            t0 = time.perf_counter(); M.step(big_params, big, kv, tokens[-1]); step_times.append(time.perf_counter() - t0)
        step_ms = 1e3 * min(step_times)
        fig, ax = plt.subplots()
        ax.plot(len(prompt) + np.arange(n_new), 1e3 * np.array(per_token), label="forward over the prefix")
        ax.axhline(step_ms, color="C1", label=f"one cached step ({step_ms:.2f} ms)")
        ax.set_xlabel("prefix length"); ax.set_ylabel("ms per new token"); ax.legend(); ax.grid(alpha=0.3)
        ax.set_title("Decoding with and without a KV cache (small preset, NumPy)")
        plt.show()
        '''),
        md("""
        ## Summary

        * A transformer here is a `Config` and a dict of arrays; the forward keeps every
          intermediate, whose shapes follow the legend `B, T, C, H, D, F, V`.
        * Causal attention gives masked keys weight exactly 0; each row of weights sums to 1.
          RoPE makes scores depend on the query–key offset only.
        * Decoding with a KV cache reproduces the training forward's logits (the printed
          difference is float32 round-off) and costs one row per token instead of a whole
          forward over the prefix; the cache grows by `2 · NL · C · 4` bytes per position.

        Next: the backward pass that trains all this (lesson 01), then what happens when the
        same stack is applied several times (lesson 02).
        """),
    ]


# ======================================================================================
@notebook("01_training_by_hand")
def lesson_01():
    return [
        md("""
        # 01 · Training by hand: the backward pass, checked

        minplt has no autograd. Every layer is a pair `*_forward` / `*_backward`; the
        forward returns what the backward needs, and the backward restates the forward line
        it differentiates. This notebook

        1. runs the backward pass of **one block** and checks every gradient against
           **finite differences** in float64;
        2. does the same for a whole **PLT-3** model, where gradients also flow through the
           cross-loop shift and into loop 1's shared keys and values;
        3. writes the training loop out by hand (forward, backward, clip, AdamW) and then
           trains a small model on text with `minplt.train.train`, showing the loss fall
           and the samples change.
        """),
        setup("from minplt import train", "from visualizations import charts"),
        md("""
        ## One block: forward, backward, finite differences

        Take the scalar `loss = sum(out * R)` of a block's output for a fixed random `R`.
        Then `d loss / d out = R`, which is what we hand to `block_backward`. It returns
        `d loss / d u` (the block's input) and adds the parameter gradients into `grads`.
        A central difference `(f(p + h) - f(p - h)) / 2h` estimates each of those numbers
        independently, to about `h^2 ~ 1e-12` in float64. We check *every* entry.
        Parameters are drawn far from their initial values so that nothing is trivially
        zero (attention not uniform, norms not 1).
        """),
        code('''
        cfg = M.make_config("vanilla", preset="tiny", vocab_size=16, n_embd=8, n_head=2,
                            d_ff=12, dtype="float64")
        rng = np.random.default_rng(0)
        def spread_params(cfg, rng):
            """Random parameters away from the init: gains ~1 +- 0.3, matrices N(0, 0.4)."""
            return {name: (1 + 0.3 * rng.normal(size=shape) if len(shape) == 1 and "gate" not in name
                           else rng.normal(0, 0.4, shape))
                    for name, shape in M.param_shapes(cfg).items()}
        params = spread_params(cfg, rng)
        B, T = 2, 6
        u = rng.normal(size=(B, T, cfg.n_embd))
        R = rng.normal(size=u.shape)                 # loss = sum(out * R)  =>  d loss / d out = R
        cos, sin = M.rope_tables(cfg.head_size, T, cfg.rope_base)

        def block_loss():
            out, _ = M.block_forward(params, cfg, 0, u, "own", None, cos, sin)
            return np.sum(out * R)

        out, c = M.block_forward(params, cfg, 0, u, "own", None, cos, sin)
        grads = {k: np.zeros_like(v) for k, v in params.items()}
        du = M.block_backward(params, cfg, 0, R, c, grads, None, cos, sin)

        def numeric_grad(array, h=1e-6):
            """Central differences of block_loss for every entry of `array` (changed in place, restored)."""
            g = np.zeros_like(array)
            for i in np.ndindex(array.shape):
                old = array[i]
                array[i] = old + h; up = block_loss()
                array[i] = old - h; down = block_loss()
                array[i] = old
                g[i] = (up - down) / (2 * h)
            return g

        def rel_error(a, b):
            return np.abs(a - b).max() / max(np.abs(a).max(), np.abs(b).max())

        t0 = time.perf_counter()
        print(f"{'tensor':20s} {'entries':>7s} {'max |grad|':>11s} {'rel. error':>11s}")
        rows = [("u (block input)", u, du)] + [(n, params[n], grads[n]) for n in params if n.startswith("layers.0.")]
        for name, array, analytic in rows:
            numeric = numeric_grad(array)
            print(f"{name:20s} {array.size:7d} {np.abs(analytic).max():11.4f} {rel_error(numeric, analytic):11.2e}")
        print(f"({time.perf_counter() - t0:.1f} s)")
        '''),
        md("""
        Relative errors around `1e-9` or below: the backward is right to the precision
        finite differences can resolve. (A wrong sign, a missing term or a transposed
        matrix shows up as an error of order 1.) Try it: change a line of `block_backward`
        and run this cell again.

        ## The whole model, loops included

        In a PLT-3 (cross-loop parallelism, shared KV cache, gated sliding-window
        attention) the gradient takes paths a plain transformer does not have:

        * from loop `l` at position `t` back to loop `l-1` at position `t-1`, through the
          shift `u^(l)_t = E_t + N(h^(l-1)_{t-1})`;
        * from every later loop into **loop 1's keys and values**, which they all read;
        * into the gate `g = sigmoid(a Wg + bg)` that mixes the global and local branches.

        `M.loss_and_grads` runs the forward and the backward; we check a few random entries
        of every parameter tensor, including the embedding rows that the batch uses.
        """),
        code('''
        cfg3 = M.make_config("plt", 3, "tiny", vocab_size=16, n_embd=8, n_head=2, d_ff=12,
                             window=3, dtype="float64")
        params3 = spread_params(cfg3, np.random.default_rng(1))
        rng = np.random.default_rng(2)
        x = rng.integers(0, cfg3.vocab_size, (2, 7))          # T=7 > W=3: the window slides
        y = rng.integers(0, cfg3.vocab_size, (2, 7))
        loss, grads3 = M.loss_and_grads(params3, cfg3, x, y)
        print(f"loss {loss:.4f}; checking {len(params3)} tensors")
        h, worst = 1e-5, 0.0
        for name, p in params3.items():
            if name == "wte":                                   # only rows of tokens in the batch get gradient
                candidates = [(int(t), j) for t in np.unique(x) for j in range(cfg3.n_embd)]
            else:
                candidates = list(np.ndindex(p.shape))
            picks = [candidates[i] for i in rng.choice(len(candidates), min(6, len(candidates)), replace=False)]
            numeric = []
            for i in picks:
                old = p[i]
                p[i] = old + h; up = M.forward(params3, cfg3, x, y)[1]
                p[i] = old - h; down = M.forward(params3, cfg3, x, y)[1]
                p[i] = old
                numeric.append((up - down) / (2 * h))
            analytic = np.array([grads3[name][i] for i in picks])
            err = rel_error(np.array(numeric), analytic)
            worst = max(worst, err)
            if not name.startswith("layers.1."):
                print(f"  {name:18s} rel. error {err:.1e}")
        print(f"  (layers.1.* checked too)\\nworst relative error over all {len(params3)} tensors: {worst:.1e}")
        '''),
        md("""
        ## The training loop, written out

        One optimisation step is four calls: forward + backward (`M.loss_and_grads`),
        clip the global gradient norm (`M.clip_grad_norm`), take the learning rate from the
        warm-up + cosine schedule (`M.lr_schedule`), and update with AdamW (`opt.step`).
        Here are the first steps on character-level text (Python's documentation, built in),
        with a tiny vanilla transformer. The loss starts at `ln V`, a uniform guess.
        """),
        code('''
        text = data.load_text("pydoc")
        dataset = data.TextDataset(text, block_size=64)
        cfg = M.make_config("vanilla", preset="tiny", vocab_size=dataset.vocab_size)
        params = M.init_params(cfg, seed=0)
        opt = M.AdamW(params, lr=3e-3, weight_decay=0.1)
        rng = np.random.default_rng(0)
        print(f"ln V = {np.log(cfg.vocab_size):.3f}")
        for step in range(5):
            x, y, _ = dataset.get_batch("train", 16, rng)
            loss, grads = M.loss_and_grads(params, cfg, x, y)       # forward + backward
            norm = M.clip_grad_norm(grads, 1.0)                     # global norm <= 1
            lr = M.lr_schedule(step, 3e-3, warmup=50, total=1000)   # warm-up, then cosine
            opt.step(params, grads, lr=lr)                          # AdamW, decay on matrices only
            print(f"step {step}: loss {loss:.3f}, gradient norm {norm:.3f}, lr {lr:.1e}")
        '''),
        md("""
        `minplt.train.train` is this loop plus evaluation on held-out text, logging,
        checkpoints and resuming. A short run:
        """),
        code('''
        steps = 60 if FAST else 800
        prompt = dataset.tokenizer.encode("The ")
        before = dataset.tokenizer.decode(M.generate(M.init_params(cfg, seed=0), cfg, prompt, 60))
        result = train.train(cfg, dataset, steps=steps, batch_size=16, lr=3e-3, warmup=20,
                             eval_every=max(steps // 8, 1), eval_batches=2, log_every=max(steps // 4, 1),
                             log=print)
        after = dataset.tokenizer.decode(M.generate(result.params, cfg, prompt, 60))
        print(f"\\nbefore training: {'The ' + before!r}\\nafter {steps} steps: {'The ' + after!r}")
        '''),
        code('''
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
        charts.plot_training_curves({"vanilla (tiny)": result.rows}, ax=axes[0], metric="loss")
        charts.plot_training_curves({"vanilla (tiny)": result.rows}, ax=axes[1], metric="val_loss")
        for ax in axes:
            ax.axhline(np.log(cfg.vocab_size), color="grey", linestyle=":", label="ln V")
            ax.legend(fontsize=8)
        plt.show()
        first, last = result.losses[0], float(np.mean(result.losses[-10:]))
        print(f"training loss: {first:.3f} at step 1, {last:.3f} averaged over the last 10 steps; "
              f"validation loss {result.val_loss:.3f}")
        '''),
        md("""
        ## Summary

        * Each layer's backward restates its forward and is checked against finite
          differences: every entry of one block agrees to about `1e-9` relative error.
        * The whole PLT-3, with the cross-loop shift, the shared KV cache and the G-SWA
          gates, passes the same check; the tests in `tests/test_model.py` run this for
          every family on every commit.
        * Training is four calls per step; `minplt.train.train` adds evaluation, logs and
          checkpoints. The loss falls from `ln V`, and the samples turn from random
          characters into something with the spacing and letters of English.
        """),
    ]


# ======================================================================================
@notebook("02_looped_transformers")
def lesson_02():
    return [
        md("""
        # 02 · Looped transformers: depth without parameters, and its price

        A looped transformer applies the **same** stack of `NL` blocks `L` times:
        `h^(1) = S(E)`, `h^(2) = S(h^(1))`, ... It has the depth of an `L·NL`-layer model
        and the parameters of an `NL`-layer one. This notebook measures

        1. the parameters: the same for every `L`;
        2. that loop-2 *is* a `2·NL`-layer transformer whose layers `j` and `j+NL` share
           weights (identical logits);
        3. the price when decoding: **L sequential passes per token** (from the decode
           trace, and in milliseconds) and an **L-fold KV cache** (in bytes): every loop has
           its own keys and values.

        Lesson 03 removes the first cost, lesson 04 the second.
        """),
        setup("from visualizations import schedule"),
        md("""
        ## Parameters: the same for every L
        """),
        code('''
        V = 40
        rows = [("vanilla", None, 2), ("loop", 2, 2), ("loop", 3, 2), ("loop", 4, 2),
                ("vanilla", None, 4), ("vanilla", None, 8)]
        print(f"{'model':18s} {'NL':>3s} {'L':>3s} {'depth NL*L':>11s} {'parameters':>11s}")
        for family, loops, n_layer in rows:
            cfg = M.make_config(family, loops, "tiny", vocab_size=V, n_layer=n_layer)
            n = M.count_params(M.init_params(cfg))
            print(f"{cfg.variant:18s} {n_layer:3d} {cfg.n_loops:3d} {n_layer * cfg.n_loops:11d} {n:11,}")
        '''),
        md("""
        ## Loop-2 is a deeper model with tied weights

        Without cross-loop parallelism (the vanilla looped transformer), loop 2's input is
        loop 1's output at the same position, `u^(2)_t = h^(1)_t`. So loop-2 with `NL`
        blocks computes exactly what a plain `2·NL`-block transformer computes when block
        `j + NL` is a copy of block `j`. Measured in float64:
        """),
        code('''
        looped = M.make_config("loop", 2, "tiny", vocab_size=V, dtype="float64")
        deep = M.make_config("vanilla", None, "tiny", vocab_size=V, n_layer=2 * looped.n_layer, dtype="float64")
        p_loop = M.init_params(looped, seed=3)
        p_deep = dict(p_loop)
        for j in range(looped.n_layer):                     # block j + NL := block j
            for name in M.param_shapes(looped):
                if name.startswith(f"layers.{j}."):
                    p_deep[name.replace(f"layers.{j}.", f"layers.{j + looped.n_layer}.")] = p_loop[name]
        tokens = np.random.default_rng(0).integers(0, V, (2, 30))
        diff = np.abs(M.forward(p_loop, looped, tokens)[0] - M.forward(p_deep, deep, tokens)[0]).max()
        print(f"loop-2 (NL={looped.n_layer}) vs vanilla (NL={deep.n_layer}, tied): max |logit difference| = {diff:.1e}")
        print(f"parameters: {M.count_params(p_loop):,} (looped) vs {M.count_params(M.init_params(deep)):,} (untied deep model)")
        '''),
        md("""
        ## Price 1: L passes per token

        Decoding a token with a looped model means running loop 1 on it, then loop 2 on
        loop 1's output, and so on: `L` passes through the stack, one after another, each
        reading every weight. The decode cache keeps a `trace` of which `(position, loop)`
        cells each pass computed. Here is loop-3 decoding 3 tokens after a prompt of 4:
        """),
        code('''
        cfg = M.make_config("loop", 3, "tiny", vocab_size=V)
        params = M.init_params(cfg, seed=0)
        new, cache = M.generate(params, cfg, np.array([1, 2, 3, 4]), 4, return_cache=True)
        for i, cells in enumerate(cache.trace):
            kind = "prefill" if i < cfg.n_loops else "decode "
            print(f"pass {i + 1:2d} ({kind}): {schedule.describe_pass(cells)}")
        print(f"\\npasses per decoded token: {schedule.passes_per_token(cache.trace)}")
        assert cache.trace == schedule.expected_trace(7, 3, "sequential", prompt_len=4)
        fig, ax = plt.subplots(figsize=(6, 2.6))
        schedule.draw_schedule(ax, 7, 3, clp=False, trace=cache.trace, prompt_len=4)
        ax.set_title("loop-3: numbers are pass numbers; each decoded token takes 3 passes", fontsize=10)
        plt.show()
        '''),
        md("""
        In milliseconds: decode the same tokens with vanilla, loop-2, loop-3 and loop-4 on
        the `small` preset (C=128, NL=4), NumPy backend, one sequence. Each model decodes
        after the same prompt; we time the decode steps only (not the prefill), run the
        four models in turn several times and keep each one's best run (other programs on
        the machine can only add time).
        """),
        code('''
        def decode_once(cfg, params, prompt, n_steps, schedule_name="auto", backend="numpy"):
            """ms per M.step over n_steps steps after prefilling `prompt`; and the cache at the end."""
            logits, cache = M.prefill(params, cfg, prompt, capacity=len(prompt) + n_steps)
            token = int(np.argmax(logits))
            t0 = time.perf_counter()
            for _ in range(n_steps):
                token = int(np.argmax(M.step(params, cfg, cache, token, schedule_name, backend)))
            return 1e3 * (time.perf_counter() - t0) / n_steps, cache

        n_steps, repeats = (10, 2) if FAST else (64, 5)
        prompt = np.random.default_rng(0).integers(0, V, 32)
        models = {}
        for loops in (1, 2, 3, 4):
            cfg = M.make_config("vanilla" if loops == 1 else "loop", None if loops == 1 else loops,
                                "small", vocab_size=V)
            models[loops] = (cfg, M.init_params(cfg, seed=0))
        results = {}
        for _ in range(repeats):              # interleaved, best of `repeats`: other programs only add time
            for loops, (cfg, params) in models.items():
                ms, cache = decode_once(cfg, params, prompt, n_steps)
                if loops not in results or ms < results[loops]["ms"]:
                    results[loops] = dict(variant=cfg.variant, ms=ms, kv=M.kv_cache_bytes(cfg, cache),
                                          passes=schedule.passes_per_token(cache.trace), n=cache.pos)
        base = results[1]
        print(f"{'model':9s} {'passes/token':>12s} {'ms/token':>9s} {'x vanilla':>9s} {'KV bytes':>10s} {'x vanilla':>9s}")
        for loops, r in results.items():
            print(f"{r['variant']:9s} {r['passes']:12d} {r['ms']:9.2f} {r['ms'] / base['ms']:9.2f} "
                  f"{r['kv']:10,} {r['kv'] / base['kv']:9.2f}")
        print(f"(KV bytes after {base['n']} positions)")
        '''),
        code('''
        Ls = np.array(list(results))
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
        axes[0].plot(Ls, [results[l]["ms"] for l in Ls], "o-", label="measured")
        axes[0].plot(Ls, Ls * base["ms"], ":", color="grey", label="L x vanilla")
        axes[0].set(xlabel="loops L", ylabel="ms per token", title="decode latency (small preset, NumPy)")
        axes[1].bar(Ls, [results[l]["kv"] / 1024 for l in Ls], color="C3")
        axes[1].plot(Ls, Ls * base["kv"] / 1024, "k_", markersize=30, label="L x vanilla")
        axes[1].set(xlabel="loops L", ylabel="KiB", title=f"KV cache after {base['n']} positions")
        for ax in axes:
            ax.set_xticks(Ls); ax.grid(alpha=0.3); ax.legend(fontsize=8)
        plt.show()
        '''),
        md("""
        ## Price 2: an L-fold KV cache

        Loop `l` attends over *its own* keys and values (computed from its own input), so
        each loop keeps a full cache: the decode cache of a loop-`L` model has `L` full
        caches, `cache.k.shape[0] == L`. The bytes above are exactly `L` times vanilla's,
        which is the spec's memory table, `L · N · c` with `c = 2 · NL · C · 4` bytes.
        """),
        code('''
        for loops in (2, 3, 4):
            cfg = M.make_config("loop", loops, "small", vocab_size=V)
            c = 2 * cfg.n_layer * cfg.n_embd * 4
            n = results[loops]["n"]
            print(f"loop-{loops}: cache.k holds {loops} full caches; measured {results[loops]['kv']:,} bytes, "
                  f"L*N*c = {loops}*{n}*{c} = {loops * n * c:,}, formula {M.kv_cache_bytes_formula(cfg, n):,}")
        '''),
        md("""
        ## Summary

        * Looping adds depth (`NL · L`) without adding parameters, and loop-2 is *exactly*
          a `2·NL`-layer transformer with tied blocks (logit difference ~`1e-15`).
        * Decoding pays for the depth: the trace shows `L` passes per token, and each extra
          loop adds the time of one more pass to every token (the parts of a step paid once,
          such as the output head and Python's overhead, keep the total below `L ×`).
        * Memory pays too: `L` full KV caches, `L` times vanilla's bytes, as in the spec's table.

        The Parallel Loop Transformer keeps the depth and removes both costs: cross-loop
        parallelism turns `L` passes into one (lesson 03), and KV sharing with a gated
        sliding window brings the cache back to about vanilla's size (lesson 04).
        """),
    ]


# ======================================================================================
@notebook("03_cross_loop_parallelism")
def lesson_03():
    return [
        md("""
        # 03 · Cross-loop parallelism: all loops of a token in one pass

        In a looped transformer, loop `l` at position `t` needs loop `l-1` at the **same**
        position, so the `L` loops of a new token run one after another (lesson 02).
        Cross-loop parallelism (CLP) moves that dependency **one position back**:

            u^(1)_t = E_t
            u^(l)_t = E_t + N(h^(l-1)_{t-1})        l = 2..L,   h_{-1} := 0

        Now the cells `(t, 1), (t, 2), ..., (t, L)` of the (token, loop) grid depend only on
        position `t-1`, not on each other, so one pass through the stack with `L` rows
        computes them all. The chain of one prediction runs along the **diagonal**: the
        state that predicts `x_{t+1}` began as token `x_{t-L+1}` in loop 1 and was refined
        by one loop per position. This notebook

        1. draws both schedules on the grid;
        2. checks the shift in the training forward;
        3. steps through a PLT-3 decode one token at a time and shows, from `cache.trace`,
           which cells each pass computes;
        4. measures that the parallel and sequential schedules give the same logits (and
           the same as the training forward), and how long each takes per token.
        """),
        setup("from visualizations import schedule", "from IPython.display import Image, display"),
        md("""
        ## The two schedules on the grid

        Position `t` runs across, loop `l` up. The number in a cell is the pass through the
        shared stack that computes it; arrows are what a loop's input depends on (attention
        to earlier positions is not drawn: every cell may read all earlier positions).
        Left, the looped transformer: vertical arrows, `L` passes per token. Right, PLT:
        diagonal arrows, one pass per token, computing a whole column.
        """),
        code('''
        schedule.plot_schedule(8, 3)
        '''),
        md("""
        ## The shift, in the training forward

        In training the loops still run one after another over the whole sequence (the
        teacher-forced sequence is known in advance), so the shift is a slice:
        `shifted[:, 1:] = N(h^(l-1))[:, :-1]`. The forward's cache keeps each loop's input
        `u` and output `h`; measured on a PLT-3:
        """),
        code('''
        V = 40
        cfg = M.make_config("plt", 3, "tiny", vocab_size=V, dtype="float64")
        rng = np.random.default_rng(0)
        params = {k: (v if v.ndim == 1 else rng.normal(0, 0.3, v.shape)) for k, v in M.init_params(cfg).items()}
        seq = rng.integers(0, V, 12)
        logits_fwd, _, fwd = M.forward(params, cfg, seq[None])
        E = params["wte"][seq]                                                 # (T,C)
        for l in (2, 3):
            u = fwd["loops"][l - 1]["u"][0]                                     # input of loop l, (T,C)
            h_prev = fwd["loops"][l - 2]["h"][0]                                # output of loop l-1, (T,C)
            Nh = M.rmsnorm_rows(h_prev, params["norm_f"], cfg.norm_eps)         # N(h^(l-1))
            print(f"loop {l}: max |u_t - E_t - N(h^({l-1})_(t-1))| for t >= 1: {np.abs(u[1:] - E[1:] - Nh[:-1]).max():.1e};"
                  f"  at t = 0, u_0 = E_0: {np.abs(u[0] - E[0]).max():.1e}")
        '''),
        md("""
        **The diagonal chain, measured.** Attention lets every cell read all earlier
        positions, which hides the hand-over between loops. Switch attention off (set every
        `wo` to 0, so each block is just its MLP) and what is left is the chain itself. Then
        change one token `x_s` and see which final outputs `h^(L)_t` move. In a PLT-3, `h^(3)_t`
        should depend on exactly `x_{t-2}, x_{t-1}, x_t` (loop 1 at `t-2`, loop 2 at `t-1`,
        loop 3 at `t`); in a loop-3 without CLP, on `x_t` alone.
        """),
        code('''
        def chain_dependence(cfg, params, seq):
            """(T, T) bool: entry [t, s] is True when changing x_s changes h^(L)_t."""
            no_attention = {k: (np.zeros_like(v) if k.endswith(".wo") else v) for k, v in params.items()}
            base = M.forward(no_attention, cfg, seq[None])[2]["loops"][-1]["h"][0]
            depends = np.zeros((len(seq), len(seq)), bool)
            for s in range(len(seq)):
                changed = seq.copy(); changed[s] = (changed[s] + 1) % cfg.vocab_size
                h = M.forward(no_attention, cfg, changed[None])[2]["loops"][-1]["h"][0]
                depends[:, s] = np.abs(h - base).max(axis=-1) > 1e-12
            return depends

        cfg_loop = M.make_config("loop", 3, "tiny", vocab_size=V, dtype="float64")
        fig, axes = plt.subplots(1, 2, figsize=(9, 4))
        for ax, (name, c) in zip(axes, [("PLT-3 (CLP)", cfg), ("loop-3 (no CLP)", cfg_loop)]):
            p = {k: (params[k] if k in params else np.zeros(shape)) for k, shape in M.param_shapes(c).items()}
            dep = chain_dependence(c, p, seq)
            print(f"{name:16s} h^(3)_11 depends on tokens {np.flatnonzero(dep[11]).tolist()}; "
                  f"tokens per output: {sorted(set(dep.sum(1).tolist()))}")
            ax.imshow(dep, cmap="Blues", vmin=0, vmax=1.4)
            ax.set(title=f"{name}, attention off", xlabel="changed token s", ylabel="output h^(3)_t")
        plt.show()
        '''),
        md("""
        ## Stepping through a decode

        `M.prefill` runs the training computation over the prompt (one pass per loop over
        all prompt positions) and keeps, besides the caches, the **carried states**
        `h^(l)_{P-1}`, `l = 1..L-1`: the states the next position's loops `2..L` start
        from. Then each `M.step_parallel` builds an `(L, C)` matrix of rows

            row 1: E_t
            row l: E_t + N(carried[l-1])           (= h^(l-1)_{t-1})

        runs it through the stack once, takes the logits from row `L`, and keeps rows
        `1..L-1` as the new carried states. `cache.trace` records the cells of every pass.
        Here is a PLT-3 decoding 5 tokens after a prompt of 3:
        """),
        code('''
        cfg32 = M.make_config("plt", 3, "tiny", vocab_size=V)
        p32 = M.init_params(cfg32, seed=0)
        P, n_new = 3, 5
        prompt = np.array([5, 6, 7])
        logits, cache = M.prefill(p32, cfg32, prompt, capacity=P + n_new)
        snapshots = [list(cache.trace)]
        print(f"prefill: {len(cache.trace)} passes; carried states {cache.carried.shape} = (L-1, C)")
        token = int(np.argmax(logits))
        for _ in range(n_new):
            carried_before = cache.carried.copy()
            logits = M.step_parallel(p32, cfg32, cache, token)
            last = cache.trace[-1]
            print(f"step at t={last[0][0]}: one pass computes {last}; "
                  f"carried states changed: {not np.allclose(carried_before, cache.carried)}")
            snapshots.append(list(cache.trace))
            token = int(np.argmax(logits))
        expected = schedule.expected_trace(P + n_new, 3, "parallel", prompt_len=P)
        print("trace == schedule.expected_trace(..., 'parallel'):", cache.trace == expected)
        print("passes per decoded token:", schedule.passes_per_token(cache.trace))
        '''),
        code('''
        fig, axes = plt.subplots(3, 2, figsize=(11, 7), layout="constrained")
        for i, (ax, trace) in enumerate(zip(axes.ravel(), snapshots)):
            schedule.draw_schedule(ax, P + n_new, 3, clp=True, trace=trace, prompt_len=P,
                                   highlight_pass=len(trace) - 1 if i else None, arrows=(i == 0))
            ax.set_xlabel("")
            ax.set_title("after the prefill" if i == 0 else f"after decode step {i}: "
                         f"{schedule.describe_pass(trace[-1])}", fontsize=9)
        plt.show()
        '''),
        md("""
        The same decode as an animation, one frame per pass (`visualizations.schedule.animate_decode`
        writes a GIF from a trace):
        """),
        code('''
        import tempfile
        gif = os.path.join(tempfile.mkdtemp(), "decode.gif")
        schedule.animate_decode(cache.trace, P + n_new, 3, clp=True, path=gif, fps=1.5,
                                prompt_len=P, dpi=60)
        display(Image(filename=gif))
        '''),
        md("""
        A CLP model can also be decoded with the **sequential** schedule: the same cells,
        one loop per pass. Its trace has `L` passes per token:
        """),
        code('''
        _, seq_cache = M.generate(p32, cfg32, prompt, n_new + 1, schedule="sequential", return_cache=True)
        for cells in seq_cache.trace[:P + 6]:
            print(schedule.describe_pass(cells))
        print("...\\ntrace == expected_trace(..., 'sequential'):",
              seq_cache.trace == schedule.expected_trace(P + n_new, 3, "sequential", prompt_len=P),
              "| passes per token:", schedule.passes_per_token(seq_cache.trace))
        '''),
        md("""
        ## Both schedules give the same logits

        The parallel schedule is not an approximation: it computes exactly the cells the
        sequential one does, in a different order. We decode a whole sequence (from an
        empty cache, so position 0 uses `h := 0`) both ways and compare the logits with
        each other and with the training forward, in float64. Then greedy generation with
        each schedule, in float32:
        """),
        code('''
        T = len(seq)
        results = {}
        for name in ("parallel", "sequential"):
            cache = M.new_cache(cfg, capacity=T)
            results[name] = np.array([M.step(params, cfg, cache, int(tok), name) for tok in seq])
        reference = logits_fwd[0]
        print(f"max |parallel - sequential|       = {np.abs(results['parallel'] - results['sequential']).max():.1e}")
        print(f"max |parallel - training forward| = {np.abs(results['parallel'] - reference).max():.1e}")
        print(f"max |sequential - training forward| = {np.abs(results['sequential'] - reference).max():.1e}")

        spread32 = {k: v.astype(np.float32) for k, v in params.items()}
        cfg_f32 = M.make_config("plt", 3, "tiny", vocab_size=V)
        gen = {name: M.generate(spread32, cfg_f32, seq[:4], 30, schedule=name) for name in ("parallel", "sequential")}
        print("greedy tokens (parallel):  ", gen["parallel"])
        print("greedy tokens (sequential):", gen["sequential"])
        print("identical:", np.array_equal(gen["parallel"], gen["sequential"]))
        '''),
        md("""
        ## What it costs

        Per token, the sequential schedule makes `L` passes with one row; the parallel one
        makes one pass with `L` rows. Measured on the `small` preset with the NumPy backend
        (ms per decode step, best of several interleaved runs):
        """),
        code('''
        def decode_once(cfg, params, prompt, n_steps, schedule_name):
            """ms per M.step over n_steps steps after prefilling `prompt`."""
            logits, cache = M.prefill(params, cfg, prompt, capacity=len(prompt) + n_steps)
            token = int(np.argmax(logits))
            t0 = time.perf_counter()
            for _ in range(n_steps):
                token = int(np.argmax(M.step(params, cfg, cache, token, schedule_name)))
            return 1e3 * (time.perf_counter() - t0) / n_steps

        n_steps, repeats = (10, 2) if FAST else (64, 5)
        prompt = np.random.default_rng(1).integers(0, V, 32)
        runs = {"vanilla": (M.make_config("vanilla", None, "small", vocab_size=V), "sequential")}
        for L in (2, 3):
            for name in ("sequential", "parallel"):
                runs[f"plt-{L} {name}"] = (M.make_config("plt", L, "small", vocab_size=V), name)
        params_of = {key: M.init_params(c) for key, (c, _) in runs.items()}
        best = {}
        for _ in range(repeats):              # interleaved, best of `repeats`
            for key, (c, name) in runs.items():
                best[key] = min(best.get(key, np.inf), decode_once(c, params_of[key], prompt, n_steps, name))
        rows = list(best.items())
        for name, ms in rows:
            print(f"{name:18s} {ms:6.2f} ms/token  x{ms / rows[0][1]:.2f} vanilla")
        '''),
        md("""
        ## Summary

        * CLP shifts the loop-to-loop dependency by one position: in the training forward
          `u^(l)_t - E_t` equals `N(h^(l-1)_{t-1})` exactly, and `E_0` at `t = 0`.
        * So the `L` cells of a position are independent: the decode trace shows one pass per
          token computing a whole column of the grid, against `L` passes with the
          sequential schedule.
        * Both schedules give the same logits as each other and as the training forward
          (float64 round-off), and the same greedy tokens.
        * With plain NumPy the parallel schedule already saves the per-pass overhead. How
          close an `L`-row pass gets to a one-row pass depends on how the weights are read:
          that is lesson 05.
        """),
    ]


# ======================================================================================
@notebook("04_kv_sharing_and_gswa")
def lesson_04():
    return [
        md("""
        # 04 · KV sharing and gated sliding-window attention (G-SWA)

        Cross-loop parallelism fixed the time per token (lesson 03), but every loop still
        keeps a full KV cache: `L` times vanilla's memory. PLT removes that in two steps:

        * **KV sharing**: loops `2..L` compute only queries and attend to **loop 1's** keys
          and values. They store nothing: the cache is vanilla's size.
        * **G-SWA**: sharing loses each later loop's own view of the past, so loops `2..L`
          add a **local** branch over their own last `W` keys and values (a ring buffer of
          `W` slots), mixed with the global branch by a learned gate per head:
          `y = g · y_glob + (1 - g) · y_loc`, `g = sigmoid(a Wg + bg)`.

        This notebook shows what each loop reads and writes, measures the cache of every
        family against the spec's memory table, watches the ring buffer fill and wrap, and
        trains a tiny PLT on the multi-hop task to look at its learned gates and attention.
        """),
        setup("from minplt import train", "from visualizations import kv_layout, charts",
              "from IPython.display import display"),
        md("""
        ## Who keeps which keys and values

        One row of boxes per loop; a filled box is a position whose keys and values that
        loop keeps (`N` = 12 positions, `L` = 3 loops, `W` = 4, `c` = bytes per position
        for the `small` preset: K and V, 4 layers, 128 channels, float32).
        """),
        code('''
        small = M.make_config("plt", 3, "small", vocab_size=40, window=4)
        c = 2 * small.n_layer * small.n_embd * 4
        kv_layout.plot_kv_layout(12, 3, 4, c)
        '''),
        md("""
        ## The memory table, measured

        For every family of the spec with `L = 3`, prefill a prompt of `N` positions and
        count the bytes the decode cache holds (`M.kv_cache_bytes`), next to the spec's
        formula and the ratio to vanilla. The carried states of CLP, `(L-1)` vectors of `C`
        values, are listed beside the cache, not in it.
        """),
        code('''
        V, L, W = 40, 3, 16
        N = 64 if FAST else 200
        prompt = np.random.default_rng(0).integers(0, V, N)
        families = ["vanilla", "loop", "loop+clp", "loop+clp+kvshare", "plt", "loop+kvshare", "loop+kvshare+gswa"]
        formulas = {"vanilla": "N c", "loop": "L N c", "loop+clp": "L N c", "loop+clp+kvshare": "N c",
                    "plt": "N c + (L-1) min(N,W) c", "loop+kvshare": "N c", "loop+kvshare+gswa": "N c + (L-1) min(N,W) c"}
        print(f"N = {N} positions, L = {L}, W = {W}, preset small\\n")
        print(f"{'family':18s} {'measured':>10s} {'formula':>10s}   {'':24s} {'x vanilla':>9s} {'carried':>8s}")
        measured = {}
        for family in families:
            cfg = M.make_config(family, None if family == "vanilla" else L, "small", vocab_size=V, window=W)
            _, cache = M.prefill(M.init_params(cfg), cfg, prompt)
            measured[family] = M.kv_cache_bytes(cfg, cache)
            print(f"{family:18s} {measured[family]:10,} {M.kv_cache_bytes_formula(cfg, N):10,}   {formulas[family]:24s} "
                  f"{measured[family] / measured['vanilla']:9.3f} {M.carried_bytes(cfg, cache):8,}")
        '''),
        md("""
        As the sequence grows, PLT's extra cost stays at `(L-1) · W · c`: a constant, so
        its ratio to vanilla tends to 1, while the looped model without sharing stays at `L`.
        """),
        code('''
        kv_layout.plot_memory_growth(L, W, 2 * small.n_layer * small.n_embd * 4, max_positions=1024)
        '''),
        md("""
        ## The window ring buffer

        Loop `l >= 2` keeps its last `W` keys and values in `W` slots; position `t` goes to
        slot `t % W`, overwriting position `t - W`, which has just left the window. We decode
        a PLT-2 with `W = 4` one token at a time from an empty cache and, after each step,
        identify which position's key sits in each slot (by matching the slot against loop 2's
        keys from the training forward over the same tokens).
        """),
        code('''
        cfg = M.make_config("plt", 2, "tiny", vocab_size=V, window=4, dtype="float64")
        rng = np.random.default_rng(1)
        params = {k: (v if v.ndim == 1 else rng.normal(0, 0.3, v.shape)) for k, v in M.init_params(cfg).items()}
        seq = rng.integers(0, V, 10)
        loop2_keys = M.forward(params, cfg, seq[None])[2]["loops"][1]["layers"][0]["k"][0]   # (H,T,D)
        cache = M.new_cache(cfg, capacity=len(seq))
        print(f"ring buffer k_ring: {cache.k_ring.shape} = (L-1, NL, H, W, D)\\n")
        print("after t   slot 0  slot 1  slot 2  slot 3")
        for t, tok in enumerate(seq):
            M.step(params, cfg, cache, int(tok))
            slots = []
            for slot in range(cfg.window):
                key = cache.k_ring[0, 0, :, slot]                                  # loop 2, layer 0: (H,D)
                match = [s for s in range(t + 1) if np.allclose(key, loop2_keys[:, s], atol=1e-12)]
                slots.append(f"t={match[0]}" if match else "-")
            print(f"{t:7d}   " + "  ".join(f"{s:>6s}" for s in slots))
        '''),
        md("""
        The local branch of loop 2 thus sees at most `W` keys: in the training forward its
        attention map (`probs_loc`) is a band of width `W`, while the global branch
        (`probs`, over loop 1's keys) is the full causal triangle:
        """),
        code('''
        fwd = M.forward(params, cfg, seq[None])[2]
        layer = fwd["loops"][1]["layers"][0]
        print("keys seen by each query, local: ", (layer["probs_loc"][0, 0] > 0).sum(-1))
        print("keys seen by each query, global:", (layer["probs"][0, 0] > 0).sum(-1))
        '''),
        md("""
        ## A trained PLT: what do the gates learn?

        The gate starts at exactly 0.5 for every head and position (`Wg = 0`, `bg = 0`).
        Train a tiny PLT-2 on the multi-hop task (follow a chain of variable bindings such as
        `a=7;b=a;...;b?` → `7`) and read the gates from the training forward's cache:
        `gate = sigmoid(a Wg + bg)`, shape `(B, T, H)`, for loop 2 in every layer. A gate
        near 1 means the head uses the global branch (loop 1's keys over the whole past);
        near 0, its own sliding window.
        """),
        code('''
        task = data.make_task("multihop", hops=2, distractors=1)
        cfg = M.make_config("plt", 2, "tiny", vocab_size=task.vocab_size, block_size=task.block_size, window=4)
        steps = 100 if FAST else 3000
        val = task.get_batch("val", 256, np.random.default_rng(7))

        untrained = M.init_params(cfg, seed=0)
        gates0 = np.stack([l["gate"] for l in M.forward(untrained, cfg, val[0])[2]["loops"][1]["layers"]])
        print(f"before training: gates in [{gates0.min()}, {gates0.max()}]")

        t0 = time.perf_counter()
        result = train.train(cfg, task, steps=steps, batch_size=32, lr=3e-3, warmup=50,
                             eval_every=max(steps // 5, 1), log_every=10 ** 9, log=print)
        print(f"trained {steps} steps in {time.perf_counter() - t0:.0f} s; "
              f"validation accuracy {100 * result.val_acc:.1f}% (answers among {1 + task.distractors} chains)")
        '''),
        code('''
        logits, _, fwd = M.forward(result.params, cfg, val[0], val[1])
        gates = np.stack([l["gate"] for l in fwd["loops"][1]["layers"]])       # (NL, B, T, H)
        answer_pos = val[2]                                                    # (B,T) where the answer is predicted
        mean_all = gates.mean(axis=(1, 2))                                     # (NL, H)
        mean_answer = gates[:, answer_pos].mean(axis=1)                        # (NL, H)
        print("mean gate of loop 2, per layer (rows) and head (columns), all positions:\\n", mean_all)
        print("at the position that predicts the answer:\\n", mean_answer)
        print(f"spread over positions: std {gates.std(axis=2).mean():.3f}")
        print(f"mean gate at the answer position {gates[:, answer_pos].mean():.2f}, "
              f"at the other positions {gates[:, ~answer_pos].mean():.2f} (0.5 before training)")
        fig, axes = plt.subplots(1, 2, figsize=(10, 2.8), layout="constrained")
        charts.plot_gates(mean_all, ax=axes[0], title="mean gate, all positions")
        charts.plot_gates(mean_answer, ax=axes[1], title="mean gate, answer position")
        plt.show()
        '''),
        md("""
        The gate of one example, position by position (layer 0 and layer 1, loop 2):
        """),
        code('''
        b = 0
        text = task.tokenizer.decode(val[0][b])
        fig, axes = plt.subplots(1, cfg.n_layer, figsize=(4.5 * cfg.n_layer, 6), layout="constrained")
        for j, ax in enumerate(axes):
            charts.plot_gates(gates[j, b], ax=ax, row_label="position (character)", title=f"layer {j}")
            ax.set_yticks(range(len(text)), [f"{t} {ch}" for t, ch in enumerate(text)], fontsize=7)
        plt.show()
        print(text, "-> answer", task.tokenizer.decode(val[1][b][val[2][b]]),
              "| predicted", task.tokenizer.decode(logits[b].argmax(-1)[val[2][b]]))
        '''),
        md("""
        And the attention maps of that example in the last layer: loop 1 over its own keys,
        then loop 2's global branch over **loop 1's** keys and its local window over its own.
        """),
        code('''
        j = cfg.n_layer - 1
        for h in range(2):                                   # one figure per head: loop 1 | loop 2 global | loop 2 local
            maps = [fwd["loops"][0]["layers"][j]["probs"][b, h],
                    fwd["loops"][1]["layers"][j]["probs"][b, h],
                    fwd["loops"][1]["layers"][j]["probs_loc"][b, h]]
            display(charts.plot_attention(maps, [f"layer {j}, head {h}: loop 1", "loop 2, global (loop 1's keys)",
                                                 f"loop 2, local (own last W={cfg.window})"]))
        '''),
        md("""
        ## Summary

        * With KV sharing, loops `2..L` store no keys or values; G-SWA adds a ring buffer of
          `W` positions per extra loop. The measured cache bytes equal the spec's table for
          every family: loop and loop+clp `L ×` vanilla; kvshare `1 ×`; PLT
          `1 + (L-1) min(N, W) / N`, which tends to 1 as the sequence grows.
        * The ring buffer keeps exactly the last `W` positions, position `t` in slot `t % W`,
          and the local attention map is a band of width `W`.
        * The gates start at exactly 0.5 and move during training, differently per layer, head
          and position: the printed means compare the position that predicts the answer (which
          must reach bindings far back, only visible in loop 1's global cache) with the others
          (whose local window holds the last few characters). These are this run's numbers,
          from a tiny model trained for a minute, whose accuracy is printed above.
        """),
    ]


# ======================================================================================
@notebook("05_latency_on_a_cpu")
def lesson_05():
    return [
        md("""
        # 05 · Latency on a CPU: why L rows cost about one

        The parallel schedule (lesson 03) replaces `L` one-row passes through the stack with
        one `L`-row pass. That only saves time if an `L`-row pass costs about what a
        one-row pass costs. It does when decoding is limited by **reading the weights**
        from memory rather than by arithmetic: every weight is loaded once and then used for
        `L` multiply-adds instead of one. This notebook measures, on this machine:

        1. memory bandwidth and arithmetic speed, and what they predict for a decode step;
        2. a product `(R, C) @ (C, N)` for `R = 1..8` rows, with NumPy's `@` (OpenBLAS)
           and with `minplt.kernels.linear_rows`, a Numba kernel that streams each weight
           once for all `R` rows;
        3. decode ms/token of vanilla, loop-2 and PLT-2 on both backends
           (`M.step(..., backend="numpy" | "numba")`).

        All timings are from the run that produced this notebook; they vary by machine and
        by load, so read the ratios, measured side by side, rather than the absolute values.
        """),
        setup("from minplt import kernels", "from visualizations import charts"),
        code('''
        compile_s = kernels.warmup()              # compile the kernels, or load them from Numba's cache
        info = kernels.backend_info()
        print(f"Numba kernels ready in {compile_s:.1f} s (first run compiles; later runs load the cache)")
        for key in ("cpu", "threads", "threading_layer", "numba", "numpy", "blas"):
            print(f"  {key:16s} {info[key]}")

        def busy_cores(seconds=1.0):
            """Cores kept busy by other programs while this notebook sleeps (Linux /proc/stat; else None)."""
            def snapshot():
                with open("/proc/stat") as f:
                    ticks = [int(v) for v in f.readline().split()[1:]]
                return sum(ticks), ticks[3] + ticks[4]                  # all ticks, idle + iowait ticks
            try:
                total0, idle0 = snapshot(); time.sleep(seconds); total1, idle1 = snapshot()
            except OSError:
                return None
            return os.cpu_count() * (1 - (idle1 - idle0) / max(total1 - total0, 1))

        busy = busy_cores()
        if busy is not None:
            print(f"\\nother programs keep {busy:.1f} of {os.cpu_count()} cores busy")
            if busy > 0.3:
                print("  threads that must wait for a busy core make the timings below slower and noisier: "
                      "rerun on a quiet machine")
        '''),
        md("""
        ## Reading versus computing

        A decode step for one row multiplies a vector by every weight matrix: `2 C N`
        floating-point operations for `4 C N` bytes read (float32), **half an operation per
        byte**. A CPU core does tens of billions of operations per second but reads memory
        at only ~10-20 GB/s, so at one row it waits for memory. With `R` rows it does `R`
        times the arithmetic on the same bytes: the time should stay flat until the
        arithmetic catches up. Measured here: the bandwidth of summing a large array, and
        the arithmetic rate of a large matrix product.
        """),
        code('''
        def best_time(fn, repeats=5):
            """Minimum over `repeats` calls: the least disturbed by other work on the machine."""
            times = []
            for _ in range(repeats):
                t0 = time.perf_counter(); fn(); times.append(time.perf_counter() - t0)
            return min(times)

        big = np.ones((64 if FAST else 256) * 2 ** 18, np.float32)          # 64 or 256 MB, far beyond the caches
        bandwidth = big.nbytes / best_time(lambda: big.sum())
        a = np.random.default_rng(0).standard_normal((1024, 1024)).astype(np.float32)
        flops = 2 * 1024 ** 3 / best_time(lambda: a @ a)
        print(f"memory read bandwidth ~ {bandwidth / 1e9:5.1f} GB/s   (sum of a {big.nbytes >> 20} MB array)")
        print(f"arithmetic           ~ {flops / 1e9:5.1f} GFLOP/s (1024^3 matrix product, all threads)")
        print(f"break-even: ~{flops / bandwidth * 4 / 2:.0f} rows per weight read before arithmetic dominates")
        del big
        '''),
        md("""
        ## One product, R = 1..8 rows

        Weights the size of the `bench` preset's MLP matrices, `(1024, 2816)` (11.5 MB in
        float32), several of them so that together they do not fit in the caches, as in a
        real model. For each `R` we time one product per matrix with `x @ w` and with
        `kernels.linear_rows(x, w)` (interleaved, best of several repeats) and report ms per
        product and the ratio to `R = 1`.
        """),
        code('''
        rng = np.random.default_rng(0)
        C, N = (1024, 1408) if FAST else (1024, 2816)
        n_mats = 6 if FAST else 8
        weights = [rng.standard_normal((C, N)).astype(np.float32) for _ in range(n_mats)]
        print(f"{n_mats} matrices of {C}x{N}: {sum(w.nbytes for w in weights) >> 20} MB")
        Rs = list(range(1, 9))
        timing = {"numpy @": {}, "numba linear_rows": {}}
        for R in Rs:
            x = rng.standard_normal((R, C)).astype(np.float32)
            assert np.allclose(kernels.linear_rows(x, weights[0]), x @ weights[0], rtol=1e-3, atol=1e-3)
            for _ in range(3 if FAST else 7):                       # interleave the two, keep the best
                for name, fn in (("numpy @", lambda: [x @ w for w in weights]),
                                 ("numba linear_rows", lambda: [kernels.linear_rows(x, w) for w in weights])):
                    t = best_time(fn, 1) / n_mats
                    timing[name][R] = min(timing[name].get(R, np.inf), t)
        print(f"{'R':>2s} " + "".join(f"{name:>26s}" for name in timing))
        for R in Rs:
            print(f"{R:2d} " + "".join(f"{1e3 * timing[n][R]:12.3f} ms  x{timing[n][R] / timing[n][1]:5.2f} R=1 " for n in timing))
        gbs = {n: C * N * 4 / timing[n][1] / 1e9 for n in timing}
        print("\\neffective bandwidth at R = 1: " + ", ".join(f"{n} {v:.1f} GB/s" for n, v in gbs.items()))
        '''),
        code('''
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
        for name, t in timing.items():
            axes[0].plot(Rs, [1e3 * t[R] for R in Rs], "o-", label=name)
            axes[1].plot(Rs, [t[R] / t[1] for R in Rs], "o-", label=name)
        axes[1].plot(Rs, Rs, ":", color="grey", label="R x (no reuse)")
        axes[0].set(xlabel="rows R", ylabel="ms per product", title=f"(R,{C}) @ ({C},{N}), float32")
        axes[1].set(xlabel="rows R", ylabel="time / time at R=1", title="cost of R rows relative to one")
        for ax in axes:
            ax.grid(alpha=0.3); ax.legend(fontsize=8); ax.set_xticks(Rs)
        plt.show()
        '''),
        md("""
        OpenBLAS's `@` is built for large products; for a handful of rows it may switch to
        other code paths whose cost rises with `R` (and on one row it is a matrix-vector
        product). `linear_rows` is written for exactly this shape: each thread streams a
        contiguous block of weight rows and keeps the `R` partial sums in registers, so the
        weights are read once whatever `R` is (see the comments in `minplt/kernels.py`).

        ## Decode latency: vanilla, loop-2, PLT-2 on both backends

        Now whole decode steps, timed by `minplt.bench` (the code behind
        `python -m minplt bench`): the `bench` preset (C = 1024, F = 2816, 4 layers, about
        200 MB of float32 weights; smaller in the quick version), a prefilled prompt, then
        `M.step` timed token by token (median). Loop-2 must use the sequential schedule (two
        passes per token); PLT-2 uses the parallel one (one pass with two rows) and is also
        timed sequentially for comparison. `weight GB/s` is the weight bytes a step reads
        divided by its time; `% 1-row` compares it with a bare one-row product over the same
        matrices, the best a memory-bound step can do.
        """),
        code('''
        from minplt import bench
        if FAST:
            sizes = dict(bench.BIG, width=512, ffn=1408, heads=8, layers=2, prompt=32, new_tokens=6, repeats=1)
        else:
            sizes = dict(bench.BIG, prompt=256, new_tokens=16, repeats=3)
        print("sizes:", {k: sizes[k] for k in ("width", "ffn", "layers", "heads", "vocab", "prompt", "new_tokens", "repeats")})
        decode_rows, one_row = bench.decode_section(sizes, ["vanilla", "loop-2", "plt-2"], ["plt-2"],
                                                     ["numpy", "numba"], seed=0, log=lambda line: None)
        print(bench.format_decode_table(decode_rows, one_row))
        '''),
        code('''
        shown = {"machine": {"cpu": info["cpu"], "threads": info["threads"], "numpy": info["numpy"], "numba": info["numba"]},
                 "decode": [r for r in decode_rows if not (r["variant"] == "plt-2" and r["schedule"] == "sequential")]}
        charts.plot_latency(shown)
        '''),
        md("""
        ## What the numbers say

        The cell below reads the measurements above and states them as ratios.
        """),
        code('''
        def ms(variant, schedule_name, backend):
            return next(r["ms_per_token"] for r in decode_rows
                        if r["variant"] == variant and r["schedule"] == schedule_name and r["backend"] == backend)
        for backend in ("numpy", "numba"):
            v = ms("vanilla", "sequential", backend)
            print(f"{backend}: loop-2 costs x{ms('loop-2', 'sequential', backend) / v:.2f} vanilla, "
                  f"PLT-2 parallel x{ms('plt-2', 'parallel', backend) / v:.2f}, "
                  f"PLT-2 sequential x{ms('plt-2', 'sequential', backend) / v:.2f}")
        for name, t in timing.items():
            print(f"\\n{name}: 2 rows cost x{t[2] / t[1]:.2f} one row, 4 rows x{t[4] / t[1]:.2f}, 8 rows x{t[8] / t[1]:.2f}")
        for backend in ("numpy", "numba"):
            saving = 1 - ms("plt-2", "parallel", backend) / ms("loop-2", "sequential", backend)
            extra = ms("plt-2", "parallel", backend) / ms("vanilla", "sequential", backend) - 1
            print(f"\\n{backend}: the second loop adds {100 * extra:.0f}% to vanilla's time per token with the parallel "
                  f"schedule; PLT-2 is {100 * abs(saving):.0f}% {'faster' if saving >= 0 else 'slower'} than loop-2")
        busy_end = busy_cores()
        if busy_end is not None:
            print(f"\\n(other programs kept {busy:.1f} cores busy before the measurements, {busy_end:.1f} after)")
        '''),
        md("""
        ## Summary

        * One decode row does half a floating-point operation per byte of weights read; the
          machine's bandwidth and arithmetic rate, measured above, put the break-even at a few
          rows, so a decode step with one or two rows waits for the weights.
        * `kernels.linear_rows` is written to read each weight once for all rows, so its cost
          for `R` rows should stay close to one row's; compare its ratio curve with that of
          NumPy's `@` on the same matrices.
        * On the Numba path PLT-2's one pass with two rows should then cost close to vanilla's
          one pass with one row, while loop-2's two passes cost about twice as much: the
          paper's latency claim (47% below loop-2, at batch 32 on a GPU), here for one
          sequence on a CPU. The ratios printed above are this run's; timings on a machine
          busy with other work are noisier, so rerun the notebook on a quiet machine before
          reading much into them.
        """),
    ]


# ======================================================================================
@notebook("06_the_ablation")
def lesson_06():
    return [
        md("""
        # 06 · The ablation: the paper's Table 2 at toy scale

        The paper builds PLT in steps and measures each (Table 2, a 680M-active MoE trained
        on 150B tokens, mean of 10 benchmarks):

        | model | paper accuracy |
        |---|---:|
        | non-looped | 34.7 |
        | loop + CLP + KV sharing, no G-SWA | 36.2 |
        | PLT-2 (+ G-SWA) | 39.7 |
        | PLT-3 | 40.8 |

        Here the same rows are trained on a built-in task with a tiny shared stack, by
        `minplt.experiments` (the code behind `python -m minplt ablate`), with its default
        settings, printed below: the task is one these models learn within the budget
        (sorting letters; lesson 07 shows why not the multi-hop task at this size). Every row
        has the same data, steps, seeds and shared stack, so the same parameters (plus the
        gates for PLT), and differs only in how the stack is looped; `vanilla-2x` (twice the
        layers, no loops) is the reference with loop-2's compute and twice its parameters.
        For each row we get accuracy over several seeds, decode latency and KV-cache bytes.

        What to expect from a toy: the memory column is exact (the spec's table), the
        latency ratios follow lesson 05, and the accuracy column is a small model trained for
        about a thousand steps, so its differences are small and come with a seed spread.
        The quick version (`MINPLT_FAST=1`) trains for a few steps only: its accuracies
        mean nothing, it only checks that everything runs.
        """),
        setup("import tempfile", "from IPython.display import Markdown, display",
              "from minplt import experiments", "from visualizations import charts"),
        code('''
        settings = dict(experiments.QUICK) if FAST else dict(experiments.SETTINGS)
        for key, value in settings.items():
            print(f"  {key:14s} {value}")
        task = experiments.make_task(settings)
        prompt, answer = task.sample("val", np.random.default_rng(0))
        print(f"\\ntask: {experiments.describe_task(task)}; example: {prompt}  ->  {answer}   "
              f"(sequence length {task.block_size})")
        print(f"rows: {', '.join(experiments.ROWS)}")
        '''),
        md("""
        ## Train every row

        `experiments.run_ablation` trains each row for every seed, times decoding with the
        Numba backend (the parallel schedule for CLP models), and writes `results.md`,
        `results.json` and figures into a folder (a temporary one here).
        """),
        code('''
        out_dir = tempfile.mkdtemp(prefix="ablate-")
        t0 = time.perf_counter()
        report = experiments.run_ablation(settings, out_dir, log=lambda line: print(line) if " seed " in line else None)
        print(f"\\n{len(report['rows'])} rows x {len(settings['seeds'])} seeds in {time.perf_counter() - t0:.0f} s; "
              f"decode backend: {report['backend']}")
        rows = {r["variant"]: r for r in report["rows"]}
        display(Markdown(experiments.markdown_table(report["rows"], settings["kv_length"])))
        '''),
        md("""
        ## Accuracy, latency, memory
        """),
        code('''
        charts.plot_accuracy_vs_latency([{k: r[k] for k in ("variant", "accuracy", "accuracy_std", "ms_per_token")}
                                         for r in report["rows"]])
        '''),
        code('''
        fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
        memory = {"decode": [dict(variant=r["variant"], kv_bytes=r["kv_bytes"]) for r in report["rows"]]}
        charts.plot_memory(memory, ax=axes[0])
        axes[0].set_title(f"KV cache at {settings['kv_length']} positions", fontsize=10)
        axes[0].tick_params(axis="x", labelrotation=30, labelsize=8)
        seed0 = {name: logs[0] for name, logs in report["logs"].items()}
        charts.plot_training_curves(seed0, ax=axes[1], metric="val_acc")
        axes[1].set_title("validation accuracy, seed 0", fontsize=10)
        plt.show()
        '''),
        md("""
        ## The paper's claims, one by one, against this run

        Each line below compares two rows of the table above. Accuracy differences are
        given with the seed spread (`±` one standard deviation of the row); a difference
        smaller than the spread is not a result.
        """),
        code('''
        def acc(name):
            r = rows[name]
            return f"{100 * r['accuracy']:.1f} ± {100 * r['accuracy_std']:.1f}%"
        def ratio(a, b, key):
            return rows[a][key] / rows[b][key]
        # (claim, row a, row b, the paper's direction of a's accuracy against b's)
        claims = [
            ("looping helps (loop-2 vs vanilla)", "loop-2", "vanilla", "higher"),
            ("CLP keeps loop-2's accuracy (loop+clp-2 vs loop-2)", "loop+clp-2", "loop-2", "about the same"),
            ("sharing KV costs accuracy (loop+clp+kvshare-2 vs loop+clp-2)", "loop+clp+kvshare-2", "loop+clp-2", "lower"),
            ("G-SWA recovers it (plt-2 vs loop+clp+kvshare-2)", "plt-2", "loop+clp+kvshare-2", "higher"),
            ("a third loop (plt-3 vs plt-2)", "plt-3", "plt-2", "higher"),
            ("PLT-2 vs a 2x deeper vanilla (plt-2 vs vanilla-2x)", "plt-2", "vanilla-2x", "higher"),
        ]
        def verdict(a, b):
            """'higher' / 'lower' when the means differ by more than the two spreads together, else 'within the spread'."""
            diff = rows[a]["accuracy"] - rows[b]["accuracy"]
            spread = rows[a]["accuracy_std"] + rows[b]["accuracy_std"]
            return "higher" if diff > spread else "lower" if diff < -spread else "within the spread"
        for text, a, b, paper in claims:
            if a in rows and b in rows:
                here = verdict(a, b)
                agrees = here == paper or (paper == "about the same" and here != "lower")
                print(f"{text}:\\n    accuracy {acc(a)} vs {acc(b)}: paper {paper}, here {here}"
                      f" ({'agrees' if agrees else 'differs'});  latency x{ratio(a, b, 'ms_per_token'):.2f};  "
                      f"KV cache x{ratio(a, b, 'kv_bytes'):.2f};  parameters x{ratio(a, b, 'params'):.2f}")
        v = rows["vanilla"]
        print(f"\\nPLT-2 KV cache: x{rows['plt-2']['kv_bytes'] / v['kv_bytes']:.3f} vanilla at {settings['kv_length']} positions "
              f"(paper: about +1.4% at its lengths; here (L-1) W / N = {settings['window']}/{settings['kv_length']})")
        print(f"PLT-2 decode: x{rows['plt-2']['ms_per_token'] / v['ms_per_token']:.2f} vanilla, "
              f"loop-2 x{rows['loop-2']['ms_per_token'] / v['ms_per_token']:.2f} "
              f"(paper, GPU, batch 32: PLT-2 47% below loop-2)")
        '''),
        md("""
        ## Summary

        * The memory column matches the spec exactly: loop-2 and loop+clp-2 hold twice
          vanilla's cache, KV sharing brings it back to 1×, and G-SWA adds only
          `(L-1) · W` positions, a fraction of a percent at long lengths.
        * The latency column shows the effect of the parallel schedule on this CPU: CLP
          rows decode in one pass, loop-2 in two (lesson 05 explains the ratio).
        * The accuracy column is a tiny model on a toy task: each claim above is printed with
          the paper's direction, this run's direction (a difference counts only when it is
          larger than the two rows' seed spreads together) and whether they agree. Where they
          differ, remember that the paper's gains (a few points on a 10-benchmark mean) came
          from a model about 10^5 times larger trained on 150B tokens, and that here the task,
          not language modelling, decides what an extra loop or a shared cache is worth.
        * `python -m minplt ablate` runs the same thing from the command line and writes
          the table and figures to `out/ablate/`.
        """),
    ]


# ======================================================================================
@notebook("07_test_time_compute")
def lesson_07():
    return [
        md("""
        # 07 · Test-time compute: accuracy against loops and difficulty

        A looped model buys depth with compute instead of parameters: `L` loops of the same
        stack. PLT makes that compute cheap at decode time (one pass per token, lesson 03;
        about vanilla's cache, lesson 04). So the question is how much accuracy each extra
        loop buys, and on which problems. This notebook trains models with `L = 1` (the
        plain transformer), 2, 3 and 4 loops of the **same one-block stack**, with the same
        data and steps, and measures accuracy against `L` and against the difficulty of the
        question:

        1. on the **multi-hop** task, where difficulty is the number of hops: a question
           needing `h` hops must follow `h` bindings one after another
           (`a=7;b=a;c=b;c?` → `7` is three hops);
        2. on **sorting**, where difficulty is the number of letters to sort: every output
           letter depends on the whole input ("the smallest letter not yet written");
        3. then runs each trained model with more or fewer loops than it was trained with,
           and measures what each loop costs.

        The LoopCoder-v2 work found 2 loops best and 3-4 worse on code; the paper's PLT-3
        beat PLT-2 on its benchmarks. What happens at toy scale is measured below, and every
        conclusion is printed from the numbers of this run.
        """),
        setup("import dataclasses", "from minplt import train, experiments", "from visualizations import charts"),
        md("""
        ## The protocol

        For each task, questions of several difficulties are mixed in one training stream
        (padded to the longest, so a batch can hold them all). The mixture is a small object
        with the interface `train.train` expects (`get_batch`, `tokenizer`, `block_size`,
        `exact_match`). Each model is then scored on held-out questions of each difficulty:
        exact-match accuracy, and the cross-entropy of the answer tokens, which moves before
        the accuracy does.
        """),
        code('''
        class Mixture:
            """Batches mixing the tasks of `tasks` (difficulty -> data.Task, all of one seq_len)."""
            def __init__(self, tasks, train_keys):
                self.tasks, self.keys = tasks, list(train_keys)
                first = tasks[self.keys[0]]
                self.tokenizer, self.block_size, self.exact_match = first.tokenizer, first.block_size, first.exact_match
            def get_batch(self, split, batch_size, rng):
                parts = [self.tasks[k].get_batch(split, 1, rng) for k in rng.choice(self.keys, batch_size)]
                return tuple(np.concatenate([p[i] for p in parts]) for i in range(3))

        LOOPS = (1, 2, 3, 4)
        MODEL = dict(width=32, layers=1, ffn=64, window=4)            # the shared stack: one block
        TRAIN = dict(batch_size=8, lr=3e-3, warmup=10) if FAST else dict(batch_size=32, lr=3e-3, warmup=100)
        N_EVAL = 32 if FAST else 512

        def train_loop_counts(mixture, steps):
            """Train L = 1..4 (vanilla, then PLT) on `mixture`; returns L -> train.TrainResult."""
            models = {}
            for L in LOOPS:
                cfg = train.build_config("vanilla" if L == 1 else f"plt-{L}", "tiny", mixture.tokenizer.vocab_size,
                                         mixture.block_size, **MODEL)
                models[L] = train.train(cfg, mixture, steps=steps, eval_every=steps, eval_batches=1, seed=0,
                                        log=lambda line: None, **TRAIN)
                print(f"  {cfg.variant:8s} {M.count_params(models[L].params):,} parameters, {steps} steps in "
                      f"{models[L].elapsed:5.1f} s")
            return models

        def evaluate(params, cfg, task, n=N_EVAL, seed=1):
            """(exact-match accuracy, mean cross-entropy of the answer tokens) on n validation questions."""
            x, y, mask = task.get_batch("val", n, np.random.default_rng(seed))
            logits = M.forward(params, cfg, x)[0]
            probs = M.softmax(logits[mask].astype(np.float64))                 # (answer tokens, V)
            return task.accuracy(logits, y, mask), float(-np.mean(np.log(probs[np.arange(len(probs)), y[mask]])))

        def score_grid(models, tasks):
            """(accuracy, answer loss) for every (L, difficulty)."""
            return {(L, k): evaluate(models[L].params, models[L].config, tasks[k]) for L in models for k in tasks}

        def report(scores, tasks, what, chance):
            """Print the table and, per difficulty, the gain of each extra loop against the noise."""
            noise = 100 * np.sqrt(0.25 / N_EVAL)                                # standard error near 50%
            print(f"accuracy % (answer loss)    " + "".join(f"{what} {k:<9}" for k in tasks))
            for L in LOOPS:
                name = "vanilla" if L == 1 else f"plt-{L}"
                print(f"{name:27s} " + "".join(f"{100 * scores[L, k][0]:5.1f} ({scores[L, k][1]:.2f}) " for k in tasks))
            print(f"chance: {chance}; one standard error of an accuracy on {N_EVAL} questions ~ {noise:.1f} points "
                  "(evaluation noise only: another training seed moves a model by more, see lesson 06)\\n")
            for k in tasks:
                gains = [100 * (scores[L, k][0] - scores[L - 1, k][0]) for L in LOOPS[1:]]
                useful = [L for L, g in zip(LOOPS[1:], gains) if g > 2 * np.sqrt(2) * noise]
                best = max(LOOPS, key=lambda L: scores[L, k][0])
                print(f"{what} {k}: gain of loop 2, 3, 4: " + ", ".join(f"{g:+5.1f}" for g in gains)
                      + f" points; best L = {best}; loops whose gain exceeds the noise: {useful or 'none'}")

        def plot_grid(scores, tasks, what, chance_acc, unseen=()):
            fig, axes = plt.subplots(1, 3, figsize=(13, 3.5), layout="constrained")
            for k in tasks:
                style = "o--" if k in unseen else "o-"
                axes[0].plot(LOOPS, [100 * scores[L, k][0] for L in LOOPS], style, label=f"{what} {k}")
                axes[1].plot(LOOPS, [scores[L, k][1] for L in LOOPS], style, label=f"{what} {k}")
            for L in LOOPS:
                axes[2].plot(list(tasks), [100 * scores[L, k][0] for k in tasks], "o-",
                             label="vanilla" if L == 1 else f"plt-{L}")
            axes[0].axhline(chance_acc, color="grey", linestyle=":", label="chance")
            axes[2].axhline(chance_acc, color="grey", linestyle=":", label="chance")
            axes[0].set(xlabel="loops L", ylabel="accuracy (%)", xticks=LOOPS, title="accuracy against loops")
            axes[1].set(xlabel="loops L", ylabel="answer cross-entropy", xticks=LOOPS, title="answer loss (lower is better)")
            axes[2].set(xlabel=what, ylabel="accuracy (%)", xticks=list(tasks), title=f"accuracy against {what}")
            for ax in axes:
                ax.grid(alpha=0.3); ax.legend(fontsize=7)
            plt.show()
        '''),
        md("""
        ## 1. Multi-hop: accuracy against loops and hops

        Two distractor chains in every question, so guessing the first digit of one of the
        three chains is right a third of the time. Trained on 1, 2 and 3 hops; 4 hops are
        never seen in training.
        """),
        code('''
        hop_counts, train_hops, distractors = ((1, 2, 3) if FAST else (1, 2, 3, 4)), (1, 2, 3), 2
        longest = data.make_task("multihop", hops=max(train_hops), distractors=distractors).seq_len
        train_tasks = {h: data.make_task("multihop", hops=h, distractors=distractors, seq_len=longest, loss_on="answer")
                       for h in train_hops}                                  # padded to one length
        hop_tasks = {h: data.make_task("multihop", hops=h, distractors=distractors, loss_on="answer")
                     for h in hop_counts}                                    # for evaluation, unpadded
        for h, task in hop_tasks.items():
            prompt, answer = task.sample("val", np.random.default_rng(0))
            print(f"{h} hop{'s' if h > 1 else ' '}: {prompt} -> {answer}")
        hop_models = train_loop_counts(Mixture(train_tasks, train_hops), 30 if FAST else 1000)
        hop_scores = score_grid(hop_models, hop_tasks)
        report(hop_scores, hop_tasks, "hops", f"{100 / (1 + distractors):.1f}%")
        '''),
        code('''
        plot_grid(hop_scores, hop_tasks, "hops", 100 / (1 + distractors), unseen=[h for h in hop_counts if h not in train_hops])
        best = max(100 * a for a, _ in hop_scores.values())
        print(f"best accuracy of any model on any number of hops: {best:.1f}% (chance {100 / (1 + distractors):.1f}%)")
        '''),
        md("""
        If every model sits a few points above chance, none of them has learned to follow
        a binding at all in this budget: a one-block stack of width 32 needs far more than a
        few thousand steps to discover the look-up (the same finding made
        `minplt.experiments` move its default ablation to sorting). Extra loops cannot show
        their effect on a task nobody has learned. So the same protocol, on a task these
        models do learn.

        ## 2. Sorting: accuracy against loops and length

        Sort `n` letters (`dbca=` → `abcd`); the answer is all `n` letters, exactly right.
        Trained on a mixture of 4, 6, 8 and 10 letters.
        """),
        code('''
        lengths = (4, 6, 8) if FAST else (4, 6, 8, 10)
        longest = data.make_task("sort", length=max(lengths)).seq_len
        sort_tasks = {n: data.make_task("sort", length=n, seq_len=longest, loss_on="answer") for n in lengths}
        for n, task in sort_tasks.items():
            prompt, answer = task.sample("val", np.random.default_rng(0))
            print(f"{n:2d} letters: {prompt} -> {answer}")
        sort_models = train_loop_counts(Mixture(sort_tasks, lengths), 30 if FAST else 1500)
        sort_scores = score_grid(sort_models, sort_tasks)
        report(sort_scores, sort_tasks, "length", "~0% (every letter must be right)")
        '''),
        code('''
        plot_grid(sort_scores, sort_tasks, "length", 0)
        '''),
        md("""
        ## More loops at test time than in training?

        PLT-2, -3 and -4 have the same parameters, so each trained model can be run with any
        number of loops by changing `n_loops` in its config (`L = 1` drops the loop flags).
        A model trained with `L` loops has learned `L - 1` hand-overs; here is what running
        it with another number does, on the longest sorting task:
        """),
        code('''
        n_probe = max(lengths)
        print(f"accuracy (%) sorting {n_probe} letters; rows: trained with, columns: run with")
        print("                " + "".join(f"L={L:<6d}" for L in LOOPS))
        for trained in LOOPS[1:]:
            cfg = sort_models[trained].config
            cells = []
            for run_L in LOOPS:
                run_cfg = (dataclasses.replace(cfg, n_loops=1, clp=False, kv_share=False, gswa=False)
                           if run_L == 1 else dataclasses.replace(cfg, n_loops=run_L))
                cells.append(100 * evaluate(sort_models[trained].params, run_cfg, sort_tasks[n_probe])[0])
            print(f"trained {cfg.variant:7s} " + "".join(f"{c:6.1f}  " for c in cells)
                  + f"  best when run with L = {LOOPS[int(np.argmax(cells))]}")
        '''),
        md("""
        ## What each loop costs

        Training time per step grows with `L` (in training every loop is a full pass over the
        sequence). Decoding with the parallel schedule on the Numba backend costs one pass
        with `L` rows per token, and the KV cache grows by only `(L-1) · W` positions.
        """),
        code('''
        backend, note = experiments.pick_backend("auto")
        task = sort_tasks[max(lengths)]
        prompt = task.tokenizer.encode(task.sample("val", np.random.default_rng(0))[0])
        print(f"decode backend: {note}\\n")
        print(f"{'model':8s} {'train ms/step':>13s} {'decode ms/token':>15s} {'KV bytes @ 1024':>16s}")
        for L in LOOPS:
            r = sort_models[L]
            ms = experiments.decode_ms_per_token(r.params, r.config, prompt, 8 if FAST else 32, backend)
            print(f"{r.config.variant:8s} {1e3 * r.elapsed / r.step:13.1f} {ms:15.3f} "
                  f"{M.kv_cache_bytes_formula(r.config, 1024):16,}")
        '''),
        md("""
        ## Summary

        * Each extra loop adds a pass of the shared stack in training, a row to each decode
          pass and `W` positions of cache; no parameters (the table above).
        * Whether a loop helps depends on whether the task is learned at all. The printed
          lines say, per difficulty, which extra loops gained more than the evaluation's
          noise: on multi-hop at this size, read them against the best accuracy over chance;
          on sorting, look at where the gains shrink below the noise as `L` grows, and at
          whether longer inputs need more loops before that happens. That point is "where more
          loops stop helping" for this model and budget.
        * The last table shows what running a model with a different number of loops than it
          was trained with does: in PLT the number of loops is chosen when training.
        * These are toy models (one block, width 32, a few thousand steps, one seed); the
          paper's gains were measured on models of billions of parameters.
        """),
    ]


# ======================================================================================
def main(argv):
    names = sorted(NOTEBOOKS)
    if argv:
        names = [n for n in names if any(n.startswith(a) for a in argv)]
    for name in names:
        nb = nbformat.v4.new_notebook()
        nb.cells = NOTEBOOKS[name]()
        for i, cell in enumerate(nb.cells):        # stable ids: rebuilding gives small diffs
            cell.id = f"c{i:02d}"
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                     "language": "python"}
        nb.metadata["language_info"] = {"name": "python"}
        path = HERE / f"{name}.ipynb"
        nbformat.write(nb, path)
        print(f"wrote {path.relative_to(HERE.parent)} ({len(nb.cells)} cells)")


if __name__ == "__main__":
    main(sys.argv[1:])
