from __future__ import annotations

import pytest

from disputebot.cases.ids import new_case_id, normalize_case_id


def test_ids_are_unique_and_well_formed() -> None:
    ids = {new_case_id() for _ in range(2000)}
    assert len(ids) == 2000
    assert all(normalize_case_id(i) == i for i in ids)


def test_id_from_fixed_bytes() -> None:
    assert new_case_id(lambda n: b"\x00" * n) == "DR-00000000"
    assert new_case_id(lambda n: b"\xff" * n) == "DR-ZZZZZZZZ"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("dr-7k3m9q2a", "DR-7K3M9Q2A"),
        ("DR7K3M9Q2A", "DR-7K3M9Q2A"),
        (" DR-7K3M-9Q2A ", "DR-7K3M9Q2A"),
        ("dr-7k3m9q2o", "DR-7K3M9Q20"),
        ("DR-7K3M9Q2", None),
        ("DR-7K3M9Q2U", None),
        ("1234", None),
        ("'; drop table cases; --", None),
    ],
)
def test_normalize(text: str, expected: str | None) -> None:
    assert normalize_case_id(text) == expected
