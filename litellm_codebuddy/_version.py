"""The package's version: the distribution's version (setuptools reads it) and the ``User-Agent``'s."""

__version__ = "0.1.0"
