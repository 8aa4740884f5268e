"""Files that must never be half-written: checkpoints, logs and results.

    checkpoint.save(path, params, cfg, meta={...}, extra={...})   # one .npz, atomically
    ckpt = checkpoint.load(path)                                  # .params .config .meta .extra
    checkpoint.atomic_write(path, text_or_bytes)                  # logs, bench.json

Every file goes through `atomic_write`: it writes a temporary file in the same folder,
flushes it to disk (fsync), then renames it over the target. A crash or Ctrl-C at any
moment leaves either the old file or the new one, never a torn one.
"""
from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile
from dataclasses import dataclass, field

import numpy as np

from minplt.model import Config, param_shapes

FORMAT_VERSION = 1
TMP_PREFIX = ".tmp-"      # temporary files in a run folder start with this


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


def check_writable(path: str) -> None:
    """Fail now, with what to do, if `path` cannot be written: before any work whose
    result would be lost. `path` must not be a folder, and its folder must be creatable
    and writable."""
    if os.path.isdir(path):
        raise ValueError(f"{path!r} is a folder: give a file name for the output, "
                         f"e.g. {os.path.join(path, 'out.json')!r}")
    folder = os.path.dirname(os.path.abspath(path))
    existing = folder
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise ValueError(f"cannot write {path!r}: {existing!r} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"cannot write {path!r}: the folder {existing!r} is not writable; "
                         "choose another output path")


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
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
        raise ValueError(f"checkpoint {path!r} is not a readable .npz file (truncated or "
                         f"corrupt?): {e}") from None
    if "__header__" not in arrays:
        raise ValueError(f"{path!r} is an .npz file but not a minplt checkpoint (no header)")
    header = json.loads(str(arrays.pop("__header__")))
    version = header.get("format_version")
    if version != FORMAT_VERSION:
        raise ValueError(f"checkpoint {path!r} has format version {version}, this minplt "
                         f"reads version {FORMAT_VERSION}; retrain or use a matching minplt")
    cfg = Config(**header["config"])
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
    return Checkpoint(params, cfg, header.get("meta", {}), extra)
