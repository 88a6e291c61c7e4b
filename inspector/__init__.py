"""inspector: define transformer architectures and inspect their weights, exactly."""

__version__ = "0.1.0"
