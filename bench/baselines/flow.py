"""What both baselines share: the texts, keyboards and checks of the report flow.

Keyboards are laid out like the product's (categories one per row; "Done" first beside
"Clear" once a file is in; "Submit" first on the summary), so the workload's presses by
position mean the same thing to every contender.
"""

from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass, field

CATEGORIES = (
    ("fake_logistics", "Fake or false logistics information"),
    ("concealed_info", "Concealed product information"),
    ("created_dispute", "Intentionally created dispute"),
    ("other", "Other"),
)
CATEGORY_LABELS = dict(CATEGORIES)
MAX_FILES = 10
MIN_DESCRIPTION = 30
MAX_DESCRIPTION = 3000

INTRO = (
    "<b>Report a malicious dispute</b>\n\nA malicious dispute is one a seller creates on "
    "purpose, or backs with concealed product information or fake logistics data. A good "
    "report names the store, states the facts (order number, dates, what happened) and "
    "comes with evidence.\n\nWhat kind of malicious dispute is it?"
)
ASK_ACCOUNT = (
    "Which seller are you reporting? Send the store link (aliexpress.com/store/…) or the store id."
)
BAD_ACCOUNT = "That does not look like a store link or a store id. Please send the store link."
ASK_DESCRIPTION = (
    "Please describe what happened: the order number, the dates, and what the seller did. "
    "Stick to the facts."
)
SHORT_DESCRIPTION = "Please give a few more details (at least 30 characters)."
ASK_EVIDENCE = (
    "Now send your evidence: screenshots or photos (up to 10). Press Done or send /done "
    "when you have sent everything."
)
NEED_FILE = "Please send at least one photo first."
ATTESTATION = (
    "By submitting, you confirm that this report is truthful and complete to the best of "
    "your knowledge."
)

_STORE = re.compile(r"aliexpress\.[a-z.]+/store/(?:[\w-]+/)?(\d{5,12})", re.IGNORECASE)
_BARE_ID = re.compile(r"^\s*(\d{5,12})\s*$")

Keyboard = list[list[tuple[str, str]]]  # rows of (label, callback data)

CATEGORY_KEYBOARD: Keyboard = [[(label, f"cat:{value}")] for value, label in CATEGORIES]
EVIDENCE_KEYBOARD: Keyboard = [[("✅ Done", "ev:done"), ("🗑 Clear", "ev:clear")]]
CONFIRM_KEYBOARD: Keyboard = [
    [("📨 Submit", "cf:submit")],
    [("✏️ Category", "cf:edit:category"), ("✏️ Account", "cf:edit:account")],
    [("✏️ Description", "cf:edit:description"), ("✏️ Evidence", "cf:edit:evidence")],
    [("✖️ Cancel", "cf:cancel")],
]


def parse_store(text: str) -> str | None:
    """The store id in a store link or a bare id."""
    match = _STORE.search(text) or _BARE_ID.match(text)
    return match.group(1) if match else None


@dataclass
class Draft:
    """The answers so far; ``to_json``/``from_json`` for the SQL variant."""

    category: str = ""
    store: str = ""
    description: str = ""
    files: list[tuple[str, str]] = field(default_factory=list)  # (file_id, sha256)

    def to_json(self) -> dict[str, object]:
        return {
            "category": self.category,
            "store": self.store,
            "description": self.description,
            "files": [list(f) for f in self.files],
        }

    def add_file(self, file_id: str, data: bytes) -> bool:
        digest = hashlib.sha256(data).hexdigest()
        if any(d == digest for _, d in self.files) or len(self.files) >= MAX_FILES:
            return False
        self.files.append((file_id, digest))
        return True


def added(draft: Draft) -> str:
    return f"{len(draft.files)} file(s) added so far. Send more, or press Done."


def summary(draft: Draft) -> str:
    lines = [
        "<b>Malicious dispute report — summary</b>",
        "",
        f"Category: {html.escape(CATEGORY_LABELS.get(draft.category, draft.category))}",
        f"Reported account: Store {draft.store}",
        f"Description: {html.escape(draft.description)}",
        f"Evidence: {len(draft.files)} file(s)",
        *(f"{i}. photo ({digest[:12]})" for i, (_, digest) in enumerate(draft.files, 1)),
        "",
        "Please check the details above, then submit.",
        "",
        ATTESTATION,
    ]
    return "\n".join(lines)


def receipt(case_id: str, draft: Draft) -> str:
    prints = ", ".join(digest[:12] for _, digest in draft.files)
    return (
        f"✅ Your report has been filed as <b>{case_id}</b>.\n"
        f"Evidence fingerprints: {prints}\nUse /status to follow it."
    )
