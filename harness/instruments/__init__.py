"""Lab instruments over SCPI/PyVISA: a session layer, typed drivers chosen by ``*IDN?``, safety
limits from the bench inventory, and virtual LXI instruments coupled to an emulated chip.

Nothing here imports PyVISA at module import time: the pytest plugin loads it only when a test
asks for an instrument.
"""
