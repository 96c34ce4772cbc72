"""The checkpoint side of the harness: which checkpoints pages load, pinned, cached, fetched or stood in for.

- lock.py: checkpoints.lock, each checkpoint pinned to a full commit, with its files and aliases.
- inventory.py: the checkpoints a page's code loads, read from its source (no code runs).
- resolver.py: per page, real weights from the local cache or a stand-in, and the environment its process gets.
- hubcache.py: the local Hugging Face cache, inspected and linked into a per-run view (never the network).
- fetch.py: `python -m harness fetch`, the one command that downloads, pinned by the lock.
- standin.py and standins/: stand-in checkpoints (random weights) built from a checkpoint's facts.
- weights_use.py: in the page's process, which weights each load got and whether a stand-in's were read.
"""
