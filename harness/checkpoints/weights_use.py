"""Inside a page's process: which weights the page loaded, and whether a stand-in's weights were read.

The harness does not guess which outputs depend on the weights: it watches. Every model a page loads with
`from_pretrained` (pipelines included) is noted with where its weights came from, and the parameters of a
stand-in (random weights, harness/checkpoints/standin.py) become watched parameters: any torch operation that reads
their values (a forward pass, printing, copying, indexing) marks the page as having read stand-in weights.
Operations that only look at metadata (shape, dtype, numel) or give back the parameter itself (a `.to()`
that changes nothing) do not. The harness notes how much the block had printed at the first read, so it knows whether the block printed
anything after the first read (the bytes on stdout then and at its end): what it printed before depends only on
the real configuration and vocabulary.

The state is per process, so per page: once read, every later print of the page counts as after the read.
Weights that reach a model another way (a stand-in's safetensors file opened by the page itself, through
safetensors or Python's open) count as read at once: the harness cannot follow them. Where it cannot tell
at all it says "unknown" (None) so the weaker verdict stands: weights loaded before the watch was installed
in the block (transformers imported for the first time inside it).
"""
from __future__ import annotations

import functools
import importlib
import importlib.metadata
import os
import sys
import sysconfig
from pathlib import Path

# At the top, not in describe: the fork server imports this module, so every page's process finds the stand-in
# module loaded (importing it on a page's first load cost about 6 ms per page).
from harness.checkpoints.standin import store_root

# Tensor functions that look at a tensor's metadata, never its values (property getters are named get:NAME).
METADATA = frozenset({
    "numel", "size", "dim", "ndimension", "nelement", "element_size", "__len__", "is_floating_point",
    "is_complex", "_has_compatible_shallow_copy_type", "requires_grad_", "set:data", "set:grad",
    "get:shape", "get:dtype", "get:device", "get:requires_grad", "get:ndim", "get:is_leaf", "get:grad_fn",
    "get:layout", "get:names", "get:is_cuda", "get:is_meta", "get:is_sparse", "get:is_quantized", "get:grad",
})


class _State:
    """What this page's process has seen so far."""

    def __init__(self) -> None:
        self.installed = False  # from_pretrained is patched
        self.loading = 0  # inside our from_pretrained: opening a stand-in's weights file is expected there
        self.stand_in_read = False  # some stand-in parameter's values were read
        self.loads: list[dict] = []  # one entry per from_pretrained of a model, in order
        self.watched: list = []  # stand-in parameters, kept alive (ids are not reused while watched)
        self.position = None  # callable: bytes the running block has printed so far (set by block_start)
        self.read_at: int | None = None  # what the running block had printed at the first read, if during it


STATE = _State()


def install() -> bool:
    """Patch transformers' PreTrainedModel.from_pretrained, once; False when transformers is not loaded.

    Only when the page's process already has transformers: importing it here would cost a page without it.
    """
    if STATE.installed:
        return True
    if "transformers" not in sys.modules:
        return False
    try:
        modeling_utils = importlib.import_module("transformers.modeling_utils")
    except Exception:  # noqa: BLE001  (a broken transformers fails the page on its own, with its own traceback)
        return False
    base = modeling_utils.PreTrainedModel
    original = base.__dict__["from_pretrained"].__func__

    @functools.wraps(original)  # name, signature and help as the page would see them without the harness
    def from_pretrained(cls, pretrained_model_name_or_path, *args, **kwargs):
        STATE.loading += 1
        try:
            model = original(cls, pretrained_model_name_or_path, *args, **kwargs)
        finally:
            STATE.loading -= 1
        # output_loading_info=True returns (model, info): the model is first.
        _note(model[0] if isinstance(model, tuple) else model, pretrained_model_name_or_path, kwargs.get("revision"))
        return model

    base.from_pretrained = classmethod(from_pretrained)
    _guard_weight_files()
    STATE.installed = True
    return True


def _in_store(path) -> bool:
    """True for a path inside the stand-in store (harness/checkpoints/standin.py), resolved through links."""
    try:
        return Path(os.fsdecode(os.fspath(path))).resolve().is_relative_to(store_root().resolve())
    except (TypeError, ValueError, OSError):
        return False


def _guard_weight_files() -> None:
    """A stand-in's weights file opened outside from_pretrained: its values reach the page unwatched, so they
    count as read. Python's open (an audit hook) and safetensors' own readers (wrapped) are both seen."""
    def audit(event, args):
        if (event == "open" and not STATE.loading and not STATE.stand_in_read and args
                and isinstance(args[0], (str, bytes, os.PathLike))
                and os.fsdecode(os.fspath(args[0])).endswith(".safetensors") and _in_store(args[0])):
            _mark_read()

    sys.addaudithook(audit)
    try:
        import safetensors
        import safetensors.torch
    except ImportError:
        return
    for module, name in ((safetensors, "safe_open"), (safetensors.torch, "safe_open"),
                         (safetensors.torch, "load_file")):
        original = getattr(module, name, None)
        if original is None:
            continue

        def reader(filename, *args, _original=original, **kwargs):
            if not STATE.loading and _in_store(filename):
                _mark_read()
            return _original(filename, *args, **kwargs)

        setattr(module, name, reader)


def _note(model, asked, revision) -> None:
    """Record one loaded model and, for a stand-in, watch its parameters."""
    try:
        folder, name = _folder_of(model, asked, revision)
        source = describe(folder)
    except Exception as error:  # noqa: BLE001  (an unknown source is reported as such, never a crash)
        folder, name, source = None, str(asked), {"from": "unknown", "detail": f"{type(error).__name__}: {error}"}
    commit = getattr(getattr(model, "config", None), "_commit_hash", None)
    STATE.loads.append({"name": name, "revision": commit if source["from"] != "package" else source["version"],
                        "source": source})
    if source["from"] == "stand-in":
        watch(model.parameters())


def _folder_of(model, asked, revision) -> tuple[Path | None, str]:
    """The real folder the weights were read from, and the checkpoint's name (Hub id, or package folder)."""
    asked = os.fspath(asked)
    if os.path.isdir(asked):
        folder = Path(asked).resolve()
        return folder, _package_relative(folder) or asked
    from huggingface_hub import try_to_load_from_cache

    commit = getattr(getattr(model, "config", None), "_commit_hash", None) or revision
    found = try_to_load_from_cache(asked, "config.json", revision=commit)
    return (Path(found).resolve().parent if isinstance(found, str) else None), asked


@functools.cache
def site_dirs() -> tuple[Path, ...]:
    """The installation's site-packages folders, resolved (once per process: the fork server's preload looks
    them up, so page processes find them known)."""
    return tuple(Path(sysconfig.get_path(key)).resolve() for key in ("purelib", "platlib"))


def _package_relative(folder: Path) -> str | None:
    """`folder` relative to site-packages ("pkg/model"), when it lies inside an installed package."""
    for site in site_dirs():
        if folder.is_relative_to(site):
            return folder.relative_to(site).as_posix()
    return None


def describe(folder: Path | None) -> dict:
    """Where weights in `folder` come from: {"from": "stand-in", "store"}, {"from": "package", "package",
    "version"}, {"from": "hub-cache"} or {"from": "folder", "path"}; None is a folder not found ("unknown")."""
    if folder is None:
        return {"from": "unknown", "detail": "no cached config.json"}
    store = store_root().resolve()
    if folder.is_relative_to(store):
        return {"from": "stand-in", "recipe": folder.relative_to(store).parts[0]}
    relative = _package_relative(folder)
    if relative:
        dist = _owner(relative)
        if dist is not None:
            return {"from": "package", "package": dist.metadata["Name"], "version": dist.version}
    if "snapshots" in folder.parts or any(part.startswith("models--") for part in folder.parts):
        return {"from": "hub-cache"}
    if folder.parent.name == "blobs":  # a real Hub cache resolves snapshot links into blobs/
        return {"from": "hub-cache"}
    return {"from": "folder", "path": folder.as_posix()}


def _owner(relative: str):
    """The installed distribution whose files include the folder `relative` ("pkg/model", relative to
    site-packages), or None.

    First the distribution named like its top-level folder (a few ms); only otherwise every installed
    distribution's file list (about 0.3 s), so a folder shipped by a package named otherwise, or by a plugin
    into another package's folder, is still told by the files it really ships.
    """
    prefix = relative.rstrip("/") + "/"

    def ships(dist) -> bool:
        return any(str(file).startswith(prefix) for file in dist.files or ())

    try:
        named = importlib.metadata.distribution(relative.split("/")[0])
        if ships(named):
            return named
    except importlib.metadata.PackageNotFoundError:
        pass
    return next((dist for dist in importlib.metadata.distributions() if ships(dist)), None)


def watch(parameters) -> None:
    """Make each parameter report reads of its values (its class becomes a watched Parameter subclass)."""
    watched = _watched_class()
    for parameter in parameters:
        if type(parameter) is not watched:
            try:
                parameter.__class__ = watched
            except TypeError:  # a Parameter subclass of another layout: cannot be watched, so count it as read
                _mark_read()
                continue
            STATE.watched.append(parameter)


_WATCHED = None


def _watched_class():
    """torch.nn.Parameter with a __torch_function__ that notes reads; made on first use (imports torch)."""
    global _WATCHED
    if _WATCHED is None:
        import torch

        class WatchedParameter(torch.nn.Parameter):
            """A stand-in's parameter: any operation that reads its values marks the page."""

            @classmethod
            def __torch_function__(cls, func, types, args=(), kwargs=None):
                with torch._C.DisableTorchFunctionSubclass():
                    result = func(*args, **(kwargs or {}))
                if not STATE.stand_in_read and _function_name(func) not in METADATA:
                    # An operation giving back the parameter itself (a .to() that changes nothing) exposes nothing.
                    if not (args and result is args[0]):
                        _mark_read()
                return result

        # Named as a module attribute (see __getattr__): a page may pickle a model (torch.save) and load it back.
        WatchedParameter.__module__, WatchedParameter.__qualname__ = __name__, "WatchedParameter"
        _WATCHED = WatchedParameter
    return _WATCHED


def __getattr__(name: str):
    if name == "WatchedParameter":  # made on first use, as it imports torch
        return _watched_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _function_name(func) -> str:
    name = getattr(func, "__name__", "")
    if name in ("__get__", "__set__") and hasattr(func, "__self__"):
        return ("get:" if name == "__get__" else "set:") + getattr(func.__self__, "__name__", "")
    return name


def _mark_read() -> None:
    """A stand-in's weight values were read: note it, and how much the running block had printed by then."""
    if not STATE.stand_in_read:
        STATE.stand_in_read = True
        STATE.read_at = STATE.position() if STATE.position is not None else None


def block_start(position) -> dict:
    """Before a block: install the watch if transformers is loaded. `position()` gives the bytes the block has
    written to stdout so far (called at the first read of a stand-in's weights, to know what came before)."""
    STATE.position, STATE.read_at = position, None
    return {"watching": install(), "read_before": STATE.stand_in_read}


def block_end(watch: dict, written: int) -> tuple[tuple[dict, ...], bool | None]:
    """After a block that wrote `written` bytes: the loads so far, and whether it printed after a stand-in's
    weights were read (None: cannot tell)."""
    STATE.position = None
    if not watch["watching"] and install():  # transformers arrived during the block: a load may have gone unseen
        return tuple(STATE.loads), None
    if watch["read_before"]:
        return tuple(STATE.loads), written > 0
    if STATE.stand_in_read:  # read during this block: what it printed before the read does not depend on it
        return tuple(STATE.loads), STATE.read_at is None or written > STATE.read_at
    return tuple(STATE.loads), False
