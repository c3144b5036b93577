"""QSM Harness: test QSM Cortex-M chips on emulators, debug probes and simulators."""

__version__ = "0.1.0"
