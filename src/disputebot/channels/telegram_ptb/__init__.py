"""The python-telegram-bot adapter (the default runtime)."""
