"""Which key/value cache each loop writes and reads, and how many bytes that costs.

c = bytes_per_position = 2 * NL * C * bytes_per_value: the keys and values of one
position in all layers. The byte counts come from the model's own memory table
(`model.kv_cache_bytes_formula`, docs/method.md §8), so figure and model cannot differ.
"""

import numpy as np
from matplotlib.patches import Rectangle

from minplt import model

from .style import FAMILY_COLORS, byte_unit, figure_and_axes, human_bytes, loop_color


def family_config(family, n_loops, window):
    """A config with the family's flags and loop count (vanilla: one loop)."""
    if family not in model.FAMILIES:
        raise ValueError(f"unknown family {family!r}; expected one of {list(model.FAMILIES)}")
    if window is None:
        raise ValueError(f"family {family!r} needs a window (W >= 1)")
    return model.make_config(family, 1 if family == "vanilla" else n_loops, window=window)


def kv_bytes_formula(family, n_positions, n_loops, window, bytes_per_position):
    """KV-cache bytes of one sequence of T = n_positions positions: the model's table,
    vanilla: T c;  loop, loop+clp: L T c;  loop+clp+kvshare, loop+kvshare: T c;
    plt, loop+kvshare+gswa: T c + (L-1) min(T, W) c."""
    cfg = family_config(family, n_loops, window)
    return model.kv_cache_bytes_formula(cfg, n_positions, bytes_per_position)


def formula_text(family):
    """The family's row of the memory table in the lessons' letters (T positions)."""
    if family in ("loop", "loop+clp"):
        return "L T c"
    return "T c + (L-1) min(T,W) c" if family in ("plt", "loop+kvshare+gswa") else "T c"


# ---------------------------------------------------------------- layout diagram

def _family_rows(family, n_positions, n_loops, window):
    """Per loop: (positions whose K,V this loop keeps, what the loop reads)."""
    everything = range(n_positions)
    if family == "vanilla":
        return [(everything, "writes and reads its own cache")]
    if family == "loop":
        return [(everything, "writes and reads its own full cache")] * n_loops
    first = (everything, "writes the shared cache, read by every loop")
    if family == "loop+clp+kvshare":
        return [first] + [((), "keeps nothing: its queries read loop 1's cache")] * (n_loops - 1)
    ring = range(max(n_positions - window, 0), n_positions)
    local = f"keeps its last W={window} (ring buffer, local); reads loop 1's cache (global)"
    return [first] + [(ring, local)] * (n_loops - 1)


FAMILY_TITLES = {
    "vanilla": "vanilla (1 loop)",
    "loop": "loop, loop+clp (no sharing)",
    "loop+clp+kvshare": "loop+clp+kvshare",
    "plt": "PLT (kvshare + G-SWA)",
}


def plot_kv_layout(n_positions, n_loops, window, bytes_per_position, ax=None):
    """One row of boxes per loop and family: a filled box is a position whose keys and
    values that loop keeps in its cache; a dashed box is one it does not keep. Each
    family's header gives its total cache bytes (docs/method.md §8)."""
    families = ["vanilla", "loop", "loop+clp+kvshare", "plt"]
    n_rows = 1 + 3 * n_loops + len(families)  # loop rows + one header per family
    fig, ax = figure_and_axes(ax, (0.42 * n_positions + 5.6, 0.36 * (n_rows + 3) + 0.6))
    vanilla_bytes = kv_bytes_formula("vanilla", n_positions, n_loops, window, bytes_per_position)
    y = 0.0
    for family in families:
        total = kv_bytes_formula(family, n_positions, n_loops, window, bytes_per_position)
        formula = formula_text(family)
        ax.text(-3.4, y, f"{FAMILY_TITLES[family]}:  {formula} = "
                f"{human_bytes(total)}  (x{total / vanilla_bytes:.2f} vanilla)",
                fontsize=9.5, fontweight="bold", va="center", color=FAMILY_COLORS[family])
        y -= 1
        for loop, (kept, reads) in enumerate(_family_rows(family, n_positions, n_loops, window), 1):
            _draw_cache_row(ax, y, loop, kept, n_positions)
            ax.text(n_positions + 0.1, y, reads, fontsize=8, va="center", color="#333333")
            y -= 1
        y -= 0.5
    ax.set_xlim(-3.5, n_positions + 9.5)
    ax.set_ylim(y + 0.8, 0.7)
    ax.set_xticks(range(n_positions))
    ax.set_xlabel(f"position t  (T={n_positions}, L={n_loops}, W={window}, "
                  f"c={human_bytes(bytes_per_position)} per position: K and V of all layers)")
    ax.set_yticks([])
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_title("KV cache kept by each loop", fontsize=11)
    return fig


def _draw_cache_row(ax, y, loop, kept, n_positions):
    ax.text(-0.6, y, f"loop {loop}", ha="right", va="center", fontsize=9,
            fontweight="bold", color=loop_color(loop))
    kept = set(kept)
    for t in range(n_positions):
        if t in kept:
            box = Rectangle((t - 0.4, y - 0.38), 0.8, 0.76, facecolor=loop_color(loop),
                            edgecolor="white", alpha=0.85)
        else:
            box = Rectangle((t - 0.4, y - 0.38), 0.8, 0.76, facecolor="none",
                            edgecolor="#c8c8c8", linestyle=(0, (2, 2)), linewidth=0.8)
        ax.add_patch(box)


# ---------------------------------------------------------------- growth with T

def plot_memory_growth(n_loops, window, bytes_per_position, max_positions=4096, ax=None):
    """KV-cache bytes against sequence length T for each family: the looped model without
    sharing grows L times faster; PLT adds a constant (L-1) W c once T > W."""
    fig, ax = figure_and_axes(ax, (6.5, 4))
    n = np.unique(np.linspace(1, max_positions, 400).astype(int))
    lines = [("vanilla", "-", "vanilla"),
             ("loop", "-", f"loop-{n_loops}, loop+clp (no sharing)"),
             ("loop+clp+kvshare", (0, (4, 3)), "loop+clp+kvshare (= vanilla)"),
             ("plt", "-", f"PLT-{n_loops} (W={window})")]
    top = kv_bytes_formula("loop", max_positions, n_loops, window, bytes_per_position)
    scale, unit = byte_unit(top)
    for family, style, label in lines:
        sizes = np.array([kv_bytes_formula(family, int(k), n_loops, window, bytes_per_position)
                          for k in n])
        ax.plot(n, sizes / scale, linestyle=style, color=FAMILY_COLORS[family], linewidth=2,
                label=label)
        ratio = sizes[-1] / kv_bytes_formula("vanilla", int(n[-1]), n_loops, window,
                                             bytes_per_position)
        if family != "loop+clp+kvshare":
            nudge = {"plt": 5, "vanilla": -5}.get(family, 0)  # plt and vanilla end close
            ax.annotate(f"x{ratio:.2f}", (n[-1], sizes[-1] / scale), xytext=(4, nudge),
                        textcoords="offset points", va="center", fontsize=8,
                        color=FAMILY_COLORS[family])
    if window < max_positions:
        ax.axvline(window, color="#999999", linestyle=":", linewidth=1)
        ax.annotate(f"T = W = {window}", (window, 0.5), xycoords=ax.get_xaxis_transform(),
                    xytext=(3, 0), textcoords="offset points", fontsize=8, color="#666666")
    ax.set_xlabel("sequence length T (positions)")
    ax.set_ylabel(f"KV cache per sequence ({unit})")
    ax.set_title(f"KV cache growth, L={n_loops} loops, "
                 f"c={human_bytes(bytes_per_position)} per position", fontsize=10)
    ax.set_xlim(0, max_positions * 1.1)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    return fig

