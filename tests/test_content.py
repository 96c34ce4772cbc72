"""What a learner relies on: canonical checkpoint names, links to the course, exercises and quizzes."""
from __future__ import annotations

import re

import pytest

from harness.checkpoints.inventory import inventory
from harness.checkpoints.lock import Lock
from harness.page import parse_page
from harness.snippets import read_config
from tests.conftest import REPO
from tests.test_site import DOCS, SITE, nav_files, pages_with_code

LOCK = Lock.load(REPO)
COURSE = "https://huggingface.co/learn/llm-course/"
# Each chapter of these notes follows one chapter of the course; the offline lab redoes chapter 2.
CHAPTERS = {"transformer-models": "chapter1/", "using-transformers": "chapter2/", "offline-lab.md": "chapter2/"}
CONTENT_PAGES = sorted(p for p in DOCS.rglob("*.md") if p.relative_to(DOCS).parts[0] in CHAPTERS)
QUIZZES = ["transformer-models/quiz.md", "using-transformers/quiz.md"]


def legacy_loads(page) -> list[str]:
    """`page.md:LINE name` for every checkpoint the page's code loads under a legacy (aliased) name."""
    found = inventory([block.code for block in page.blocks], default=lambda task: None)
    return [f"{block.id} {load.name}" for block, loads in zip(page.blocks, found) for load in loads
            if load.name in LOCK.aliases]


def test_legacy_name_detector_sees_a_short_name():
    # The check below must be able to fail: the course's own spelling is a legacy alias in checkpoints.lock.
    page = parse_page(DOCS / "using-transformers" / "tokenizer.md", SITE,
                      text='```python\nfrom transformers import AutoTokenizer\n'
                           'AutoTokenizer.from_pretrained("distilbert-base-uncased-finetuned-sst-2-english")\n```\n')
    assert legacy_loads(page) == ["docs/using-transformers/tokenizer.md:1 distilbert-base-uncased-finetuned-sst-2-english"]


@pytest.mark.parametrize("page", pages_with_code(), ids=lambda p: p.relative_to(REPO).as_posix())
def test_code_loads_checkpoints_by_their_canonical_name(page):
    assert legacy_loads(parse_page(page, SITE)) == []


def test_text_names_the_checkpoint_canonically():
    # One page names the short legacy name on purpose, to say why the notes do not use it.
    bare = re.compile("(?<!/)" + re.escape(next(iter(LOCK.aliases))))
    mentions = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md") if bare.search(p.read_text(encoding="utf-8"))}
    assert mentions == {"using-transformers/model.md"}


@pytest.mark.parametrize("page", CONTENT_PAGES, ids=lambda p: p.relative_to(DOCS).as_posix())
def test_content_page_links_its_course_chapter(page):
    chapter = CHAPTERS[page.relative_to(DOCS).parts[0]]
    assert f"]({COURSE}{chapter}" in page.read_text(encoding="utf-8")


@pytest.mark.parametrize("page", pages_with_code(), ids=lambda p: p.relative_to(REPO).as_posix())
def test_page_with_code_ends_with_a_verified_try_it(page):
    parsed = parse_page(page, SITE)
    last = parsed.python_blocks[-1]
    # The exercise is a `question` admonition titled "Try it: ...", its solution collapsed inside it.
    assert len(last.admonitions) == 2 and last.admonitions[0].startswith("Try it: "), last.admonitions
    assert last.admonitions[1] == "Solution"
    text = parsed.text
    assert f'!!! question "{last.admonitions[0]}"' in text and '    ??? success "Solution"' in text
    # Its answer is what the code prints: an Output block the harness compares, never prose alone.
    assert last.output is not None and last.output.text.strip() and last.skip_reason is None


@pytest.mark.parametrize("quiz", QUIZZES)
def test_quiz_is_in_the_nav_with_four_to_six_answered_questions(quiz):
    assert quiz in nav_files(read_config(REPO / "mkdocs.yml")["nav"])
    text = (DOCS / quiz).read_text(encoding="utf-8")
    questions = re.findall(r"^## \d+\. ", text, re.MULTILINE)
    # Collapsed, and the title does not give the answer away: the right option comes first inside.
    answers = re.findall(r'^\?\?\? success "Answer"\n\n    \*\*(\d)\.\*\* \S', text, re.MULTILINE)
    assert 4 <= len(questions) <= 6
    assert len(answers) == len(questions), "each question needs one collapsible, explained answer"
    assert COURSE in text
