"""Model text decoded as JSON: deep nesting is a decode error, never a RecursionError."""

import json

import pytest

from r1_core.jsonsafe import check_bounds, loads_bounded, nesting_depth


def test_depth_counts_every_bracket():
    assert nesting_depth('{"a": [1, [2, 3]]}') == 3
    assert nesting_depth('"[[[[["') == 5  # conservative: quotes never hide brackets
    assert nesting_depth("[(1, 2), (3, 4)]") == 2
    assert nesting_depth("") == 0


def test_normal_documents_decode():
    assert loads_bounded('{"bbox": [0.1, 0.2, 0.3, 0.4]}') == {"bbox": [0.1, 0.2, 0.3, 0.4]}


@pytest.mark.parametrize("opening", ["[", "{\"a\": "])
def test_deep_nesting_is_a_decode_error(opening):
    closing = "]" if opening == "[" else "}"
    text = opening * 5000 + "1" + closing * 5000
    with pytest.raises(json.JSONDecodeError, match="nesting depth 5000"):
        loads_bounded(text)


def test_over_long_text_is_a_decode_error():
    with pytest.raises(json.JSONDecodeError, match="characters"):
        check_bounds("1" * 11, max_chars=10)
