"""Sessions round-trip through JSON, nested ones included, and old stored sessions still load."""

from __future__ import annotations

import json

from disputebot.engine.state import Session

OLD = (
    '{"flow":"report","version":1,"step":"account","answers":{"category":"other"},'
    '"history":["category"],"editing":false,"pending":null,"scratch":{},"nonce":4}'
)


def test_a_session_stored_before_context_and_outer_loads() -> None:
    session = Session.from_json(OLD)
    assert session == Session(
        flow="report",
        version=1,
        step="account",
        answers={"category": "other"},
        history=("category",),
        nonce=4,
    )
    assert session.context == {}
    assert session.outer is None


def test_context_and_outer_round_trip_as_nested_json() -> None:
    report = Session.from_json(OLD)
    decide = Session(
        flow="decide",
        version=1,
        step="note",
        answers={"measures": ["restrict", "warning"]},
        scratch={"selection": {"step": "measures", "values": ["remove"]}},
        nonce=9,
        context={"case_id": "DR-7K3M9Q2A", "seen_status": "in_review"},
        outer=report,
    )
    inner = Session(flow="tags", version=1, step="tags", nonce=12, outer=decide)
    data = inner.to_json()
    obj = json.loads(data)
    assert obj["outer"]["context"] == {"case_id": "DR-7K3M9Q2A", "seen_status": "in_review"}
    assert obj["outer"]["outer"]["step"] == "account"
    assert obj["outer"]["outer"]["outer"] is None
    assert Session.from_json(data) == inner


def test_context_values_are_read_as_strings() -> None:
    obj = json.loads(OLD)
    obj["context"] = {"case_id": "DR-7K3M9Q2A", "round": 2}
    assert Session.from_json(json.dumps(obj)).context == {"case_id": "DR-7K3M9Q2A", "round": "2"}
    obj["context"] = None
    obj["outer"] = None
    assert Session.from_json(json.dumps(obj)) == Session.from_json(OLD)
