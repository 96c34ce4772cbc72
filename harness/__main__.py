"""Command line: `python -m harness notebooks|fetch|new-page|merge-reports ...`."""
import importlib
import sys

COMMANDS = {
    "notebooks": ("harness.notebooks", "generate the notebooks from the pages (--check: fail on drift)"),
    "fetch": ("harness.checkpoints.fetch", "download every checkpoint the pages use, pinned by checkpoints.lock"),
    "new-page": ("harness.new_page", "add a page: page, snippet file, notebook and nav entries (NAME \"Title\")"),
    "merge-reports": ("harness.merge", "merge split runs' --verification-report files into one (-o PATH)"),
}


def main(argv: list[str] | None = None) -> int:
    """Dispatch to the sub-command's own `main(argv)`."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in COMMANDS:
        print("usage: python -m harness {%s} [options]" % "|".join(COMMANDS), file=sys.stderr)
        for name, (_, help_text) in COMMANDS.items():
            print(f"  {name:{max(map(len, COMMANDS))}} {help_text}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[argv[0]][0])
    return module.main(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
