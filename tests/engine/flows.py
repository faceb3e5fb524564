"""Small flows written inline, for what the shipped report flow does not exercise."""

from __future__ import annotations

from disputebot.engine.spec import Flow, FlowBook, parse_flow
from tests.support import ROOT

REPORT = (ROOT / "conversations" / "report.yaml").read_text(encoding="utf-8")

# A staff decision: measures (1..2 of 3), an optional note, and a confirm that finishes.
DECIDE = """\
flow: decide
version: 1
title: t.decide.title
steps:
  - id: measures
    kind: multichoice
    prompt: t.measures.prompt
    summary_label: t.measures.label
    min_selected: 1
    max_selected: 2
    done_label: t.measures.done
    options:
      - value: restrict
        label: t.measure.restrict
      - value: remove
        label: t.measure.remove
      - value: warning
        label: t.measure.warning

  - id: note
    kind: text
    prompt: t.note.prompt
    summary_label: t.note.label
    min_length: 0
    max_length: 200
    skip_label: t.note.skip

  - id: confirm
    kind: confirm
    action: finish
    prompt: t.decide.confirm
    submit_label: t.submit
    edit_label: t.edit
    cancel_label: t.cancel
"""

# Any number of tags, none required; then a confirm that finishes.
TAGS = """\
flow: tags
version: 1
title: t.tags.title
steps:
  - id: tags
    kind: multichoice
    prompt: t.tags.prompt
    min_selected: 0
    done_label: t.tags.done
    options:
      - value: urgent
        label: t.tag.urgent
      - value: repeat
        label: t.tag.repeat

  - id: confirm
    kind: confirm
    action: finish
    prompt: t.tags.confirm
    submit_label: t.submit
    edit_label: t.edit
    cancel_label: t.cancel
"""

# A choice whose option value is also one of the report's categories, a linted optional
# text, and an account step in a flow that does not file a case.
REVIEW = """\
flow: review
version: 1
title: t.review.title
steps:
  - id: verdict
    kind: choice
    prompt: t.verdict.prompt
    options:
      - value: other
        label: t.verdict.other
      - value: fine
        label: t.verdict.fine

  - id: comment
    kind: text
    prompt: t.comment.prompt
    min_length: 0
    max_length: 3000
    checks: [objectivity]
    keep_label: t.comment.keep
    skip_label: t.comment.skip

  - id: account
    kind: account
    prompt: t.account.prompt

  - id: confirm
    kind: confirm
    action: finish
    prompt: t.review.confirm
    submit_label: t.submit
    edit_label: t.edit
    cancel_label: t.cancel
"""


def flow(text: str) -> Flow:
    return parse_flow(text, "inline.yaml")


def small_book(*texts: str) -> FlowBook:
    """The shipped report flow and the given inline flows (all of them by default)."""
    return FlowBook.of(flow(REPORT), *(flow(t) for t in (texts or (DECIDE, TAGS, REVIEW))))
