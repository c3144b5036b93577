"""The cocotb world: QSM peripheral RTL in an HDL simulator, driven through a lockstep bridge.

- ``blocks``: typed descriptions of the RTL blocks (``firmware/rtl/blocks.yaml``)
- ``wire``: the bridge's request/reply frames (shared by both sides)
- ``bridge`` and ``apb``: what runs inside the simulator's embedded Python
- ``runner``: builds and runs the simulator (cocotb_tools.runner) in a thread
- ``client``: the test side: :class:`~harness.protocols.Memory`, ``wait_cycles``, ``pins``
- ``rtl``: :class:`Rtl`, one simulated block a test talks to
- ``pytest_plugin``: the ``rtl_block`` fixture factory and the waveform attachment

Nothing here is imported when the pytest plugin loads; cocotb is imported only by a simulator.
"""
