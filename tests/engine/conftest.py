from __future__ import annotations

import pytest

from disputebot.engine.context import Context, Policies
from disputebot.engine.spec import FlowBook
from disputebot.loading import load_flows, load_lexicons, load_profile
from disputebot.policy.abuse import ReporterFacts
from tests.support import ROOT, T0


@pytest.fixture(scope="session")
def book() -> FlowBook:
    return load_flows(ROOT / "conversations")


@pytest.fixture(scope="session")
def policies() -> Policies:
    return Policies(
        profile=load_profile(ROOT / "platform" / "aliexpress.yaml"),
        lexicons=load_lexicons(ROOT / "locales"),
    )


@pytest.fixture
def ctx(policies: Policies) -> Context:
    return Context(now=T0, policies=policies, facts=ReporterFacts())
