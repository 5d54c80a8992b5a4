"""flexcell: flexible robot-cell controller for high-mix, low-volume manufacturing."""

__version__ = "0.1.0"
