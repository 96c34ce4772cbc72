"""`mkdocs serve` runs the hooks as they are now: MkDocs imports each hook file once per process (an lru_cache
on its Hooks option), so without this a rebuild after a hook edit would still run the old code."""
from __future__ import annotations

from mkdocs.config import config_options


def on_config(config, **kwargs):
    """Forget the imported hooks: this build already has them, the next one (after an edit) imports them anew."""
    load = getattr(config_options.Hooks, "_load_hook", None)
    if hasattr(load, "cache_clear"):  # a MkDocs without the cache needs nothing
        load.cache_clear()
    return config
