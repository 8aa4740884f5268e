"""`make readme`: copy the results of the last runs into the pages that quote them
(docs/findings.md and docs/performance.md), so the figures they quote are the ones a
command printed, never typed by hand.

A block in a page is

    <!-- results: out/demo/results.md -->
    ...                                   (replaced by that file's text)
    <!-- end results -->

The path in a block is relative to the project's root, whichever page holds it.
`python -m minplt.readme [--root DIR] [PAGE ...]` replaces every block whose file
exists, in the pages given (default: PAGES, relative to the root), and says which files
are missing and the command that writes each. It changes nothing else: a block whose
file is missing keeps the text it had.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from minplt import checkpoint

BLOCK = re.compile(r"(<!-- results: (?P<path>\S+) -->\n)(?P<body>.*?)(<!-- end results -->)",
                   re.DOTALL)
# the pages that hold results blocks, relative to the project's root (the README holds none)
PAGES = ("docs/findings.md", "docs/performance.md", "docs/language.md")
WRITTEN_BY = {"out/demo/results.md": "make demo",
              "out/ablate/results.md": "python -m minplt ablate",
              "out/ablate-text/results.md": "python -m minplt ablate --task text",
              "out/hops/results.md": "python -m minplt hops",
              "out/hops-staircase/results.md": "python -m minplt hops --experiment staircase",
              "out/bench/results.md": "make bench"}


def update(page: Path, root: Path) -> tuple[str, list[str], list[str]]:
    """(the page's new text, the files copied in, the files missing); block paths are
    read relative to root."""
    text = page.read_text(encoding="utf-8")
    copied, missing = [], []

    def fill(match):
        source = root / match["path"]
        if not source.exists():
            missing.append(match["path"])
            return match[0]
        copied.append(match["path"])
        return match[1] + source.read_text(encoding="utf-8").rstrip() + "\n" + match[4]
    return BLOCK.sub(fill, text), copied, missing


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m minplt.readme",
        description="Copy the last runs' out/*/results.md into the pages' results blocks.")
    parser.add_argument("pages", nargs="*", default=list(PAGES),
                        help=f"pages to update, relative to --root (default: {' '.join(PAGES)})")
    parser.add_argument("--root", default=".",
                        help="the project's root: pages and block paths are relative to it "
                             "(default: the current directory)")
    args = parser.parse_args(argv)
    root = Path(args.root)
    pages = [root / p for p in args.pages]
    absent = [str(p) for p in pages if not p.is_file()]
    if absent:
        print(f"minplt readme: error: {', '.join(absent)} does not exist "
              "(run it from the project's root, or pass --root)", file=sys.stderr)
        return 2
    copied_any, missing_all = False, []
    for page in pages:
        text, copied, missing = update(page, root)
        if copied:
            checkpoint.atomic_write(str(page), text)
            copied_any = True
        for path in copied:
            print(f"copied {path} into {page.relative_to(root)}")
        missing_all += [path for path in missing if path not in missing_all]
    for path in missing_all:
        print(f"not there yet: {path} (run `{WRITTEN_BY.get(path, 'the command that writes it')}`)")
    if missing_all and not copied_any:
        print("no results to copy: nothing under out/ yet, so the pages keep the blocks "
              "they had (run the commands above, then make readme)")
    elif not copied_any:
        print(f"no results blocks in {', '.join(args.pages)}: nothing to copy "
              f"(the blocks are in {', '.join(PAGES)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
