"""Files that must never be half-written: checkpoints, logs and results.

    checkpoint.save(path, params, cfg, meta={...}, extra={...})   # one .npz, atomically
    ckpt = checkpoint.load(path)                                  # .params .config .meta .extra
    checkpoint.atomic_write(path, text_or_bytes)                  # logs, bench.json
    with checkpoint.RunFolder(out_dir, resume=False, overwrite=False): ...   # one run's folder

Every file goes through `atomic_write`: it writes a temporary file in the same folder,
flushes it to disk (fsync), then renames it over the target. A crash or Ctrl-C at any
moment leaves either the old file or the new one, never a torn one.

A run folder (train --out DIR) is protected by RunFolder: a new run refuses a folder
that holds a checkpoint unless told to resume or overwrite it; a lock keeps a second
run out while one writes there; and the temporary files a killed run left behind are
removed by the next run, which holds the lock and so knows nobody is writing them.
"""
from __future__ import annotations

import errno
import io
import json
import os
import tempfile
import zipfile
import dataclasses
from dataclasses import dataclass, field

import numpy as np

from minplt.model import Config, param_shapes

FORMAT_VERSION = 1
TMP_PREFIX = ".tmp-"      # temporary files in a run folder start with this
CHECKPOINT_NAME = "ckpt.npz"
LOCK_NAME = ".lock"       # exists while a run writes to its folder; holds the run's pid


def atomic_write(path: str, content: str | bytes) -> None:
    """Write `content` to `path` through a temporary file, fsync and a rename: a crash
    mid-write leaves the previous file intact. The file follows the umask (mkstemp would
    make it private)."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    data = content.encode() if isinstance(content, str) else content
    fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, suffix=os.path.splitext(path)[1], dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def check_writable(path: str, flag: str = "--out") -> None:
    """A clear error, before any work, if the file `path` cannot be written: it names a
    folder, or its folder cannot be made or written (check_out_folder)."""
    if os.path.isdir(path):
        raise ValueError(f"{flag} {path} is a folder: give a file name for the output, "
                         f"e.g. {os.path.join(path, 'out.json')}")
    check_out_folder(os.path.dirname(os.path.abspath(path)), flag)


def save(path: str, params: dict, cfg: Config, meta: dict | None = None,
         extra: dict[str, np.ndarray] | None = None) -> None:
    """One .npz: the parameters, the config and `meta` (JSON: tokenizer, step, ...) and
    optional `extra` arrays (optimizer state), written atomically."""
    header = {"format_version": FORMAT_VERSION, "config": cfg.to_dict(), "meta": meta or {}}
    arrays = {"__header__": np.array(json.dumps(header))}
    arrays.update({f"param/{k}": v for k, v in params.items()})
    arrays.update({f"extra/{k}": v for k, v in (extra or {}).items()})
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    atomic_write(path, buffer.getvalue())


@dataclass
class Checkpoint:
    params: dict
    config: Config
    meta: dict
    extra: dict = field(default_factory=dict)


def load(path: str) -> Checkpoint:
    """Load and check a checkpoint; every problem is a clear error naming it."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"checkpoint {path!r} does not exist (train one with "
                                "`python -m minplt train --out PATH`)")
    if os.path.isdir(path):
        raise ValueError(f"checkpoint {path!r} is a folder; give the file, e.g. "
                         f"{os.path.join(path, CHECKPOINT_NAME)}")
    corrupt = f"checkpoint {path!r} is not a readable .npz file (truncated or corrupt?)"
    with open(path, "rb") as f:
        if f.read(4) != b"PK\x03\x04":           # every .npz is a zip file
            raise ValueError(f"{corrupt}: it does not start like a zip file")
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, KeyError) as e:
        # numpy's own message can advise allow_pickle=True: never the fix for a checkpoint
        raise ValueError(f"{corrupt}: {type(e).__name__}") from None
    broken = sorted(k for k, v in arrays.items() if not isinstance(v, np.ndarray))
    if broken:                  # numpy hands back the raw bytes of a member that is not .npy
        raise ValueError(f"{corrupt}: {', '.join(broken)} not stored as arrays")
    if "__header__" not in arrays:
        raise ValueError(f"{path!r} is an .npz file but not a minplt checkpoint (no header)")
    header = _read_header(path, arrays.pop("__header__"))
    cfg = _config_from_header(path, header["config"])
    params = {k[len("param/"):]: v for k, v in arrays.items() if k.startswith("param/")}
    extra = {k[len("extra/"):]: v for k, v in arrays.items() if k.startswith("extra/")}
    expected = param_shapes(cfg)
    missing = sorted(set(expected) - set(params))
    unknown = sorted(set(params) - set(expected))
    if missing or unknown:
        raise ValueError(f"checkpoint {path!r} does not match its config: missing "
                         f"{missing or 'none'}, unexpected {unknown or 'none'}")
    for name, shape in expected.items():
        if params[name].shape != shape:
            raise ValueError(f"checkpoint {path!r}: parameter {name} has shape "
                             f"{params[name].shape}, its config says {shape}")
        if not np.all(np.isfinite(params[name])):
            raise ValueError(f"checkpoint {path!r}: parameter {name} contains NaN or inf; "
                             "the run that wrote it diverged; use an earlier checkpoint")
        params[name] = params[name].astype(cfg.dtype)
    return Checkpoint(params, cfg, header["meta"], extra)


def _read_header(path: str, raw: np.ndarray) -> dict:
    """The JSON header: a dict with format_version, config (a dict) and meta (a dict)."""
    damaged = f"checkpoint {path!r} has a damaged header"
    try:
        header = json.loads(str(raw))
    except ValueError:
        raise ValueError(f"{damaged} (not JSON); the file was not written by minplt or "
                         "was edited; use another checkpoint") from None
    if not isinstance(header, dict):
        raise ValueError(f"{damaged}: a JSON {type(header).__name__}, not an object")
    version = header.get("format_version")
    if version != FORMAT_VERSION:
        raise ValueError(f"checkpoint {path!r} has format version {version}, this minplt "
                         f"reads version {FORMAT_VERSION}; retrain or use a matching minplt")
    header.setdefault("meta", {})
    for key in ("config", "meta"):
        if not isinstance(header.get(key), dict):
            raise ValueError(f"{damaged}: '{key}' is {type(header.get(key)).__name__}, "
                             "not an object")
    return header


def _config_from_header(path: str, saved: dict) -> Config:
    fields = [f.name for f in dataclasses.fields(Config)]
    unknown = sorted(set(saved) - set(fields))
    if unknown:
        raise ValueError(f"checkpoint {path!r}: unknown config key(s) {', '.join(unknown)} "
                         "(written by another minplt version?); the keys are "
                         f"{', '.join(fields)}")
    try:
        return Config(**saved)
    except (TypeError, ValueError) as e:
        raise ValueError(f"checkpoint {path!r}: invalid config: {e}") from None


# ----------------------------------------------------------------------------------------
# Run folders: refuse to replace a trained model, one writer at a time, clean up after kills

def check_out_folder(path: str, flag: str = "--out") -> None:
    """A clear error, before any work, if `path` cannot be an output folder: an existing
    file, or a folder (or the nearest existing parent) this user cannot write to."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise ValueError(f"{flag} {path} is an existing file, not a folder; choose a folder "
                         "name (it is created if missing)")
    existing = os.path.abspath(path)
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise ValueError(f"{flag} {path}: {existing} is a file, so the folder cannot be made")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"{flag} {path}: cannot write to {existing} (read-only); choose "
                         "a folder you can write to")


def refuse_trained(folder: str, overwrite: bool = False) -> None:
    """A clear error if `folder` holds a checkpoint that a new run would replace."""
    path = os.path.join(folder, CHECKPOINT_NAME)
    if os.path.exists(path) and not overwrite:
        raise ValueError(f"{folder} already holds a trained model ({CHECKPOINT_NAME}): pass "
                         "--resume to continue it, --overwrite to start over and replace "
                         "it, or choose another --out")


def orphans(folder: str) -> list[str]:
    """Temporary files that atomic_write left in `folder` when its process was killed."""
    if not os.path.isdir(folder):
        return []
    return sorted(os.path.join(folder, name) for name in os.listdir(folder)
                  if name.startswith(TMP_PREFIX))


class RunFolder:
    """The folder of one training run, held for as long as the run writes to it.

        with RunFolder("runs/plt2", resume=False, overwrite=False) as folder:
            ...   # folder.checkpoint is runs/plt2/ckpt.npz; folder.cleaned: what was removed

    On entering: the folder is created; an exclusive lock (flock on DIR/.lock) is taken
    or, if another process holds it, a ValueError names that process at once; orphaned
    temporary files of a killed run are removed; and a folder that already holds a
    checkpoint is refused unless `resume` or `overwrite`. The kernel drops a flock when
    its process dies, so a lock left by `kill -9` is stale and simply taken over."""

    def __init__(self, path: str, resume: bool = False, overwrite: bool = False):
        self.path = str(path)
        self.resume, self.overwrite = resume, overwrite
        self.checkpoint = os.path.join(self.path, CHECKPOINT_NAME)
        self.lock_path = os.path.join(self.path, LOCK_NAME)
        self.cleaned: list[str] = []       # orphaned temporary files removed on entering
        self.cleaned_bytes = 0             # ... and their size
        self._fd = None

    def __enter__(self) -> "RunFolder":
        check_out_folder(self.path)
        os.makedirs(self.path, exist_ok=True)
        self._lock()
        try:
            self.cleaned = orphans(self.path)
            for name in self.cleaned:
                self.cleaned_bytes += os.path.getsize(name)
                os.remove(name)
            if not self.resume:
                refuse_trained(self.path, self.overwrite)
        except BaseException:
            self._unlock()
            raise
        return self

    def __exit__(self, *exc) -> bool:
        self._unlock()
        return False

    def _lock(self) -> None:
        import fcntl                               # POSIX; the lock is advisory

        while True:
            try:
                fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
            except PermissionError:
                raise ValueError(f"--out {self.path}: cannot write to it (read-only); choose "
                                 "a folder you can write to") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as e:
                if e.errno not in (errno.EAGAIN, errno.EACCES):
                    os.close(fd)
                    raise
                holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
                os.close(fd)
                raise ValueError(f"{self.path} is in use by another run (pid {holder}); wait "
                                 "for it to finish or choose another --out") from None
            # The holder we waited on may have removed the file after we opened it: then
            # our lock is on a file nobody else will see. Lock the file that is there.
            try:
                same = os.stat(self.lock_path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def _unlock(self) -> None:
        if self._fd is not None:
            try:
                os.remove(self.lock_path)          # still holding the lock: nobody races us
            except FileNotFoundError:
                pass
            os.close(self._fd)
            self._fd = None
