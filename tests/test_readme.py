"""The front page and the pages it links: `make readme` copies the last runs' results into
the pages' marked blocks, the README stays a front page, and every link resolves."""
import re
from pathlib import Path

import pytest

from minplt import readme

ROOT = Path(__file__).resolve().parent.parent
LINKED_PAGES = ("README.md", "docs/findings.md", "docs/performance.md", "docs/method.md")
# pages other parts of the project are writing; the front page links them already
BEING_WRITTEN = {"docs/language.md", "docs/reliability.md", "docs/kernels.md"}


def test_blocks_are_replaced_by_their_files_and_nothing_else(tmp_path, capsys):
    (tmp_path / "out" / "demo").mkdir(parents=True)
    (tmp_path / "out" / "demo" / "results.md").write_text("| a | b |\n|---|---|\n| 1 | 2 |\n")
    (tmp_path / "docs").mkdir()
    page = tmp_path / "docs" / "findings.md"      # block paths are relative to the root
    page.write_text("intro\n<!-- results: out/demo/results.md -->\nold table\n<!-- end results -->\n"
                    "middle\n<!-- results: out/bench/results.md -->\nold bench\n<!-- end results -->\nend\n")
    assert readme.main(["--root", str(tmp_path), "docs/findings.md"]) == 0
    text = page.read_text()
    assert "| 1 | 2 |" in text and "old table" not in text
    assert "old bench" in text                        # its file is missing: left as it was
    assert text.startswith("intro\n") and "\nmiddle\n" in text and text.endswith("end\n")
    out = capsys.readouterr().out
    assert "copied out/demo/results.md into docs/findings.md" in out
    assert "not there yet: out/bench/results.md (run `make bench`)" in out
    assert readme.main(["--root", str(tmp_path), "docs/findings.md"]) == 0
    assert page.read_text() == text                   # idempotent


def test_with_nothing_under_out_the_pages_are_kept_and_it_says_so(tmp_path, capsys):
    (tmp_path / "docs").mkdir()
    pages = {}
    for name in readme.PAGES:
        path = tmp_path / name
        path.write_text(f"{name}\n<!-- results: out/hops/results.md -->\nthe last run's table\n"
                        "<!-- end results -->\n")
        pages[path] = path.read_text()
    assert readme.main(["--root", str(tmp_path)]) == 0          # the default pages
    assert all(path.read_text() == text for path, text in pages.items())
    out = capsys.readouterr().out
    assert "not there yet: out/hops/results.md (run `python -m minplt hops`)" in out
    assert "no results to copy" in out


def test_a_page_without_blocks_is_left_alone_and_it_says_so(capsys):
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert readme.main(["--root", str(ROOT), "README.md"]) == 0
    assert (ROOT / "README.md").read_text(encoding="utf-8") == text
    assert "no results blocks in README.md" in capsys.readouterr().out


def test_a_missing_page_is_a_clear_error(tmp_path, capsys):
    assert readme.main(["--root", str(tmp_path), "docs/findings.md"]) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err and "--root" in err


def test_the_readme_is_a_front_page():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    lines = text.splitlines()
    assert len(lines) <= 250, f"README.md has {len(lines)} lines: move detail to docs/, keep <= 250"
    for needed in ("arXiv 2510.24824", "make demo", "make test", "lessons/README.md",
                   "docs/findings.md", "docs/performance.md", "docs/method.md#1-notation"):
        assert needed in text, f"the front page lost {needed!r}"


def markdown_files():
    skip = {".venv", "out", ".git", "node_modules", ".pytest_cache"}
    return [p for p in ROOT.rglob("*.md") if not skip & set(p.relative_to(ROOT).parts)]


def test_every_results_block_lives_in_a_page_that_make_readme_writes():
    """A block outside readme.PAGES would never be refreshed; a file no block copies would
    be a result no page shows."""
    holders, paths = [], []
    for page in markdown_files():
        found = [m["path"] for m in readme.BLOCK.finditer(page.read_text(encoding="utf-8"))]
        if found:
            holders.append(page.relative_to(ROOT).as_posix())
            paths += found
    assert set(holders) <= set(readme.PAGES), (
        f"results blocks in {sorted(set(holders) - set(readme.PAGES))}, which make readme "
        f"does not write (readme.PAGES = {readme.PAGES})")
    stray = [t for t in markdown_files() if "<!-- results:" in t.read_text(encoding="utf-8")
             and t.relative_to(ROOT).as_posix() not in readme.PAGES]
    assert not stray, f"a results marker that is not a whole block in {stray}"
    assert set(paths) <= set(readme.WRITTEN_BY), f"blocks name files no command writes: {paths}"
    assert set(readme.WRITTEN_BY) <= set(paths), (
        f"results no page shows: {sorted(set(readme.WRITTEN_BY) - set(paths))}")
    assert len(paths) == len(set(paths)), "a result is copied into two places"


LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.DOTALL)
    return {slug(m[1]) for m in re.finditer(r"^#{1,6} (.+)$", text, re.MULTILINE)}


def test_slug_follows_githubs_rule():
    assert slug("1. Notation") == "1-notation"
    assert slug("What the loops buy (`python -m minplt hops`)") == \
        "what-the-loops-buy-python--m-minplt-hops"
    assert slug("The ablation: the paper's Table 2") == "the-ablation-the-papers-table-2"


@pytest.mark.parametrize("name", LINKED_PAGES)
def test_every_relative_link_points_to_a_file_and_heading_that_exist(name):
    page = ROOT / name
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.DOTALL)
    broken = []
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target):                # https:, mailto:
            continue
        file, _, anchor = target.partition("#")
        path = (page.parent / file).resolve() if file else page
        in_repo = path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else str(path)
        if in_repo in BEING_WRITTEN and not path.exists():
            continue
        if not path.exists():
            broken.append(f"{target} (no file {in_repo})")
        elif anchor and path.suffix == ".md" and anchor not in anchors(path):
            broken.append(f"{target} (no heading #{anchor} in {in_repo})")
    assert not broken, f"{name}: broken links: {broken}"
