from __future__ import annotations

import pytest

from disputebot.engine.context import Context, Policies
from disputebot.policy.abuse import ReporterFacts
from tests.support import T0


@pytest.fixture
def ctx(policies: Policies) -> Context:
    return Context(now=T0, policies=policies, facts=ReporterFacts())
