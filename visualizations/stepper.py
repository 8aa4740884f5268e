"""Step through a decode one token at a time, as the model really runs it: which
(position, loop) cells each step computes, and which cache entries it writes and reads.

    stepper = DecodeStepper(params, cfg, prompt, n_new=5)    # runs M.prefill, then M.step
    stepper.frames[2].cells, stepper.frames[2].written       # decode step 2
    stepper.plot_steps()                                     # every step, a static figure
    stepper.widget()                                         # a slider over the steps (Jupyter)

Frame 0 is the prefill; frame k >= 1 is decode step k, which feeds the token at position
t = P + k - 1 (P = prompt length). Everything a frame holds comes from running the model:

- cells: the passes this step appended to `cache.trace`;
- written: the cache entries whose keys or values this step changed (the cache before
  and after the call, compared);
- read: the entries this step's result depends on. Each entry in turn gets other keys
  and values in a copy of the cache from before the step, the same step runs on the
  copy, and the entry counts as read when anything the step produces changes: the
  logits, the carried states, or the entries it writes. An entry the step overwrites
  before reading (the oldest slot of a full window ring) is therefore not read, and
  neither is an entry the step itself has just written: attention at position t always
  includes t, so every written entry is also attended to by the pass that wrote it.

An entry is ("cache", i, p): position p of loop i's full cache (i = 1 is loop 1's cache,
which every loop reads under KV sharing; without sharing loop i keeps its own), or
("ring", l, s): slot s of loop l's window ring buffer (l = 2..L, G-SWA). `holds` maps an
entry to the position whose keys and values it holds; a ring slot written by a decode
step holds that step's position, and one written by the prefill the last prompt position
that maps to it (the prefill keeps the last min(P, W) positions, position p in slot
p % W).
"""

import html
import io
from dataclasses import dataclass, field

import numpy as np
from matplotlib.patches import Patch, Rectangle

from minplt import model as M

from .schedule import CELL, describe_pass, draw_schedule
from .style import loop_color, new_figure

# The look of a cache entry in each state.
STATE_COLORS = {
    "empty": "#ffffff",
    "held": "#e3e3e3",
    "read": "#8ecae6",
    "written": "#f4a259",
}
STATE_LABELS = {
    "written": "written by this step (and attended to by it)",
    "read": "read by this step (its result depends on it)",
    "held": "held, not used by this step",
    "empty": "empty",
}


@dataclass
class Frame:
    """One step of the decode (see the module docstring)."""
    step: int                   # 0: the prefill; k >= 1: decode step k
    position: int | None        # t computed by a decode step (None for the prefill)
    token: int | None           # the token fed at position t (None for the prefill)
    passes: list                # this step's passes: lists of (position, loop) cells
    first_pass: int             # index of passes[0] in cache.trace
    written: frozenset          # entries written by this step
    read: frozenset             # entries read by this step (empty for the prefill)
    holds: dict = field(default_factory=dict)   # entry -> position it holds after the step

    @property
    def cells(self):
        """The (position, loop) cells this step computed, in execution order."""
        return [cell for one_pass in self.passes for cell in one_pass]

    @property
    def last_pass(self):
        return self.first_pass + len(self.passes) - 1

    def state(self, entry):
        """'written', 'read', 'held' or 'empty' for one cache entry."""
        if entry in self.written:
            return "written"
        if entry in self.read:
            return "read"
        return "held" if entry in self.holds else "empty"

    def caption(self):
        n = len(self.passes)
        if self.step == 0:
            positions = sorted({t for t, _ in self.cells})
            return (f"prefill: {n} pass{'es' if n > 1 else ''}, one per loop, over the prompt "
                    f"t={_ranges(positions)}")
        where = "; ".join(describe_pass(cells) for cells in self.passes)
        return (f"decode step {self.step}: token {self.token} at t={self.position}, "
                f"{n} pass{'es' if n > 1 else ''} ({where})")


def _cache_arrays(cache):
    """{'cache': (k, v) of shape (n_full, NL, H, cap, D), 'ring': (k, v) of shape
    (L-1, NL, H, W, D) or None}: views of the cache's one sequence (batch index 0)."""
    ring = None if cache.k_ring is None else (cache.k_ring[:, :, 0], cache.v_ring[:, :, 0])
    return {"cache": (cache.k[:, :, 0], cache.v[:, :, 0]), "ring": ring}


# Index 0 of a cache's first axis is loop 1's full cache, of a ring's first axis loop 2's.
FIRST_LOOP = {"cache": 1, "ring": 2}


def _snapshot(cache):
    return {kind: None if kv is None else (kv[0].copy(), kv[1].copy())
            for kind, kv in _cache_arrays(cache).items()}


def _array_index(entry):
    """(index on the first axis, index on the slot axis) of an entry's arrays."""
    kind, loop, slot = entry
    return loop - FIRST_LOOP[kind], slot


def _entries(cache):
    """Every entry of the cache, in drawing order."""
    out = []
    for kind, kv in _cache_arrays(cache).items():
        if kv is None:
            continue
        n_arrays, _, _, n_slots, _ = kv[0].shape
        out += [(kind, a + FIRST_LOOP[kind], s) for a in range(n_arrays) for s in range(n_slots)]
    return out


def _changed(before, cache):
    """Entries whose keys or values differ between the snapshot `before` and `cache`."""
    changed = set()
    for kind, kv in _cache_arrays(cache).items():
        if kv is None:
            continue
        k0, v0 = before[kind]
        differs = ((kv[0] != k0) | (kv[1] != v0)).any(axis=(1, 2, 4))   # (arrays, slots)
        changed |= {(kind, int(a) + FIRST_LOOP[kind], int(s)) for a, s in zip(*np.nonzero(differs))}
    return changed


def _perturb(cache, entry, rng):
    """Add noise to the keys and values of one entry (all layers and heads)."""
    first, index = _array_index(entry)
    for array in _cache_arrays(cache)[entry[0]]:
        view = array[first, :, :, index]                                  # (NL, H, D)
        view += rng.standard_normal(view.shape).astype(array.dtype)


class DecodeStepper:
    """Run M.prefill on `prompt`, then `n_new` decode steps with M.step (greedy, or
    feeding `tokens` when given), and record a Frame for the prefill and every step.

    schedule: 'parallel', 'sequential' or 'auto' (as M.step). The cache's capacity is
    P + n_new, so the drawing shows every position the decode reaches."""

    def __init__(self, params, cfg, prompt, n_new, schedule="auto", tokens=None,
                 backend="numpy", seed=0):
        prompt = np.asarray(prompt)
        if n_new < 1:
            raise ValueError(f"n_new must be >= 1 decode step, got {n_new}")
        if tokens is not None and len(tokens) != n_new:
            raise ValueError(f"tokens must hold one token per decode step ({n_new}), "
                             f"got {len(tokens)}")
        self.params, self.cfg, self.backend = params, cfg, backend
        self.schedule = ("parallel" if cfg.clp else "sequential") if schedule == "auto" else schedule
        self.prompt_len = len(prompt)
        self.n_positions = self.prompt_len + n_new
        self.rng = np.random.default_rng(seed)

        logits, cache = M.prefill(params, cfg, prompt, capacity=self.n_positions,
                                  backend=backend)
        self.entries = _entries(cache)
        self.ring_slots = 0 if cache.k_ring is None else cache.k_ring.shape[4]
        empty = _snapshot(M.new_cache(cfg, capacity=self.n_positions))
        written = _changed(empty, cache)
        holds = {e: self._prefill_position(e) for e in written}
        self.frames = [Frame(0, None, None, [list(c) for c in cache.trace], 0,
                             frozenset(written), frozenset(), dict(holds))]
        for k in range(n_new):
            token = int(np.argmax(logits)) if tokens is None else int(tokens[k])
            logits = self._step(cache, token, holds)
        self.cache = cache              # the cache after the last step
        self.trace = cache.trace

    def _prefill_position(self, entry):
        kind, _, slot = entry
        if kind == "cache":
            return slot
        return max(p for p in range(self.prompt_len) if p % self.ring_slots == slot)

    def _run_step(self, cache, token):
        return M.step(self.params, self.cfg, cache, token, self.schedule)

    def _step(self, cache, token, holds):
        t, first_pass = int(cache.pos[0]), len(cache.trace)
        before = cache.copy()
        logits = self._run_step(cache, token)
        written = _changed(_snapshot(before), cache)
        outputs = self._outputs(logits, cache, written)
        read = set()
        for entry in self.entries:                  # what the step's result depends on
            trial = before.copy()
            _perturb(trial, entry, self.rng)
            trial_logits = self._run_step(trial, token)
            if not all(np.array_equal(a, b) for a, b in
                       zip(outputs, self._outputs(trial_logits, trial, written))):
                read.add(entry)
        holds.update({e: t for e in written})
        self.frames.append(Frame(len(self.frames), t, token,
                                 [list(c) for c in cache.trace[first_pass:]], first_pass,
                                 frozenset(written), frozenset(read), dict(holds)))
        return logits

    @staticmethod
    def _outputs(logits, cache, written):
        """What a step produces: logits, carried states, and the entries it wrote."""
        out = [logits]
        if cache.carried is not None:
            out.append(cache.carried)
        arrays = _cache_arrays(cache)
        for entry in sorted(written):
            first, index = _array_index(entry)
            out += [array[first, :, :, index] for array in arrays[entry[0]]]
        return out

    # ------------------------------------------------------------ drawing

    def draw(self, step, fig=None, grid=True):
        """Draw frame `step` on `fig` (a new Figure when None): the (position, loop) grid
        with this step's cells framed in black (unless grid=False), and under it the
        cache entries coloured by state. Returns (fig, {entry: state} as drawn)."""
        frame = self.frames[step]
        cache_height = self._cache_rows() + 0.6
        if fig is None:
            fig = new_figure((self._width(), 3.9 if grid else 0.42 * cache_height + 0.9))
        if grid:
            grid_ax, cache_ax = fig.subplots(2, 1, height_ratios=[self.cfg.n_loops + 0.6,
                                                                 cache_height])
            self.draw_grid(grid_ax, frame)
            grid_ax.set_title(frame.caption(), fontsize=9)
        else:
            cache_ax = fig.subplots()
            cache_ax.set_title(frame.caption(), fontsize=9)
        shown = self.draw_cache(cache_ax, frame)
        return fig, shown

    def draw_grid(self, ax, frame):
        """The grid as computed up to this step; this step's cells framed in black."""
        draw_schedule(ax, self.n_positions, self.cfg.n_loops, self.cfg.clp,
                      trace=self.trace, upto_pass=frame.last_pass,
                      prompt_len=self.prompt_len, arrows=False)
        for t, l in frame.cells:
            patch = Rectangle((t - CELL / 2 - 0.06, l - CELL / 2 - 0.06), CELL + 0.12,
                              CELL + 0.12, fill=False, edgecolor="black", linewidth=2.2,
                              zorder=5)
            patch.set_gid(f"step-cell-{t}-{l}")
            ax.add_patch(patch)
        ax.set_xlabel("")

    def _cache_rows(self):
        return len({(kind, number) for kind, number, _ in self.entries})

    def _width(self):
        return min(max(0.62 * self.n_positions + 2.2, 6.0), 14.0)

    def draw_cache(self, ax, frame):
        """One row per cache: loop i's full cache (a box per position, under the grid's
        columns) and loop l's ring (a box per slot, labelled with the position it holds).
        Each box has gid '{kind}-{loop}-{index}' and the colour of its state.
        Returns {entry: state}."""
        rows = sorted({(kind, number) for kind, number, _ in self.entries},
                      key=lambda r: (r[0] != "cache", r[1]))
        shown = {}
        for y, (kind, number) in enumerate(reversed(rows)):
            for entry in [e for e in self.entries if e[:2] == (kind, number)]:
                state = frame.state(entry)
                shown[entry] = state
                slot = entry[2]
                patch = Rectangle((slot - CELL / 2, y - CELL / 2), CELL, CELL,
                                  facecolor=STATE_COLORS[state],
                                  edgecolor="#b0b0b0" if state == "empty" else loop_color(number),
                                  linestyle=(0, (2, 2)) if state == "empty" else "solid",
                                  linewidth=1.5, zorder=2)
                patch.set_gid(f"{kind}-{number}-{slot}")
                ax.add_patch(patch)
                if kind == "ring" and entry in frame.holds:
                    ax.text(slot, y, f"t={frame.holds[entry]}", ha="center", va="center",
                            fontsize=7, zorder=3)
        ax.set_yticks(range(len(rows)), [
            f"loop {n} cache" if kind == "cache" else f"loop {n} ring"
            for kind, n in reversed(rows)], fontsize=8)
        for label, (_, n) in zip(ax.get_yticklabels(), reversed(rows)):
            label.set_color(loop_color(n))
        ax.set_xlim(-0.6, self.n_positions - 0.4)
        ax.set_ylim(-0.6, len(rows) - 0.4)
        ax.set_aspect("equal")
        ax.set_xticks(range(self.n_positions))
        ax.set_xlabel("cache: position (full cache) or slot (ring)" if self.ring_slots else
                      "cache: position", fontsize=8)
        ax.tick_params(length=0, labelsize=8)
        for spine in ax.spines.values():
            spine.set_visible(False)
        return shown

    def legend(self, fig):
        handles = [Patch(facecolor=STATE_COLORS[s], edgecolor="#777777", label=STATE_LABELS[s])
                   for s in ("written", "read", "held", "empty")]
        fig.legend(handles=handles, loc="outside lower center", ncols=2, fontsize=8,
                   frameon=False)

    def plot_steps(self, steps=None, columns=2, grid=True):
        """A static small multiple of frames `steps` (default: all), `columns` per row:
        what the widget shows, readable without a kernel (grid=False: the caches only).
        Returns the Figure."""
        steps = list(range(len(self.frames))) if steps is None else list(steps)
        rows = -(-len(steps) // columns)
        height = 3.3 if grid else 0.36 * (self._cache_rows() + 0.6) + 0.75
        fig = new_figure((self._width() * columns * 0.8, height * rows + 0.5))
        subfigs = np.atleast_1d(fig.subfigures(rows, columns)).ravel()
        for subfig, step in zip(subfigs, steps):
            self.draw(step, subfig, grid)
        for subfig in subfigs[len(steps):]:
            subfig.set_visible(False)
        self.legend(fig)
        return fig

    def widget(self):
        """A StepperWidget over the frames (needs ipywidgets)."""
        return StepperWidget(self)

    def describe(self, step):
        """The frame in words: its caption, then what it writes and what it reads, per
        cache (a ring slot with the position it now holds and the one it replaced)."""
        frame = self.frames[step]
        before = self.frames[step - 1].holds if step > 0 else {}
        lines = [frame.caption()]
        for verb, entries in (("writes", frame.written), ("reads ", frame.read)):
            parts = []
            for kind, number in sorted({e[:2] for e in entries}, key=lambda r: (r[0] != "cache", r[1])):
                slots = sorted(e[2] for e in entries if e[:2] == (kind, number))
                if kind == "cache":
                    parts.append(f"loop {number} cache t={_ranges(slots)}")
                    continue
                held = [frame.holds[(kind, number, s)] for s in slots] if verb == "writes" else \
                       [before[(kind, number, s)] for s in slots]
                replaced = [before.get((kind, number, s)) for s in slots] if verb == "writes" else []
                was = [f"{p}" for p in replaced if p is not None]
                parts.append(f"loop {number} ring slot{'s' if len(slots) > 1 else ''} {_ranges(slots)} "
                             f"(t={_ranges(held)}" + (f", replacing t={_ranges(was)})" if was else ")"))
            lines.append(f"  {verb}  " + (" | ".join(parts) if parts else "nothing"))
        return "\n".join(lines)


def _ranges(values):
    """[0, 1, 2, 3] -> '0..3'; [1, 2, 0] -> '1,2,0' (kept in order when not a run)."""
    values = list(values)
    if len(values) > 2 and values == list(range(values[0], values[0] + len(values))):
        return f"{values[0]}..{values[-1]}"
    return ",".join(map(str, values))


def figure_png(fig, dpi=80):
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


class StepperWidget:
    """A slider (with play, previous and next) over a DecodeStepper's frames; moving it
    redraws the frame. `shown` is what the current picture shows, {entry: state};
    `frame` is the frame drawn and `figure` its Figure."""

    def __init__(self, stepper, dpi=100):
        import ipywidgets as widgets

        self.stepper, self.dpi = stepper, dpi
        last = len(stepper.frames) - 1
        self.slider = widgets.IntSlider(value=0, min=0, max=last, description="step",
                                        continuous_update=False)
        self.play = widgets.Play(value=0, min=0, max=last, interval=1500, description="play")
        widgets.jslink((self.play, "value"), (self.slider, "value"))
        self.previous = widgets.Button(description="◀ previous", layout={"width": "110px"})
        self.next = widgets.Button(description="next ▶", layout={"width": "110px"})
        self.previous.on_click(lambda _: self.move(-1))
        self.next.on_click(lambda _: self.move(+1))
        self.caption = widgets.HTML()
        self.image = widgets.Image(format="png")
        self.box = widgets.VBox([widgets.HBox([self.play, self.previous, self.slider, self.next]),
                                 self.caption, self.image])
        self.slider.observe(lambda change: self.show(change["new"]), names="value")
        self.show(0)

    def move(self, delta):
        self.slider.value = min(max(self.slider.value + delta, self.slider.min), self.slider.max)

    def show(self, step):
        self.frame = self.stepper.frames[step]
        self.figure, self.shown = self.stepper.draw(step)
        self.stepper.legend(self.figure)
        self.caption.value = "<pre>" + html.escape(self.stepper.describe(step)) + "</pre>"
        self.image.value = figure_png(self.figure, self.dpi)
        self.image.width = str(round(self.figure.get_figwidth() * self.dpi))   # at its own size

    def _repr_mimebundle_(self, **kwargs):
        bundle = self.box._repr_mimebundle_(**kwargs)
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        data["text/plain"] = (f"[decode step-through: a slider over {len(self.stepper.frames)} "
                              "steps; it needs a running kernel, e.g. JupyterLab]")
        return bundle
