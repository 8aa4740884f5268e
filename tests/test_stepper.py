"""The decode step-through of lessons 03 and 04 shows what the model did.

Lesson 03 steps through loop+clp-3 (a full cache per loop, no window yet), lesson 04
through plt-3 (one shared cache and the window rings) and a few other families.

The widget is driven as a user would drive it (slider, next, previous). At every step
the picture must show: as this step's cells, the passes the model appended to
`cache.trace`; as written, the entries of the model's cache that the step changed,
which are position t of each full cache and slot t % W of each ring; as read, the
entries the step depends on, which are positions 0..t-1 of the caches it attends to
and the ring slots holding positions t-W+1..t-1 (the slot being overwritten held t-W,
which has left the window). Both decode schedules, for the families with a ring, with
shared and with own caches. Two more tests give the stepper a model that misbehaves
and check that the picture shows the misbehaviour, not the rule.
"""
import matplotlib

matplotlib.use("Agg")
import numpy as np
import pytest
from matplotlib.colors import to_rgba

from minplt import model as M
from visualizations import stepper as S

PROMPT = np.array([3, 1, 4])
N_NEW = 7


def model(family, n_loops, window=3):
    cfg = M.make_config(family, n_loops, "tiny", vocab_size=23, window=window)
    return cfg, M.init_params(cfg, seed=1)


def observe_model(params, cfg, tokens, schedule):
    """Run the model step by step, without the stepper: per decode step, the passes it
    appended to the trace and the entries whose keys or values changed."""
    _, cache = M.prefill(params, cfg, PROMPT, capacity=len(PROMPT) + len(tokens))
    steps = []
    for token in tokens:
        first = len(cache.trace)
        k, v = cache.k[:, :, 0].copy(), cache.v[:, :, 0].copy()     # the one sequence
        rings = None if cache.k_ring is None else (cache.k_ring[:, :, 0].copy(),
                                                   cache.v_ring[:, :, 0].copy())
        M.step(params, cfg, cache, int(token), schedule)
        changed = ((cache.k[:, :, 0] != k) | (cache.v[:, :, 0] != v)).any(axis=(1, 2, 4))
        written = {("cache", int(i) + 1, int(p)) for i, p in zip(*np.nonzero(changed))}
        if rings is not None:
            changed = ((cache.k_ring[:, :, 0] != rings[0])
                       | (cache.v_ring[:, :, 0] != rings[1])).any(axis=(1, 2, 4))
            written |= {("ring", int(i) + 2, int(s)) for i, s in zip(*np.nonzero(changed))}
        steps.append((cache.trace[first:], written))
    return steps


def rule(cfg, t):
    """(written, read) that decoding position t must show for this family."""
    caches = [1] if (cfg.kv_share or cfg.n_loops == 1) else range(1, cfg.n_loops + 1)
    written = {("cache", i, t) for i in caches}
    read = {("cache", i, p) for i in caches for p in range(t)}
    if cfg.gswa:
        W = cfg.window
        for l in range(2, cfg.n_loops + 1):
            written.add(("ring", l, t % W))
            read |= {("ring", l, p % W) for p in range(max(0, t - W + 1), t)}
    return written, read


def drawn_states(figure):
    """{gid: face colour} of the cache boxes, and the gids of the framed step cells."""
    boxes, framed = {}, set()
    for ax in figure.axes:
        for patch in ax.patches:
            gid = patch.get_gid() or ""
            if gid.startswith(("cache-", "ring-")):
                boxes[gid] = patch.get_facecolor()
            elif gid.startswith("step-cell-"):
                framed.add(gid)
    return boxes, framed


CASES = [("plt", 3, "parallel"), ("plt", 3, "sequential"), ("plt", 2, "parallel"),
         ("loop+kvshare+gswa", 3, "sequential"), ("loop", 3, "sequential"),
         ("loop+clp", 2, "parallel"),
         ("loop+clp", 3, "parallel"), ("loop+clp", 3, "sequential"),   # lesson 03's model
         ("loop+clp+kvshare", 3, "parallel")]


@pytest.mark.parametrize("family,n_loops,schedule", CASES,
                         ids=[f"{f}-{n}-{s}" for f, n, s in CASES])
def test_widget_shows_the_models_trace_and_cache(family, n_loops, schedule):
    cfg, params = model(family, n_loops)
    tokens = np.random.default_rng(0).integers(0, cfg.vocab_size, N_NEW)
    stepper = S.DecodeStepper(params, cfg, PROMPT, N_NEW, schedule=schedule, tokens=tokens)
    observed = observe_model(params, cfg, tokens, schedule)
    widget = stepper.widget()
    assert widget.slider.max == N_NEW

    order = [4, 1] + list(range(N_NEW + 1))                    # jumps, then every step in turn
    for step in order:
        widget.slider.value = step                             # what a user does
        frame = widget.frame
        assert frame.step == step
        if step == 0:
            assert frame.cells == [(t, l) for l in range(1, n_loops + 1) for t in range(len(PROMPT))]
            assert frame.read == frozenset()
            continue
        t = len(PROMPT) + step - 1
        passes, written = observed[step - 1]
        assert frame.position == t and frame.token == tokens[step - 1]
        assert frame.passes == passes, f"step {step}: cells differ from the model's trace"
        assert frame.written == written, f"step {step}: written entries differ from the model's cache"
        want_written, want_read = rule(cfg, t)
        assert written == want_written, f"step {step}: the model wrote {written}"
        assert frame.read == want_read, f"step {step}: shown as read {sorted(frame.read)}"

        # the picture: every cache box has the colour of its state, this step's cells framed
        boxes, framed = drawn_states(widget.figure)
        assert set(boxes) == {f"{k}-{n}-{s}" for k, n, s in stepper.entries}
        for entry, state in widget.shown.items():
            assert state == frame.state(entry)
            assert boxes["-".join(map(str, entry))] == to_rgba(S.STATE_COLORS[state]), (
                f"step {step}: {entry} is not drawn as {state}")
        assert {e for e, s in widget.shown.items() if s == "written"} == written
        assert {e for e, s in widget.shown.items() if s == "read"} == want_read
        assert framed == {f"step-cell-{c[0]}-{c[1]}" for cells in passes for c in cells}
        assert str(t) in widget.caption.value

    widget.slider.value = 2
    widget.next.click()
    assert widget.frame.step == 3
    widget.previous.click()
    widget.previous.click()
    assert widget.frame.step == 1
    widget.slider.value = N_NEW
    widget.next.click()                                        # stays on the last step
    assert widget.frame.step == N_NEW


def test_ring_slots_hold_the_positions_written_into_them():
    cfg, params = model("plt", 2, window=3)
    stepper = S.DecodeStepper(params, cfg, PROMPT, N_NEW)
    for frame in stepper.frames[1:]:
        t = frame.position
        for p in range(max(0, t - 2), t + 1):                  # the last W positions
            assert frame.holds[("ring", 2, p % 3)] == p
        assert f"replacing t={t - 3}" in stepper.describe(frame.step) or t < 3


def test_static_figure_has_every_step():
    cfg, params = model("plt", 3)
    stepper = S.DecodeStepper(params, cfg, PROMPT, 3)
    fig = stepper.plot_steps()
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert len(titles) == 4 and titles[0].startswith("prefill")
    assert [t.split(":")[0] for t in titles[1:]] == [f"decode step {k}" for k in (1, 2, 3)]


def test_shows_a_write_the_rule_does_not_expect(monkeypatch):
    """A model that also overwrites loop 1's position 0 at every step is shown doing so:
    the stepper reports the cache, not what a correct model would do."""
    cfg, params = model("plt", 3)
    real_step = M.step

    def step_that_scribbles(params, cfg, cache, token, *args, **kwargs):
        logits = real_step(params, cfg, cache, token, *args, **kwargs)
        cache.k[0, :, :, 0] += 1.0
        return logits

    monkeypatch.setattr(M, "step", step_that_scribbles)
    stepper = S.DecodeStepper(params, cfg, PROMPT, 3)
    for frame in stepper.frames[1:]:
        assert ("cache", 1, 0) in frame.written


def test_shows_a_read_the_rule_does_not_expect(monkeypatch):
    """A model whose logits also depend on a ring slot outside the window (here every
    slot of loop 2's ring) shows all of them as read."""
    cfg, params = model("plt", 3, window=3)
    real_step = M.step

    def step_that_peeks(params, cfg, cache, token, *args, **kwargs):
        ring = cache.k_ring[0].sum()                           # read before the step writes
        return real_step(params, cfg, cache, token, *args, **kwargs) + 1e-3 * ring

    monkeypatch.setattr(M, "step", step_that_peeks)
    stepper = S.DecodeStepper(params, cfg, PROMPT, 4)
    last = stepper.frames[-1]
    assert {("ring", 2, s) for s in range(3)} <= last.read | last.written
    assert ("ring", 2, last.position % 3) in last.written
    overwritten = ("ring", 2, last.position % 3)
    assert overwritten not in rule(cfg, last.position)[1]      # the rule would not read it ...
    assert overwritten in last.read                            # ... but this model does


def test_bad_arguments_say_what_to_do():
    cfg, params = model("plt", 2)
    with pytest.raises(ValueError, match="n_new must be >= 1"):
        S.DecodeStepper(params, cfg, PROMPT, 0)
    with pytest.raises(ValueError, match="one token per decode step"):
        S.DecodeStepper(params, cfg, PROMPT, 3, tokens=[1, 2])


def test_cache_axis_names_rings_only_when_the_model_has_them():
    """Lesson 03 steps through a model without windows: its figure must not speak of rings."""
    for family, label in [("loop+clp", "cache: position"),
                          ("plt", "cache: position (full cache) or slot (ring)")]:
        cfg, params = model(family, 3)
        fig, _ = S.DecodeStepper(params, cfg, PROMPT, 1).draw(1)
        assert label in [ax.get_xlabel() for ax in fig.axes], family
