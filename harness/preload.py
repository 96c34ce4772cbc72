"""Imported once by the runner's fork server: pre-imports what the pages import, so each page forks warm.

The fork server is a fresh interpreter (never the pytest process, whose torch may already have started
OpenMP threads, which a fork cannot carry). `HARNESS_PRELOAD` lists "module" or "module:name,name".
"""
import json
import os
import sys

from harness.checkpoints import weights_use
from harness.child import preload

# The server inherits pytest's stdout and stderr (under xdist, stdout is the worker's channel):
# whatever an import prints must go nowhere.
_null = os.open(os.devnull, os.O_RDWR)
os.dup2(_null, 1)
os.dup2(_null, 2)

# Read and removed: page processes inherit the server's environment, and a cold interpreter has no such variable.
preload(json.loads(os.environ.pop("HARNESS_PRELOAD", "[]")))
weights_use.site_dirs()  # looked up where every page's process records where its weights came from

# Tables a library builds on a process's first use and keeps: built here once, every page's process has them,
# as every page after the first has them when all pages run in one interpreter. Pure tables only: nothing a
# page could observe (no files, no output) but time. The random generators the imports seed here are seeded
# again in each page's process (child.fresh_generators), as each cold interpreter seeds its own.
if "transformers" in sys.modules:
    try:
        # What weights_use.install imports in every page process that has transformers: PreTrainedModel's
        # module (about 1.4 s to import) and safetensors' readers. Imported here, once, not per page.
        import safetensors.torch  # noqa: F401
        import transformers.modeling_utils  # noqa: F401
    except Exception:  # noqa: BLE001  (a broken install fails the pages that use it, with their own traceback)
        pass
    try:
        # On the first from_pretrained, transformers builds its checkpoint-conversion table for every model
        # type: about 1,200 objects, each compiling a regular expression (0.1 to 0.3 s per process).
        from transformers.conversion_mapping import get_checkpoint_conversion_mapping

        get_checkpoint_conversion_mapping("bert")
    except Exception:  # noqa: BLE001  (another transformers version: the pages build it themselves)
        pass
