"""Worked solutions to lesson 01's exercises (try them first).

1. The first loss. Equal logits give every token probability 1/V, so the cross-entropy
   of any target is -ln(1/V) = ln V. For V = 50 that is ln 50 = 3.91. At initialisation
   the logits are only nearly equal, so the measured loss is a little off ln V (within
   2% here). Answering V, 1/V or log10(V) = 1.70 (WRONG below) confuses the base.

2. Central finite difference. Nudge the entry up by h and down by h, evaluate the loss
   each time, put the entry back, and divide the difference by 2h. The error of the
   formula is of order h² (1e-10 for h = 1e-5), far below the check's tolerance; a
   one-sided difference (f(p+h) - f(p)) / h would be off by order h, and dividing by h
   instead of 2h (WRONG below) doubles the estimate.

3. AdamW's first step. After one gradient g, Adam's moments are m = (1-b1) g and
   v = (1-b2) g²; bias correction divides them by (1-b1) and (1-b2), so m_hat = g and
   v_hat = g², and the step is lr · g / (|g| + eps) = lr · sign(g). With weight decay 0
   every entry whose gradient is not (nearly) zero moves by lr = 3e-2, whatever the
   gradient's size. So a 10x learning rate moves every weight 10x further from the first
   step on; with entries of about 0.02 at initialisation, a first step of 0.03 is larger
   than the weights themselves. In the training run the loss then falls faster at
   first or jumps about, depending on the run: try it. Thinking of SGD (lr times a small
   gradient) gives a much smaller number, such as 3e-3 (WRONG below).
"""


def first_loss(V=50):
    import math
    return math.log(V)          # 3.912


def central_difference(loss, array, index, h=1e-5):
    old = array[index]
    array[index] = old + h
    up = loss()
    array[index] = old - h
    down = loss()
    array[index] = old          # leave the array as it was
    return (up - down) / (2 * h)


def central_difference_over_h(loss, array, index, h=1e-5):
    """A plausible mistake: (up - down) / h, forgetting that the two nudges are 2h apart."""
    return 2 * central_difference(loss, array, index, h)


SOLUTIONS = {
    "check_first_loss": first_loss(),
    "check_fd_gradient": central_difference,
    "check_adam_first_step": 3e-2,
}
WRONG = {
    "check_first_loss": 1.699,                       # log10(50)
    "check_fd_gradient": central_difference_over_h,
    "check_adam_first_step": 3e-3,
}
