"""Tests of the test helpers shipped in disputebot.testing."""
