"""One compiled call per decode step: the numba backend's step_batch.

model.py section 6 is the readable definition of a decode step: step_sequential and
step_parallel, the pass through the stack (stack_rows) and the row operations it calls
(linear_rows, rmsnorm_rows, ...), one NumPy call each. At the demo's size (width 64, one
block) a step made 120-210 such Python-level calls, and their overhead, not the
arithmetic, set its time: PLT's one pass of L rows then looked no cheaper than loop-L's
L passes of one row. Here the whole step is one Numba function, `decode_step`: the
embedding, every layer of every loop, all B x R rows, every family's attention (own
cache, loop 1's shared cache, the G-SWA window with its gate and ring buffer), the
carried states of CLP, the final norm and the head. The Python around it (`step_batch`)
checks the tokens, finds the packed weights and records the trace; it chooses the rows
(the schedule) and nothing else.

The products read weights packed once, transposed (kernels.pack_columns): `pack_weights`
packs them at a cache's first step and keeps them with the cache (`cache.packed`), and
they are packed again when the parameter arrays are replaced or a sample of their values
has changed (as after a training step). An edit of a few weights in place that the sample
misses is not seen: make a new cache (prefill) after editing weights by hand.

The tests (tests/test_decode_step.py) compare every family, both schedules and several
batch shapes with model.py's NumPy step in float64 to 1e-9, also under
NUMBA_DISABLE_JIT=1, where this file runs as plain Python.
"""
from __future__ import annotations

import math
import operator
import time
from dataclasses import dataclass, field

import numba
import numpy as np
from numba import njit

from minplt import kernels
from minplt import model as M
from minplt.kernels import FASTMATH, PARALLEL_MIN_VALUES, linear_packed, rmsnorm_rows, rope_rows, \
    swiglu_rows

# ----------------------------------------------------------------------------------------
# 1. The packed weights of a model, kept with its cache

LAYER_MATRICES = ("wq", "wk", "wv", "wo", "w1", "w3", "w2")


@dataclass
class PackedWeights:
    """Every matrix of the model packed (transposed: a matrix (C, N) becomes (N, C)),
    layers stacked: wq (NL, C, C), ..., w1 (NL, F, C), w2 (NL, C, F), lm_head (V, C); the
    norms' gains stacked (NL, C); the G-SWA gate packed (NL, H, C) with its bias (NL, H)
    (zero-size arrays when the model has none).
    `names` and `source` are the parameters' names and the arrays they were packed from,
    `sample` a few of their values, to see when the parameters have changed; `key` the
    config fields the packing depends on."""
    wte: np.ndarray
    attn_norm: np.ndarray
    mlp_norm: np.ndarray
    wq: np.ndarray
    wk: np.ndarray
    wv: np.ndarray
    wo: np.ndarray
    w1: np.ndarray
    w3: np.ndarray
    w2: np.ndarray
    gate_w: np.ndarray
    gate_b: np.ndarray
    norm_f: np.ndarray
    lm_head: np.ndarray
    names: tuple
    source: tuple
    sample: tuple
    key: tuple

    getter: operator.itemgetter = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        self.getter = operator.itemgetter(*self.names)   # params -> the `names` arrays

    @property
    def layers(self) -> tuple:
        """The layer weights in the order _stack_pass unpacks them."""
        return (self.attn_norm, self.mlp_norm, self.wq, self.wk, self.wv, self.wo, self.w1,
                self.w3, self.w2, self.gate_w, self.gate_b)


def _key(cfg: M.Config) -> tuple:
    return (cfg.n_layer, cfg.n_embd, cfg.n_head, cfg.d_ff, cfg.vocab_size, cfg.dtype)


def _names(cfg: M.Config, params) -> tuple:
    """The parameters a decode step reads: wte, lm_head, the last layer's w2 first (the
    sample's arrays), then the rest; the G-SWA gates when the params have them (so that
    the variants of one set of weights, as in the benchmark, share one packing)."""
    last = f"layers.{cfg.n_layer - 1}."
    names = ["wte", "lm_head", last + "w2", "norm_f"]
    names += [f"layers.{j}.{w}" for j in range(cfg.n_layer)
              for w in ("attn_norm", "mlp_norm") + LAYER_MATRICES if f"layers.{j}.{w}" != last + "w2"]
    if cfg.gswa or "layers.0.gate_w" in params:
        names += [f"layers.{j}.{w}" for j in range(cfg.n_layer) for w in ("gate_w", "gate_b")]
    return tuple(names)


def _sample(arrays) -> tuple:
    """The middle value of the first three arrays (wte, lm_head, the last w2): a training
    step (AdamW's update and weight decay) changes them. Cheap: a step reads it."""
    return (arrays[0].item(arrays[0].size // 2), arrays[1].item(arrays[1].size // 2),
            arrays[2].item(arrays[2].size // 2))


def _sources(params, names) -> tuple:
    try:
        return tuple(params[n] for n in names)
    except KeyError as e:
        raise ValueError(f"params lack {e.args[0]!r}: they do not belong to a model of "
                         "this config") from None


def pack_weights(params, cfg: M.Config) -> PackedWeights:
    """Pack every matrix of `params` (kernels.pack_columns), layers stacked."""
    dtype = np.dtype(cfg.dtype)

    def stacked(name, packed=True):
        arrays = [np.asarray(params[f"layers.{j}.{name}"], dtype) for j in range(cfg.n_layer)]
        return np.stack([kernels.pack_columns(a) if packed else a for a in arrays])

    names = _names(cfg, params)
    sources = _sources(params, names)                  # a clear error if any is missing
    if "layers.0.gate_w" in names:
        gate_w, gate_b = stacked("gate_w"), stacked("gate_b", packed=False)
    else:                                   # never read; zero-size so the types match
        gate_w = np.zeros((cfg.n_layer, 0, cfg.n_embd), dtype)
        gate_b = np.zeros((cfg.n_layer, 0), dtype)
    return PackedWeights(
        wte=np.ascontiguousarray(params["wte"], dtype),
        attn_norm=stacked("attn_norm", False), mlp_norm=stacked("mlp_norm", False),
        **{w: stacked(w) for w in LAYER_MATRICES}, gate_w=gate_w, gate_b=gate_b,
        norm_f=np.ascontiguousarray(params["norm_f"], dtype),
        lm_head=kernels.pack_columns(np.asarray(params["lm_head"], dtype)),
        names=names, source=sources, sample=_sample(sources), key=_key(cfg))


_latest: list = [None]        # the weights packed last, for the next cache of the same model


def packed_for(params, cfg: M.Config, cache: M.DecodeCache) -> PackedWeights:
    """The cache's packed weights (or, for a new cache, the ones packed last), packed
    again if `params` are other arrays than the ones packed, or a sample of their values
    changed."""
    packed = cache.packed if cache.packed is not None else _latest[0]
    if packed is not None and packed.key == _key(cfg) \
            and (packed.gate_w.shape[1] > 0 or not cfg.gswa):
        try:                         # C-level loops: a step at the demo's size is ~30 us
            sources = packed.getter(params)
        except (KeyError, TypeError):
            sources = None                         # repacked below, with a clear error
        if sources is not None and all(map(operator.is_, sources, packed.source)) \
                and _sample(sources) == packed.sample:
            cache.packed = packed
            return packed
    cache.packed = _latest[0] = pack_weights(params, cfg)
    return cache.packed


# ----------------------------------------------------------------------------------------
# 2. The pass through the stack: model.stack_rows, compiled

@njit(cache=True, fastmath=FASTMATH)
def _attend(q, k, v, n, scale, n_threads):
    """kernels.attention_over_cache from compiled code: parallel over (sequence, head)
    when the keys and values read are many enough."""
    out = np.empty(q.shape, q.dtype)
    if n_threads > 1 and 2 * q.shape[2] * n.sum() * q.shape[3] >= PARALLEL_MIN_VALUES:
        return kernels._attention_parallel(q, k, v, n, scale, out)
    return kernels._attention_serial(q, k, v, n, scale, out)


@njit(cache=True, fastmath=FASTMATH)
def _product(x, w, n_threads):
    """x (R,C) @ the packed w (N,C) -> (R,N)."""
    return linear_packed(x, w, np.empty((x.shape[0], w.shape[0]), x.dtype), n_threads)


@njit(cache=True, fastmath=FASTMATH)
def _take_rows(x, rows):
    """x (B,R,K) -> the rows `rows` of every sequence, (B*len(rows), K)."""
    B, K = x.shape[0], x.shape[2]
    out = np.empty((B * len(rows), K), x.dtype)
    for b in range(B):
        for n in range(len(rows)):
            out[b * len(rows) + n] = x[b, rows[n]]
    return out


@njit(cache=True, fastmath=FASTMATH)
def _stack_pass(u, loops, pos, w, k, v, k_ring, v_ring, H, kv_share, gswa, window,
                rope_base, eps, n_threads):
    """model.stack_rows: one pass through the stack for R rows of each of the B sequences,
    row i computing loop loops[i] (0-based) at position pos[b]. u (B,R,C) -> h (B,R,C).
    w is PackedWeights.layers, the packed layer weights. Every row's keys/values are
    written to their cache before the layer's attention."""
    (attn_norm, mlp_norm, wq, wk, wv, wo, w1, w3, w2, gate_w, gate_b) = w
    B, R, C = u.shape
    NL, D, F = wq.shape[0], C // H, w2.shape[2]            # w2 packed: (NL, C, F)
    half = D // 2
    scale = 1.0 / math.sqrt(D)
    # RoPE angles of each sequence's position, in float64 as model.stack_rows, then the
    # data's type; row r of sequence b uses row b*R + r.
    cos = np.empty((B * R, half), u.dtype)
    sin = np.empty((B * R, half), u.dtype)
    for b in range(B):
        for i in range(half):
            angle = pos[b] * rope_base ** (-(2.0 * i) / D)
            for r in range(R):
                cos[b * R + r, i], sin[b * R + r, i] = math.cos(angle), math.sin(angle)
    # Which rows store keys/values, read loop 1's cache, read their own, read a window
    # (model.loop_attention_kind: 'own' for loop 1 or without kv_share, else 'gswa' or
    # 'shared').
    first = loops == 0
    kv_rows = np.nonzero(first | (not kv_share) | gswa)[0]
    shared_rows = np.nonzero(first | kv_share)[0]
    own_rows = np.nonzero(~first & (not kv_share))[0]
    window_rows = np.nonzero(~first & (kv_share and gswa))[0]
    n_kv = len(kv_rows)
    n_seen = pos + 1                                       # keys each query sees: t + 1
    n_window = np.minimum(pos + 1, window)                 # ... of the window: min(t+1, W)
    slot = pos % k_ring.shape[4]                           # where position t sits in a ring
    x = u.reshape(B * R, C).copy()                         # (B*R,C)
    for j in range(NL):
        a = rmsnorm_rows(x, attn_norm[j], eps)                              # (B*R,C)
        q = rope_rows(_product(a, wq[j], n_threads).reshape(B * R, H, D), cos, sin)
        q = q.reshape(B, R, H, D)
        a_rows = a.reshape(B, R, C)
        if n_kv:
            a_kv = _take_rows(a_rows, kv_rows)                              # (B*R',C)
            k_new = rope_rows(_product(a_kv, wk[j], n_threads).reshape(B * n_kv, H, D),
                              _take_rows(cos.reshape(B, R, half), kv_rows),
                              _take_rows(sin.reshape(B, R, half), kv_rows))
            v_new = _product(a_kv, wv[j], n_threads).reshape(B * n_kv, H, D)
            for b in range(B):                                # write before attending
                t = pos[b]
                for n in range(n_kv):
                    l = loops[kv_rows[n]]
                    if l == 0 or not kv_share:
                        k[l, j, b, :, t] = k_new[b * n_kv + n]
                        v[l, j, b, :, t] = v_new[b * n_kv + n]
                    else:
                        k_ring[l - 1, j, b, :, slot[b]] = k_new[b * n_kv + n]
                        v_ring[l - 1, j, b, :, slot[b]] = v_new[b * n_kv + n]
        y = np.empty((B, R, H, D), u.dtype)
        if len(shared_rows):     # all rows reading loop 1's cache: one read for them all
            q_sub = np.empty((B, len(shared_rows), H, D), u.dtype)
            for n in range(len(shared_rows)):
                q_sub[:, n] = q[:, shared_rows[n]]
            y_sub = _attend(q_sub, k[0, j], v[0, j], n_seen, scale, n_threads)
            for n in range(len(shared_rows)):
                y[:, shared_rows[n]] = y_sub[:, n]
        for i in own_rows:                                  # own full cache (no kv_share)
            l = loops[i]
            y[:, i:i + 1] = _attend(q[:, i:i + 1].copy(), k[l, j], v[l, j], n_seen, scale,
                                    n_threads)
        if len(window_rows):     # y = g y_glob + (1 - g) y_loc, the gates in one product
            gate = _product(_take_rows(a_rows, window_rows), gate_w[j], n_threads)
            for n in range(len(window_rows)):
                i = window_rows[n]
                l = loops[i]
                y_loc = _attend(q[:, i:i + 1].copy(), k_ring[l - 1, j], v_ring[l - 1, j],
                                n_window, scale, n_threads)                 # (B,1,H,D)
                for b in range(B):
                    for h in range(H):
                        g = 1.0 / (1.0 + math.exp(-(gate[b * len(window_rows) + n, h]
                                                    + gate_b[j, h])))
                        for d in range(D):
                            y[b, i, h, d] = g * y[b, i, h, d] + (1.0 - g) * y_loc[b, 0, h, d]
        x += _product(y.reshape(B * R, C), wo[j], n_threads)           # (B*R,C)
        m = rmsnorm_rows(x, mlp_norm[j], eps)
        z = swiglu_rows(_product(m, w1[j], n_threads),
                        _product(m, w3[j], n_threads))                 # (B*R,F)
        x += _product(z, w2[j], n_threads)                             # (B*R,C)
    return x.reshape(B, R, C)


# ----------------------------------------------------------------------------------------
# 3. The step: model.step_sequential and model.step_parallel, compiled

@njit(cache=True, fastmath=FASTMATH)
def decode_step(tokens, parallel_schedule, wte, w, norm_f, lm_head, k, v, k_ring,
                v_ring, carried, pos, n_loops, H, clp, kv_share, gswa, window, rope_base, eps,
                n_threads):
    """One decode step of every sequence: tokens (B,) -> logits of the next tokens (B,V).
    Updates the caches k, v, k_ring, v_ring, the carried states (L-1,B,C) and pos (B,) in
    place. parallel_schedule: one pass of B x L rows (model.step_parallel), else L passes
    of B rows (model.step_sequential). w: the packed layer weights (see _stack_pass)."""
    B, C, L = tokens.shape[0], wte.shape[1], n_loops
    e = np.empty((B, C), wte.dtype)                                     # E_t (B,C)
    for b in range(B):
        e[b] = wte[tokens[b]]
    if parallel_schedule:                                # the diagonal: row l is loop l
        u = np.empty((B, L, C), wte.dtype)
        u[:, 0] = e                                                     # row 1: E_t
        for l in range(1, L):                                           # E_t + N(h_{t-1})
            u[:, l] = e + rmsnorm_rows(carried[l - 1], norm_f, eps)
        h = _stack_pass(u, np.arange(L), pos, w, k, v, k_ring, v_ring, H, kv_share, gswa,
                        window, rope_base, eps, n_threads)              # (B,L,C)
        for l in range(L - 1):
            carried[l] = h[:, l]                       # h^(l)_t for the next position
        last = h[:, L - 1].copy()
    else:                                                # loop 1, then loop 2, ...
        last = e.copy()
        new_carried = np.empty((L - 1, B, C), wte.dtype)
        for l in range(L):
            if l == 0:
                u1 = e.copy()                                           # E_t
            elif clp:
                u1 = e + rmsnorm_rows(carried[l - 1], norm_f, eps)     # E_t + N(h^(l-1)_{t-1})
            else:
                u1 = last                                               # h^(l-1)_t
            last = _stack_pass(u1.reshape(B, 1, C), np.full(1, l), pos, w, k, v, k_ring,
                               v_ring, H, kv_share, gswa, window, rope_base, eps,
                               n_threads).reshape(B, C)
            if l < L - 1:
                new_carried[l] = last
        if clp:
            carried[:] = new_carried
    for b in range(B):
        pos[b] += 1
    return _product(rmsnorm_rows(last, norm_f, eps), lm_head, n_threads)


# ----------------------------------------------------------------------------------------
# 4. The Python around a step: check the tokens, find the packed weights, call

def _dummy(shape_tail, dtype):
    """A zero-size stand-in for a cache part the model does not have (same type)."""
    return np.zeros(shape_tail, dtype)


def step_batch(params, cfg: M.Config, cache: M.DecodeCache, tokens, schedule="auto"):
    """model.step_batch on the numba backend: one compiled call (decode_step) per step.
    tokens (B,) -> logits (B,V); the same checks, cache updates and trace as model.py's."""
    schedule = M.resolve_schedule(cfg, schedule)
    tokens = M.check_step_tokens(cfg, cache, tokens)
    packed = packed_for(params, cfg, cache)
    dtype = packed.wte.dtype
    for name in ("k", "v", "k_ring", "v_ring", "carried"):
        a = getattr(cache, name)
        if a is not None and (a.dtype != dtype or not a.flags.c_contiguous):
            raise ValueError(f"cache.{name} must be a C-contiguous {dtype} array (the "
                             f"config's dtype), got {a.dtype}; make the cache with new_cache "
                             "or prefill for this config")
    NL, B, H, D = cfg.n_layer, cache.batch_size, cfg.n_head, cfg.head_size
    ring = (cache.k_ring, cache.v_ring) if cache.k_ring is not None else \
        (_dummy((0, NL, B, H, 1, D), dtype),) * 2
    carried = cache.carried if cache.carried is not None else _dummy((0, B, cfg.n_embd), dtype)
    position = int(cache.pos[0])
    logits = decode_step(tokens, schedule == "parallel", packed.wte, packed.layers, packed.norm_f,
                         packed.lm_head, cache.k, cache.v, ring[0], ring[1],
                         carried, cache.pos, cfg.n_loops, H, cfg.clp, cfg.kv_share, cfg.gswa,
                         cfg.window, float(cfg.rope_base), float(cfg.norm_eps),
                         numba.get_num_threads())
    if schedule == "parallel":
        cache.trace.append([(position, l + 1) for l in range(cfg.n_loops)])
    else:
        cache.trace += [[(position, l + 1)] for l in range(cfg.n_loops)]
    return logits


def warmup(dtype="float32") -> float:
    """Compile (or load from Numba's cache) the decode step for `dtype`, both schedules,
    on a tiny PLT model. Returns the seconds it took: the compile time on a first run."""
    start = time.perf_counter()
    cfg = M.make_config("plt-2", preset="tiny", n_embd=8, n_head=2, d_ff=8, n_layer=1,
                        vocab_size=5, window=2, dtype=str(np.dtype(dtype)))
    params = M.init_params(cfg)
    for schedule in ("parallel", "sequential"):
        cache = M.new_cache(cfg, 4, backend="numba")
        step_batch(params, cfg, cache, np.array([1]), schedule)
    return time.perf_counter() - start
