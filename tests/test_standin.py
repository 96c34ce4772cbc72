"""The stand-in checkpoint: built for real, loaded by transformers offline, the course's token ids exactly."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.checkpoints import hubcache, standin
from harness.checkpoints.lock import Lock
from harness.checkpoints.resolver import Resolver

REPO = Path(__file__).resolve().parent.parent
CANONICAL = "distilbert/distilbert-base-uncased-finetuned-sst-2-english"
COURSE_IDS = [
    [101, 1045, 1005, 2310, 2042, 3403, 2005, 1037, 17662, 12172, 2607, 2026, 2878, 2166, 1012, 102],
    [101, 1045, 5223, 2023, 2061, 2172, 999, 102, 0, 0, 0, 0, 0, 0, 0, 0],
]
COURSE_MASK = [[1] * 16, [1] * 8 + [0] * 8]

# The page's code as a learner writes it: legacy name, pipeline default, the three Auto classes.
PAGE = [
    'from transformers import pipeline\nclassifier = pipeline("sentiment-analysis")\n'
    'print(json.dumps(classifier(sentences)))',
    'checkpoint = "distilbert-base-uncased-finetuned-sst-2-english"\n'
    "tokenizer = AutoTokenizer.from_pretrained(checkpoint)\n"
    'inputs = tokenizer(sentences, padding=True, truncation=True, return_tensors="pt")',
    "model = AutoModelForSequenceClassification.from_pretrained(checkpoint)\noutputs = model(**inputs)",
]
REPORT = ("print(json.dumps({'ids': inputs['input_ids'].tolist(), 'mask': inputs['attention_mask'].tolist(), "
          "'logits': list(outputs.logits.shape), 'id2label': model.config.id2label, 'layers': model.config.n_layers, "
          "'dim': model.config.dim, 'base': list(AutoModel.from_pretrained(checkpoint)(**inputs).last_hidden_state.shape)}))")


@pytest.fixture(scope="module")
def plan(tmp_path_factory):
    """The real repo's page plan with an empty Hub cache: the stand-in is built (or reused) for real."""
    tmp = tmp_path_factory.mktemp("standin")
    resolver = Resolver(REPO, work_dir=tmp / "work", hub_cache=tmp / "empty-user-cache")
    return resolver.plan(PAGE + [REPORT]), tmp


def test_stand_in_is_planned_for_every_block_with_its_labels(plan):
    plan, _ = plan
    assert plan.error is None
    entry = Lock.load(REPO).checkpoints[CANONICAL]
    for block in plan.uses:
        assert [(u.name, u.revision, u.weights) for u in block] == [(CANONICAL, entry.revision, "stand-in")]
    assert all(plan.structural(i) for i in range(len(PAGE))) and plan.labels == {"NEGATIVE", "POSITIVE"}
    assert "stand-in" in plan.reason and "python -m harness fetch" in plan.reason


def test_transformers_loads_the_stand_in_offline_with_the_course_token_ids(plan):
    plan, tmp = plan
    code = "import json\nfrom transformers import AutoTokenizer, AutoModel, AutoModelForSequenceClassification\n" \
        "sentences = [\"I've been waiting for a HuggingFace course my whole life.\", 'I hate this so much!']\n" \
        + "\n".join(PAGE + [REPORT])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "TRANSFORMERS_"))}
    env.update(plan.env, HF_HOME=str(tmp / "home"), HF_ENDPOINT="http://127.0.0.1:9")  # no Hub, ever
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    pipeline_out, facts = (json.loads(line) for line in proc.stdout.strip().splitlines()[-2:])
    assert [r["label"] in {"NEGATIVE", "POSITIVE"} for r in pipeline_out] == [True, True]
    assert facts["ids"] == COURSE_IDS and facts["mask"] == COURSE_MASK
    assert facts["logits"] == [2, 2] and facts["base"] == [2, 16, 768]
    assert facts["id2label"] == {"0": "NEGATIVE", "1": "POSITIVE"} and (facts["layers"], facts["dim"]) == (6, 768)
    assert not (tmp / "empty-user-cache").exists()  # the user's cache was never touched


def test_stand_in_files_are_complete_and_config_is_the_facts_verbatim():
    facts_path = Lock.load(REPO).checkpoints[CANONICAL].standin
    built = standin.ensure(facts_path)
    assert hubcache.snapshot_problems(built, standin.FILES) == []
    facts = standin.load_facts(facts_path)
    assert json.loads((built / "config.json").read_text()) == facts["config"]
    assert json.loads((built / "tokenizer_config.json").read_text()) == {"do_lower_case": True, "model_max_length": 512}
    assert (built / "vocab.txt").read_bytes() == standin.vocab_path(facts).read_bytes()


@pytest.mark.slow
def test_stand_in_weights_repeat_from_the_seed(tmp_path):
    facts_path = Lock.load(REPO).checkpoints[CANONICAL].standin
    fresh = tmp_path / "fresh"
    proc = subprocess.run([sys.executable, "-m", "harness.checkpoints.standin", "build", str(facts_path), str(fresh)],
                          cwd=REPO, capture_output=True, text=True, timeout=300, env=dict(os.environ, HF_HUB_OFFLINE="1"))
    assert proc.returncode == 0, proc.stderr
    kept = standin.ensure(facts_path) / "model.safetensors"
    assert _digest(fresh / "model.safetensors") == _digest(kept)


def test_facts_file_without_a_config_is_refused_by_name(tmp_path):
    bad = tmp_path / "facts.json"
    bad.write_text(json.dumps({"checkpoint": "x/y", "vocab": {}}))
    with pytest.raises(standin.StandInError, match=r"facts\.json: stand-in facts lack config, tokenizer_config"):
        standin.load_facts(bad)


def _digest(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
