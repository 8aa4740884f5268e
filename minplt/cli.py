"""The command line: `python -m minplt {train,sample,bench,ablate,demo}`.

Each command lives in its own module with `add_arguments(parser)` and `run(args)`;
this file only wires them up and turns user errors into one clear line."""
from __future__ import annotations

import argparse
import importlib
import sys

import numpy as np

COMMANDS = {
    "train": ("minplt.train", "train a model on built-in data or your own text"),
    "sample": ("minplt.cli", "generate text from a checkpoint"),
    "bench": ("minplt.bench", "decode latency, KV-cache bytes and training throughput"),
    "ablate": ("minplt.experiments", "the paper's Table 2 ablation at toy scale"),
    "demo": ("minplt.demo", "the main job: vanilla vs loop-2 vs PLT-2 in about five minutes"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `sample`."""
    parser.add_argument("checkpoint", help="a .npz written by `minplt train`")
    parser.add_argument("--prompt", default=None,
                        help="text to continue (default: a prompt from the task it was trained on)")
    parser.add_argument("--tokens", type=int, default=None,
                        help="new tokens to generate (default: the task's answer length, or 200)")
    parser.add_argument("--schedule", choices=["auto", "parallel", "sequential"], default="auto",
                        help="decode schedule; parallel needs a CLP model (auto: parallel if possible)")
    parser.add_argument("--backend", choices=["numpy", "numba"], default="numpy")
    parser.add_argument("--temperature", type=float, default=0.0, help="0 = greedy")
    parser.add_argument("--top-k", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)


def run(args) -> int:
    """`sample`: load a checkpoint, continue a prompt, print the result."""
    from minplt import checkpoint, data, model

    ckpt = checkpoint.load(args.checkpoint)
    if "tokenizer" not in ckpt.meta:
        raise ValueError(f"checkpoint {args.checkpoint!r} has no tokenizer in its metadata; "
                         "was it written by `minplt train`?")
    tokenizer = data.CharTokenizer.from_dict(ckpt.meta["tokenizer"])
    info = ckpt.meta.get("data", {})
    prompt, n_tokens, expected = args.prompt, args.tokens, None
    if info.get("kind") == "task":
        task = data.make_task(info["name"], **info.get("kwargs", {}))
        if prompt is None:
            prompt, expected = task.sample("val", np.random.default_rng(args.seed))
        n_tokens = n_tokens or task.answer_len
    prompt = "\n" if prompt is None else prompt
    n_tokens = 200 if n_tokens is None else n_tokens
    ids = tokenizer.encode(prompt)
    out = model.generate(ckpt.params, ckpt.config, ids, n_tokens, temperature=args.temperature,
                         top_k=args.top_k, seed=args.seed, schedule=args.schedule,
                         backend=args.backend)
    text = tokenizer.decode(out)
    print(f"[{ckpt.config.variant}, schedule {args.schedule}, backend {args.backend}]")
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
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return args._run(args) or 0
    except (ValueError, FileNotFoundError, ConnectionError, RuntimeError) as e:
        print(f"minplt {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\nminplt {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
