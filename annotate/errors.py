"""Project exceptions. The library raises these; only the CLI turns them into messages and exit codes."""


class AnnotateError(Exception):
    """Base class: its message is one line that names the thing and says what to do."""


class InputError(AnnotateError):
    """A file or record that cannot be read as an article."""

    def __init__(self, where: str, reason: str):
        self.where = where
        self.reason = reason
        super().__init__(f"{where}: {reason}")


class ConfigError(AnnotateError):
    """A configuration file that is missing or does not match its schema."""


class ModelError(AnnotateError):
    """A model directory that is missing or unusable."""


class StudioError(AnnotateError):
    """A Label Studio server or project that cannot be used as asked."""
