"""Property: an --update-outputs rewrite never changes a byte outside the Output blocks it rewrites."""
from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.page import parse_page
from harness.rewrite import request, rewrite_text
from harness.snippets import Site

SITE = Site.load(Path(__file__).resolve().parent / "no-such-dir")  # defaults: no mkdocs.yml needed

# Prose and output lines: any text (emoji, accents, tabs, edge whitespace) the parser would not act on.
TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp"), blacklist_characters="\x85"), max_size=25)
LINE = st.one_of(
    st.builds(str.__add__, st.sampled_from(["", " ", "  ", "\t", "    "]), TEXT),
    st.builds(str.__add__, TEXT, st.sampled_from(["", " ", "\t"])),
    st.sampled_from(["tensor([[ 0.1000, -0.2000]], grad_fn=<AddmmBackward0>)", "{'input_ids': [101, 2023, 102]}",
                     "", "🤗 POSITIVE 0.9998", "    indented output"]),
)


def plain(line: str) -> bool:
    stripped = line.strip()
    return not (stripped.startswith(("```", "~~~", "<!--")) or "--8<--" in line or stripped == "---")


PROSE = st.lists(LINE.filter(plain), max_size=4)
OUTPUT = st.lists(LINE.filter(plain), max_size=5)


def shown(text: str) -> str:
    """Text as a page shows it: tabs expanded (Markdown's tab_length 4), blank lines empty, no trailing ones."""
    return "\n".join(line.expandtabs(4) if line.strip() else "" for line in text.split("\n")).rstrip("\n")


@st.composite
def pages(draw):
    """A page: prose, then Python blocks with Output blocks, some in admonitions or tabs, LF or CRLF."""
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    lines = ["# Title 🤗", ""] + draw(PROSE)
    outputs = []
    for _ in range(draw(st.integers(1, 4))):
        container = draw(st.sampled_from(["", '!!! note "Note ✨"', '=== "Tab"']))
        indent = "    " if container else ""
        lines += ["", container, ""] if container else [""]
        lines += [indent + "```python", indent + "print(1)", indent + "```", ""]
        content = draw(OUTPUT)
        lines += [indent + '```text title="Output"'] + [indent + c if c else "" for c in content] + [indent + "```"]
        lines += [""] + draw(PROSE)
        outputs.append(content)
    return newline.join(lines) + newline, outputs


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pages(), st.data())
def test_rewrite_changes_nothing_outside_the_rewritten_outputs(page_and_outputs, data):
    text, _ = page_and_outputs
    page = parse_page(Path("docs/page.md"), SITE, text=text)
    chosen = data.draw(st.sets(st.sampled_from(range(len(page.blocks)))), label="rewritten blocks")
    new = {i: "\n".join(data.draw(OUTPUT, label=f"new output {i}")) + "\n" for i in sorted(chosen)}
    rewrites = [request(page.path, page.name, page.lines, page.blocks[i].output, new[i]) for i in new]

    result = rewrite_text(text, rewrites)

    again = parse_page(Path("docs/page.md"), SITE, text=result)
    assert len(again.blocks) == len(page.blocks)
    old_lines, new_lines = page.lines_with_ends(), again.lines_with_ends()

    def outside(lines, parsed):
        kept, start = [], 0
        for i in sorted(new):
            output = parsed.blocks[i].output
            kept.append(lines[start:output.content_start])
            start = output.content_end
        return kept + [lines[start:]]

    assert outside(old_lines, page) == outside(new_lines, again)  # byte-exact, line endings included
    for i, block in enumerate(again.blocks):
        expected = new[i] if i in new else page.blocks[i].output.text
        assert shown(block.output.text) == shown(expected)
        assert block.output.indent == page.blocks[i].output.indent
    newline = "\r\n" if text.endswith("\r\n") else "\n"
    assert all(line.endswith(newline) for line in new_lines)
    assert rewrite_text(result, []) == result
