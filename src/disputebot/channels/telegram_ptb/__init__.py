"""The python-telegram-bot adapter (the default runtime)."""

import os

# python-telegram-bot 22 reports `retry_after` as a timedelta only when this is set, and warns on
# every 429 otherwise; the adapter reads either form.
os.environ.setdefault("PTB_TIMEDELTA", "1")
