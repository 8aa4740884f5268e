"""Checks for lesson 01's exercises (training by hand).

- check_first_loss: the cross-entropy of a freshly initialised model with V = 50;
- check_fd_gradient: a central finite difference for one parameter entry;
- check_adam_first_step: how far AdamW's first step moves a weight at lr = 3e-2.

Each prints one line and returns True only for a right answer (exercises/__init__.py).
"""
import numpy as np

from exercises import as_number, call, check_number, right, unanswered, wrong
from minplt import model as M

V = 50            # exercise 1's vocabulary
LR = 3e-2         # exercise 3's learning rate (10x the lesson's)


def _small_model(vocab_size=16, seed=0, spread=False):
    """A float64 model, a batch, and (spread=True) parameters moved away from the init so
    that no gradient is tiny."""
    cfg = M.make_config("vanilla", preset="tiny", vocab_size=vocab_size, n_embd=8, n_head=2,
                        d_ff=12, dtype="float64")
    rng = np.random.default_rng(seed)
    x = rng.integers(0, vocab_size, (2, 6))
    y = rng.integers(0, vocab_size, (2, 6))
    params = M.init_params(cfg, seed=seed)
    if spread:
        params = {name: p + rng.normal(0, 0.3, p.shape) for name, p in params.items()}
    return cfg, params, x, y


def check_first_loss(answer):
    """The mean cross-entropy of an initialised model over V tokens (measured here)."""
    cfg, params, x, y = _small_model(vocab_size=V)
    measured = float(M.forward(params, cfg, x, y)[1])
    return check_number(answer, measured, f"the loss at initialisation with V = {V}", rel=0.02,
                        hint="equal logits are a uniform guess: the probability of the right "
                        "token is 1/V, and the loss is minus its natural log")


def check_fd_gradient(function):
    """The learner's central difference against the backward pass, on three entries."""
    if unanswered(function, "your function my_fd"):
        return False
    if not callable(function):
        return wrong(f"expected a function, got {type(function).__name__}")
    cfg, params, x, y = _small_model(spread=True)
    _, grads = M.loss_and_grads(params, cfg, x, y)
    def loss():
        return float(M.forward(params, cfg, x, y)[1])
    for name, index in [("layers.0.wq", (1, 2)), ("layers.1.w2", (3, 4)), ("norm_f", (5,))]:
        before = params[name].copy()
        ok, got = call(function, loss, params[name], index, 1e-5)
        if not ok:
            return wrong(f"on {name}{list(index)} your function raised {got}")
        if not np.allclose(params[name], before, rtol=0, atol=1e-12):
            return wrong(f"your function left {name} changed",
                         "put the entry back to its old value before returning")
        estimate, want = as_number(got), float(grads[name][index])
        if estimate is None:
            return wrong(f"expected one number, got {got!r}")
        if not abs(estimate - want) <= 1e-6 * max(abs(want), 1e-3):
            return wrong(f"d loss / d {name}{list(index)}: you estimated {estimate:.8g}, the "
                         f"backward pass gives {want:.8g}",
                         "(loss at p + h  -  loss at p - h) / (2 h)")
    return right("central differences agree with the backward pass to about 1e-9")


def check_adam_first_step(answer):
    """|change| of one wq entry after AdamW's first step at lr = LR, no weight decay."""
    cfg, params, x, y = _small_model(spread=True)
    _, grads = M.loss_and_grads(params, cfg, x, y)
    name = "layers.0.wq"                  # its largest gradient: far above Adam's eps = 1e-8
    index = np.unravel_index(np.argmax(np.abs(grads[name])), grads[name].shape)
    before = float(params[name][index])
    M.AdamW(params, lr=LR, weight_decay=0.0).step(params, grads)
    moved = abs(float(params[name][index]) - before)
    x = as_number(answer)
    if x is not None and x < 0:                       # a signed change: its size is asked for
        answer = -x
    ok = check_number(answer, moved, f"the first step's change of a wq entry at lr = {LR:g}",
                      rel=1e-3, hint="at step 1, AdamW divides the gradient by the root of its "
                      "own square: only its sign is left")
    if ok:
        print(f"  (its gradient was {float(grads[name][index]):.3g}: the step does not depend on it)")
    return ok
