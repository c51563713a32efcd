"""tether-shim: owns one container process, its stdio, log and exit status."""

__version__ = "0.1.0"
