"""Fixtures shared by several test files."""
import os

import pytest


@pytest.fixture
def read_only_folder(tmp_path, monkeypatch):
    """A function returning a folder this process cannot write to. As root, which writes
    anywhere, os.access is made to say the folder is read-only."""
    def make():
        folder = tmp_path / "read-only"
        folder.mkdir()
        folder.chmod(0o555)
        if os.geteuid() == 0:
            real = os.access
            monkeypatch.setattr(os, "access", lambda p, mode: False if str(p) == str(folder)
                                else real(p, mode))
        return folder
    return make
