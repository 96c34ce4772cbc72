"""What a page's process takes from the repo, for --changed-only: the modules it imports, the files it opens for
reading, the folders it lists; and, when it does what the harness cannot follow, why its inputs are not known.

Runs in the page's process (child.py). An audit hook (PEP 578) sees Python's own opens, listings and process
starts; nothing a page observes changes. What it cannot see makes the page "untracked": --changed-only then runs
it every time, since the weaker verdict stands (incremental.py records only tracked pages).
"""
from __future__ import annotations

import importlib
import os
import sys
import sysconfig

# Where installed modules live: never the page's inputs (the stack's versions are in the fingerprint).
INSTALLED = tuple({sysconfig.get_path(key) + os.sep for key in ("stdlib", "platstdlib", "purelib", "platlib")})
HARNESS_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep  # the harness's files: in the fingerprint already
# A folder read through a file of one of these names is a checkpoint: transformers reads the config in Python,
# its weights and tokenizer.json natively (safetensors, tokenizers), which no audit event reports.
CHECKPOINT_FILES = frozenset({"config.json", "tokenizer_config.json"})
# Events of another process starting: what it reads is not seen here.
PROCESS_EVENTS = frozenset({"subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork",
                            "os.forkpty"})
# Code that lists the folders of sys.path (the repo root among them) to find modules and installed distributions.
IMPORT_SYSTEM = ("<frozen importlib", os.path.dirname(importlib.__file__) + os.sep)
LISTING = "/"  # a repo-relative name ending so is a folder whose names were read, not a file

_root = ""  # the page's repo root (its working directory when it starts), with a trailing separator
_modules: dict[str, str | None] = {}  # module name → its repo-relative file, or None: looked at once each
_read: dict[str, tuple[int, int] | None] = {}  # absolute path → (size, mtime ns) when first opened; None: missing
_listed: set[str] = set()  # absolute folders whose names the page read
_untracked: list[str] = []  # why the page's inputs are not all known (first reason first)


def watch(root: str) -> None:
    """From now on note what the process reads (call once, when the page arrives; `root`: the repo root)."""
    global _root
    _root = os.path.abspath(root) + os.sep
    _watch_safetensors()
    sys.addaudithook(_audit)


def _watch_safetensors() -> None:
    """safetensors reads its files natively, unseen by the "open" event: note the files given to safe_open,
    through which its loaders (load_file, load_model) all read. Loaded later by the page, it is not watched
    (see _audit)."""
    for name in ("safetensors", "safetensors.torch", "safetensors.numpy"):
        module = sys.modules.get(name)
        original = getattr(module, "safe_open", None)
        if original is None or getattr(original, "__wrapped__", None) is not None:
            continue

        def safe_open(filename, *args, _original=original, **kwargs):
            try:
                _opened((filename, "rb"))
            except Exception:  # noqa: BLE001  (never the reason a page's read fails)
                untrack("a file it opened could not be followed")
            return _original(filename, *args, **kwargs)

        safe_open.__wrapped__ = original
        module.safe_open = safe_open


def untrack(reason: str) -> None:
    """Note that the page did something whose inputs cannot be followed (`reason`, in words for the report)."""
    if reason not in _untracked:
        _untracked.append(reason)


def untracked() -> str:
    """Why the page's inputs are not all known ("" when they are): --changed-only must not skip it."""
    return "; ".join(_untracked)


def _audit(event: str, args: tuple) -> None:
    """The audit hook. Never raises: an exception here would fail the page's own open."""
    try:
        if event == "open":
            if _opened(args) and args[1] is None and not os.path.isabs(os.fsdecode(args[0])):
                # os.open gives no dir_fd to its event: a relative name may be relative to another folder.
                untrack("it opens a file by a relative name with os.open (maybe from a folder descriptor)")
        elif event == "sqlite3.connect" and args and args[0] not in (":memory:", b":memory:", ""):
            _opened((args[0], "r"))  # the database file, read by SQLite's C code
        elif event in ("os.listdir", "os.scandir"):
            if sys._getframe(1).f_code.co_filename.startswith(IMPORT_SYSTEM):
                return  # finding a module or a distribution on sys.path: what it finds is noted, not the folders
            folder = args[0] if args else None
            if folder is None or isinstance(folder, (str, bytes, os.PathLike)):
                _listed.add(os.path.abspath(os.fsdecode(folder if folder is not None else ".")))
            else:  # a folder descriptor (os.fwalk, glob with dir_fd): which folder is not seen
                untrack("it lists a folder by descriptor, which is not seen")
        elif event in PROCESS_EVENTS:
            untrack("it starts another process, whose reads are not seen")
        elif event == "import" and args and str(args[0]).startswith("safetensors"):
            untrack("it loads safetensors itself, whose reads are not seen")
    except Exception:  # noqa: BLE001
        untrack("a file it opened could not be followed")


def _opened(args: tuple) -> bool:
    """An open: note a file opened for reading (or reading and writing), with its size and time then; True if
    it was one."""
    if not args or not isinstance(args[0], (str, bytes, os.PathLike)):
        return False
    mode, flags = (tuple(args[1:3]) + (None, None))[:2]
    if isinstance(mode, str):
        reading = "r" in mode or "+" in mode
    else:  # os.open: flags only
        reading = not isinstance(flags, int) or flags & os.O_ACCMODE != os.O_WRONLY
    if not reading:
        return False  # opened only to write: what a page writes is its output, not its input
    path = os.path.abspath(os.fsdecode(args[0]))
    if path not in _read:
        _read[path] = _state(path)
    return True


def _state(path: str) -> tuple[int, int] | None:
    """(size, modification time in ns) of `path`, None if it does not exist."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_size, stat.st_mtime_ns


def repo_files(root: str | None = None) -> tuple[str, ...]:
    """The repo's files (repo-relative, "/"-separated) among the modules imported and the files opened for
    reading so far, and its folders listed (ending in "/"). With root "" only the installation's modules are
    noted (a spare process, before its page).

    A file read that has changed or gone since the page first opened it (the page rewrote it, or someone did
    meanwhile) makes the page untracked: its hash now is not what the page read.
    """
    root = _root if root is None else root
    # Not the page's: the harness, the Python installation (a venv may live in the repo), the page's own
    # __main__ (its code is the page's) and multiprocessing's __mp_main__ (the pytest script).
    outside = (*INSTALLED, HARNESS_DIR, sys.prefix + os.sep, sys.exec_prefix + os.sep)
    for name in sys.modules.keys() - _modules.keys():
        try:  # the module's own __file__: getattr could run a lazy module's __getattr__ and import things
            path = vars(sys.modules[name]).get("__file__")
        except (KeyError, TypeError):
            path = None
        if not root and not (isinstance(path, str) and path.startswith(outside)):
            continue  # before the page's root is known only the installation's modules are settled
        inside = (isinstance(path, str) and path.startswith(root) and not path.startswith(outside)
                  and name not in ("__main__", "__mp_main__"))
        _modules[name] = _relative(path, root) if inside else None
    if not root:
        return ()
    files = {path for path in _modules.values() if path}

    def ours(path: str) -> bool:  # compiled bytecode is rewritten at will and follows its source, noted itself
        return path.startswith(root) and not path.startswith(outside) and "__pycache__" not in path

    for path, then in list(_read.items()):
        if not ours(path):
            continue
        if _state(path) != then:
            untrack(f"it read {_relative(path, root)}, which changed or went while it ran")
        files.add(_relative(path, root))
        if os.path.basename(path) in CHECKPOINT_FILES:  # the checkpoint's other files are read natively
            folder = os.path.dirname(path)
            files.add(_relative(folder, root) + LISTING)
            try:
                files.update(_relative(entry.path, root) for entry in os.scandir(folder) if entry.is_file())
            except OSError:  # the page removed it: what it read is not there to hash
                untrack(f"it read {_relative(folder, root)}, which went while it ran")
    files.update(_relative(folder, root) + LISTING for folder in _listed if ours(folder + os.sep))
    kept = []
    for name in sorted(files):
        try:
            name.encode("utf-8")  # the record is JSON in UTF-8: such a name can be neither kept nor hashed later
            kept.append(name)
        except UnicodeEncodeError:
            untrack("it read a file whose name is not UTF-8")
    return tuple(kept)


def _relative(path: str, root: str) -> str:
    return os.path.relpath(path, root).replace(os.sep, "/")
