"""stackatlas: a live map of the AI stack on GitHub."""

__version__ = "0.1.0"
