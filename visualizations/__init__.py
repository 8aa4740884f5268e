"""Plotting code for minplt: schedules, KV-cache layouts, benchmarks, training curves.

    schedule       the (position, loop) grid: expected_trace, dependencies,
                   draw_schedule, plot_schedule, animate_decode
    kv_layout      the KV cache of each loop: kv_bytes_formula, plot_kv_layout,
                   plot_memory_growth
    charts         measured results: plot_latency, plot_memory, plot_training_curves,
                   plot_accuracy_vs_latency, plot_attention, plot_gates,
                   plot_batch_sweep
    stepper        a real decode step by step: cells computed, cache entries written and
                   read, as a figure of every step or an ipywidgets slider
    style          one colour per loop and per family, shared by every figure
    render_all     `python -m visualizations.render_all`: the figures of the README and docs/
    run_notebooks  `python -m visualizations.run_notebooks lessons/NN_name.py` (make lessons)

Every plot_* function returns a matplotlib Figure (made without pyplot); show it as
the last value of a notebook cell or save it with fig.savefig(path). Nothing here
chooses a matplotlib backend.
"""
