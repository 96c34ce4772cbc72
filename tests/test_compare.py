"""harness.compare: what counts as the same output, and what a failure report says."""
from __future__ import annotations

import math

import pytest
from hypothesis import given, strategies as st

from harness.compare import Tolerance, compare, tolerance_of

LOGITS = "tensor([[-1.5607,  1.6123],\n        [ 4.1692, -3.3464]], grad_fn=<AddmmBackward0>)"
LABELS = frozenset({"NEGATIVE", "POSITIVE"})


def test_wrapping_does_not_matter():
    assert compare(LOGITS, LOGITS.replace("\n        ", " ")).ok


def test_grad_fn_name_must_match():
    result = compare(LOGITS, LOGITS.replace("AddmmBackward0", "AddmmBackward"))
    assert not result.ok and result.mismatches[0].kind == "structure"
    assert "first difference at grad_fn: expected `AddmmBackward0`, got `AddmmBackward`" in result.message
    assert "-        [ 4.1692, -3.3464]], grad_fn=<AddmmBackward0>)" in result.message  # the unified diff
    assert "+        [ 4.1692, -3.3464]], grad_fn=<AddmmBackward>)" in result.message


def test_number_out_of_tolerance_is_reported_with_its_place():
    result = compare("logits = " + LOGITS, "logits = " + LOGITS.replace("1.6123", "1.7001"))
    assert not result.ok and not result.within_tolerance
    assert "at logits[0][1]: expected 1.6123, actual 1.7001, difference 8.78e-02 > tolerance 1.0e-04" \
        in result.message
    [mismatch] = result.mismatches
    assert (mismatch.kind, mismatch.path) == ("number", "logits[0][1]")


def test_one_unit_in_the_last_digit_is_within_tolerance():
    assert compare("1.6123", "1.6124").ok
    assert not compare("1.6123", "1.6125").ok


@pytest.mark.parametrize("actual, ok", [("4.01951e-02", True), ("4.0196e-02", True), ("4.0210e-02", False)])
def test_scientific_notation(actual, ok):
    assert compare("4.0195e-02", actual).ok is ok


def test_full_precision_floats_get_relative_tolerance():
    expected = "0.9598047137260437"
    assert compare(expected, repr(0.9598047137260437 * (1 + 1e-7))).ok
    assert not compare(expected, repr(0.9598047137260437 * (1 + 1e-4))).ok


def test_integers_are_exact():
    assert not compare("torch.Size([2, 16, 768])", "torch.Size([2, 16, 384])").ok
    assert not compare("1", "1.").ok  # an int printed as a float is a different output
    assert compare("tensor([101, 2023])", "tensor([ 101, 2023])").ok


def test_missing_key_in_a_batch_encoding():
    with_types = "{'input_ids': tensor([[101, 102]]), 'token_type_ids': tensor([[0, 0]]), 'attention_mask': tensor([[1, 1]])}"
    without = "{'input_ids': tensor([[101, 102]]), 'attention_mask': tensor([[1, 1]])}"
    result = compare(with_types, without)
    assert not result.ok and "expected `'token_type_ids'`, got `'attention_mask'`" in result.message
    assert not compare(without, with_types).ok


def test_nan_and_inf():
    assert compare("tensor([nan, inf, -inf])", "tensor([nan, inf, -inf])").ok
    assert not compare("nan", "1.0").ok and not compare("inf", "-inf").ok and not compare("1.5", "inf").ok


def test_explicit_tolerance_replaces_the_default():
    assert compare("1.5", "1.6", Tolerance(abs=0.2)).ok
    assert not compare("1.5", "1.6", Tolerance(abs=0.01)).ok
    assert compare("100.0", "100.9", Tolerance(rel=0.01)).ok
    assert not compare("1.6123", "1.6124", Tolerance(abs=1e-6)).ok  # stricter than the digits written
    assert tolerance_of(type("B", (), {"tolerance": {"rel": 0.1}})()) == Tolerance(None, 0.1)


def test_structural_mode_ignores_floats_and_swaps_labels():
    expected = "[{'label': 'POSITIVE', 'score': 0.9598047137260437}]"
    assert compare(expected, "[{'label': 'NEGATIVE', 'score': 0.51}]", structural_labels=LABELS).ok
    assert not compare(expected, "[{'label': 'NEGATIVE', 'score': 0.51}]").ok
    assert not compare(expected, "[{'label': 'NEUTRAL', 'score': 0.51}]", structural_labels=LABELS).ok
    assert not compare(expected, "[{'label': 'POSITIVE', 'score': 1}]", structural_labels=LABELS).ok
    assert not compare("torch.Size([2, 2])", "torch.Size([2, 3])", structural_labels=LABELS).ok
    assert compare("{0: 'NEGATIVE', 1: 'POSITIVE'}", "{0: 'POSITIVE', 1: 'NEGATIVE'}", structural_labels=LABELS).ok


def test_memory_addresses_do_not_matter():
    assert compare("<generator object f at 0x7f3a2b1c0d90>", "<generator object f at 0x55d0c0ffee00>").ok


def test_length_differences():
    result = compare("1 2 3", "1 2")
    assert "first difference at line 1: expected `3`, the actual output ends" in result.message
    result = compare("1 2", "1 2 3")
    assert "got unexpected `3`" in result.message


def test_megabytes_of_actual_output_give_a_bounded_report():
    # Speed is the benchmarks' to measure (a wall-clock bound here fails on a loaded machine, not on slow code).
    actual = "\n".join(f"line {i}: " + "x " * 50 for i in range(50_000))  # about 5 MB
    result = compare("hello 1.0\n", actual)
    assert not result.ok and len(result.message) <= 10_500 and len(result.message.splitlines()) <= 101
    assert "more lines" in result.message


def test_report_of_many_number_mismatches_is_bounded():
    expected = " ".join(f"{i}.0" for i in range(5000))
    actual = " ".join(f"{i}.5" for i in range(5000))
    result = compare(expected, actual)
    assert not result.ok and "5000 numbers outside tolerance" in result.message
    assert "… (4980 more)" in result.message and len(result.message.splitlines()) <= 101


# At least one decimal: a float printed without a point reads as an integer, which is compared exactly.
@given(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), st.integers(min_value=1, max_value=8),
       st.floats(min_value=-0.499, max_value=0.499))
def test_rounding_noise_below_half_a_unit_is_accepted(value, decimals, noise):
    unit = 10.0 ** -decimals
    written = f"{value:.{decimals}f}"
    assert compare(written, f"{value + noise * unit:.{decimals}f}").ok


@given(st.floats(min_value=1e-30, max_value=1e30), st.integers(min_value=1, max_value=8))
def test_scientific_rounding_noise_is_accepted(value, digits):
    written = f"{value:.{digits}e}"
    mantissa_unit = 10.0 ** (math.floor(math.log10(abs(float(written)))) - digits)
    assert compare(written, f"{value + 0.49 * mantissa_unit:.{digits}e}").ok
    # Beyond the default tolerance by more than the rounding of the printed value: a failure.
    allowed = max(mantissa_unit, 1e-5 * abs(float(written)))
    assert not compare(written, f"{value + 20 * allowed:.{digits}e}").ok  # 20: the rounding unit may grow 10x


def test_a_float_written_without_decimals_gets_no_whole_unit():
    # torch prints whole-number tensors as `1.`: the digits say nothing about rounding.
    assert not compare("tensor([0., 1.])", "tensor([1., 0.])").ok
    assert not compare("[0.]", "[1.]").ok and not compare("2.", "3.").ok
    assert compare("1e-05", "1e-05").ok and not compare("1e-05", "2e-05").ok
    assert compare("100.", repr(100.0 * (1 + 1e-7))).ok  # the relative tolerance any float gets
    assert compare("{'third': 0.33}", f"{{'third': {1 / 3}}}").ok  # one unit of 0.33 still covers 1/3


def test_sets_compare_whatever_order_they_print_in():
    assert compare("{'[SEP]', '[CLS]', '[PAD]'}", "{'[CLS]', '[PAD]', '[SEP]'}").ok
    assert compare("frozenset({3, 1, 2})", "frozenset({1, 2, 3})").ok
    nested = "{'ids': {2, 1}, 'pairs': {(1, 'b'), (0, 'a')}}"
    assert compare(nested, "{'ids': {1, 2}, 'pairs': {(0, 'a'), (1, 'b')}}").ok
    missing = compare("{'[CLS]', '[SEP]', '[MASK]'}", "{'[CLS]', '[SEP]', '[PAD]'}")
    assert not missing.ok and "'[MASK]'" in missing.message
    assert not compare("{'a': 1, 'b': 2}", "{'b': 2, 'a': 1}").ok  # a dict's order is what it says
    assert not compare("{1, 2}", "{1, 2, 3}").ok


def test_outside_brackets_lines_and_spaces_count():
    wrapped = compare("loss went down\nto 0.5", "loss went down to 0.5")
    assert not wrapped.ok and wrapped.mismatches[0].kind == "spacing"
    assert "first difference at line 2: expected '\\n' before `to`, got ' '" in wrapped.message
    assert not compare("step  1", "step 1").ok
    assert not compare("    indented", "indented").ok
    assert not compare("tensor(1.5000)\ntensor(2.5000)", "tensor(1.5000) tensor(2.5000)").ok
    assert compare("two spaces after  \nthen more\n\n\n", "two spaces after\nthen more").ok  # trailing is free
    assert compare("{\n  \"hidden_size\": 768\n}", '{"hidden_size": 768}').ok  # inside braces wrapping is free
    assert not compare("a (note\nthat", "a (note that").ok  # a bracket that never closes is prose


def test_colour_codes_compare_as_a_terminal_shows_them():
    assert compare("PASSED 3 tests", "\x1b[32mPASSED\x1b[0m 3 tests").ok
    assert not compare("FAILED 3 tests", "\x1b[31mPASSED\x1b[0m 3 tests").ok
