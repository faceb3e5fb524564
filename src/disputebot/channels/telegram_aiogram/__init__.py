"""The aiogram adapter (the alternative runtime)."""
