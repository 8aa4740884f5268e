"""Characters and text: the character tokenizer every data source shares, and small
text corpora to train on. Nothing is downloaded unless you ask for it.

    tok = CharTokenizer.from_text(text)          # one token per character
    text = load_text("pydoc")                    # built in: the docs that ship with Python
    ds = TextDataset(text, block_size=64)        # ds.get_batch(split, batch_size, rng)

The larger built-in corpus, the standard library's own source as bytes split by file,
is corpus.py's (`data.make_data("stdlib")`); it is a TextDataset too (from_splits).
Text that cannot teach is refused: a single distinct symbol, or a training split
shorter than one batch.

`minplt.data` is the one place to import data sources from: it re-exports these names
beside the synthetic tasks.
"""

from __future__ import annotations

import os
import tempfile
import urllib.request
from pathlib import Path

import numpy as np

IGNORE = -1  # target value the loss skips: padding, and prompts when loss_on='answer'
SPLITS = ("train", "val")


def _check_int(name: str, value, low: int, high: int | None = None) -> int:
    """Raise a clear ValueError unless `value` is an int in [low, high]."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < low or (high is not None and value > high):
        bound = f">= {low}" if high is None else f"between {low} and {high}"
        raise ValueError(f"{name} must be {bound}, got {value}")
    return int(value)


def check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"split must be 'train' or 'val', got {split!r}")


# -----------------------------------------------------------------------------
# Character-level tokenizer


class CharTokenizer:
    """One token per character: token id = position of the character in `chars`.

    `chars` is kept sorted and without repeats, so the same set of characters always
    gives the same ids, whatever order the characters were seen in.

        tok = CharTokenizer("hello")       # chars 'ehlo', vocab_size 4
        tok.encode("hole")                 # array([1, 3, 2, 0])
        tok.decode([1, 3, 2, 0])           # 'hole'
    """

    def __init__(self, chars: str):
        if not isinstance(chars, str):
            raise TypeError(f"CharTokenizer expects a str of characters, got {type(chars).__name__}")
        if not chars:
            raise ValueError("CharTokenizer needs at least one character")
        self.chars = "".join(sorted(set(chars)))
        # Sorted chars have increasing code points (Python orders str by code point), so
        # encoding is a binary search of each character's code point in this array.
        self._codes = np.array([ord(c) for c in self.chars], dtype=np.uint32)  # (V,)

    @classmethod
    def from_text(cls, text: str) -> "CharTokenizer":
        """The tokenizer whose vocabulary is every character that occurs in `text`."""
        return cls(text)

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> np.ndarray:
        """str of N characters -> (N,) int64 token ids."""
        # code point of every character, as one array (UTF-32 stores exactly that)
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)  # (N,)
        ids = np.searchsorted(self._codes, codes)  # (N,) where each code would sit in the vocab
        found = ids < self.vocab_size
        found[found] = self._codes[ids[found]] == codes[found]
        if not found.all():
            missing = sorted(set(text[i] for i in np.flatnonzero(~found)))
            shown = ", ".join(repr(c) for c in missing[:10]) + (", ..." if len(missing) > 10 else "")
            raise ValueError(
                f"cannot encode {len(missing)} character(s) not in this tokenizer's "
                f"vocabulary of {self.vocab_size}: {shown}. Build the tokenizer from text "
                f"that contains them (CharTokenizer.from_text), or remove or replace "
                f"them in the input."
            )
        return ids.astype(np.int64)

    def decode(self, ids) -> str:
        """Sequence of token ids (list or 1-D array of ints) -> str."""
        ids = np.asarray(ids)
        if ids.size == 0:
            return ""
        if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer):
            raise ValueError(f"decode expects a 1-D sequence of integer ids, got shape {ids.shape} dtype {ids.dtype}")
        bad = (ids < 0) | (ids >= self.vocab_size)
        if bad.any():
            first = int(ids[np.flatnonzero(bad)[0]])
            hint = " (-1 marks ignored targets in y; drop those before decoding)" if first == IGNORE else ""
            raise ValueError(
                f"token id {first} is out of range for a vocabulary of {self.vocab_size} "
                f"(valid ids are 0..{self.vocab_size - 1}){hint}"
            )
        return "".join(self.chars[i] for i in ids)

    def to_dict(self) -> dict:
        """A JSON-serialisable description, saved beside the weights in a checkpoint."""
        return {"kind": "char", "chars": self.chars}

    @classmethod
    def from_dict(cls, d: dict) -> "CharTokenizer":
        if not isinstance(d, dict) or d.get("kind") != "char" or not isinstance(d.get("chars"), str):
            raise ValueError(f"not a CharTokenizer description (expected {{'kind': 'char', 'chars': ...}}): {d!r:.200}")
        return cls(d["chars"])

    def __eq__(self, other) -> bool:
        return isinstance(other, CharTokenizer) and self.chars == other.chars

    def __repr__(self) -> str:
        return f"CharTokenizer(vocab_size={self.vocab_size}, chars={self.chars!r:.80})"


# -----------------------------------------------------------------------------
# Text corpora

SHAKESPEARE_URL = "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"
SHAKESPEARE_FILE = "tinyshakespeare.txt"
TEXT_SOURCES = ("pydoc", "shakespeare", "stdlib")  # built-in names; anything else is a file path


class DownloadError(ConnectionError):
    """An opt-in dataset could not be downloaded (typically: no network)."""


def default_cache_dir() -> Path:
    """$MINPLT_CACHE if set, else ~/.cache/minplt."""
    return Path(os.environ.get("MINPLT_CACHE") or Path.home() / ".cache" / "minplt").expanduser()


def load_text(source: str, cache_dir: str | os.PathLike | None = None) -> str:
    """A character-level training corpus, as one str.

    source:
      'pydoc'        Python's own documentation (the pydoc_data package of the standard
                     library, ~465k characters). Offline, on every machine.
      'shakespeare'  tiny-shakespeare (~1.1M characters). Opt-in: downloaded once into
                     cache_dir (default $MINPLT_CACHE or ~/.cache/minplt), then read
                     from there.
      anything else  the path of a UTF-8 text file (write ./pydoc for a file named pydoc).
    """
    if source == "pydoc":
        return _load_pydoc()
    if source == "shakespeare":
        return _load_shakespeare(Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir())
    if source == "stdlib":
        raise ValueError("'stdlib' is a byte corpus split by file, not one text: build it "
                         "with data.make_data('stdlib') or corpus.stdlib_dataset()")
    return _load_file(Path(source).expanduser(), source)


def _load_pydoc() -> str:
    try:
        from pydoc_data.topics import topics  # {topic name: help text}
    except ImportError as err:  # some trimmed-down Python builds leave it out
        raise RuntimeError(
            "this Python installation has no pydoc_data package, so the 'pydoc' corpus is "
            "unavailable; use --data path/to/file.txt with any UTF-8 text file"
        ) from err
    # sorted by topic name, so the corpus (and its train/val split) is the same everywhere
    return "\n\n".join(topics[name].strip() for name in sorted(topics)) + "\n"


def _load_shakespeare(cache_dir: Path, timeout: float = 30.0) -> str:
    path = cache_dir / SHAKESPEARE_FILE
    if path.exists():
        return path.read_text(encoding="utf-8")
    try:
        with urllib.request.urlopen(SHAKESPEARE_URL, timeout=timeout) as response:
            data = response.read()
        text = data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as err:  # urllib.error.URLError, HTTPError and timeouts are OSErrors
        raise DownloadError(
            f"could not download the 'shakespeare' corpus from {SHAKESPEARE_URL} ({err}). "
            f"This dataset is opt-in and needs the network once (it is then cached in "
            f"{path}). To work offline, use the built-in corpus with --data pydoc, or your "
            f"own text with --data path/to/file.txt."
        ) from err
    if not text:
        raise DownloadError(f"the download from {SHAKESPEARE_URL} was empty; try again, or use --data pydoc")
    # Write to a temporary file in the same folder, then rename it into place: the rename
    # is atomic, so an interrupted download never leaves a half-written file behind that
    # a later run would take for the cached corpus.
    cache_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=cache_dir, prefix=SHAKESPEARE_FILE, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    return text


def _load_file(path: Path, source: str) -> str:
    if not path.is_file():
        what = "is a folder, not a text file" if path.is_dir() else "does not exist"
        raise FileNotFoundError(
            f"text file '{source}' {what}. The data source must be 'pydoc' or 'stdlib' (built in), "
            f"'shakespeare' (downloaded once, opt-in) or the path of a UTF-8 text file."
        )
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"text file '{source}' is not valid UTF-8 ({err})") from err
    if not text:
        raise ValueError(f"text file '{source}' is empty; a corpus needs some text to learn from")
    return text


class TextDataset:
    """Random windows of a character-level corpus, for next-character prediction.

    The text is encoded once; the first (1 - val_fraction) of it is the train split,
    the rest the val split (a contiguous tail, so no window straddles both).

        data = TextDataset(load_text('pydoc'), block_size=64)
        x, y, _ = data.get_batch('train', 16, rng)    # (16,64) each, y = x shifted by one
    """

    name = "text"

    def __init__(self, text: str, block_size: int, val_fraction: float = 0.1,
                 tokenizer: CharTokenizer | None = None):
        self.block_size = _check_int("block_size", block_size, 1)  # T
        if not 0.0 < val_fraction < 1.0:
            raise ValueError(f"val_fraction must be between 0 and 1 (exclusive), got {val_fraction}")
        self.tokenizer = tokenizer if tokenizer is not None else CharTokenizer.from_text(text)
        self.source, self.info = None, {}
        data = self.tokenizer.encode(text)  # (N,)
        _refuse_one_symbol(data, self.tokenizer)
        n_val = int(len(data) * val_fraction)
        self.splits = {"train": data[: len(data) - n_val], "val": data[len(data) - n_val :]}
        # a window needs block_size + 1 tokens: block_size inputs and one more target
        shortest = min(len(s) for s in self.splits.values())
        if shortest < self.block_size + 1:
            need = int(np.ceil((self.block_size + 1) / min(val_fraction, 1.0 - val_fraction)))
            raise ValueError(
                f"text of {len(text)} characters is too short for block_size={self.block_size} "
                f"with val_fraction={val_fraction}: each split needs at least "
                f"{self.block_size + 1} characters (about {need} characters of text in all). "
                f"Use a longer text or a smaller block_size."
            )

    @classmethod
    def from_splits(cls, splits: dict, block_size: int, tokenizer, source: str | None = None,
                    info: dict | None = None) -> "TextDataset":
        """A dataset whose splits are given as token-id arrays (corpus.stdlib_dataset:
        split by file, bytes kept as uint8); `source` names it in checkpoints and `info`
        describes it (Python version, file count)."""
        self = cls.__new__(cls)
        self.block_size = _check_int("block_size", block_size, 1)
        self.tokenizer, self.source, self.info = tokenizer, source, dict(info or {})
        self.splits = {split: np.asarray(splits[split]) for split in SPLITS}
        _refuse_one_symbol(np.concatenate([self.splits[s] for s in SPLITS]), tokenizer)
        for split, ids in self.splits.items():
            if len(ids) < self.block_size + 1:
                raise ValueError(f"the {split} split has {len(ids)} tokens, too few for one "
                                 f"window of block_size={self.block_size} (it needs "
                                 f"{self.block_size + 1}); use a smaller block_size")
        return self

    @property
    def vocab_size(self) -> int:
        return self.tokenizer.vocab_size

    def get_batch(self, split: str, batch_size: int, rng: np.random.Generator):
        """x (B,T) int64 windows of the split, y (B,T) the character after each; None.

        y[:, t] == x[:, t+1] for t < T-1: y is x shifted left by one position.
        """
        check_split(split)
        batch_size = _check_int("batch_size", batch_size, 1)
        data = self.splits[split]
        T = self.block_size
        if split == "train" and len(data) < batch_size * T + 1:
            raise ValueError(
                f"the train split has {len(data):,} tokens, fewer than one batch of "
                f"{batch_size} windows of {T} ({batch_size * T + 1:,} tokens with the last "
                f"target): every batch would repeat the same text. Use a longer text, or a "
                f"smaller batch size or block size.")
        starts = rng.integers(0, len(data) - T, size=batch_size)  # (B,) last start: len - T - 1
        index = starts[:, None] + np.arange(T)  # (B,1) + (T,) -> (B,T)
        x = data[index].astype(np.int64)  # (B,T) (a byte corpus keeps its ids as uint8)
        y = data[index + 1].astype(np.int64)  # (B,T) the next character of each
        return x, y, None


def _refuse_one_symbol(ids: np.ndarray, tokenizer) -> None:
    """A corpus of a single distinct symbol cannot teach anything: the next token is
    always the same. Refused with a message that says so."""
    distinct = np.unique(ids) if ids.size else ids
    if distinct.size < 2:
        shown = repr(tokenizer.decode(distinct)) if distinct.size else "nothing"
        raise ValueError(
            f"the text has a single distinct symbol ({shown}): there is nothing to predict "
            f"and nothing to learn. Give a text with at least two different characters.")
