"""Training: the loop, evaluation, logs, checkpoints, resuming, and the `train` command.

    python -m minplt train --variant plt-2 --data sort --steps 1000 --out runs/plt2
    python -m minplt train --out runs/plt2 --resume        # continue where it stopped

    result = train(config, data, TrainSettings(steps=500), out_dir="runs/x")
    result = train(config, data, steps=500, lr=1e-3)       # the same, by field name

Reading order: the settings (TrainSettings) -> evaluate -> train (the loop)
 -> checkpoints and logs -> the command line (add_arguments, run).

What a run guarantees, and how:
  * Resuming reproduces the uninterrupted run bit for bit. The checkpoint holds
    everything the next step depends on: parameters, the AdamW moments, the step, and
    the state of the random generator that draws the training batches. Validation
    batches come from a generator of their own, so evaluating never moves the
    training stream.
  * Resuming checks the data: the checkpoint keeps a fingerprint of it (the token ids'
    SHA-256 for text, the task's settings, and the tokenizer's vocabulary), and a run
    whose data changed is refused.
  * A checkpoint on disk is always complete: checkpoint.save writes a temporary
    file and renames it, so an interrupted write leaves the previous checkpoint.
  * A trained model is never replaced by accident: a run folder that holds a
    checkpoint needs --resume or --overwrite, and only one run writes to a folder at
    a time (checkpoint.RunFolder).
  * Ctrl-C finishes the current step, saves a checkpoint and stops (exit code 130).
  * A NaN or infinite loss or gradient stops the run, naming the step, and the last
    good checkpoint is left as it was.
"""
from __future__ import annotations

import argparse
import csv
import dataclasses
import io
import json
import math
import os
import signal
import sys
import time
from dataclasses import dataclass, field

import numpy as np

from minplt import data as datalib
from minplt import checkpoint, flags, model, parallel

CHECKPOINT_NAME = checkpoint.CHECKPOINT_NAME
LOG_COLUMNS = ("step", "loss", "val_loss", "val_acc", "lr", "tokens_per_s", "elapsed")


class DivergedError(ArithmeticError):
    """The loss or the gradient norm became NaN or infinite: the run stops."""


# ----------------------------------------------------------------------------------------
# The settings of a run. The command line makes one flag per field (--steps, --lr, ...).

def _setting(default, help_text: str):
    return field(default=default, metadata={"help": help_text})


@dataclass(frozen=True)
class TrainSettings:
    """How to train; the model is a model.Config. The defaults suit the tiny and small
    presets on the toy tasks, which like a larger learning rate than text would."""
    steps: int = _setting(1000, "total optimizer steps")
    batch_size: int = _setting(32, "sequences per step")
    lr: float = _setting(3e-3, "peak learning rate (linear warm-up, then cosine decay)")
    warmup: int = _setting(50, "warm-up steps")
    weight_decay: float = _setting(0.1, "AdamW weight decay, >= 0")
    grad_clip: float = _setting(1.0, "max gradient norm, 0 = off")
    eval_every: int = _setting(100, "steps between evaluations")
    eval_batches: int = _setting(4, "validation batches per evaluation")
    log_every: int = _setting(20, "steps between progress lines")
    checkpoint_every: int = _setting(200, "steps between checkpoints")
    seed: int = _setting(0, "seed of the initial parameters and of the batches")
    threads: int = _setting(1, "threads for numpy's BLAS and the Numba kernels: 1 is "
                               "fastest at toy sizes and steady on a busy machine")
    backend: str = _setting("numba", "the layers' code: numba (train_kernels.py, compiled) "
                                     "or numpy (model.py, the reference)")

    def __post_init__(self):
        for name, low in (("steps", 1), ("batch_size", 1), ("warmup", 0), ("eval_every", 1),
                          ("eval_batches", 1), ("log_every", 1), ("checkpoint_every", 1),
                          ("seed", 0), ("threads", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
        if self.backend not in ("numba", "numpy"):
            raise ValueError(f"backend must be 'numba' or 'numpy', got {self.backend!r}")
        if not _number(self.lr) or not 0 < self.lr < math.inf:
            raise ValueError(f"the learning rate must be a positive number, got {self.lr!r}")
        for name, what in (("weight_decay", "0 = no decay"), ("grad_clip", "0 = no clipping")):
            value = getattr(self, name)
            if not _number(value) or not 0 <= value < math.inf:
                raise ValueError(f"{name} must be a number >= 0 ({what}), got {value!r}")

    @classmethod
    def fields(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    def replace(self, **changes) -> "TrainSettings":
        """A copy with some fields changed; an unknown name is a clear error."""
        unknown = sorted(set(changes) - set(self.fields()))
        if unknown:
            raise ValueError(f"unknown training setting(s) {', '.join(unknown)}; the settings "
                             f"are {', '.join(self.fields())}")
        return dataclasses.replace(self, **changes)


def _number(value) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float, np.integer,
                                                              np.floating))


# ----------------------------------------------------------------------------------------
# Evaluation

def validation_batches(data, n_batches: int, batch_size: int, seed: int) -> list:
    """A fixed validation set: the same batches at every evaluation and after a resume,
    drawn from a generator of their own so the training stream is not touched."""
    rng = np.random.default_rng([seed, 1])
    return [data.get_batch("val", batch_size, rng) for _ in range(n_batches)]


def evaluate(params, cfg: model.Config, data, batches,
             backend: str = "numpy") -> tuple[float, float | None]:
    """Mean validation loss over `batches` and, for tasks, the fraction of answers that
    are exactly right (teacher-forced argmax; data.exact_match says why this equals
    the greedy answer). Accuracy is None for text."""
    losses, correct = [], []
    for x, y, answer_mask in batches:
        logits, loss, _ = model.forward(params, cfg, x, y, backend)
        losses.append(loss)
        if answer_mask is not None:
            correct.append(data.exact_match(logits, y, answer_mask))
    accuracy = float(np.concatenate(correct).mean()) if correct else None
    return float(np.mean(losses)), accuracy


# ----------------------------------------------------------------------------------------
# The training loop

@dataclass
class TrainResult:
    params: dict                # the trained parameters
    config: model.Config
    rows: list                  # the log: dicts with LOG_COLUMNS (None where not measured)
    losses: list                # the training loss of every step, from step 1
    step: int                   # steps done
    val_loss: float | None      # at the last evaluation
    val_acc: float | None       # tasks only
    elapsed: float              # seconds of training, over all sessions of a resumed run
    checkpoint: str | None      # path of the run's checkpoint, if there is one
    saved: bool = False         # whether this call wrote it (False: nothing new to save)
    interrupted: bool = False   # stopped by Ctrl-C (after saving a checkpoint)
    data: object = field(default=None, repr=False)


@dataclass
class LoopState:
    """What the loop shares with its helpers. `rng_state` is the data generator's state
    after the last completed step; saved with that step's parameters, it keeps the
    checkpoint consistent even when an interrupt lands in the middle of the next step."""
    step: int = 0                   # completed steps
    rng_state: dict | None = None
    last_saved: int | None = None   # step of the last checkpoint written
    val: tuple = (None, None)       # (val_loss, val_acc) of the last evaluation
    updating: bool = False          # inside optimizer.step: parameters half-updated
    saved: bool = False             # a checkpoint was written by this session


class _CtrlC:
    """While active, Ctrl-C only raises a flag: the loop ends its step, saves and stops.
    A second Ctrl-C interrupts at once. (Python allows signal handlers only in the main
    thread; elsewhere Ctrl-C keeps its usual behaviour.)"""

    def __init__(self):
        self.requested = False
        self.previous = None

    def __enter__(self):
        try:
            self.previous = signal.signal(signal.SIGINT, self._handle)
        except ValueError:
            self.previous = None
        return self

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
        return False


def train(config: model.Config, data, settings: TrainSettings | None = None, *,
          out_dir: str | None = None, resume: bool = False, overwrite: bool = False,
          log=print, data_source: str | None = None, run_info: dict | None = None,
          **changes) -> TrainResult:
    """Train `config` on `data` (a data.Task or data.TextDataset) with `settings`
    (default TrainSettings()), and any of its fields changed by name (steps=500):
    AdamW with linear warm-up and cosine decay; settings.seed fixes the initial
    parameters and the stream of batches.

    With out_dir: DIR/ckpt.npz every checkpoint_every steps, at the end and on Ctrl-C,
    and DIR/log.csv + DIR/log.json rewritten as rows come in. resume=True continues
    from DIR/ckpt.npz (its data must match); a DIR that holds a checkpoint is refused
    unless resume or overwrite. `log` gets one line of text per report (log_every
    steps, and each evaluation every eval_every steps). data_source names text data
    for the checkpoint ('pydoc', a path); run_info is any JSON to keep as meta['run']."""
    s = (settings or TrainSettings()).replace(**changes)
    if data.block_size > config.block_size:
        raise ValueError(f"the data's sequences have {data.block_size} positions but "
                         f"config.block_size is {config.block_size}")
    if data.tokenizer.vocab_size > config.vocab_size:
        raise ValueError(f"the data has {data.tokenizer.vocab_size} tokens but "
                         f"config.vocab_size is {config.vocab_size}")
    if resume and not out_dir:
        raise ValueError("resuming needs the run's output folder (--out DIR)")
    if resume and not os.path.exists(os.path.join(out_dir, CHECKPOINT_NAME)):
        raise FileNotFoundError(f"cannot resume: there is no checkpoint "
                                f"{os.path.join(out_dir, CHECKPOINT_NAME)} (start without "
                                "--resume to begin a new run)")
    if not out_dir:
        with parallel.threads(s.threads):
            return _train(config, data, s, None, False, log, data_source, run_info)
    with checkpoint.RunFolder(out_dir, resume=resume, overwrite=overwrite) as folder, \
            parallel.threads(s.threads):
        if folder.cleaned:
            log(f"removed {len(folder.cleaned)} temporary file(s) ({folder.cleaned_bytes:,} "
                f"bytes) that an interrupted run left in {out_dir}")
        if overwrite and not resume and os.path.exists(folder.checkpoint):
            log(f"--overwrite: starting a new run; {folder.checkpoint} will be replaced")
        return _train(config, data, s, out_dir, resume, log, data_source, run_info)


def _train(config, data, s: TrainSettings, out_dir, resume, log, data_source,
           run_info) -> TrainResult:
    """The loop of train(), which has checked the arguments and holds the run folder."""
    parallel.keep_freed_memory()          # steps reuse their arrays' memory (parallel.py)
    ckpt_path = os.path.join(out_dir, CHECKPOINT_NAME) if out_dir else None
    spec = datalib.data_spec(data, data_source)
    meta = {"tokenizer": data.tokenizer.to_dict(), "data": spec, "variant": config.variant,
            "seed": s.seed, "run": run_info or {}, "train": dataclasses.asdict(s)}

    # The state a step depends on: parameters, optimiser moments, data generator, step.
    params = model.init_params(config, s.seed)
    optimizer = model.AdamW(params, lr=s.lr, weight_decay=s.weight_decay, backend=s.backend)
    rng = np.random.default_rng(s.seed)
    rows, losses, elapsed_before = [], [], 0.0
    state = LoopState()
    if resume:
        state.step, rows, losses, elapsed_before = restore(ckpt_path, config, params,
                                                           optimizer, rng, data, spec)
        state.last_saved, state.val = state.step, _last_eval(rows)
        log(f"resuming from {ckpt_path} at step {state.step}")
    state.rng_state = rng.bit_generator.state
    start = state.step
    val_set = validation_batches(data, s.eval_batches, s.batch_size, s.seed)
    tokens_per_step = s.batch_size * data.block_size
    clock = dict(start=time.perf_counter(), last=time.perf_counter(), last_step=start)

    def one_step(step):
        """batch -> forward and backward -> check -> clip -> update; returns (loss, lr)."""
        source = data.at_step(step, s.steps) if hasattr(data, "at_step") else data  # curricula
        x, y, _ = source.get_batch("train", s.batch_size, rng)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            # overflow is checked for just below, with a clearer message than numpy's
            loss, grads = model.loss_and_grads(params, config, x, y, s.backend)
            grad_norm = model.clip_grad_norm(grads, s.grad_clip, s.backend)
        if not (math.isfinite(loss) and math.isfinite(grad_norm)):
            _diverged(step + 1, loss, grad_norm, s.lr, state, ckpt_path)
        step_lr = model.lr_schedule(step, s.lr, s.warmup, s.steps)
        state.updating = True
        optimizer.step(params, grads, lr=step_lr)
        state.updating = False
        return loss, step_lr

    def report(done, loss, step_lr):
        """Every log_every steps a log row and a progress line; every eval_every steps
        (and at the end) an evaluation too. The row is stored before anything is printed."""
        evaluate_now = done % s.eval_every == 0 or done == s.steps
        if not (done % s.log_every == 0 or evaluate_now):
            return
        now = time.perf_counter()
        speed = (done - clock["last_step"]) * tokens_per_step / max(now - clock["last"], 1e-9)
        eta = (now - clock["start"]) / (done - start) * (s.steps - done)
        clock.update(last=now, last_step=done)
        if evaluate_now:
            state.val = evaluate(params, config, data, val_set, s.backend)
        val_loss, val_acc = state.val if evaluate_now else (None, None)
        rows.append(dict(step=done, loss=loss, val_loss=val_loss, val_acc=val_acc, lr=step_lr,
                         tokens_per_s=speed, elapsed=elapsed_before + now - clock["start"]))
        write_logs(out_dir, rows)
        log(_progress_line(done, s.steps, loss, step_lr, speed, eta))
        if evaluate_now:
            log(_eval_line(done, val_loss, val_acc))

    def save():
        """Checkpoint the state after the last completed step."""
        if ckpt_path:
            elapsed = elapsed_before + time.perf_counter() - clock["start"]
            save_training_checkpoint(ckpt_path, params, config, optimizer, state, rows,
                                     losses, elapsed, meta)
            state.last_saved, state.saved = state.step, True

    if start >= s.steps:
        log(f"already trained for {start} of {s.steps} steps: nothing to do "
            "(pass a larger --steps to train further)")
    interrupted = False
    try:
        with _CtrlC() as ctrl_c:
            for step in range(start, s.steps):
                loss, step_lr = one_step(step)
                losses.append(loss)
                state.step, state.rng_state = step + 1, rng.bit_generator.state
                report(state.step, loss, step_lr)
                if state.step % s.checkpoint_every == 0 or state.step == s.steps:
                    save()
                if ctrl_c.requested:
                    raise KeyboardInterrupt
    except KeyboardInterrupt:
        interrupted = True
        if state.updating:      # only a second, impatient Ctrl-C can land here
            log(f"\ninterrupted inside a parameter update: not saved; the last checkpoint "
                f"(step {state.last_saved}) is kept")
        elif ckpt_path:
            save()
            log(f"\ninterrupted at step {state.step}: checkpoint saved to {ckpt_path}")
        else:
            log(f"\ninterrupted at step {state.step} (no output folder: nothing saved)")
    return TrainResult(params=params, config=config, rows=rows, losses=losses,
                       step=state.step, val_loss=state.val[0], val_acc=state.val[1],
                       elapsed=elapsed_before + time.perf_counter() - clock["start"],
                       checkpoint=ckpt_path if state.last_saved is not None else None,
                       saved=state.saved, interrupted=interrupted, data=data)


def _last_eval(rows) -> tuple:
    evals = [r for r in rows if r.get("val_loss") is not None]
    return (evals[-1]["val_loss"], evals[-1]["val_acc"]) if evals else (None, None)


def _diverged(step, loss, grad_norm, lr, state, ckpt_path):
    """Stop before the update would make the parameters NaN; no checkpoint is written."""
    what, value = ("loss", loss) if not math.isfinite(loss) else ("gradient norm", grad_norm)
    if ckpt_path and state.last_saved is not None:
        kept = f"the last good checkpoint, {ckpt_path} at step {state.last_saved}, is kept"
    else:
        kept = "no checkpoint had been written yet"
    raise DivergedError(f"training diverged at step {step}: the {what} is {value}. Try a "
                        f"lower learning rate (now {lr:.3g}; e.g. --lr {lr / 3:.2g}) or a "
                        f"smaller --grad-clip; {kept}.")


def _progress_line(step, steps, loss, lr, tokens_per_s, eta_s) -> str:
    width = len(str(steps))
    return (f"step {step:>{width}}/{steps} | loss {loss:.4f} | lr {lr:.2e} | "
            f"{tokens_per_s:,.0f} tok/s | ETA {_duration(eta_s)}")


def _eval_line(step, val_loss, val_acc) -> str:
    accuracy = "" if val_acc is None else f" | val acc {100 * val_acc:.1f}%"
    return f"  eval at step {step}: val loss {val_loss:.4f}{accuracy}"


def _duration(seconds: float) -> str:
    """'42s', '4m05s', '2h05m', '3d04h': the two largest units, so that an ETA of days
    reads in days and hours rather than thousands of minutes."""
    seconds = int(round(seconds))
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if days:
        return f"{days}d{hours % 24:02d}h"
    if hours:
        return f"{hours}h{minutes % 60:02d}m"
    return f"{minutes}m{seconds % 60:02d}s" if minutes else f"{seconds}s"


# ----------------------------------------------------------------------------------------
# Checkpoints and logs

def save_training_checkpoint(path, params, cfg, optimizer, state, rows, losses, elapsed,
                             meta) -> None:
    """The checkpoint of state.step completed steps: model, AdamW moments (as `extra`),
    data-generator state, log so far. Written atomically by checkpoint.save, and
    never with NaN parameters, so a diverging run cannot replace a good checkpoint."""
    for name, value in params.items():
        if not np.all(np.isfinite(value)):
            raise DivergedError(f"parameter {name} is NaN or infinite at step {state.step}: "
                                f"not saving it over {path}. Try a lower learning rate.")
    meta = dict(meta, step=state.step, elapsed=elapsed, log=rows, rng_state=state.rng_state)
    extra = optimizer.state_arrays()
    extra["losses"] = np.array(losses, dtype=np.float64)
    checkpoint.save(path, params, cfg, meta=meta, extra=extra)


def restore(path, cfg, params, optimizer, rng, data, spec) -> tuple[int, list, list, float]:
    """Load a training checkpoint into params, optimizer and rng, in place, after
    checking that it holds the same model and was trained on the same data (`spec`).
    Returns (step, log rows, losses, elapsed seconds)."""
    ckpt = checkpoint.load(path)
    datalib.check_same_data(path, ckpt.meta, data, spec)   # first: new data changes the config
    if ckpt.config != cfg:
        theirs, ours = ckpt.config.to_dict(), cfg.to_dict()
        diff = ", ".join(f"{k} {theirs[k]} vs {ours[k]}" for k in ours if theirs[k] != ours[k])
        raise ValueError(f"cannot resume {path}: it holds another model (checkpoint vs "
                         f"now: {diff})")
    if "rng_state" not in ckpt.meta or "adam_t" not in ckpt.extra:
        raise ValueError(f"{path} holds a model but no training state: it cannot be resumed")
    for name in params:
        params[name][...] = ckpt.params[name]
    optimizer.load_state_arrays(ckpt.extra)
    rng.bit_generator.state = ckpt.meta["rng_state"]
    losses = [float(v) for v in ckpt.extra.get("losses", [])]
    return (int(ckpt.meta["step"]), list(ckpt.meta.get("log", [])), losses,
            float(ckpt.meta.get("elapsed", 0.0)))


def write_logs(out_dir, rows) -> None:
    """DIR/log.csv (columns LOG_COLUMNS, empty where not measured) and DIR/log.json."""
    if not out_dir:
        return
    os.makedirs(out_dir, exist_ok=True)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(LOG_COLUMNS)
    for row in rows:
        writer.writerow(["" if row.get(c) is None else repr(row[c]) for c in LOG_COLUMNS])
    checkpoint.atomic_write(os.path.join(out_dir, "log.csv"), buffer.getvalue())
    checkpoint.atomic_write(os.path.join(out_dir, "log.json"), json.dumps(rows, indent=1))


# ----------------------------------------------------------------------------------------
# The command line: python -m minplt train ...

# What the command line chooses besides TrainSettings: the model and the data. The
# default data is the sort task: of the built-in tasks it is the one these tiny models
# learn within minutes on a CPU (see experiments.py for the measurements).
RUN_DEFAULTS = dict(variant="plt-2", preset="tiny", data="sort", hops=None, length=None,
                    loss_on="answer", dtype="float32", n_embd=None, n_layer=None,
                    n_head=None, d_ff=None, window=None, block_size=None)

# The Config fields with a flag (--n-embd, ...), the older name kept as an alias, and help.
MODEL_FLAGS = {
    "n_embd": ("--width", "model width C (overrides the preset; F keeps the preset's F/C)"),
    "n_layer": ("--layers", "blocks in the shared stack NL"),
    "n_head": ("--heads", "attention heads H"),
    "d_ff": ("--ffn", "MLP hidden width F"),
    "window": (None, "G-SWA window W (only for models with G-SWA: plt-N)"),
    "block_size": (None, "window of text data, in characters (default: the preset's)"),
}
OLD_NAMES = {"width": "n_embd", "layers": "n_layer", "heads": "n_head", "ffn": "d_ff",
             "blas_threads": "threads"}


# The float settings' flags refuse NaN and infinities, naming the flag (minplt/flags.py).
FLOAT_FLAGS = {"lr": flags.positive_float, "weight_decay": flags.nonnegative_float,
               "grad_clip": flags.nonnegative_float}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of `train`: the model and data choices, then one flag per TrainSettings
    field. Every default is None here and filled in by resolve_settings: with --resume
    from the checkpoint's saved arguments, else from RUN_DEFAULTS and TrainSettings."""
    d = RUN_DEFAULTS
    m = parser.add_argument_group("model")
    m.add_argument("--variant", help=f"vanilla, loop-2, loop+clp-2, loop+clp+kvshare-2, "
                   f"plt-2, plt-3, ... (family-loops; default {d['variant']})")
    m.add_argument("--preset", choices=sorted(model.PRESETS),
                   help=f"model size (default {d['preset']})")
    for name, (alias, help_text) in MODEL_FLAGS.items():
        flags = ["--" + name.replace("_", "-")] + ([alias] if alias else [])
        m.add_argument(*flags, dest=name, type=int, help=help_text)
    m.add_argument("--dtype", choices=("float32", "float64"),
                   help=f"parameter dtype (default {d['dtype']})")
    g = parser.add_argument_group("data")
    g.add_argument("--data", help="multihop | addition | parity | sort | pydoc | "
                   f"shakespeare (downloads once) | path/to/file.txt (default {d['data']})")
    g.add_argument("--hops", type=int, help="look-ups per question of the multihop (default 3) "
                   "and pointer (default 2) tasks")
    g.add_argument("--length", type=int, help="letters per sort question (default 6)")
    g.add_argument("--loss-on", choices=("answer", "all"), help="tasks: train on the answer "
                   "only, or on every token of the random prompts too (default answer)")
    t = parser.add_argument_group("training")
    for f in dataclasses.fields(TrainSettings):
        flags = ["--" + f.name.replace("_", "-")] + (["--blas-threads"] if f.name == "threads"
                                                     else [])
        t.add_argument(*flags, dest=f.name, type=FLOAT_FLAGS.get(f.name, type(f.default)),
                       help=f"{f.metadata['help']} (default {f.default})")
    o = parser.add_argument_group("output")
    o.add_argument("--out", help="folder for ckpt.npz, log.csv and log.json")
    o.add_argument("--resume", action="store_true", help="continue the run saved in --out")
    o.add_argument("--overwrite", action="store_true",
                   help="start a new run in an --out that holds one, replacing it")


def resolve_settings(args) -> tuple[dict, TrainSettings]:
    """(model and data choices, TrainSettings): the defaults, then (with --resume) the
    arguments saved in the checkpoint, then the flags given on this command line."""
    choices, values = dict(RUN_DEFAULTS), {}
    given = {k: v for k, v in vars(args).items() if v is not None}
    if getattr(args, "resume", False):
        if getattr(args, "overwrite", False):
            raise ValueError("--resume continues the run in --out and --overwrite replaces "
                             "it: give one of them")
        if not args.out:
            raise ValueError("--resume needs --out DIR, the folder of the run to continue")
        path = os.path.join(args.out, CHECKPOINT_NAME)
        if not os.path.exists(path):
            raise FileNotFoundError(f"cannot resume: there is no checkpoint {path} "
                                    "(start without --resume to begin a new run)")
        saved = checkpoint.load(path).meta.get("run", {})
        given = {**{OLD_NAMES.get(k, k): v for k, v in saved.items() if v is not None},
                 **given}
    choices.update({k: v for k, v in given.items() if k in RUN_DEFAULTS})
    values.update({k: v for k, v in given.items() if k in TrainSettings.fields()})
    return choices, TrainSettings(**values)


def base_config(choices: dict) -> model.Config:
    """The variant on the preset, before sizes and data: checks both names."""
    model.parse_variant(choices["variant"])       # 'plt' alone is not a variant: say so
    return model.make_config(choices["variant"], preset=choices["preset"])


def model_config(choices: dict, data) -> model.Config:
    """The model.Config of the command line's choices for `data`: the variant's flags on
    the preset, with the sizes given by flag. A new width alone keeps the preset's ratio
    F/C; block_size is raised to the data's sequence length when that is longer."""
    base = base_config(choices)
    sizes = {k: choices[k] for k in MODEL_FLAGS if k != "block_size" and choices[k] is not None}
    if "n_embd" in sizes and "d_ff" not in sizes:             # a multiple of 8, as in presets
        sizes["d_ff"] = max(8, round(sizes["n_embd"] * base.d_ff / base.n_embd / 8) * 8)
    config = dataclasses.replace(base, vocab_size=data.tokenizer.vocab_size,
                                 block_size=max(data.block_size, base.block_size),
                                 dtype=choices["dtype"], **sizes)
    if choices["window"] is not None and not config.gswa:
        raise ValueError(f"--window sets the G-SWA window, and {config.variant} has no G-SWA "
                         "(plt-N has): drop --window or choose a plt variant")
    return config


def run(args) -> int:
    """The `train` command. Returns 0, 1 if training diverged, or 130 after Ctrl-C."""
    if args.out:
        checkpoint.check_out_folder(args.out)
    choices, settings = resolve_settings(args)
    if args.out and not args.resume:
        checkpoint.refuse_trained(args.out, overwrite=args.overwrite)
    if choices["block_size"] is not None and choices["block_size"] < 1:
        raise ValueError(f"--block-size must be >= 1 (characters per window), got "
                         f"{choices['block_size']}")
    source, block_size = choices["data"], choices["block_size"]
    if source not in datalib.TASKS:
        if source not in datalib.TEXT_SOURCES:
            choices["data"] = os.path.abspath(os.path.expanduser(source))  # works from anywhere
        if block_size is None:
            block_size = base_config(choices).block_size
    try:
        data = datalib.make_data(choices["data"], block_size, choices["hops"], choices["length"],
                         choices["loss_on"])
    except FileNotFoundError as e:
        if args.resume and args.data is None:
            raise FileNotFoundError(f"{e} The run in {args.out} was trained on it: give its "
                                    "new place with --data PATH (checked against the "
                                    "checkpoint)") from None
        raise
    config = model_config(choices, data)
    print(f"{config.variant}: {model.count_params(model.init_params(config)):,} parameters, "
          f"C={config.n_embd} NL={config.n_layer} L={config.n_loops} on {source} "
          f"(T={data.block_size}, V={config.vocab_size}); layers on {settings.backend}, "
          f"{settings.threads} thread{'s' * (settings.threads > 1)}")
    try:
        result = train(config, data, settings, out_dir=args.out, resume=args.resume,
                       overwrite=args.overwrite, data_source=choices["data"],
                       run_info={**choices, **dataclasses.asdict(settings)})
    except DivergedError as e:
        print(f"minplt train: error: {e}", file=sys.stderr)
        return 1
    if result.interrupted:
        if result.saved:
            print(f"continue with: python -m minplt train --out {args.out} --resume")
        return 130
    accuracy = "" if result.val_acc is None else f", val acc {100 * result.val_acc:.1f}%"
    if result.saved:
        saved = f"; checkpoint {result.checkpoint}"
    elif result.checkpoint:
        saved = f"; nothing new to save ({result.checkpoint} is unchanged)"
    else:
        saved = "; nothing saved (give --out DIR to keep the model)"
    print(f"done: {result.step} steps in {_duration(result.elapsed)}, val loss "
          f"{result.val_loss:.4f}{accuracy}{saved}")
    return 0
