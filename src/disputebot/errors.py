"""The one exception root. A bad answer from a user is never an exception."""


class DisputebotError(Exception):
    """Root of every error this package raises on purpose."""


class ConfigError(DisputebotError):
    """A settings value, conversation file, profile or catalog is unusable."""


class DeliveryError(DisputebotError):
    """A channel could not deliver a message.

    Adapters map their transport's failures here, in one place each; the outbox decides from
    ``retryable`` and ``retry_after`` whether to try again.
    """

    def __init__(self, message: str, *, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after
