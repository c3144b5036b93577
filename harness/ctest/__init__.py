"""On-target C unit tests as pytest items.

A chip's unit-test image (``firmware/<chip>/tests``, framework ``firmware/common/qtest.h``) is
described by a ``ctest.yaml`` next to its sources (:mod:`.manifest`). The collector
(:mod:`.pytest_plugin`) reads the test list from the ELF (:mod:`.image`) and yields one pytest
item per C test; each item runs its test on a chip booted once per worker in the selected world
(:mod:`.runner`) and reads the result lines from the console (:mod:`.results`).
"""
