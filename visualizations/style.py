"""Shared look of every minplt figure: one colour per loop, one per model family.

Every `plot_*` function in this package returns a `matplotlib.figure.Figure` built
without pyplot (no global figure state, no backend chosen at import). In a notebook,
put the call on the last line of a cell to show it; in a script, call `fig.savefig(path)`.
"""

import sys

from matplotlib.figure import Figure

from minplt import model

# Okabe-Ito colours (colour-blind safe). Loop l always has LOOP_COLORS[l - 1].
LOOP_COLORS = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9"]

# One colour per family of the model (model.FAMILIES), shared by the KV-cache, memory
# and benchmark charts.
FAMILY_COLORS = {
    "vanilla": "#7f7f7f",
    "loop": "#D55E00",
    "loop+clp": "#E69F00",
    "loop+clp+kvshare": "#CC79A7",
    "plt": "#0072B2",
    "loop+kvshare": "#009E73",
    "loop+kvshare+gswa": "#56B4E9",
}
assert set(FAMILY_COLORS) == set(model.FAMILIES), "every family of the model needs a colour"


def loop_color(loop):
    """Colour of loop `loop` (1-based), the same in every figure."""
    return LOOP_COLORS[(loop - 1) % len(LOOP_COLORS)]


def family_of(variant):
    """Family of a variant name: 'plt-2' -> 'plt', 'loop-3' -> 'loop' (model.parse_variant);
    a name that is no variant is returned as it is."""
    try:
        return model.parse_variant(variant.lower().split("_")[0])[0]
    except ValueError:
        return variant.lower() if variant.lower() in model.FAMILIES else variant


def family_color(variant):
    """Colour of a family or of a variant name such as 'plt-2' (grey if unknown)."""
    return FAMILY_COLORS.get(family_of(variant), "#333333")


def human_bytes(n):
    """1536 -> '1.5 KiB'."""
    n = float(n)
    for unit in ["B", "KiB", "MiB", "GiB"]:
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024


def byte_unit(largest):
    """(divisor, unit name) so that `largest` bytes reads as a number below 1024."""
    for power, name in enumerate(["B", "KiB", "MiB", "GiB"]):
        if largest < 1024 ** (power + 1) or name == "GiB":
            return 1024 ** power, name


def new_figure(figsize, **kwargs):
    """A pyplot-free Figure with constrained layout, displayable in a notebook."""
    _enable_notebook_display()
    return Figure(figsize=figsize, layout="constrained", **kwargs)


def figure_and_axes(ax, figsize):
    """(figure, ax): the given ax and its figure, or a new figure with one ax."""
    if ax is not None:
        return ax.figure, ax
    fig = new_figure(figsize)
    return fig, fig.add_subplot()


def _enable_notebook_display():
    """Let a bare Figure render as a PNG when it is the last value of a notebook cell.

    The inline backend registers this itself, but only once pyplot has made a figure;
    without it the first minplt figure of a notebook would show as '<Figure size ...>'.
    """
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is None:
        return
    png = shell.display_formatter.formatters["image/png"]
    try:
        png.lookup_by_type(Figure)
    except KeyError:
        from IPython.core.pylabtools import print_figure

        png.for_type(Figure, lambda fig: print_figure(fig, "png", bbox_inches="tight"))
