"""The command line: `python -m minplt {train,sample,inspect,bench,ablate,demo}`.

Each command lives in its own module with `add_arguments(parser)` and `run(args)`;
this file only wires them up and turns user errors into one clear line."""
from __future__ import annotations

import argparse
import importlib
import os
import sys

import numpy as np

from minplt import flags

COMMANDS = {
    "train": ("minplt.train", "train a model on built-in data or your own text"),
    "sample": ("minplt.cli", "generate text from a checkpoint"),
    "inspect": ("minplt.inspect_model", "draw a checkpoint's attention and G-SWA gates as PNGs"),
    "bench": ("minplt.bench", "decode latency, KV-cache bytes and training throughput"),
    "ablate": ("minplt.experiments", "the paper's Table 2 ablation at toy scale "
                                     "(--task text: on Python's own source)"),
    "hops": ("minplt.hops", "what the loops buy: accuracy against hops and thinking positions"),
    "demo": ("minplt.demo", "the main job: vanilla vs loop-2 vs PLT-2 in a few minutes"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `sample`."""
    parser.add_argument("checkpoint", help="a .npz written by `minplt train`")
    parser.add_argument("--prompt", default=None,
                        help="text to continue (default: a question of the task it was trained "
                             "on, or a line break or space for text)")
    parser.add_argument("--tokens", type=int, default=None,
                        help="new tokens to generate (default: the task's answer length, or 200)")
    parser.add_argument("--num-samples", type=int, default=1,
                        help="how many samples to print (seeds --seed, --seed+1, ...)")
    parser.add_argument("--schedule", choices=["auto", "parallel", "sequential"], default="auto",
                        help="decode schedule; parallel needs a CLP model (auto: parallel if possible)")
    parser.add_argument("--backend", choices=["numpy", "numba"], default="numpy")
    parser.add_argument("--temperature", type=flags.nonnegative_float, default=0.0,
                        help="0 = greedy")
    parser.add_argument("--top-k", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)


def load_model(path: str):
    """(checkpoint, tokenizer, the task it was trained on or None) of a `train` checkpoint."""
    from minplt import checkpoint, data

    ckpt = checkpoint.load(path)
    if "tokenizer" not in ckpt.meta:
        raise ValueError(f"checkpoint {path!r} has no tokenizer in its metadata; "
                         "was it written by `minplt train`?")
    tokenizer = data.tokenizer_from_dict(ckpt.meta["tokenizer"])
    info = ckpt.meta.get("data", {})
    task = data.make_task(info["name"], **info.get("kwargs", {})) \
        if info.get("kind") == "task" else None
    return ckpt, tokenizer, task


def check_prompt(prompt: str) -> str:
    """A --prompt that is text: the shell hands undecodable bytes over as surrogates."""
    try:
        prompt.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("--prompt is not valid UTF-8 text (are the terminal and the locale "
                         "set to UTF-8?); retype it or pass plain ASCII") from None
    if not prompt:
        raise ValueError("--prompt is empty: give at least one character to continue")
    return prompt


def default_text_prompt(tokenizer) -> str:
    """A prompt every text model can encode: a line break or a space if its vocabulary
    has one, else its first character (a byte model encodes anything: a line break)."""
    if tokenizer.chars is None:
        return "\n"
    return next((c for c in "\n " if c in tokenizer.chars), tokenizer.chars[0])


def check_memory(cfg, n_positions: int, what: str) -> None:
    """A clear error instead of numpy's allocation failure for a cache that cannot fit."""
    from minplt import model

    need = model.kv_cache_bytes_formula(cfg, n_positions)
    try:
        free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):     # no such counter on this system
        return
    if need > free // 2:
        raise ValueError(f"{what} would need a KV cache of {need / 2**30:,.1f} GiB for "
                         f"{n_positions:,} positions, more than half the "
                         f"{free / 2**30:,.1f} GiB of free memory; ask for fewer tokens")


def run(args) -> int:
    """`sample`: load a checkpoint, continue a prompt, print the result(s)."""
    from minplt import model

    for flag, value in (("--tokens", args.tokens), ("--num-samples", args.num_samples)):
        if value is not None and value < 1:
            raise ValueError(f"{flag} must be >= 1, got {value}")
    if args.prompt is not None:
        check_prompt(args.prompt)
    ckpt, tokenizer, task = load_model(args.checkpoint)
    n_tokens = args.tokens or (task.answer_len if task is not None else 200)
    fixed = args.prompt if args.prompt is not None else \
        (None if task is not None else default_text_prompt(tokenizer))
    longest = len(fixed) if fixed is not None else task.block_size
    check_memory(ckpt.config, longest + n_tokens, f"--tokens {n_tokens:,}")
    print(f"[{ckpt.config.variant}, schedule {args.schedule}, backend {args.backend}]")
    for i in range(args.num_samples):
        seed = args.seed + i
        prompt, expected = (fixed, None) if fixed is not None else \
            task.sample("val", np.random.default_rng(seed))
        if expected is not None and args.tokens is None and args.temperature == 0:
            # a task's own question: answered as in training, along its layout (on
            # pointer chasing each answer follows its question and fillers)
            from minplt.experiments import greedy_answers
            text = greedy_answers(ckpt.params, ckpt.config, task, [prompt], args.backend,
                                  args.schedule)[0]
            if args.num_samples > 1:
                print(f"--- sample {i + 1} of {args.num_samples} (seed {seed})")
            print(task.layout(prompt, text)[0])
            print(f"expected {expected!r}: {'correct' if text == expected else 'wrong'}")
            continue
        out = model.generate(ckpt.params, ckpt.config, tokenizer.encode(prompt), n_tokens,
                             temperature=args.temperature, top_k=args.top_k, seed=seed,
                             schedule=args.schedule, backend=args.backend)
        text = tokenizer.decode(out)
        if args.num_samples > 1:
            print(f"--- sample {i + 1} of {args.num_samples} (seed {seed})")
        print(prompt + text)
        if expected is not None:
            print(f"expected {expected!r}: {'correct' if text == expected else 'wrong'}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m minplt",
        description="minplt: the Parallel Loop Transformer from scratch in NumPy.")
    sub = parser.add_subparsers(dest="command", metavar="command")
    for name, (module_name, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        module = importlib.import_module(module_name)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    args.argv = argv                       # for advice that repeats the command
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return args._run(args) or 0
    except (ValueError, OSError, RuntimeError) as e:   # OSError: files, ConnectionError
        print(f"minplt {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\nminplt {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
