"""The schedule figure draws what the model really computed: the model's decode trace
(which (position, loop) cells each pass through the stack computed) is the trace the
figure expects, cell for cell, for both schedules."""
import matplotlib

matplotlib.use("Agg")
import numpy as np
import pytest
from matplotlib.figure import Figure

from minplt import model as M
from visualizations import schedule


@pytest.mark.parametrize("n_loops", [2, 3])
@pytest.mark.parametrize("schedule_name", ["parallel", "sequential"])
def test_model_trace_is_the_figures_schedule(n_loops, schedule_name):
    cfg = M.make_config("plt", n_loops, "tiny", vocab_size=11)
    params = M.init_params(cfg, 0)
    prompt_len, n_positions = 3, 8
    _, cache = M.generate(params, cfg, np.arange(prompt_len), n_positions - prompt_len + 1,
                          schedule=schedule_name, return_cache=True)
    expected = schedule.expected_trace(n_positions, n_loops, schedule_name, prompt_len=prompt_len)
    assert cache.trace == expected
    ax = Figure().add_subplot()
    drawn = schedule.draw_schedule(ax, n_positions, n_loops, clp=True, trace=cache.trace,
                                   prompt_len=prompt_len)
    assert drawn == {cell: i for i, one_pass in enumerate(cache.trace) for cell in one_pass}


def test_vanilla_looped_model_trace_is_sequential():
    cfg = M.make_config("loop", 3, "tiny", vocab_size=11)
    params = M.init_params(cfg, 0)
    _, cache = M.generate(params, cfg, np.arange(2), 4, return_cache=True)
    assert cache.trace == schedule.expected_trace(5, 3, "sequential", prompt_len=2)
