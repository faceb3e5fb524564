"""disputebot: report malicious marketplace disputes from a chat app."""

from disputebot.errors import DisputebotError

__all__ = ["DisputebotError", "__version__"]
__version__ = "0.1.0"
