"""A real corpus that ships with Python: its standard library's own source, read as bytes.

    files = stdlib_files()                  # sorted relative paths of the .py files
    data = stdlib_dataset(block_size=128)   # a TextDataset, split into train/val by file
    bits = bits_per_byte(loss)              # a byte model's loss (nats/byte) in bits/byte

What it is: every `.py` file under `sysconfig.get_paths()["stdlib"]`, outside the test
folders (SKIP_FOLDERS) and site-packages. On Python 3.11 that is about 730 files and
12 MB, nothing to download, the same on every machine with the same Python version.

The split is by file: a file belongs to the validation split when a hash of its relative
path says so (zlib.crc32, not Python's salted hash(), so it is the same in every
process), one file in VAL_EVERY. No file is in both splits, so the validation loss
measures text the model has never seen, not windows of a file it trained on. Within a
split the files are read in sorted order and joined.

Why bytes, not characters: a byte tokenizer reads any file (its vocabulary is fixed at
256, there is no unknown symbol, and a checkpoint does not depend on which characters
happened to occur), and its loss in bits per byte is the unit that papers on language
modelling compare across tokenizers. The standard library is almost all ASCII, so a
byte is nearly always a character.
"""
from __future__ import annotations

import math
import platform
import sysconfig
import zlib
from pathlib import Path

import numpy as np

SKIP_FOLDERS = frozenset({"test", "tests", "idle_test", "site-packages", "__pycache__"})
VAL_EVERY = 10          # one file in VAL_EVERY (by hash of its path) is validation
SOURCE = "stdlib"       # its name as a --data source


class ByteTokenizer:
    """One token per byte of the UTF-8 encoding: 256 token ids, every text encodes.

        tok = ByteTokenizer()
        tok.encode("é!")        # array([195, 169, 33])
        tok.decode([195, 169])  # 'é' (bytes that are not valid UTF-8 decode to '\ufffd')
    """

    vocab_size = 256
    chars = None            # no character vocabulary (CharTokenizer has one)

    def encode(self, text: str) -> np.ndarray:
        """str -> (N,) int64 byte values."""
        return np.frombuffer(text.encode("utf-8", errors="surrogateescape"),
                             dtype=np.uint8).astype(np.int64)

    def decode(self, ids) -> str:
        ids = np.asarray(ids)
        if ids.size and (ids.ndim != 1 or ids.min() < 0 or ids.max() > 255):
            raise ValueError(f"a byte tokenizer decodes a 1-D sequence of ids 0..255, got "
                             f"shape {ids.shape}, range {ids.min()}..{ids.max()}")
        return bytes(ids.astype(np.uint8).tolist()).decode("utf-8", errors="replace")

    def to_dict(self) -> dict:
        return {"kind": "byte"}

    def __eq__(self, other) -> bool:
        return isinstance(other, ByteTokenizer)

    def __repr__(self) -> str:
        return "ByteTokenizer(vocab_size=256)"


def bits_per_byte(loss_nats: float) -> float:
    """A byte model's mean cross-entropy, in nats per byte, in bits per byte: / ln 2."""
    return float(loss_nats) / math.log(2)


def stdlib_root() -> Path:
    """The folder of this Python's standard library source."""
    return Path(sysconfig.get_paths()["stdlib"])


def split_of_file(relative_path: str) -> str:
    """'val' or 'train' for a file, from a stable hash of its relative path (with '/')."""
    return "val" if zlib.crc32(relative_path.encode("utf-8")) % VAL_EVERY == 0 else "train"


def stdlib_files(root: str | Path | None = None) -> list[str]:
    """The corpus' files: sorted relative paths (with '/') of the .py files under root
    (default: this Python's standard library), outside SKIP_FOLDERS. A clear error when
    there are none: some system Pythons ship without the library's source."""
    root = Path(root) if root is not None else stdlib_root()
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.py")
                   if not SKIP_FOLDERS & set(p.relative_to(root).parts[:-1])) \
        if root.is_dir() else []
    if not files:
        raise FileNotFoundError(
            f"no Python source files in {root}: this Python installation ships its standard "
            f"library without the .py sources (some system Pythons keep only compiled "
            f"files), so the 'stdlib' corpus is unavailable. Install the full library "
            f"(e.g. the python3 -dev/-full package, or a python.org or pyenv build), or use "
            f"--data pydoc or --data path/to/file.txt")
    return files


def read_split_bytes(root: str | Path | None = None) -> tuple[dict, dict]:
    """({'train': bytes, 'val': bytes}, info): each split's files joined in sorted order,
    and what was read (the Python version, files and bytes per split)."""
    root = Path(root) if root is not None else stdlib_root()
    files = stdlib_files(root)
    chunks = {"train": [], "val": []}
    for name in files:
        chunks[split_of_file(name)].append((root / name).read_bytes())
    for split, parts in chunks.items():
        if not parts:
            raise ValueError(f"the {len(files)} source file(s) in {root} leave the {split} "
                             f"split empty (one file in {VAL_EVERY} is validation, by hash "
                             f"of its path): the corpus needs more files")
    splits = {split: b"".join(parts) for split, parts in chunks.items()}
    info = dict(python=platform.python_version(), files=len(files),
                files_train=len(chunks["train"]), files_val=len(chunks["val"]),
                bytes_train=len(splits["train"]), bytes_val=len(splits["val"]))
    return splits, info


def stdlib_dataset(block_size: int = 128, root: str | Path | None = None):
    """The standard library's source as a data.TextDataset of byte windows, split by
    file; `info` on it says which Python and how many files."""
    from minplt.text import TextDataset

    splits, info = read_split_bytes(root)
    arrays = {split: np.frombuffer(raw, dtype=np.uint8) for split, raw in splits.items()}
    return TextDataset.from_splits(arrays, block_size, ByteTokenizer(), source=SOURCE,
                                   info=info)
