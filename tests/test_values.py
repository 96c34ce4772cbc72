"""harness.values: printed output as tokens, with kinds, values, written precision and position."""
from __future__ import annotations

import time

import pytest
from hypothesis import given, strategies as st

from harness.values import normalize, tokenize


def kinds(text: str) -> list[tuple[str, str]]:
    return [(t.kind, t.text) for t in tokenize(text)]


@pytest.mark.parametrize("text, value, is_float, unit", [
    ("42", 42, False, 1.0), ("-7", -7, False, 1.0), ("1.6123", 1.6123, True, 1e-4), ("-3.3464", -3.3464, True, 1e-4),
    ("1e-05", 1e-05, True, 0.0), ("4.0195e-02", 0.040195, True, 1e-6), ("1.", 1.0, True, 0.0), ("0.", 0.0, True, 0.0),
    ("0.9598047137260437", 0.9598047137260437, True, 1e-16), (".5", 0.5, True, 0.1), ("2E+3", 2000.0, True, 0.0),
])
def test_numbers(text, value, is_float, unit):
    [token] = tokenize(text)
    assert token.kind == "number" and token.value == value and token.is_float == is_float
    assert token.unit == pytest.approx(unit)


def test_nan_and_inf_are_numbers_but_not_inside_words():
    tokens = tokenize("nan inf -inf info nano")
    assert [(t.kind, t.text) for t in tokens] == [
        ("number", "nan"), ("number", "inf"), ("number", "-inf"), ("name", "info"), ("name", "nano")]
    assert tokens[0].value != tokens[0].value and tokens[2].value == float("-inf") and tokens[0].unit == 0.0


def test_words_that_start_with_digits_are_names():
    assert kinds("4.57.1 12abc 768MB 0.95.") == [
        ("name", "4.57.1"), ("name", "12abc"), ("name", "768MB"), ("number", "0.95"), ("punct", ".")]


def test_strings_names_punct():
    assert kinds("""{'a b': "it's", x: torch.float32, "q\\"t": ...} -> <AddmmBackward0>""") == [
        ("punct", "{"), ("string", "'a b'"), ("punct", ":"), ("string", '"it\'s"'), ("punct", ","),
        ("name", "x"), ("punct", ":"), ("name", "torch.float32"), ("punct", ","), ("string", '"q\\"t"'),
        ("punct", ":"), ("punct", "..."), ("punct", "}"), ("punct", "->"), ("punct", "<"),
        ("name", "AddmmBackward0"), ("punct", ">")]
    assert tokenize("'a b'")[0].value == "a b"


def test_paths_of_a_batch_encoding():
    text = ("{'input_ids': tensor([[  101,  1045,   102],\n        [  101,  2023,   102]]),"
            " 'attention_mask': tensor([[1, 1, 1],\n        [1, 1, 0]])}")
    numbers = [t for t in tokenize(text) if t.kind == "number"]
    assert numbers[4].path == "input_ids[1][1]" and numbers[4].value == 2023
    assert numbers[-1].path == "attention_mask[1][2]" and numbers[-1].line == 3


def test_paths_of_model_outputs_and_pipeline_results():
    out = tokenize("SequenceClassifierOutput(loss=None, logits=tensor([[-1.5607,  1.6123]]), hidden_states=None)")
    assert [t.path for t in out if t.kind == "number"] == ["logits[0][0]", "logits[0][1]"]
    result = tokenize("[{'label': 'POSITIVE', 'score': 0.9598047137260437}, {'label': 'NEGATIVE', 'score': 0.9994}]")
    assert [t.path for t in result if t.kind == "number"] == ["[0]['score']", "[1]['score']"]
    assert [t.path for t in result if t.text == "'NEGATIVE'"] == ["[1]['label']"]


def test_paths_of_top_level_assignments_last_one_line():
    tokens = tokenize("shape = torch.Size([2, 16, 768])\n768")
    assert [t.path for t in tokens if t.kind == "number"] == ["shape[0]", "shape[1]", "shape[2]", ""]
    assert tokens[-1].line == 2


def test_unbalanced_brackets_do_not_break_tokenizing():
    assert [t.path for t in tokenize("a) ] [1, (2 x") if t.kind == "number"] == ["[0]", "[1][0]"]


def test_normalize_addresses_and_temporary_paths():
    text = ("<torch.utils.data.DataLoader object at 0x7f3a2b1c0d90> saved to /tmp/pytest-of-me/pytest-3/test_a0/"
            "config.json and '/var/folders/xy/T/tmpab12/model.safetensors'")
    assert normalize(text) == ("<torch.utils.data.DataLoader object at 0xADDRESS> saved to <tmp>/config.json and "
                               "'<tmp>/model.safetensors'")
    # Only the folders are free: two different files under /tmp are two different outputs.
    assert normalize("/tmp/build-42/model.bin") != normalize("/tmp/cache/config.json")
    assert normalize("/tmp/tmpk3j_x9qa") == normalize("/tmp/tmp0abc_d1e") == "<tmp>"  # tempfile.mkdtemp() names
    assert normalize("0x1f and 0x10") == "0x1f and 0x10"  # short hex literals are values, not addresses
    assert normalize("/tmpfile /data/tmp/x /tmp") == "/tmpfile /data/tmp/x <tmp>"


@given(st.lists(st.sampled_from(["tensor", "(", "[", "1.5", "-2", "'a'", ",", "]", ")", "x.y", "=", "1e-05"]),
                max_size=30),
       st.lists(st.sampled_from([" ", "\n", "  \n        ", "\t"]), min_size=31, max_size=31))
def test_whitespace_is_not_significant(words, gaps):
    single = " ".join(words)
    wrapped = "".join(gap + word for gap, word in zip(gaps, words))
    assert kinds(single) == kinds(wrapped)


def test_tokenizing_megabytes_is_linear():
    chunk = "tensor([[-1.5607,  1.6123],\n        [ 4.1692, -3.3464]], grad_fn=<AddmmBackward0>)\n"
    small, large = chunk * 2_000, chunk * 20_000
    start = time.perf_counter()
    assert len(tokenize(small)) == 2_000 * 22
    small_time = time.perf_counter() - start
    start = time.perf_counter()
    assert len(tokenize(large)) == 20_000 * 22
    assert time.perf_counter() - start < 30 * small_time + 0.5  # ten times the text, not a hundred times the time


def test_no_catastrophic_regex_on_odd_input():
    text = "'" + "\\" * 100_000 + "1" * 100_000 + "." * 100_000
    start = time.perf_counter()
    tokenize(text)
    assert time.perf_counter() - start < 5
