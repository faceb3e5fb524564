from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from disputebot.engine import buttons


@pytest.mark.parametrize(
    ("nonce", "verb", "value"),
    [
        (0, "o", "fake_logistics"),
        (123456789, "s", ""),
        (7, "e", "description"),
        (1, "cy", ""),
        (3, "t", "restrict_functions"),
        (4, "sk", ""),
        (999999999, "t", "x" * 32),
    ],
)
def test_round_trip_and_size(nonce: int, verb: str, value: str) -> None:
    data = buttons.encode(nonce, verb, value)
    assert len(data.encode()) <= 64
    assert buttons.decode(data) == buttons.Press(nonce, verb, value)


@given(st.text(max_size=80))
def test_anything_decodes_or_is_refused(data: str) -> None:
    press = buttons.decode(data)
    if press is not None:
        assert press.verb in buttons.VERBS
        assert buttons.encode(press.nonce, press.verb, press.value) == data
