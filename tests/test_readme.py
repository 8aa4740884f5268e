"""`make readme` copies the last runs' results into the README's marked blocks."""
from minplt import readme


def test_blocks_are_replaced_by_their_files_and_nothing_else(tmp_path):
    (tmp_path / "out" / "demo").mkdir(parents=True)
    (tmp_path / "out" / "demo" / "results.md").write_text("| a | b |\n|---|---|\n| 1 | 2 |\n")
    page = tmp_path / "README.md"
    page.write_text("intro\n<!-- results: out/demo/results.md -->\nold table\n<!-- end results -->\n"
                    "middle\n<!-- results: out/bench/results.md -->\nold bench\n<!-- end results -->\nend\n")
    assert readme.main([str(page)]) == 0
    text = page.read_text()
    assert "| 1 | 2 |" in text and "old table" not in text
    assert "old bench" in text                        # its file is missing: left as it was
    assert text.startswith("intro\n") and "\nmiddle\n" in text and text.endswith("end\n")
    assert readme.main([str(page)]) == 0 and page.read_text() == text   # idempotent


def test_the_projects_readme_blocks_name_files_a_command_writes():
    from pathlib import Path
    text = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    paths = [m["path"] for m in readme.BLOCK.finditer(text)]
    assert paths, "the README has no results blocks"
    assert set(paths) <= set(readme.WRITTEN_BY)
