"""The production line: limits, measurements, traceable records, slots, station CLI, reports.

Modules, one idea each:

* ``limits``   — the versioned limits file of a product and the verdict of one value;
* ``product``  — a product's station config (part number, serial-number pattern, suite);
* ``records``  — the append-only record store (SQLAlchemy Core; SQLite or PostgreSQL);
* ``recorder`` — one run's writer: run, test attempts, measurements, each committed at once;
* ``pytest_plugin`` — the ``measure`` fixture and the run record inside a pytest run;
* ``serials``  — reading and validating serial numbers;
* ``station``  — N slots in parallel, a pytest subprocess per unit;
* ``report`` / ``stats`` — HTML and JSON reports, Cp/Cpk, trend plots;
* ``cli``      — ``harness station run`` and ``harness report``.

Nothing here is imported by the main plugin at start-up; heavy libraries load on first use.
"""
