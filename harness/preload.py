"""Imported once by the runner's fork server: pre-imports what the pages import, so each page forks warm.

The fork server is a fresh interpreter (never the pytest process, whose torch may already have started
OpenMP threads, which a fork cannot carry). `HARNESS_PRELOAD` lists "module" or "module:name,name".
"""
import importlib
import json
import os

# The server inherits pytest's stdout and stderr (under xdist, stdout is the worker's channel):
# whatever an import prints must go nowhere.
_null = os.open(os.devnull, os.O_RDWR)
os.dup2(_null, 1)
os.dup2(_null, 2)

for _spec in json.loads(os.environ.get("HARNESS_PRELOAD", "[]")):
    _module, _, _names = _spec.partition(":")
    try:
        _imported = importlib.import_module(_module)
        # transformers' lazy modules import a submodule only when a name is looked up.
        for _name in filter(None, _names.split(",")):
            getattr(_imported, _name, None)
    except BaseException:  # a page that fails to import fails in its own process, with its own traceback
        pass
