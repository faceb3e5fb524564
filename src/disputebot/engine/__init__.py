"""Pure conversation-state machine that interprets conversations/*.yaml."""
