"""The (position, loop) grid of a looped transformer, and who computes which cell when.

A *decode trace* records what each pass through the shared stack computed: a list of
passes, each a list of (position, loop) cells in execution order, position 0-based and
loop 1-based. PLT-3 decoding positions 5 and 6:

    parallel:   [[(5,1),(5,2),(5,3)], [(6,1),(6,2),(6,3)]]      one pass per token
    sequential: [[(5,1)],[(5,2)],[(5,3)],[(6,1)],[(6,2)],[(6,3)]]  L passes per token

The parallel schedule is possible only with cross-loop parallelism (CLP): cell (t, l)
then depends on (t-1, l-1), not on (t, l-1), so the L cells of one position are
independent (docs/method.md §4 and §7).
"""

import numpy as np
from matplotlib import colormaps
from matplotlib.patches import FancyArrowPatch, Rectangle

from .style import loop_color, new_figure

CELL = 0.62  # side of a cell; cell centres are 1 apart
PENDING_EDGE = "#b0b0b0"
PASS_CMAP = colormaps["YlGnBu"]  # light = early pass, darker = later pass


# ---------------------------------------------------------------- traces and edges

def expected_trace(n_positions, n_loops, schedule, prompt_len=0):
    """The trace a model should record when it computes positions 0..n_positions-1.

    With prompt_len = P > 0, a prefill comes first: one pass per loop over all prompt
    positions, [[(0,1),...,(P-1,1)], [(0,2),...,(P-1,2)], ...]. The positions P.. are
    then decoded one token at a time with `schedule`: 'parallel' (all loops of a
    position in one pass) or 'sequential' (one pass per loop).
    """
    if schedule not in ("parallel", "sequential"):
        raise ValueError(f"schedule must be 'parallel' or 'sequential', got {schedule!r}")
    if not 0 <= prompt_len <= n_positions:
        raise ValueError(f"prompt_len={prompt_len} must be in 0..n_positions={n_positions}")
    loops = range(1, n_loops + 1)
    trace = []
    if prompt_len > 0:
        trace += [[(t, l) for t in range(prompt_len)] for l in loops]
    for t in range(prompt_len, n_positions):
        if schedule == "parallel":
            trace.append([(t, l) for l in loops])
        else:
            trace += [[(t, l)] for l in loops]
    return trace


def dependencies(n_positions, n_loops, clp):
    """Edges (needed cell, cell that needs it) between loops of the grid.

    With CLP the input of loop l at position t is E_t + N(h^(l-1)_{t-1}): a diagonal
    edge (t-1, l-1) -> (t, l). Without CLP it is h^(l-1)_t: a vertical edge
    (t, l-1) -> (t, l). Loop 1 reads only the token embedding. Attention reads of the
    keys and values of earlier positions are not edges here.
    """
    shift = 1 if clp else 0
    return [((t - shift, l - 1), (t, l))
            for l in range(2, n_loops + 1)
            for t in range(shift, n_positions)]


def passes_per_token(trace):
    """How many passes touch the last position of the trace (L sequential, 1 parallel)."""
    last = max(t for cells in trace for t, _ in cells)
    return sum(any(t == last for t, _ in cells) for cells in trace)


def describe_pass(cells):
    """A short caption: [(6,1),(6,2),(6,3)] -> 't=6, loops 1-3'."""
    by_position = {}
    for t, l in cells:
        by_position.setdefault(t, []).append(l)
    if len(by_position) > 2:  # a prefill pass: one loop over many positions
        positions = sorted(by_position)
        loops = sorted({l for ls in by_position.values() for l in ls})
        return f"t={positions[0]}..{positions[-1]}, loop {_span(loops)}"
    return "; ".join(f"t={t}, loop{'s' if len(ls) > 1 else ''} {_span(sorted(ls))}"
                     for t, ls in by_position.items())


def _span(values):
    if len(values) > 1 and values == list(range(values[0], values[-1] + 1)):
        return f"{values[0]}-{values[-1]}"
    return ",".join(map(str, values))


# ---------------------------------------------------------------- drawing

def draw_schedule(ax, n_positions, n_loops, clp, trace=None, upto_pass=None,
                  highlight_pass=None, prompt_len=0, show_numbers=True, arrows=True):
    """Draw the grid: position t on x, loop l on y (loop 1 at the bottom, as a stack).

    Each cell computed by the trace (passes 0..upto_pass, all when None) is filled with
    the colour of its pass and labelled with the pass number, counting from 1; cells of
    one pass share colour and number. Cells not computed yet are dashed outlines.
    `highlight_pass` gets a thick black frame. Arrows are the loop-to-loop dependencies:
    diagonal with CLP, vertical without. `prompt_len` shades the prompt positions.
    Each cell patch has gid 'cell-{t}-{l}'.

    Returns {(position, loop): pass_index} of the cells drawn as computed (pass_index
    0-based, i.e. the index into `trace`).
    """
    if trace is None:
        trace = expected_trace(n_positions, n_loops, "parallel" if clp else "sequential",
                               prompt_len)
    last = len(trace) - 1 if upto_pass is None else min(upto_pass, len(trace) - 1)
    computed = _computed_cells(trace, last, n_positions, n_loops)

    if prompt_len > 0:
        ax.axvspan(-0.5, prompt_len - 0.5, color="#f0f0f0", zorder=0)
        ax.text((prompt_len - 1) / 2, n_loops + 0.5, "prompt (prefill)", ha="center",
                va="center", fontsize=8, color="#666666")
    if arrows:
        for start, end in dependencies(n_positions, n_loops, clp):
            ax.add_patch(_arrow(start, end))
    for t in range(n_positions):
        for l in range(1, n_loops + 1):
            pass_index = computed.get((t, l))
            _draw_cell(ax, t, l, pass_index, len(trace), show_numbers,
                       highlighted=pass_index is not None and pass_index == highlight_pass)
    _style_grid_axes(ax, n_positions, n_loops)
    return computed


def _computed_cells(trace, last_pass, n_positions, n_loops):
    computed = {}
    for pass_index, cells in enumerate(trace[:last_pass + 1]):
        for t, l in cells:
            if not (0 <= t < n_positions and 1 <= l <= n_loops):
                raise ValueError(f"cell {(t, l)} of pass {pass_index} is outside the "
                                 f"{n_positions} x {n_loops} grid")
            if (t, l) in computed:
                raise ValueError(f"cell {(t, l)} computed twice (passes "
                                 f"{computed[(t, l)]} and {pass_index})")
            computed[(t, l)] = pass_index
    return computed


def _pass_color(pass_index, n_passes):
    return PASS_CMAP(0.12 + 0.5 * pass_index / max(n_passes - 1, 1))


def _draw_cell(ax, t, l, pass_index, n_passes, show_numbers, highlighted):
    corner = (t - CELL / 2, l - CELL / 2)
    if pass_index is None:
        patch = Rectangle(corner, CELL, CELL, facecolor="white", edgecolor=PENDING_EDGE,
                          linestyle=(0, (2, 2)), linewidth=1, zorder=2)
    else:
        patch = Rectangle(corner, CELL, CELL, facecolor=_pass_color(pass_index, n_passes),
                          edgecolor="black" if highlighted else loop_color(l),
                          linewidth=3 if highlighted else 1.5, zorder=3 if highlighted else 2)
        if show_numbers:
            ax.text(t, l, str(pass_index + 1), ha="center", va="center", zorder=4,
                    fontsize=9, fontweight="bold" if highlighted else "normal")
    patch.set_gid(f"cell-{t}-{l}")
    ax.add_patch(patch)


def _arrow(start, end):
    """Arrow from the edge of cell `start` to the edge of cell `end`."""
    (t0, l0), (t1, l1) = start, end
    direction = np.array([t1 - t0, l1 - l0], dtype=float)
    offset = direction * (CELL / 2 + 0.03)  # leave the cell at its edge or corner
    return FancyArrowPatch((t0 + offset[0], l0 + offset[1]), (t1 - offset[0], l1 - offset[1]),
                           arrowstyle="-|>", mutation_scale=9, color="#555555",
                           linewidth=1, shrinkA=0, shrinkB=0, zorder=1)


def _style_grid_axes(ax, n_positions, n_loops):
    ax.set_xlim(-0.6, n_positions - 0.4)
    ax.set_ylim(0.4, n_loops + 0.75)
    ax.set_aspect("equal")
    ax.set_xticks(range(n_positions))
    ax.set_yticks(range(1, n_loops + 1), [f"loop {l}" for l in range(1, n_loops + 1)])
    for label, l in zip(ax.get_yticklabels(), range(1, n_loops + 1)):
        label.set_color(loop_color(l))
        label.set_fontweight("bold")
    ax.set_xlabel("position t (token $x_t$)")
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)


# ---------------------------------------------------------------- figures

def plot_schedule(n_positions, n_loops, trace_sequential=None, trace_parallel=None,
                  prompt_len=0):
    """Sequential schedule (left) beside the parallel CLP schedule (right).

    Left: the vanilla looped transformer, loop l needs loop l-1 at the same position,
    so each new token costs L passes. Right: with CLP (loop+clp, and PLT), loop l needs
    loop l-1 at the previous position, so the L loops of one token run as one pass.
    Numbers are pass numbers; the traces default to `expected_trace`.
    """
    if trace_sequential is None:
        trace_sequential = expected_trace(n_positions, n_loops, "sequential", prompt_len)
    if trace_parallel is None:
        trace_parallel = expected_trace(n_positions, n_loops, "parallel", prompt_len)
    width = min(2 * (0.55 * n_positions + 1.0), 15)
    fig = new_figure((width, 0.55 * n_loops + 1.5))
    ax_seq, ax_par = fig.subplots(1, 2)
    panels = [
        (ax_seq, False, trace_sequential, "Looped transformer, sequential",
         "loop l needs loop l-1 at the same position"),
        (ax_par, True, trace_parallel, "Cross-loop parallel (CLP), parallel",
         "loop l needs loop l-1 at the previous position"),
    ]
    for ax, clp, trace, name, rule in panels:
        draw_schedule(ax, n_positions, n_loops, clp, trace, prompt_len=prompt_len)
        per_token = passes_per_token(trace)
        ax.set_title(f"{name}: {per_token} pass{'es' if per_token > 1 else ''} per token\n"
                     f"{rule} ({len(trace)} passes in all)", fontsize=10)
    fig.suptitle("numbers: the pass through the shared stack that computes a cell;  "
                 "arrows: what a loop's input depends on (attention to earlier positions "
                 "not drawn)", fontsize=8.5, color="#555555", y=0.02, va="bottom")
    fig.get_layout_engine().set(rect=(0, 0.06, 1, 0.94))
    return fig


def animate_decode(trace, n_positions, n_loops, clp, path, fps=2, prompt_len=0, dpi=100):
    """Write a GIF with one frame per pass of `trace`; each frame highlights the cells
    that pass computes, over the cells computed before it. Returns `path`."""
    from matplotlib.animation import PillowWriter

    unit, left, right, bottom, top = 0.55, 0.9, 0.25, 0.55, 0.45  # inches
    grid_w, grid_h = (n_positions + 0.2) * unit, (n_loops + 0.35) * unit
    width, height = max(left + grid_w + right, 5.5), bottom + grid_h + top
    fig = new_figure((width, height))
    fig.set_layout_engine(None)  # every frame must have the same size
    ax = fig.add_axes((left / width, bottom / height, grid_w / width, grid_h / height))
    schedule = "parallel (CLP)" if clp else "sequential"
    writer = PillowWriter(fps=fps)
    with writer.saving(fig, str(path), dpi):
        for pass_index, cells in enumerate(trace):
            ax.clear()
            draw_schedule(ax, n_positions, n_loops, clp, trace, upto_pass=pass_index,
                          highlight_pass=pass_index, prompt_len=prompt_len)
            ax.set_title(f"{schedule} schedule — pass {pass_index + 1} of {len(trace)} "
                         f"computes {describe_pass(cells)}", fontsize=10)
            writer.grab_frame()
    return path
