"""Training: the loop, evaluation, logs, checkpoints, resuming, and the `train` command.

    python -m minplt train --variant plt-2 --data sort --steps 1000 --out runs/plt2
    python -m minplt train --out runs/plt2 --resume        # continue where it stopped

Reading order: data (make_data, data_spec) -> the model's config (build_config) ->
evaluate -> train (the loop) -> checkpoints and logs -> the command line (add_arguments,
run).

What a run guarantees, and how:
  * Resuming reproduces the uninterrupted run bit for bit. The checkpoint holds
    everything the next step depends on: parameters, the AdamW moments, the step, and
    the state of the random generator that draws the training batches. Validation
    batches come from a generator of their own, so evaluating never moves the
    training stream.
  * A checkpoint on disk is always complete: checkpoint.save writes a temporary
    file and renames it, so an interrupted write leaves the previous checkpoint.
  * Ctrl-C finishes the current step, saves a checkpoint and stops (exit code 130).
  * A NaN or infinite loss or gradient stops the run, naming the step, and the last
    good checkpoint is left as it was.
"""
from __future__ import annotations

import argparse
import csv
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
from minplt import checkpoint, model

# Defaults of the `train` command. The toy tasks like a larger learning rate than text
# would; 3e-3 with a short warm-up suits the tiny and small presets.
# The default data is the sort task: of the built-in tasks it is the one these tiny
# models learn within minutes on a CPU (see experiments.py for the measurements).
DEFAULTS = dict(variant="plt-2", preset="tiny", data="sort", hops=None, length=None,
                loss_on="answer", steps=1000, batch_size=32, lr=3e-3, warmup=50,
                weight_decay=0.1, grad_clip=1.0, eval_every=100, eval_batches=4,
                log_every=20, checkpoint_every=200, seed=0, dtype="float32", width=None,
                layers=None, heads=None, ffn=None, window=None, block_size=None)

CHECKPOINT_NAME = "ckpt.npz"
LOG_COLUMNS = ("step", "loss", "val_loss", "val_acc", "lr", "tokens_per_s", "elapsed")


class DivergedError(ArithmeticError):
    """The loss or the gradient norm became NaN or infinite: the run stops."""


# ----------------------------------------------------------------------------------------
# Data: a name -> a task or a text dataset, and a JSON description of it for checkpoints

def make_data(name: str, block_size: int = 64, hops: int | None = None,
              length: int | None = None, loss_on: str = "answer"):
    """'multihop' | 'addition' | 'parity' | 'sort' -> a data.Task (hops: multihop's
    look-ups, length: sort's letters; loss_on 'answer' or 'all' targets);
    'pydoc' | 'shakespeare' | path/to/file.txt -> a data.TextDataset of windows of
    block_size characters."""
    for flag, value, owner in (("hops", hops, "multihop"), ("length", length, "sort")):
        if value is not None and name != owner:
            raise ValueError(f"--{flag} applies to the {owner} task only, not to {name!r}")
    if name in datalib.TASKS:
        kwargs = {key: value for key, value in (("hops", hops), ("length", length))
                  if value is not None}
        return datalib.make_task(name, loss_on=loss_on, **kwargs)
    return datalib.TextDataset(datalib.load_text(name), block_size)


def data_spec(data, source: str | None = None) -> dict:
    """A JSON description that rebuilds `data` (saved as meta['data'] in checkpoints).
    Text datasets do not know their source: pass it ('pydoc', a path)."""
    if isinstance(data, datalib.Task):
        return {"kind": "task", "name": data.name, "kwargs": data.config()}
    return {"kind": "text", "source": source, "block_size": data.block_size}


def data_from_spec(spec: dict):
    """The inverse of data_spec: the task or text dataset a checkpoint was trained on."""
    if spec.get("kind") == "task":
        return datalib.make_task(spec["name"], **spec.get("kwargs", {}))
    if spec.get("kind") == "text" and spec.get("source"):
        return datalib.TextDataset(datalib.load_text(spec["source"]), spec["block_size"])
    raise ValueError(f"cannot rebuild the data from its description {spec!r}")


# ----------------------------------------------------------------------------------------
# The model's config from a variant name, a preset and overrides

def build_config(variant: str, preset: str, vocab_size: int, block_size: int,
                 dtype: str = "float32", width=None, layers=None, heads=None, ffn=None,
                 window=None) -> model.Config:
    """A model.Config for `variant` ('plt-2', 'loop-3', 'vanilla', ...). Overrides that
    are None keep the preset's value; a new width alone keeps the preset's ratio F/C.
    block_size is raised to the data's sequence length when that is longer."""
    model.parse_variant(variant)                   # 'plt' alone is not a variant: say so
    if preset not in model.PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {', '.join(model.PRESETS)}")
    base = model.PRESETS[preset]
    overrides = dict(vocab_size=vocab_size, dtype=dtype,
                     block_size=max(block_size, base.block_size))
    if width is not None and ffn is None:          # a multiple of 8, as in the presets
        ffn = max(8, round(width * base.d_ff / base.n_embd / 8) * 8)
    for key, value in (("n_embd", width), ("n_layer", layers), ("n_head", heads),
                       ("d_ff", ffn), ("window", window)):
        if value is not None:
            overrides[key] = value
    return model.make_config(variant, preset=preset, **overrides)


# ----------------------------------------------------------------------------------------
# Evaluation

def validation_batches(data, n_batches: int, batch_size: int, seed: int) -> list:
    """A fixed validation set: the same batches at every evaluation and after a resume,
    drawn from a generator of their own so the training stream is not touched."""
    rng = np.random.default_rng([seed, 1])
    return [data.get_batch("val", batch_size, rng) for _ in range(n_batches)]


def evaluate(params, cfg: model.Config, data, batches) -> tuple[float, float | None]:
    """Mean validation loss over `batches` and, for tasks, the fraction of answers that
    are exactly right (teacher-forced argmax; data.exact_match says why this equals
    the greedy answer). Accuracy is None for text."""
    losses, correct = [], []
    for x, y, answer_mask in batches:
        logits, loss, _ = model.forward(params, cfg, x, y)
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
    checkpoint: str | None      # path of the checkpoint, if one was written
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


def check_settings(steps, batch_size, lr, warmup, eval_every, eval_batches, log_every,
                   checkpoint_every) -> None:
    """A clear ValueError for a setting no run can use."""
    for name, value, low in (("steps", steps, 1), ("batch_size", batch_size, 1),
                             ("warmup", warmup, 0), ("eval_every", eval_every, 1),
                             ("eval_batches", eval_batches, 1), ("log_every", log_every, 1),
                             ("checkpoint_every", checkpoint_every, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not 0 < lr < math.inf:
        raise ValueError(f"the learning rate must be a positive number, got {lr!r}")


def train(config: model.Config, data, steps: int = 1000, batch_size: int = 32,
          lr: float = 3e-3, warmup: int = 50, weight_decay: float = 0.1,
          grad_clip: float = 1.0, eval_every: int = 100, eval_batches: int = 4,
          seed: int = 0, out_dir: str | None = None, checkpoint_every: int = 200,
          resume: bool = False, log=print, log_every: int = 20,
          data_source: str | None = None, run_info: dict | None = None) -> TrainResult:
    """Train `config` on `data` (a data.Task or data.TextDataset) for `steps` steps of
    AdamW with linear warm-up and cosine decay; `seed` fixes the initial parameters and
    the stream of batches.

    With out_dir: DIR/ckpt.npz every checkpoint_every steps, at the end and on Ctrl-C,
    and DIR/log.csv + DIR/log.json rewritten as rows come in; resume=True continues
    from DIR/ckpt.npz. `log` gets one line of text per report (log_every steps, and
    each evaluation every eval_every steps). data_source names text data for the
    checkpoint ('pydoc', a path); run_info is any JSON to keep as meta['run']."""
    check_settings(steps, batch_size, lr, warmup, eval_every, eval_batches, log_every,
                   checkpoint_every)
    if data.block_size > config.block_size:
        raise ValueError(f"the data's sequences have {data.block_size} positions but "
                         f"config.block_size is {config.block_size}")
    if data.tokenizer.vocab_size > config.vocab_size:
        raise ValueError(f"the data has {data.tokenizer.vocab_size} tokens but "
                         f"config.vocab_size is {config.vocab_size}")
    ckpt_path = os.path.join(out_dir, CHECKPOINT_NAME) if out_dir else None
    meta = {"tokenizer": data.tokenizer.to_dict(), "data": data_spec(data, data_source),
            "variant": config.variant, "seed": seed, "run": run_info or {},
            "train": dict(steps=steps, batch_size=batch_size, lr=lr, warmup=warmup,
                          weight_decay=weight_decay, grad_clip=grad_clip)}

    # The state a step depends on: parameters, optimiser moments, data generator, step.
    params = model.init_params(config, seed)
    optimizer = model.AdamW(params, lr=lr, weight_decay=weight_decay)
    rng = np.random.default_rng(seed)
    rows, losses, elapsed_before = [], [], 0.0
    state = LoopState()
    if resume:
        state.step, rows, losses, elapsed_before = restore(ckpt_path, config, params,
                                                           optimizer, rng)
        state.last_saved, state.val = state.step, _last_eval(rows)
        log(f"resuming from {ckpt_path} at step {state.step}")
    elif ckpt_path and os.path.exists(ckpt_path):
        log(f"note: starting a new run; {ckpt_path} will be replaced (--resume continues it)")
    state.rng_state = rng.bit_generator.state
    start = state.step
    val_set = validation_batches(data, eval_batches, batch_size, seed)
    tokens_per_step = batch_size * data.block_size
    clock = dict(start=time.perf_counter(), last=time.perf_counter(), last_step=start)

    def one_step(step):
        """batch -> forward and backward -> check -> clip -> update; returns (loss, lr)."""
        x, y, _ = data.get_batch("train", batch_size, rng)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            # overflow is checked for just below, with a clearer message than numpy's
            loss, grads = model.loss_and_grads(params, config, x, y)
            grad_norm = model.clip_grad_norm(grads, grad_clip)
        if not (math.isfinite(loss) and math.isfinite(grad_norm)):
            _diverged(step + 1, loss, grad_norm, lr, state, ckpt_path)
        step_lr = model.lr_schedule(step, lr, warmup, steps)
        state.updating = True
        optimizer.step(params, grads, lr=step_lr)
        state.updating = False
        return loss, step_lr

    def report(done, loss, step_lr):
        """Every log_every steps a log row and a progress line; every eval_every steps
        (and at the end) an evaluation too. The row is stored before anything is printed."""
        evaluate_now = done % eval_every == 0 or done == steps
        if not (done % log_every == 0 or evaluate_now):
            return
        now = time.perf_counter()
        speed = (done - clock["last_step"]) * tokens_per_step / max(now - clock["last"], 1e-9)
        eta = (now - clock["start"]) / (done - start) * (steps - done)
        clock.update(last=now, last_step=done)
        if evaluate_now:
            state.val = evaluate(params, config, data, val_set)
        val_loss, val_acc = state.val if evaluate_now else (None, None)
        rows.append(dict(step=done, loss=loss, val_loss=val_loss, val_acc=val_acc, lr=step_lr,
                         tokens_per_s=speed, elapsed=elapsed_before + now - clock["start"]))
        write_logs(out_dir, rows)
        log(_progress_line(done, steps, loss, step_lr, speed, eta))
        if evaluate_now:
            log(_eval_line(done, val_loss, val_acc))

    def save():
        """Checkpoint the state after the last completed step."""
        if ckpt_path:
            elapsed = elapsed_before + time.perf_counter() - clock["start"]
            save_training_checkpoint(ckpt_path, params, config, optimizer, state, rows,
                                     losses, elapsed, meta)
            state.last_saved = state.step

    if start >= steps:
        log(f"already trained for {start} of {steps} steps: nothing to do "
            "(pass a larger --steps to train further)")
    interrupted = False
    try:
        with _CtrlC() as ctrl_c:
            for step in range(start, steps):
                loss, step_lr = one_step(step)
                losses.append(loss)
                state.step, state.rng_state = step + 1, rng.bit_generator.state
                report(state.step, loss, step_lr)
                if state.step % checkpoint_every == 0 or state.step == steps:
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
            log(f"\ninterrupted at step {state.step}: checkpoint saved to {ckpt_path}; "
                "continue with --resume")
        else:
            log(f"\ninterrupted at step {state.step} (no output folder: nothing saved)")
    return TrainResult(params=params, config=config, rows=rows, losses=losses,
                       step=state.step, val_loss=state.val[0], val_acc=state.val[1],
                       elapsed=elapsed_before + time.perf_counter() - clock["start"],
                       checkpoint=ckpt_path if state.last_saved is not None else None,
                       interrupted=interrupted, data=data)


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
    seconds = int(round(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


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


def restore(path, cfg, params, optimizer, rng) -> tuple[int, list, list, float]:
    """Load a training checkpoint into params, optimizer and rng, in place.
    Returns (step, log rows, losses, elapsed seconds)."""
    if not path:
        raise ValueError("resuming needs the run's output folder (--out DIR)")
    if not os.path.exists(path):
        raise FileNotFoundError(f"cannot resume: there is no checkpoint {path} "
                                "(start without --resume to begin a new run)")
    ckpt = checkpoint.load(path)
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

def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of `train`. Every default is None here and filled in by run(): with
    --resume, from the checkpoint's saved arguments, else from DEFAULTS."""
    d = DEFAULTS
    m = parser.add_argument_group("model")
    m.add_argument("--variant", help=f"vanilla, loop-2, loop+clp-2, loop+clp+kvshare-2, "
                   f"plt-2, plt-3, ... (family-loops; default {d['variant']})")
    m.add_argument("--preset", choices=sorted(model.PRESETS),
                   help=f"model size (default {d['preset']})")
    m.add_argument("--width", type=int, help="model width C (overrides the preset)")
    m.add_argument("--layers", type=int, help="blocks in the shared stack NL")
    m.add_argument("--heads", type=int, help="attention heads H")
    m.add_argument("--ffn", type=int, help="MLP hidden width F")
    m.add_argument("--window", type=int, help="G-SWA window W (plt)")
    m.add_argument("--block-size", type=int, help="sequence length for text data "
                   "(default: the preset's)")
    m.add_argument("--dtype", choices=("float32", "float64"),
                   help=f"parameter dtype (default {d['dtype']})")
    g = parser.add_argument_group("data")
    g.add_argument("--data", help="multihop | addition | parity | sort | pydoc | "
                   f"shakespeare (downloads once) | path/to/file.txt (default {d['data']})")
    g.add_argument("--hops", type=int, help="look-ups per multihop question (default 3)")
    g.add_argument("--length", type=int, help="letters per sort question (default 6)")
    g.add_argument("--loss-on", choices=("answer", "all"), help="tasks: train on the answer "
                   "only, or on every token of the random prompts too (default answer)")
    t = parser.add_argument_group("training")
    t.add_argument("--steps", type=int, help=f"total optimizer steps (default {d['steps']})")
    t.add_argument("--batch-size", type=int, help=f"sequences per step (default {d['batch_size']})")
    t.add_argument("--lr", type=float, help=f"peak learning rate (default {d['lr']})")
    t.add_argument("--warmup", type=int, help=f"warm-up steps (default {d['warmup']})")
    t.add_argument("--weight-decay", type=float, help=f"AdamW decay (default {d['weight_decay']})")
    t.add_argument("--grad-clip", type=float, help=f"max gradient norm, 0 = off "
                   f"(default {d['grad_clip']})")
    t.add_argument("--seed", type=int, help=f"parameters and batches (default {d['seed']})")
    o = parser.add_argument_group("output")
    o.add_argument("--out", help="folder for ckpt.npz, log.csv and log.json")
    o.add_argument("--resume", action="store_true", help="continue the run saved in --out")
    o.add_argument("--eval-every", type=int, help=f"steps between evaluations "
                   f"(default {d['eval_every']})")
    o.add_argument("--eval-batches", type=int, help=f"validation batches per evaluation "
                   f"(default {d['eval_batches']})")
    o.add_argument("--log-every", type=int, help=f"steps between progress lines "
                   f"(default {d['log_every']})")
    o.add_argument("--checkpoint-every", type=int, help=f"steps between checkpoints "
                   f"(default {d['checkpoint_every']})")


def resolve_settings(args) -> dict:
    """DEFAULTS, then (with --resume) the arguments saved in the checkpoint, then the
    flags given on this command line."""
    settings = dict(DEFAULTS)
    if getattr(args, "resume", False):
        if not args.out:
            raise ValueError("--resume needs --out DIR, the folder of the run to continue")
        path = os.path.join(args.out, CHECKPOINT_NAME)
        if not os.path.exists(path):
            raise FileNotFoundError(f"cannot resume: there is no checkpoint {path} "
                                    "(start without --resume to begin a new run)")
        settings.update(checkpoint.load(path).meta.get("run", {}))
    settings.update({k: v for k, v in vars(args).items() if k in DEFAULTS and v is not None})
    return settings


def run(args) -> int:
    """The `train` command. Returns 0, 1 if training diverged, or 130 after Ctrl-C."""
    s = resolve_settings(args)
    data = make_data(s["data"], s["block_size"] or model.PRESETS[s["preset"]].block_size,
                     s["hops"], s["length"], s["loss_on"])
    config = build_config(s["variant"], s["preset"], data.tokenizer.vocab_size,
                          data.block_size, s["dtype"], s["width"], s["layers"], s["heads"],
                          s["ffn"], s["window"])
    print(f"{config.variant}: {model.count_params(model.init_params(config)):,} parameters, "
          f"C={config.n_embd} NL={config.n_layer} L={config.n_loops} on {s['data']} "
          f"(T={data.block_size}, V={config.vocab_size})")
    try:
        result = train(config, data, steps=s["steps"], batch_size=s["batch_size"], lr=s["lr"],
                       warmup=s["warmup"], weight_decay=s["weight_decay"],
                       grad_clip=s["grad_clip"], eval_every=s["eval_every"],
                       eval_batches=s["eval_batches"], seed=s["seed"], out_dir=args.out,
                       checkpoint_every=s["checkpoint_every"], resume=args.resume,
                       log_every=s["log_every"], data_source=s["data"], run_info=s)
    except DivergedError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    if result.interrupted:
        return 130
    accuracy = "" if result.val_acc is None else f", val acc {100 * result.val_acc:.1f}%"
    saved = f"; checkpoint {result.checkpoint}" if result.checkpoint else ""
    print(f"done: {result.step} steps in {_duration(result.elapsed)}, val loss "
          f"{result.val_loss:.4f}{accuracy}{saved}")
    return 0


def main(argv=None) -> int:
    """`python -m minplt.train ...`: the same command without the minplt CLI."""
    parser = argparse.ArgumentParser(prog="python -m minplt.train", description=__doc__
                                     .split("\n\n")[0], formatter_class=argparse
                                     .RawDescriptionHelpFormatter)
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run(args) or 0
    except (ValueError, OSError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
