"""Tools for testing the harness on your own boards (not fixtures: plain functions on a Dut).

* :mod:`harness.testing.pool_proof` — is a chip a pool hands out again the same as a brand-new
  one? ``snapshot`` a reused chip and a fresh one, both at power-on and halted, and list the
  ``differences``.
* :mod:`harness.testing.calls` — ``run_to_call(dut, function, n)``: the chip halted at the n-th
  call of a firmware function.
* :mod:`harness.testing.load` — ``cpu_hogs(n)``: a block run with ``n`` CPUs kept busy.
"""
