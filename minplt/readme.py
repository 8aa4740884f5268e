"""`make readme`: copy the results of the last runs into README.md, so the figures the
README quotes are the ones a command printed, never typed by hand.

A block in the README is

    <!-- results: out/demo/results.md -->
    ...                                   (replaced by that file's text)
    <!-- end results -->

`python -m minplt.readme [README.md]` replaces every block whose file exists and says
which are missing and the command that writes each. It changes nothing else.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

from minplt import checkpoint

BLOCK = re.compile(r"(<!-- results: (?P<path>\S+) -->\n)(?P<body>.*?)(<!-- end results -->)",
                   re.DOTALL)
WRITTEN_BY = {"out/demo/results.md": "make demo",
              "out/ablate/results.md": "python -m minplt ablate",
              "out/hops/results.md": "python -m minplt hops",
              "out/hops-staircase/results.md": "python -m minplt hops --experiment staircase",
              "out/bench/results.md": "make bench"}


def update(readme: Path) -> tuple[str, list[str], list[str]]:
    """(the new README text, the files copied in, the files missing)."""
    text = readme.read_text(encoding="utf-8")
    copied, missing = [], []

    def fill(match):
        source = readme.parent / match["path"]
        if not source.exists():
            missing.append(match["path"])
            return match[0]
        copied.append(match["path"])
        return match[1] + source.read_text(encoding="utf-8").rstrip() + "\n" + match[4]
    return BLOCK.sub(fill, text), copied, missing


def main(argv=None) -> int:
    args = sys.argv[1:] if argv is None else argv
    readme = Path(args[0] if args else "README.md")
    if not readme.exists():
        print(f"minplt readme: error: {readme} does not exist", file=sys.stderr)
        return 2
    text, copied, missing = update(readme)
    checkpoint.atomic_write(str(readme), text)
    for path in copied:
        print(f"copied {path} into {readme}")
    for path in missing:
        print(f"not there yet: {path} (run `{WRITTEN_BY.get(path, 'the command that writes it')}`)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
