"""Firmware coverage, per test, read from the chip through the debug port.

The firmware is built with GCC's coverage instrumentation (:mod:`.variant`: the ``COVERAGE=1``
build). The host finds every unit's records in the ELF (:mod:`.gcov_info`), reads the
counters out of the chip's RAM after each test and zeroes them (:mod:`.counters`), and keeps
one record per test (:mod:`.store`). At the end of the run the records become ``.gcda``
files (:mod:`.gcda`, :mod:`.tree`), gcovr's HTML and Cobertura reports
(:mod:`.gcovr_run`) and a map of the tests behind each line (:mod:`.by_line`,
:mod:`.view`), per chip (:mod:`.reports`). The plugin (:mod:`.pytest_plugin`) adds
``--firmware-coverage``; :mod:`.run` is the run's wiring.
"""
