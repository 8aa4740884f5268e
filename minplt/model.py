"""The whole transformer in one file: the plain transformer, the vanilla looped
transformer and the Parallel Loop Transformer (PLT), side by side.

Read this file top to bottom. The method it implements is written out in
`docs/method.md`; comments point to its sections as §N.

Legend (shape letters used in every comment):
    B = batch, T = time (positions), C = channels (model width), H = heads,
    D = head size (C = H*D), F = MLP hidden width, V = vocab, NL = layers,
    L = loops, W = sliding window, R = rows of one decode pass (1 or L), P = prompt length

Parameters (a flat dict name -> array; NL blocks shared by all loops):
    wte                (V, C)   token embedding E
    layers.{j}.attn_norm (C)    RMSNorm gain before attention
    layers.{j}.wq/wk/wv/wo (C, C) attention projections
    layers.{j}.gate_w  (C, H)   G-SWA gate (only when gswa), initialised to 0
    layers.{j}.gate_b  (H,)     G-SWA gate bias (only when gswa), initialised to 0
    layers.{j}.mlp_norm (C)     RMSNorm gain before the MLP
    layers.{j}.w1, w3  (C, F)   SwiGLU input projections
    layers.{j}.w2      (F, C)   SwiGLU output projection
    norm_f             (C)      final RMSNorm gain; also the N(.) of the CLP hand-over
    lm_head            (C, V)   output head (untied from wte)

Contents, in reading order:
    1. Config, families, presets, parameters   4. The model: forward and backward
    2. Layers: forward/backward pairs          5. AdamW, clipping, learning-rate schedule
    3. The block: forward and backward         6. Decoding: cache, row operations, the
                                                  pass through the stack, prefill, the
                                                  two schedules, generate
(Checkpoint files are in checkpoint.py; the Numba decode kernels in kernels.py, the
Numba training kernels, same names as the layers of section 2, in train_kernels.py.)
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from types import SimpleNamespace

import numpy as np

# ----------------------------------------------------------------------------------------
# 1. Config, families, presets and parameters (docs/method.md §1, §3)

@dataclass
class Config:
    vocab_size: int = 64        # V: number of token ids (set from the tokenizer)
    n_embd: int = 64            # C: model width
    n_head: int = 4             # H: attention heads; head size D = C // H (must be even, RoPE)
    d_ff: int = 176             # F: SwiGLU hidden width
    n_layer: int = 2            # NL: blocks in the shared stack S
    n_loops: int = 1            # L: times the stack is applied (1 = plain transformer)
    clp: bool = False           # cross-loop parallelism: loop l reads loop l-1 at t-1
    kv_share: bool = False      # loops >= 2 attend to loop 1's keys/values
    gswa: bool = False          # gated sliding-window attention on top of kv_share
    window: int = 16            # W: keys a local (G-SWA) query sees, itself included
    block_size: int = 256       # longest training sequence and default decode capacity
    rope_base: float = 10000.0  # RoPE frequency base
    norm_eps: float = 1e-6      # RMSNorm epsilon
    dtype: str = "float32"      # "float32" (default) or "float64" (gradient checks)

    def __post_init__(self):
        for name in ("vocab_size", "n_embd", "n_head", "d_ff", "n_layer", "n_loops",
                     "window", "block_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise ValueError(f"config.{name} must be an integer, got {value!r}")
            if value < 1:
                raise ValueError(f"config.{name} must be >= 1, got {value} "
                                 + ("(the window counts the query itself, so W >= 1)"
                                    if name == "window" else ""))
        if self.n_embd % self.n_head:
            raise ValueError(f"config.n_embd ({self.n_embd}) must be divisible by "
                             f"config.n_head ({self.n_head})")
        if (self.n_embd // self.n_head) % 2:
            raise ValueError(f"head size n_embd/n_head = {self.n_embd // self.n_head} must be "
                             "even for rotary position embeddings")
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"config.dtype must be 'float32' or 'float64', got {self.dtype!r}")
        if self.n_loops == 1 and (self.clp or self.kv_share or self.gswa):
            on = [f for f in ("clp", "kv_share", "gswa") if getattr(self, f)]
            raise ValueError(f"n_loops = 1 is a plain transformer, but {', '.join(on)} "
                             "is on: loop flags need n_loops >= 2")
        if self.gswa and not self.kv_share:
            raise ValueError("gswa requires kv_share: G-SWA is the local window that loops "
                             ">= 2 add to the shared loop-1 cache (set kv_share=True)")

    @property
    def head_size(self) -> int:
        return self.n_embd // self.n_head

    @property
    def family(self) -> str:
        """The family name of docs/method.md §3 ('plt', 'loop+clp', ...)."""
        if self.n_loops == 1:
            return "vanilla"
        for name, flags in FAMILIES.items():
            if name != "vanilla" and flags == (self.clp, self.kv_share, self.gswa):
                return name
        raise AssertionError("unreachable: __post_init__ rejects other combinations")

    @property
    def variant(self) -> str:
        """Short name with the loop count, e.g. 'plt-2', 'loop-3', 'vanilla'."""
        return variant_name(self.family, self.n_loops)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


# family name -> (clp, kv_share, gswa): the table of docs/method.md §3
FAMILIES = {
    "vanilla":           (False, False, False),
    "loop":              (False, False, False),
    "loop+clp":          (True, False, False),
    "loop+clp+kvshare":  (True, True, False),
    "plt":               (True, True, True),
    "loop+kvshare":      (False, True, False),
    "loop+kvshare+gswa": (False, True, True),
}

# Named sizes, as configs (families and vocabularies are set by make_config).
# tiny: tests (a gradient check in seconds); small: the CPU lessons;
# bench: the decode benchmark's default (weights ~205 MB in float32, memory-bound).
PRESETS = {
    "tiny":  Config(n_embd=32, n_head=4, d_ff=64, n_layer=2, window=4, block_size=64),
    "small": Config(n_embd=128, n_head=4, d_ff=352, n_layer=4, window=16, block_size=256),
    "bench": Config(vocab_size=256, n_embd=1024, n_head=16, d_ff=2816, n_layer=4,
                    window=64, block_size=2048),
}


def parse_variant(name: str, n_loops: int | None = None) -> tuple[str, int]:
    """The one place where a family and a loop count are reconciled:
    'plt-2' -> ('plt', 2); 'vanilla' -> ('vanilla', 1); ('loop', 3) -> ('loop', 3).
    Anything else ('vanilla-2', 'plt', 'plt-1') is a clear ValueError."""
    family, count = name, None
    if name not in FAMILIES:
        family, _, loops = name.rpartition("-")
        if family not in FAMILIES or not loops.isdigit():
            raise ValueError(f"unknown variant {name!r}: write a family and a loop count, e.g. "
                             f"'plt-2' or 'loop-3'; families: {', '.join(FAMILIES)}")
        count = int(loops)
        if n_loops is not None and n_loops != count:
            raise ValueError(f"variant {name!r} has {count} loops, but n_loops={n_loops} was given")
    n_loops = count if count is not None else n_loops
    if family == "vanilla":
        if n_loops not in (None, 1):
            raise ValueError(f"family 'vanilla' has one loop, got {n_loops} ({name!r}); "
                             f"use family 'loop', e.g. 'loop-{n_loops}', for a looped transformer")
        return family, 1
    if n_loops is None:
        raise ValueError(f"unknown variant {name!r}: add a loop count, e.g. '{family}-2'")
    if isinstance(n_loops, bool) or not isinstance(n_loops, (int, np.integer)) or n_loops < 2:
        raise ValueError(f"family {family!r} needs an integer loop count >= 2, got "
                         f"{n_loops!r}; use family 'vanilla' for one loop")
    return family, int(n_loops)


def variant_name(family: str, n_loops: int) -> str:
    """The inverse of parse_variant: ('plt', 2) -> 'plt-2', ('vanilla', 1) -> 'vanilla'."""
    return "vanilla" if family == "vanilla" else f"{family}-{n_loops}"


def make_config(family: str = "plt", n_loops: int | None = None, preset: str = "tiny",
                **overrides) -> Config:
    """A config from a family (or a variant name) and a preset, plus field overrides:
    make_config("plt", 3, "small", vocab_size=40) == make_config("plt-3", preset="small",
    vocab_size=40)."""
    if family in FAMILIES and family != "vanilla" and n_loops is None:
        n_loops = 2                                  # a looped family alone: 2 loops
    family, n_loops = parse_variant(family, n_loops)
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    unknown = sorted(set(overrides) - {f.name for f in dataclasses.fields(Config)})
    if unknown:
        raise ValueError(f"unknown config field(s) {', '.join(unknown)}; the fields are "
                         f"{', '.join(f.name for f in dataclasses.fields(Config))}")
    clp, kv_share, gswa = FAMILIES[family]
    return dataclasses.replace(PRESETS[preset], n_loops=n_loops, clp=clp, kv_share=kv_share,
                               gswa=gswa, **overrides)


# Parameters

def param_shapes(cfg: Config) -> dict[str, tuple]:
    C, F, V, H = cfg.n_embd, cfg.d_ff, cfg.vocab_size, cfg.n_head
    shapes = {"wte": (V, C)}
    for j in range(cfg.n_layer):
        p = f"layers.{j}."
        shapes[p + "attn_norm"] = (C,)
        for w in ("wq", "wk", "wv", "wo"):
            shapes[p + w] = (C, C)
        if cfg.gswa:
            shapes[p + "gate_w"] = (C, H)
            shapes[p + "gate_b"] = (H,)
        shapes[p + "mlp_norm"] = (C,)
        shapes[p + "w1"] = (C, F)
        shapes[p + "w3"] = (C, F)
        shapes[p + "w2"] = (F, C)
    shapes["norm_f"] = (C,)
    shapes["lm_head"] = (C, V)
    return shapes


def init_params(cfg: Config, seed: int = 0) -> dict[str, np.ndarray]:
    """Random initial parameters. Matrices ~ N(0, 0.02), residual outputs (wo, w2) scaled
    down by sqrt(2 NL L) as in GPT-2, norms 1, the G-SWA gate 0 (every gate starts at 0.5).
    [choice] (docs/method.md §9) The embedding is N(0, 1), not N(0, 0.02): with CLP, loop l >= 2 adds E_t to
    N(h), whose RMS is 1, and the token must not be drowned out at the start."""
    rng = np.random.default_rng(seed)
    dtype = np.dtype(cfg.dtype)
    depth_scale = 1.0 / math.sqrt(2 * cfg.n_layer * cfg.n_loops)
    params = {}
    for name, shape in param_shapes(cfg).items():
        leaf = name.rsplit(".", 1)[-1]
        if leaf in ("attn_norm", "mlp_norm", "norm_f"):
            value = np.ones(shape)
        elif leaf in ("gate_w", "gate_b"):
            value = np.zeros(shape)
        elif leaf == "wte":
            value = rng.normal(0.0, 1.0, shape)
        else:
            std = 0.02 * (depth_scale if leaf in ("wo", "w2") else 1.0)
            value = rng.normal(0.0, std, shape)
        params[name] = value.astype(dtype)
    return params


def count_params(params: dict[str, np.ndarray]) -> int:
    return int(sum(p.size for p in params.values()))


def check_tokens(tokens, cfg: Config, what: str = "tokens", ndim: int | None = None):
    """Token ids as an int64 array, or a clear ValueError saying what is wrong."""
    arr = np.asarray(tokens)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.integer)):
        raise ValueError(f"{what} must be integer token ids, got dtype {arr.dtype}; "
                         "encode text with the tokenizer first")
    if ndim is not None and arr.ndim != ndim:
        shape = "(T,)" if ndim == 1 else "(B, T)"
        raise ValueError(f"{what} must have shape {shape}, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{what} is empty: give at least one token")
    low, high = int(arr.min()), int(arr.max())
    if low < 0 or high >= cfg.vocab_size:
        bad = low if low < 0 else high
        raise ValueError(f"{what} contain id {bad}, outside the vocabulary 0..{cfg.vocab_size - 1}; "
                         "was the text encoded with this model's tokenizer?")
    return arr.astype(np.int64)


# ----------------------------------------------------------------------------------------
# 2. Layers: forward/backward pairs. Each forward returns what its backward needs.

def rmsnorm_forward(x, g, eps):
    """y = x / sqrt(mean(x^2) + eps) * g over the last axis."""
    rstd = 1.0 / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps)  # (..., 1)
    return x * rstd * g, rstd


def rmsnorm_backward(dy, x, g, rstd):
    """Forward was y = x * rstd * g with rstd = (mean(x^2) + eps)^-1/2, so
    dx = rstd * (dy*g - x * rstd^2 * mean(dy*g*x)) and dg = sum(dy * x * rstd)."""
    dxhat = dy * g                                                       # (..., C)
    dx = rstd * (dxhat - x * (rstd ** 2) * np.mean(dxhat * x, axis=-1, keepdims=True))
    dg = np.sum(dy * x * rstd, axis=tuple(range(dy.ndim - 1)))           # (C,)
    return dx, dg


def rope_tables(head_size: int, n_positions: int, base: float, dtype=np.float64):
    """cos, sin of the rotary angles t * base^(-2i/D): (n_positions, D/2) each."""
    inv_freq = base ** (-np.arange(0, head_size, 2) / head_size)         # (D/2,)
    angles = np.outer(np.arange(n_positions), inv_freq)                  # (T, D/2)
    return np.cos(angles).astype(dtype), np.sin(angles).astype(dtype)


def rope_forward(x, cos, sin):
    """Rotate pairs (x1, x2) = (first half, second half) of each head by the angle of its
    position ('rotate-half' convention). x (..., T, D), cos/sin (T, D/2)."""
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    return np.concatenate([x1 * cos - x2 * sin, x1 * sin + x2 * cos], axis=-1)


def rope_backward(dy, cos, sin):
    """A rotation's transpose rotates back: dx1 = dy1 cos + dy2 sin, dx2 = -dy1 sin + dy2 cos."""
    half = dy.shape[-1] // 2
    dy1, dy2 = dy[..., :half], dy[..., half:]
    return np.concatenate([dy1 * cos + dy2 * sin, -dy1 * sin + dy2 * cos], axis=-1)


def causal_mask(T: int, window: int | None = None):
    """(T, T) bool, True where query t may see key s: s <= t (and s > t - W with a window)."""
    t = np.arange(T)[:, None]
    s = np.arange(T)[None, :]
    mask = s <= t
    if window is not None:
        mask &= s > t - window
    return mask


def softmax(x, axis=-1):
    e = x - np.max(x, axis=axis, keepdims=True)
    np.exp(e, out=e)                   # in place: one array instead of three
    e /= np.sum(e, axis=axis, keepdims=True)
    return e


def attention_forward(q, k, v, mask, scale):
    """Softmax attention, masked positions excluded (-inf before the softmax, so they get
    exactly 0 weight). q (B,H,T,D), k/v (B,H,S,D), mask (T,S) -> y (B,H,T,D), probs (B,H,T,S)."""
    scores = q @ k.swapaxes(-1, -2)                                      # (B,H,T,S)
    scores *= scale
    scores[..., ~mask] = -np.inf                                         # in place
    probs = softmax(scores)
    return probs @ v, probs


def attention_backward(dy, q, k, v, probs, scale):
    """Forward was y = P v, P = softmax(s), s = q k^T * scale, so
    dv = P^T dy, dP = dy v^T, ds = P * (dP - sum(dP*P)), dq = ds k * scale, dk = ds^T q * scale."""
    dv = probs.swapaxes(-1, -2) @ dy                                     # (B,H,S,D)
    dprobs = dy @ v.swapaxes(-1, -2)                                     # (B,H,T,S)
    ds = probs * (dprobs - np.sum(dprobs * probs, axis=-1, keepdims=True))
    dq = (ds @ k) * scale                                                # (B,H,T,D)
    dk = (ds.swapaxes(-1, -2) @ q) * scale                               # (B,H,S,D)
    return dq, dk, dv


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def swiglu_forward(mw1, mw3):
    """z = silu(mw1) * mw3, silu(x) = x * sigmoid(x); mw1 = m @ w1, mw3 = m @ w3."""
    return mw1 * sigmoid(mw1) * mw3


def swiglu_backward(dz, mw1, mw3):
    """Forward was z = mw1 sig(mw1) mw3, so dmw3 = dz silu(mw1) and
    dmw1 = dz mw3 sig(mw1) (1 + mw1 (1 - sig(mw1)))."""
    sig = sigmoid(mw1)
    return dz * mw3 * sig * (1.0 + mw1 * (1.0 - sig)), dz * mw1 * sig


def cross_entropy_forward(logits, targets):
    """Mean cross-entropy over positions whose target is >= 0 (-1 = no target).
    logits (B,T,V), targets (B,T) -> loss, probs."""
    probs = softmax(logits)                                              # (B,T,V)
    valid = targets >= 0
    n = max(int(valid.sum()), 1)
    picked = np.take_along_axis(probs, np.maximum(targets, 0)[..., None], axis=-1)[..., 0]
    loss = -np.sum(np.log(picked, where=valid, out=np.zeros_like(picked))) / n
    return float(loss), probs


def cross_entropy_backward(probs, targets):
    """d loss / d logits = (probs - onehot(target)) / n at valid positions, 0 elsewhere."""
    valid = targets >= 0
    n = max(int(valid.sum()), 1)
    dlogits = probs.copy()
    b, t = np.nonzero(valid)
    dlogits[b, t, targets[b, t]] -= 1.0
    dlogits[~valid] = 0.0
    dlogits /= n
    return dlogits


def weight_grad(x, dy):
    """Gradient of a weight used as y = x @ w, summed over every leading axis:
    (..., C_in), (..., C_out) -> (C_in, C_out). One BLAS product (an einsum over b, t
    would be 5-10x slower)."""
    return x.reshape(-1, x.shape[-1]).T @ dy.reshape(-1, dy.shape[-1])


def split_heads(x, H):   # (B,T,C) -> (B,H,T,D)
    B, T, C = x.shape
    return x.reshape(B, T, H, C // H).transpose(0, 2, 1, 3)


def merge_heads(x):      # (B,H,T,D) -> (B,T,C)
    B, H, T, D = x.shape
    return x.transpose(0, 2, 1, 3).reshape(B, T, H * D)


# The layer operations of a training step, by name: the NumPy functions above, or the
# Numba kernels of train_kernels.py (same names, arguments and results), chosen once
# per forward and kept in ForwardActs.ops for the backward.
TRAIN_OPS = ("rmsnorm_forward", "rmsnorm_backward", "rope_forward", "rope_backward",
             "attention_forward", "attention_backward", "swiglu_forward", "swiglu_backward",
             "cross_entropy_forward", "cross_entropy_backward", "adamw_update",
             "sum_of_squares")
_TRAIN_OPS: dict[str, SimpleNamespace] = {}


def backend_ops(backend: str, names, kernels: str, built: dict) -> SimpleNamespace:
    """The functions `names` of this file ('numpy') or of minplt.<kernels> ('numba', the
    same names and arguments), built once per backend into `built`."""
    if backend not in ("numpy", "numba"):
        raise ValueError(f"unknown backend {backend!r}; choose 'numpy' or 'numba'")
    if backend not in built:
        if backend == "numpy":
            source = globals()
        else:
            import importlib
            source = vars(importlib.import_module(f"minplt.{kernels}"))
        built[backend] = SimpleNamespace(**{n: source[n] for n in names})
    return built[backend]


def get_train_ops(backend: str) -> SimpleNamespace:
    """The training step's layer operations: 'numpy' (this file) or 'numba'
    (train_kernels.py)."""
    return backend_ops(backend, TRAIN_OPS, "train_kernels", _TRAIN_OPS)


# ----------------------------------------------------------------------------------------
# 3. The block: forward and backward (docs/method.md §2, §5)

def loop_attention_kind(cfg: Config, loop: int) -> str:
    """How loop `loop` (0-based) attends: 'own' causal over its own keys/values;
    'shared' causal over loop 1's; 'gswa' shared (global) + own window (local), gated."""
    if loop == 0 or not cfg.kv_share:
        return "own"
    return "gswa" if cfg.gswa else "shared"


@dataclass
class BlockActs:
    """What one block's forward keeps for its backward. Only block_forward writes it.
    Shapes: (B,T,C) for u, a, y, u_mid, m; (B,H,T,D) for q, k, v, y_glob, y_loc;
    (B,H,T,T) for probs, probs_loc; (B,T,H) for gate; (B,T,F) for mw1, mw3, z."""
    kind: str                    # 'own', 'shared' or 'gswa' (loop_attention_kind)
    u: np.ndarray                # the block's input
    a: np.ndarray                # RMSNorm(u; attn_norm)
    rstd_attn: np.ndarray        # (B,T,1) the norm's 1/rms
    q: np.ndarray                # RoPE'd queries
    k: np.ndarray | None         # this loop's own RoPE'd keys (None for 'shared')
    v: np.ndarray | None         # this loop's own values (None for 'shared')
    shared_kv: tuple | None      # loop 1's (k, v) read by 'shared' and 'gswa'
    probs: np.ndarray            # attention weights (global ones for 'gswa')
    probs_loc: np.ndarray | None  # 'gswa': the window's attention weights
    y_glob: np.ndarray | None    # 'gswa': attention over loop 1's keys
    y_loc: np.ndarray | None     # 'gswa': attention over the own window
    gate: np.ndarray | None      # 'gswa': g = sigmoid(a Wg + bg)
    y: np.ndarray                # attention output, heads merged
    u_mid: np.ndarray            # u + y @ wo
    m: np.ndarray                # RMSNorm(u_mid; mlp_norm)
    rstd_mlp: np.ndarray         # (B,T,1)
    mw1: np.ndarray              # m @ w1 (not h^(1): a product inside the block)
    mw3: np.ndarray              # m @ w3
    z: np.ndarray                # silu(mw1) * mw3

    # The old names of mw1 and mw3, read by lesson 00 until it says mw1: remove then.
    h1 = property(lambda self: self.mw1)
    h3 = property(lambda self: self.mw3)


def block_forward(params, cfg, j, u, kind, shared_kv, cos, sin, ops=None):
    """One pre-norm block on u (B,T,C) [choice: LLaMA-style, pre-norm, no biases,
    docs/method.md §2, §9]. shared_kv is loop 1's (k, v) of this layer for 'shared' and
    'gswa'; ops the layer operations (get_train_ops; default the NumPy ones above).
    Returns the output (B,T,C) and the block's BlockActs."""
    ops = ops or get_train_ops("numpy")
    p = f"layers.{j}."
    H, D = cfg.n_head, cfg.head_size
    scale = 1.0 / math.sqrt(D)
    T = u.shape[1]
    a, rstd_attn = ops.rmsnorm_forward(u, params[p + "attn_norm"], cfg.norm_eps)  # (B,T,C)
    q = ops.rope_forward(split_heads(a @ params[p + "wq"], H), cos, sin)  # (B,H,T,D)
    k = v = probs_loc = y_glob = y_loc = gate = None
    if kind in ("own", "gswa"):                    # this loop computes its own keys/values
        k = ops.rope_forward(split_heads(a @ params[p + "wk"], H), cos, sin)  # (B,H,T,D)
        v = split_heads(a @ params[p + "wv"], H)                         # (B,H,T,D)
    if kind == "own":
        y, probs = ops.attention_forward(q, k, v, causal_mask(T), scale)
    elif kind == "shared":
        y, probs = ops.attention_forward(q, *shared_kv, causal_mask(T), scale)
    else:  # gswa: y = g * y_glob + (1 - g) * y_loc, one gate per head and position
        y_glob, probs = ops.attention_forward(q, *shared_kv, causal_mask(T), scale)
        y_loc, probs_loc = ops.attention_forward(q, k, v, causal_mask(T, cfg.window), scale)
        # [choice] the gate reads the block's normed input a_t (docs/method.md §5, §9)
        gate = sigmoid(a @ params[p + "gate_w"] + params[p + "gate_b"])  # (B,T,H)
        g = gate.transpose(0, 2, 1)[..., None]                           # (B,H,T,1)
        y = g * y_glob + (1.0 - g) * y_loc                               # (B,H,T,D)
    y = merge_heads(y)                                                   # (B,T,C)
    u_mid = u + y @ params[p + "wo"]                                     # (B,T,C)
    m, rstd_mlp = ops.rmsnorm_forward(u_mid, params[p + "mlp_norm"], cfg.norm_eps)
    mw1 = m @ params[p + "w1"]                                           # (B,T,F)
    mw3 = m @ params[p + "w3"]                                           # (B,T,F)
    z = ops.swiglu_forward(mw1, mw3)                                       # (B,T,F)
    out = u_mid + z @ params[p + "w2"]                                   # (B,T,C)
    acts = BlockActs(kind, u, a, rstd_attn, q, k, v,
                     shared_kv if kind != "own" else None, probs, probs_loc, y_glob,
                     y_loc, gate, y, u_mid, m, rstd_mlp, mw1, mw3, z)
    return out, acts


def block_backward(params, cfg, j, dout, c: BlockActs, grads, dshared, cos, sin, ops=None,
                   is_shared_source=False):
    """Backward of block_forward. dout (B,T,C) -> du (B,T,C). Adds to grads. For
    'shared'/'gswa' adds to dshared[j] (the gradient of loop 1's keys and values); with
    is_shared_source (loop 1 under kv_share) it adds what later loops left in dshared[j]
    to this block's own dk, dv. ops: as in block_forward."""
    ops = ops or get_train_ops("numpy")
    p = f"layers.{j}."
    H, D = cfg.n_head, cfg.head_size
    scale = 1.0 / math.sqrt(D)
    # forward: out = u_mid + z @ w2, z = swiglu(m w1, m w3), m = rmsnorm(u_mid)
    grads[p + "w2"] += weight_grad(c.z, dout)
    dz = dout @ params[p + "w2"].T                                       # (B,T,F)
    dmw1, dmw3 = ops.swiglu_backward(dz, c.mw1, c.mw3)
    grads[p + "w1"] += weight_grad(c.m, dmw1)
    grads[p + "w3"] += weight_grad(c.m, dmw3)
    dm = dmw1 @ params[p + "w1"].T + dmw3 @ params[p + "w3"].T             # (B,T,C)
    dx, dg = ops.rmsnorm_backward(dm, c.u_mid, params[p + "mlp_norm"], c.rstd_mlp)
    grads[p + "mlp_norm"] += dg
    du_mid = dout + dx
    # forward: u_mid = u + y @ wo
    grads[p + "wo"] += weight_grad(c.y, du_mid)
    dy = split_heads(du_mid @ params[p + "wo"].T, H)                     # (B,H,T,D)
    da = np.zeros_like(c.a)
    if c.kind == "own":
        dq, dk, dv = ops.attention_backward(dy, c.q, c.k, c.v, c.probs, scale)
    elif c.kind == "shared":
        dq, dk1, dv1 = ops.attention_backward(dy, c.q, *c.shared_kv, c.probs, scale)
        dshared[j][0] += dk1
        dshared[j][1] += dv1
        dk = dv = None
    else:
        # forward was y = g * y_glob + (1 - g) * y_loc, so d y_glob = g dy,
        # d y_loc = (1 - g) dy and dg = sum over D of (y_glob - y_loc) * dy
        g = c.gate.transpose(0, 2, 1)[..., None]                         # (B,H,T,1)
        dgate = np.sum((c.y_glob - c.y_loc) * dy, axis=-1).transpose(0, 2, 1)  # (B,T,H)
        dpre = dgate * c.gate * (1.0 - c.gate)               # through the sigmoid
        grads[p + "gate_w"] += weight_grad(c.a, dpre)
        grads[p + "gate_b"] += dpre.sum(axis=(0, 1))
        da += dpre @ params[p + "gate_w"].T
        dq, dk1, dv1 = ops.attention_backward(g * dy, c.q, *c.shared_kv, c.probs, scale)
        dshared[j][0] += dk1
        dshared[j][1] += dv1
        dq_loc, dk, dv = ops.attention_backward((1.0 - g) * dy, c.q, c.k, c.v, c.probs_loc,
                                                scale)
        dq = dq + dq_loc
    if is_shared_source:                           # later loops' reads of these k, v
        dk = dk + dshared[j][0]
        dv = dv + dshared[j][1]
    # forward: q = rope(a wq), k = rope(a wk), v = a wv
    dq = merge_heads(ops.rope_backward(dq, cos, sin))                    # (B,T,C)
    grads[p + "wq"] += weight_grad(c.a, dq)
    da += dq @ params[p + "wq"].T
    if dk is not None:
        dk = merge_heads(ops.rope_backward(dk, cos, sin))
        dv = merge_heads(dv)
        grads[p + "wk"] += weight_grad(c.a, dk)
        grads[p + "wv"] += weight_grad(c.a, dv)
        da += dk @ params[p + "wk"].T + dv @ params[p + "wv"].T
    dx, dg = ops.rmsnorm_backward(da, c.u, params[p + "attn_norm"], c.rstd_attn)
    grads[p + "attn_norm"] += dg
    return du_mid + dx


# ----------------------------------------------------------------------------------------
# 4. The model: forward and backward over a batch (teacher forcing). Loops run one after
# another over the whole sequence: loop 1 over all T positions (keeping its keys and
# values), then loop 2, ... (docs/method.md §4, §6). The backward undoes the loops last
# to first, so by the time loop 1's layer j is reached, every later loop has added its
# gradient to loop 1's keys and values.

@dataclass
class LoopActs:
    """One loop of the forward: its input u (B,T,C), its blocks' BlockActs, its output
    h (B,T,C), and with CLP the hand-over's (h^(l-1), 1/rms) for the backward."""
    u: np.ndarray
    layers: list
    h: np.ndarray
    hand: tuple | None = None


@dataclass
class ForwardActs:
    """What forward keeps for backward. probs and targets are set when given targets."""
    idx: np.ndarray              # (B,T) token ids
    cos: np.ndarray              # (T, D/2) RoPE tables
    sin: np.ndarray
    loops: list                  # LoopActs, loop 1 first
    hn: np.ndarray               # (B,T,C) N(h^(L))
    rstd_f: np.ndarray           # (B,T,1)
    ops: SimpleNamespace         # the layer operations the forward used (get_train_ops)
    probs: np.ndarray | None = None     # (B,T,V) softmax of the logits
    targets: np.ndarray | None = None   # (B,T)


def forward(params, cfg: Config, idx, targets=None, backend: str = "numpy"):
    """The training forward. idx (B,T) token ids; targets (B,T) next tokens or -1;
    backend 'numpy' (the layers above) or 'numba' (train_kernels.py, the same layers
    compiled). Returns (logits (B,T,V), loss or None, ForwardActs for backward)."""
    ops = get_train_ops(backend)
    idx = check_tokens(idx, cfg, "input tokens", ndim=2)
    B, T = idx.shape
    if T > cfg.block_size:
        raise ValueError(f"sequence length {T} exceeds config.block_size = {cfg.block_size}")
    if targets is not None:
        targets = np.asarray(targets)
        if targets.shape != idx.shape:
            raise ValueError(f"targets shape {targets.shape} differs from input shape {idx.shape}")
        if not np.issubdtype(targets.dtype, np.integer):
            raise ValueError(f"targets must be integer token ids (-1 = none), got {targets.dtype}")
        if targets.min() < -1 or targets.max() >= cfg.vocab_size:
            raise ValueError(f"targets must be in -1..{cfg.vocab_size - 1}")
    cos, sin = rope_tables(cfg.head_size, T, cfg.rope_base, np.dtype(cfg.dtype))
    E = params["wte"][idx]                                               # (B,T,C)
    loops = []
    shared = [None] * cfg.n_layer          # loop 1's (k, v) per layer
    h = None
    for loop in range(cfg.n_loops):
        kind = loop_attention_kind(cfg, loop)
        hand = None
        if loop == 0:
            u = E                                                        # u^(1)_t = E_t
        elif cfg.clp:       # u^(l)_t = E_t + N(h^(l-1)_{t-1}), h_{-1} := 0
            hn, rstd = ops.rmsnorm_forward(h, params["norm_f"], cfg.norm_eps)
            shifted = np.zeros_like(hn)
            shifted[:, 1:] = hn[:, :-1]                                  # (B,T,C)
            u, hand = E + shifted, (h, rstd)
        else:
            # [choice] without CLP, u^(l)_t = h^(l-1)_t: a weight-tied deeper model
            # (docs/method.md §4, §9)
            u = h
        x, layers = u, []
        for j in range(cfg.n_layer):
            x, acts = block_forward(params, cfg, j, x, kind, shared[j], cos, sin, ops)
            if loop == 0:
                shared[j] = (acts.k, acts.v)
            layers.append(acts)
        h = x
        loops.append(LoopActs(u=u, layers=layers, h=h, hand=hand))
    hn, rstd_f = ops.rmsnorm_forward(h, params["norm_f"], cfg.norm_eps)  # (B,T,C)
    logits = hn @ params["lm_head"]                                      # (B,T,V)
    acts = ForwardActs(idx, cos, sin, loops, hn, rstd_f, ops)
    loss = None
    if targets is not None:
        loss, acts.probs = ops.cross_entropy_forward(logits, targets)
        acts.targets = targets
    return logits, loss, acts


def backward(params, cfg: Config, acts: ForwardActs) -> dict[str, np.ndarray]:
    """Gradients of the mean loss with respect to every parameter (a fresh dict per call,
    so nothing accumulates across calls)."""
    if acts.probs is None:
        raise ValueError("backward needs a forward that was given targets")
    grads = {k: np.zeros_like(v) for k, v in params.items()}
    cos, sin, ops = acts.cos, acts.sin, acts.ops
    dlogits = ops.cross_entropy_backward(acts.probs, acts.targets)       # (B,T,V)
    # forward: logits = hn @ lm_head, hn = rmsnorm(h^(L); norm_f)
    grads["lm_head"] += weight_grad(acts.hn, dlogits)
    dhn = dlogits @ params["lm_head"].T                                  # (B,T,C)
    dh, dg = ops.rmsnorm_backward(dhn, acts.loops[-1].h, params["norm_f"], acts.rstd_f)
    grads["norm_f"] += dg
    dE = np.zeros_like(dh)
    dshared = [[0.0, 0.0] for _ in range(cfg.n_layer)] if cfg.kv_share else None
    for loop in reversed(range(cfg.n_loops)):
        record = acts.loops[loop]
        for j in reversed(range(cfg.n_layer)):
            dh = block_backward(params, cfg, j, dh, record.layers[j], grads, dshared, cos,
                                sin, ops, is_shared_source=(loop == 0 and cfg.kv_share))
        du = dh                                       # gradient of loop `loop`'s input u
        if loop == 0:
            dE += du
        elif cfg.clp:
            # forward: u_t = E_t + N(h_{t-1}); the shift sends du_t back to position t-1
            dE += du
            h_prev, rstd = record.hand
            dhn_prev = np.zeros_like(du)
            dhn_prev[:, :-1] = du[:, 1:]
            dh, dg = ops.rmsnorm_backward(dhn_prev, h_prev, params["norm_f"], rstd)
            grads["norm_f"] += dg
        else:
            dh = du                                   # forward: u^(l) = h^(l-1)
    grads["wte"] += embedding_grad(acts.idx, dE, cfg.vocab_size)   # forward: E = wte[idx]
    return grads


def embedding_grad(idx, dE, vocab_size):
    """Gradient of wte from E = wte[idx]: row v sums dE over the positions holding token
    v. Sorted by token, the sums are one np.add.reduceat (3x faster than np.add.at)."""
    flat = idx.reshape(-1)
    order = np.argsort(flat, kind="stable")
    tokens = flat[order]
    starts = np.flatnonzero(np.r_[True, tokens[1:] != tokens[:-1]])      # first of each run
    grad = np.zeros((vocab_size, dE.shape[-1]), dE.dtype)
    grad[tokens[starts]] = np.add.reduceat(dE.reshape(-1, dE.shape[-1])[order], starts, axis=0)
    return grad


def loss_and_grads(params, cfg, idx, targets, backend: str = "numpy"):
    """One forward and backward: (loss, grads)."""
    _, loss, acts = forward(params, cfg, idx, targets, backend)
    return loss, backward(params, cfg, acts)


# ----------------------------------------------------------------------------------------
# 5. AdamW with weight decay on matrices only, gradient clipping, a learning-rate schedule

class AdamW:
    """AdamW over a parameter dict. backend: 'numpy' (adamw_update below) or 'numba'
    (train_kernels.adamw_update, one pass over each parameter)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1,
                 backend: str = "numpy"):
        self.lr, self.betas, self.eps, self.weight_decay = lr, betas, eps, weight_decay
        self.m = {k: np.zeros_like(v) for k, v in params.items()}
        self.v = {k: np.zeros_like(v) for k, v in params.items()}
        self.t = 0
        self.ops = get_train_ops(backend)

    def step(self, params, grads, lr=None):
        """Update params in place. Decay only matrices (ndim 2): not norms or the gate bias."""
        lr = self.lr if lr is None else lr
        self.t += 1
        for k, p in params.items():
            decay = self.weight_decay if p.ndim == 2 else 0.0
            self.ops.adamw_update(p, grads[k], self.m[k], self.v[k], lr, *self.betas,
                                  self.eps, decay, self.t)

    def state_arrays(self) -> dict[str, np.ndarray]:
        """Optimizer state as arrays, for save_checkpoint(extra=...)."""
        out = {f"adam_m/{k}": v for k, v in self.m.items()}
        out.update({f"adam_v/{k}": v for k, v in self.v.items()})
        out["adam_t"] = np.array(self.t)
        return out

    def load_state_arrays(self, arrays):
        for k in self.m:
            self.m[k] = arrays[f"adam_m/{k}"].astype(self.m[k].dtype)
            self.v[k] = arrays[f"adam_v/{k}"].astype(self.v[k].dtype)
        self.t = int(arrays["adam_t"])


def adamw_update(p, g, m, v, lr, b1, b2, eps, weight_decay, t):
    """One AdamW step on one parameter, in place: m = b1 m + (1-b1) g,
    v = b2 v + (1-b2) g^2, p -= lr wd p, p -= lr m_hat / (sqrt(v_hat) + eps) with the
    bias corrections m_hat = m / (1 - b1^t), v_hat = v / (1 - b2^t), t counted from 1."""
    m *= b1
    m += (1 - b1) * g
    v *= b2
    v += (1 - b2) * g * g
    m_hat = m / (1 - b1 ** t)
    v_hat = v / (1 - b2 ** t)
    if weight_decay:
        p -= lr * weight_decay * p
    p -= (lr * m_hat / (np.sqrt(v_hat) + eps)).astype(p.dtype)


def sum_of_squares(g) -> float:
    """sum(g^2) in float64."""
    return float(np.sum(g.astype(np.float64) ** 2))


def clip_grad_norm(grads, max_norm: float, backend: str = "numpy") -> float:
    """Scale all gradients in place so their global norm is at most max_norm; return the
    norm before clipping."""
    ops = get_train_ops(backend)
    norm = math.sqrt(sum(ops.sum_of_squares(g) for g in grads.values()))
    if max_norm > 0 and norm > max_norm:
        for g in grads.values():
            g *= max_norm / (norm + 1e-12)
    return norm


def lr_schedule(step: int, max_lr: float, warmup: int, total: int, min_lr_ratio=0.1) -> float:
    """Linear warm-up for `warmup` steps, then cosine decay to min_lr_ratio * max_lr."""
    if step < warmup:
        return max_lr * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return max_lr * (min_lr_ratio + (1 - min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


# ----------------------------------------------------------------------------------------
# 6. Decoding a batch of B sequences (B = 1 for one): the cache, the row operations of one
# pass, the pass through the stack, prefill, the two schedules side by side, generate
# (docs/method.md §7, §8).
#
# [choice] Sequences of different lengths keep their own positions: sequence b is at
# position pos[b], gets RoPE angles of pos[b], and attends to its own first pos[b] + 1
# cache entries. No padding and no mask, so each sequence's logits are exactly those of
# decoding it alone; the price is a per-sequence loop inside the attention kernel.

@dataclass
class DecodeCache:
    """What decoding keeps between steps, for B sequences.
    k, v: (n_full, NL, B, H, cap, D) full caches; index 0 is loop 1 (shared when kv_share),
          1..L-1 the own caches of loops 2..L when there is no kv_share (n_full = 1 or L).
    k_ring, v_ring: (L-1, NL, B, H, Wcap, D) the window ring buffers of loops 2..L (gswa);
          position t lives in slot t % Wcap.
    carried: (L-1, B, C) h^(l)_{t-1}, l = 1..L-1, handed to the next step (clp).
    pos: (B,) positions already in the cache, per sequence.
    trace: (position, loop) cells of every pass, for sequence 0.
    ops: the row operations every step uses (get_ops), chosen once when the cache is made.
    packed: the weights packed for the compiled step (numba backend), made at its first step."""
    k: np.ndarray
    v: np.ndarray
    k_ring: np.ndarray | None
    v_ring: np.ndarray | None
    carried: np.ndarray | None
    capacity: int
    pos: np.ndarray
    trace: list = field(default_factory=list)
    ops: SimpleNamespace | None = None
    packed: object = None        # the numba backend's packed weights (decode_step.py)

    @property
    def batch_size(self) -> int:
        return len(self.pos)

    def copy(self) -> "DecodeCache":
        """An independent copy (its arrays copied), decoded with the same ops."""
        def copy(a):
            return None if a is None else a.copy()
        return dataclasses.replace(self, k=copy(self.k), v=copy(self.v), k_ring=copy(self.k_ring),
                                   v_ring=copy(self.v_ring), carried=copy(self.carried),
                                   pos=self.pos.copy(), trace=[list(c) for c in self.trace])


def new_cache(cfg: Config, capacity: int | None = None, backend: str = "numpy",
              batch_size: int = 1) -> DecodeCache:
    """An empty cache for `batch_size` sequences of up to `capacity` positions (default
    config.block_size), decoded with the row operations of `backend` ('numpy', 'numba')."""
    capacity = cfg.block_size if capacity is None else capacity
    if capacity < 1:
        raise ValueError(f"cache capacity must be >= 1, got {capacity}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    ops = get_ops(backend)
    dtype = np.dtype(cfg.dtype)
    L, NL, B, H, D = cfg.n_loops, cfg.n_layer, batch_size, cfg.n_head, cfg.head_size
    n_full = 1 if (cfg.kv_share or L == 1) else L
    k = np.zeros((n_full, NL, B, H, capacity, D), dtype)
    ring = None
    if cfg.gswa:
        ring = (L - 1, NL, B, H, min(cfg.window, capacity), D)
    return DecodeCache(
        k=k, v=np.zeros_like(k),
        k_ring=np.zeros(ring, dtype) if ring else None,
        v_ring=np.zeros(ring, dtype) if ring else None,
        carried=np.zeros((L - 1, B, cfg.n_embd), dtype) if cfg.clp else None,
        capacity=capacity, pos=np.zeros(B, np.int64), ops=ops)


def kv_cache_bytes(cfg: Config, cache: DecodeCache) -> int:
    """Bytes of keys and values the cache holds for its sequences' positions
    (docs/method.md §8, summed over the batch; the preallocated arrays are larger until
    they fill up). Carried states are not included: see carried_bytes."""
    per_position = 2 * cfg.n_layer * cfg.n_embd * cache.k.itemsize     # c in §8
    n_full = cache.k.shape[0]
    total = n_full * int(cache.pos.sum()) * per_position
    if cache.k_ring is not None:
        held = int(np.minimum(cache.pos, cfg.window).sum())
        total += (cfg.n_loops - 1) * held * per_position
    return total


def carried_bytes(cfg: Config, cache: DecodeCache) -> int:
    return 0 if cache.carried is None else cache.carried.nbytes


def kv_cache_bytes_formula(cfg: Config, n: int, bytes_per_position: int | None = None) -> int:
    """The memory table of docs/method.md §8, for one sequence of n positions; c is the
    bytes of one position's keys and values in all layers (2 NL C bytes_per_value)."""
    c = bytes_per_position
    if c is None:
        c = 2 * cfg.n_layer * cfg.n_embd * np.dtype(cfg.dtype).itemsize
    L = cfg.n_loops
    if L == 1 or cfg.kv_share:
        extra = (L - 1) * min(n, cfg.window) * c if cfg.gswa else 0
        return n * c + extra
    return L * n * c


def kv_cache_formula_text(cfg: Config) -> str:
    """The same row of the table, as text: 'N c', 'L N c' or 'N c + (L-1) min(N,W) c'."""
    if cfg.n_loops > 1 and not cfg.kv_share:
        return "L N c"
    return "N c + (L-1) min(N,W) c" if cfg.gswa else "N c"


# The row operations of one decode pass: R rows, a few per sequence, at each sequence's
# own position. The Numba kernels in kernels.py have the same names and arguments and
# are tested against these; get_ops picks one set or the other.

def linear_rows(x, w):
    """(R,C) @ (C,N) -> (R,N). Plain `@` here; kernels.linear_rows reads w once for all R."""
    return x @ w


def rmsnorm_rows(x, g, eps):
    """(R,C) -> (R,C), RMSNorm of each row."""
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * g


def rope_rows(x, cos, sin):
    """(R,H,D) rotated, row r by its own position's angles: cos, sin (R, D/2)."""
    return rope_forward(x, cos[:, None, :], sin[:, None, :])


def attention_over_cache(q, k, v, n, scale):
    """Each sequence's query rows over the first n[b] cached keys/values of every head.
    q (B,R,H,D), k/v (B,H,cap,D), n (B,) -> (B,R,H,D). Entries n[b].. are not looked at,
    and each sequence's cache is read once for all its R rows."""
    out = np.empty_like(q)
    for b in range(q.shape[0]):
        kb, vb = k[b, :, :n[b]], v[b, :, :n[b]]                          # (H,n,D)
        scores = np.einsum("rhd,hnd->rhn", q[b], kb) * scale             # (R,H,n)
        out[b] = np.einsum("rhn,hnd->rhd", softmax(scores), vb)          # (R,H,D)
    return out


def swiglu_rows(a, b):
    """silu(a) * b, (R,F)."""
    return a * sigmoid(a) * b


ROW_OPS = ("linear_rows", "rmsnorm_rows", "rope_rows", "attention_over_cache", "swiglu_rows")
_OPS: dict[str, SimpleNamespace] = {}


def get_ops(backend: str) -> SimpleNamespace:
    """The row operations of a decode pass: 'numpy' (the functions above) or 'numba'
    (kernels.py, same names and arguments); `.backend` names which, and
    `.compiled_step` is the numba backend's whole step in one call (decode_step.py; None
    on numpy), which step_batch runs instead of the schedules below."""
    ops = backend_ops(backend, ROW_OPS, "kernels", _OPS)
    if not hasattr(ops, "backend"):
        import importlib
        ops.backend = backend
        ops.compiled_step = importlib.import_module("minplt.decode_step").step_batch \
            if backend == "numba" else None
    return ops


def stack_rows(params, cfg: Config, cache: DecodeCache, u, loops):
    """One pass through the shared stack for R rows of each of the B sequences, all at
    their position cache.pos[b]; row i of every sequence computes loop loops[i]
    (0-based). u (B,R,C) -> h (B,R,C). Every row's keys/values are written to their
    cache before the layer's attention, so rows of loops >= 2 see position t of loop 1.
    The products see all B*R rows at once: each weight is read once per pass."""
    ops = cache.ops
    H, D, W = cfg.n_head, cfg.head_size, cfg.window
    B, R, C = u.shape
    t = cache.pos                                                        # (B,)
    scale = 1.0 / math.sqrt(D)
    angles = t[:, None] * cfg.rope_base ** (-np.arange(0, D, 2) / D)     # (B, D/2)
    cos = np.repeat(np.cos(angles).astype(u.dtype), R, axis=0)           # (B*R, D/2)
    sin = np.repeat(np.sin(angles).astype(u.dtype), R, axis=0)
    kinds = [loop_attention_kind(cfg, l) for l in loops]
    kv_rows = [i for i, kind in enumerate(kinds) if kind != "shared"]    # rows storing k, v
    on_shared = [i for i, l in enumerate(loops) if l == 0 or cfg.kv_share]
    gswa_rows = [i for i, kind in enumerate(kinds) if kind == "gswa"]
    seqs = np.arange(B)
    u = u.reshape(B * R, C)
    for j in range(cfg.n_layer):
        p = f"layers.{j}."
        a = ops.rmsnorm_rows(u, params[p + "attn_norm"], cfg.norm_eps)   # (B*R,C)
        q = ops.rope_rows(ops.linear_rows(a, params[p + "wq"]).reshape(B * R, H, D), cos, sin)
        q = q.reshape(B, R, H, D)
        a_rows = a.reshape(B, R, C)
        if kv_rows:
            a_kv = a_rows[:, kv_rows].reshape(-1, C)                     # (B*R',C)
            rows_cos = cos.reshape(B, R, -1)[:, kv_rows].reshape(len(a_kv), -1)
            rows_sin = sin.reshape(B, R, -1)[:, kv_rows].reshape(len(a_kv), -1)
            k = ops.rope_rows(ops.linear_rows(a_kv, params[p + "wk"]).reshape(-1, H, D),
                              rows_cos, rows_sin).reshape(B, len(kv_rows), H, D)
            v = ops.linear_rows(a_kv, params[p + "wv"]).reshape(B, len(kv_rows), H, D)
            for n, i in enumerate(kv_rows):                # write before attending
                l = loops[i]
                if l == 0 or not cfg.kv_share:
                    cache.k[l, j, seqs, :, t], cache.v[l, j, seqs, :, t] = k[:, n], v[:, n]
                else:
                    slot = t % cache.k_ring.shape[4]
                    cache.k_ring[l - 1, j, seqs, :, slot] = k[:, n]
                    cache.v_ring[l - 1, j, seqs, :, slot] = v[:, n]
        y = np.empty((B, R, H, D), u.dtype)
        if on_shared:       # all rows reading loop 1's cache: one read of it for them all
            y[:, on_shared] = ops.attention_over_cache(q[:, on_shared], cache.k[0, j],
                                                       cache.v[0, j], t + 1, scale)
        y_loc = np.empty((B, len(gswa_rows), H, D), u.dtype)
        for i, l in enumerate(loops):
            if kinds[i] == "own" and l > 0:                # own full cache (no kv_share)
                y[:, i:i + 1] = ops.attention_over_cache(q[:, i:i + 1], cache.k[l, j],
                                                         cache.v[l, j], t + 1, scale)
            elif kinds[i] == "gswa":                       # the local branch: own window
                y_loc[:, gswa_rows.index(i)] = ops.attention_over_cache(
                    q[:, i:i + 1], cache.k_ring[l - 1, j], cache.v_ring[l - 1, j],
                    np.minimum(t + 1, W), scale)[:, 0]
        if gswa_rows:       # y = g y_glob + (1 - g) y_loc, the gates of all rows in one product
            a_gate = a_rows[:, gswa_rows].reshape(-1, C)                 # (B*G,C)
            gate = sigmoid(a_gate @ params[p + "gate_w"] + params[p + "gate_b"])
            gate = gate.reshape(B, len(gswa_rows), H, 1)                 # (B,G,H,1)
            y[:, gswa_rows] = gate * y[:, gswa_rows] + (1.0 - gate) * y_loc
        u = u + ops.linear_rows(y.reshape(B * R, H * D), params[p + "wo"])  # (B*R,C)
        m = ops.rmsnorm_rows(u, params[p + "mlp_norm"], cfg.norm_eps)
        z = ops.swiglu_rows(ops.linear_rows(m, params[p + "w1"]),
                            ops.linear_rows(m, params[p + "w3"]))        # (B*R,F)
        u = u + ops.linear_rows(z, params[p + "w2"])                     # (B*R,C)
    return u.reshape(B, R, C)


def head_rows(params, cfg, h, ops):
    """logits = N(h) @ lm_head for rows h (R,C) -> (R,V)."""
    return ops.linear_rows(ops.rmsnorm_rows(h, params["norm_f"], cfg.norm_eps), params["lm_head"])


def prefill_batch(params, cfg: Config, prompts, capacity: int | None = None,
                  backend: str = "numpy"):
    """Run the training computation over each prompt (they may differ in length) and
    keep what decoding needs: loop 1's keys/values, later loops' full caches (no
    kv_share) or last W keys/values (gswa), and with CLP the last position's h^(l),
    l = 1..L-1. The steps after it use the row operations of `backend`.
    Returns (logits of each sequence's next token (B,V), cache)."""
    if isinstance(prompts, np.ndarray) and prompts.ndim == 2:
        prompts = list(prompts)
    if not isinstance(prompts, (list, tuple)) or not prompts:
        raise ValueError("prompts must be a non-empty list of token-id sequences "
                         "(use prefill for a single prompt)")
    prompts = [check_tokens(p, cfg, f"prompt {b}", ndim=1) for b, p in enumerate(prompts)]
    cache = new_cache(cfg, capacity, backend, batch_size=len(prompts))
    longest = max(len(p) for p in prompts)
    if longest > cache.capacity:
        raise ValueError(f"a prompt of {longest} tokens does not fit the cache of "
                         f"{cache.capacity} positions: shorten the prompt or pass a larger "
                         "capacity (default: config.block_size)")
    Wc = cache.k_ring.shape[4] if cache.k_ring is not None else 0
    logits = np.empty((len(prompts), cfg.vocab_size), np.dtype(cfg.dtype))
    for b, prompt in enumerate(prompts):
        P = len(prompt)
        out, _, acts = forward(params, cfg, prompt[None, :])
        logits[b] = out[0, -1]
        for loop, record in enumerate(acts.loops):
            for j, block in enumerate(record.layers):
                if loop == 0 or not cfg.kv_share:           # a full cache: every position
                    cache.k[loop, j, b, :, :P] = block.k[0]
                    cache.v[loop, j, b, :, :P] = block.v[0]
                elif cfg.gswa:                              # a ring: the last min(P, W)
                    for t in range(max(0, P - Wc), P):
                        cache.k_ring[loop - 1, j, b, :, t % Wc] = block.k[0, :, t]
                        cache.v_ring[loop - 1, j, b, :, t % Wc] = block.v[0, :, t]
            if cfg.clp and loop < cfg.n_loops - 1:
                cache.carried[loop, b] = record.h[0, P - 1]
            if b == 0:
                cache.trace.append([(t, loop + 1) for t in range(P)])
        cache.pos[b] = P
    return logits, cache


def prefill(params, cfg: Config, prompt, capacity: int | None = None, backend: str = "numpy"):
    """prefill_batch for one prompt: returns (logits of the next token (V,), cache)."""
    prompt = check_tokens(prompt, cfg, "prompt", ndim=1)
    logits, cache = prefill_batch(params, cfg, [prompt], capacity, backend)
    return logits[0], cache


def check_step_tokens(cfg, cache, tokens):
    """The B tokens of a step as an int64 array, or a clear ValueError (also used by the
    compiled step, decode_step.py)."""
    tokens = np.asarray(tokens)
    if tokens.dtype.kind not in "iu" or tokens.ndim != 1:     # integers (not bool, object)
        raise ValueError(f"tokens must be one integer token id per sequence, got {tokens!r}")
    if len(tokens) != cache.batch_size:
        raise ValueError(f"the cache holds {cache.batch_size} sequence(s), but {len(tokens)} "
                         "token(s) were given: pass one token per sequence")
    ids = tokens.tolist()                  # a few ids: Python's min/max are the quickest
    if min(ids) < 0 or max(ids) >= cfg.vocab_size:
        bad = next(t for t in ids if t < 0 or t >= cfg.vocab_size)
        raise ValueError(f"token {bad} is outside the vocabulary 0..{cfg.vocab_size - 1}")
    if max(cache.pos.tolist()) >= cache.capacity:
        raise ValueError(f"the cache is full ({cache.capacity} positions): start a new cache "
                         "with a larger capacity (default: config.block_size)")
    return tokens if tokens.dtype == np.int64 else tokens.astype(np.int64)


def _begin_step(params, cfg, cache, tokens):
    """Check the B tokens of a step; returns their embeddings E (B,C)."""
    return params["wte"][check_step_tokens(cfg, cache, tokens)]           # E_t (B,C)


def step_sequential(params, cfg: Config, cache: DecodeCache, tokens):
    """Decode one token per sequence with L passes of B rows: loop 1, then loop 2, ...,
    loop L. Works for every family. tokens (B,) -> logits of the next tokens (B,V)."""
    ops = cache.ops
    e = _begin_step(params, cfg, cache, tokens)                          # (B,C)
    h = None
    new_carried = []
    for l in range(cfg.n_loops):
        if l == 0:
            u = e                                                        # E_t
        elif cfg.clp:
            u = e + ops.rmsnorm_rows(cache.carried[l - 1], params["norm_f"],
                                     cfg.norm_eps)                       # E_t + N(h^(l-1)_{t-1})
        else:
            u = h                                                        # h^(l-1)_t
        h = stack_rows(params, cfg, cache, u[:, None, :], [l])[:, 0]     # one row each, (B,C)
        cache.trace.append([(int(cache.pos[0]), l + 1)])
        new_carried.append(h)
    if cfg.clp:
        cache.carried[:] = new_carried[:-1]          # h^(l)_t for the next position
    cache.pos += 1
    return head_rows(params, cfg, h, ops)


def step_parallel(params, cfg: Config, cache: DecodeCache, tokens):
    """Decode one token per sequence with one pass of B x L rows: the diagonal of the
    (token, loop) grid. Row l computes loop l at position t from the state loop l-1 left
    at t-1. CLP only. tokens (B,) -> logits of the next tokens (B,V)."""
    if not cfg.clp:
        raise ValueError(f"the parallel schedule needs cross-loop parallelism (clp); "
                         f"{cfg.variant} must use the sequential schedule")
    ops = cache.ops
    e = _begin_step(params, cfg, cache, tokens)                          # (B,C)
    B, L, C = cache.batch_size, cfg.n_loops, cfg.n_embd
    u = np.empty((B, L, C), e.dtype)                                     # (B,L,C)
    u[:, 0] = e                                                          # row 1: E_t
    carried = ops.rmsnorm_rows(cache.carried.reshape(-1, C), params["norm_f"], cfg.norm_eps)
    u[:, 1:] = e[:, None] + carried.reshape(L - 1, B, C).transpose(1, 0, 2)  # E_t + N(h_{t-1})
    h = stack_rows(params, cfg, cache, u, list(range(L)))                # one pass, B x L rows
    cache.trace.append([(int(cache.pos[0]), l + 1) for l in range(L)])
    cache.carried[:] = h[:, :-1].transpose(1, 0, 2)  # h^(l)_t for the next position
    cache.pos += 1
    return head_rows(params, cfg, np.ascontiguousarray(h[:, -1]), ops)


SCHEDULES = {"sequential": step_sequential, "parallel": step_parallel}


def resolve_schedule(cfg, schedule):
    """'auto' -> 'parallel' for CLP models, else 'sequential'; an unknown name, or the
    parallel schedule without CLP, is a ValueError."""
    if schedule == "auto":
        schedule = "parallel" if cfg.clp else "sequential"
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown schedule {schedule!r}; choose 'sequential', 'parallel' or 'auto'")
    if schedule == "parallel" and not cfg.clp:
        raise ValueError(f"the parallel schedule needs cross-loop parallelism (clp); "
                         f"{cfg.variant} must use the sequential schedule")
    return schedule


def step_batch(params, cfg, cache, tokens, schedule="auto"):
    """One decode step for every sequence of the cache: tokens (B,) -> logits (B,V),
    with the named schedule ('auto' = parallel for CLP models), on the backend the cache
    was made with (prefill's `backend`). The numba backend runs the whole step as one
    compiled call (decode_step.py), tested equal to the NumPy step above."""
    schedule = resolve_schedule(cfg, schedule)
    compiled = getattr(cache.ops, "compiled_step", None)
    if compiled is not None:
        return compiled(params, cfg, cache, tokens, schedule)
    return SCHEDULES[schedule](params, cfg, cache, tokens)


def step(params, cfg, cache, token, schedule="auto"):
    """step_batch for a cache of one sequence: token (int) -> logits (V,)."""
    if isinstance(token, (bool, np.bool_)) or not isinstance(token, (int, np.integer)):
        raise ValueError(f"token must be one integer token id, got {token!r}")
    if cache.batch_size != 1:
        raise ValueError(f"this cache holds {cache.batch_size} sequences: use step_batch "
                         "with one token per sequence")
    return step_batch(params, cfg, cache, np.array([token]), schedule)[0]


def sample_token(logits, temperature, top_k, rng) -> int:
    """Greedy when temperature == 0, else softmax(logits / temperature) over the top_k."""
    if temperature == 0:
        return int(np.argmax(logits))
    logits = logits.astype(np.float64) / temperature
    if top_k is not None and top_k < len(logits):
        cutoff = np.partition(logits, -top_k)[-top_k]
        logits = np.where(logits >= cutoff, logits, -np.inf)
    probs = softmax(logits)
    return int(rng.choice(len(probs), p=probs))


def generate_batch(params, cfg: Config, prompts, max_new_tokens: int, temperature=0.0,
                   top_k: int | None = None, seed: int | None = None, schedule="auto",
                   backend="numpy", return_cache=False):
    """Prefill the prompts, then decode max_new_tokens tokens for each, all sequences in
    every step. temperature=0 is greedy. Returns the new token ids (B, max_new_tokens)
    (and the cache if return_cache)."""
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, (int, np.integer)) \
            or max_new_tokens < 0:
        raise ValueError(f"max_new_tokens must be an integer >= 0, got {max_new_tokens!r}")
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0 (0 = greedy), got {temperature}")
    if top_k is not None and top_k < 1:
        raise ValueError(f"top_k must be >= 1 or None, got {top_k}")
    if isinstance(prompts, np.ndarray) and prompts.ndim == 2:
        prompts = list(prompts)
    if not isinstance(prompts, (list, tuple)) or not prompts:
        raise ValueError("prompts must be a non-empty list of token-id sequences")
    prompts = [check_tokens(p, cfg, f"prompt {b}", ndim=1) for b, p in enumerate(prompts)]
    rng = np.random.default_rng(seed)
    capacity = max(len(p) for p in prompts) + max_new_tokens
    logits, cache = prefill_batch(params, cfg, prompts, capacity=capacity, backend=backend)
    out = np.empty((len(prompts), max_new_tokens), np.int64)
    for i in range(max_new_tokens):
        out[:, i] = [sample_token(row, temperature, top_k, rng) for row in logits]
        if i + 1 < max_new_tokens:
            logits = step_batch(params, cfg, cache, out[:, i], schedule)
    return (out, cache) if return_cache else out


def generate(params, cfg: Config, prompt, max_new_tokens: int, temperature=0.0,
             top_k: int | None = None, seed: int | None = None, schedule="auto",
             backend="numpy", return_cache=False):
    """generate_batch for one prompt: returns the new token ids (max_new_tokens,)."""
    prompt = check_tokens(prompt, cfg, "prompt", ndim=1)
    out, cache = generate_batch(params, cfg, [prompt], max_new_tokens, temperature, top_k,
                                seed, schedule, backend, return_cache=True)
    return (out[0], cache) if return_cache else out[0]
