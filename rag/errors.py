"""Domain errors. Each message names what went wrong and how to fix it."""


class RagError(Exception):
    """Base class for errors a user can act on."""


class LoadError(RagError):
    """An input file or record could not be turned into an article."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason


class ConfigError(RagError):
    """Settings are missing or inconsistent."""


class StoreUnavailable(RagError):
    """The vector store cannot be reached."""


class StoreError(RagError):
    """The vector store failed to answer (not the request's fault); worth a retry."""


class StoreBusy(StoreError):
    """Another writer holds an article's write lease for longer than we wait."""


class EmbedderUnavailable(RagError):
    """The embedder failed for one article after another: it is down or misconfigured, not the input."""
