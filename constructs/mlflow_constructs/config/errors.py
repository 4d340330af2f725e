"""The one exception a user sees: bad config, with a message meant to be read as is."""


class ConfigError(Exception):
    """A config file that cannot be synthesized; the message names the key and the fix."""
