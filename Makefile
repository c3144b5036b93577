# QSM Harness — the two commands a new user runs: `make demo` and `make test`.
# Both set themselves up: system packages (apt, when running as root), a .venv, the firmware.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
RESULTS := results
# Parallel workers for the suite (pytest-xdist); `make test JOBS=0` runs in one process.
JOBS ?= 2

.PHONY: demo test panel coverage sysdeps qemu venv firmware lint bench clean distclean

PYTEST := $(BIN)/pytest -n $(JOBS) -p no:cacheprovider

# The acceptance suites on emulated chips: the qemu world, then the same tests through pyOCD
# and the qemu: debug probe (the bench path).
demo: sysdeps venv firmware
	@mkdir -p $(RESULTS)
	$(PYTEST) tests/acceptance --summary --junitxml=$(RESULTS)/junit-demo.xml
	$(PYTEST) tests/acceptance --summary --world pyocd --probe qemu:auto \
	    --junitxml=$(RESULTS)/junit-demo-pyocd.xml
	@echo
	@echo "The operator's panel on the emulated line (4 slots, washer with operator steps):"
	@echo "    make panel        then open the URL it prints; scan W2644000123 (Ctrl-C stops it)"

# The operator's panel on the emulated bench: the washer line with its operator steps, 4 slots,
# records in $(RESULTS)/harness.db. Prints the URL to open; Ctrl-C stops the line.
panel: sysdeps venv firmware
	@mkdir -p $(RESULTS)
	$(BIN)/harness station serve --product qsm-washer-line --slots 4 --create \
	    --db sqlite:///$(abspath $(RESULTS))/harness.db --results $(RESULTS) $(PANEL_ARGS)

test: sysdeps venv firmware lint
	@mkdir -p $(RESULTS)
	$(PYTEST) tests firmware --operator-answers tests/line/answers.yaml \
	    --ignore=tests/integration/lab --junitxml=$(RESULTS)/junit.xml
	$(BIN)/pytest -p no:cacheprovider tests/integration/lab --junitxml=$(RESULTS)/junit-lab.xml
	$(PYTEST) tests/acceptance firmware --world pyocd --probe qemu:auto \
	    --junitxml=$(RESULTS)/junit-pyocd.xml

# Firmware coverage of every emulated chip (qemu world): the acceptance suites and the C unit
# tests on the COVERAGE=1 builds; gcovr reports per chip in $(RESULTS)/coverage/<chip>/.
coverage: sysdeps venv
	@mkdir -p $(RESULTS)
	$(MAKE) -C firmware COVERAGE=1
	$(PYTEST) tests/acceptance firmware --firmware-coverage \
	    --junitxml=$(RESULTS)/junit-coverage.xml

# System packages: installed with apt when missing and running as root; otherwise the exact
# command is printed and make stops.
sysdeps: qemu
	@missing=""; \
	command -v arm-none-eabi-gcc >/dev/null || missing="$$missing gcc-arm-none-eabi"; \
	command -v gdb-multiarch >/dev/null || missing="$$missing gdb-multiarch"; \
	command -v iverilog >/dev/null || missing="$$missing iverilog"; \
	dpkg -s libnewlib-arm-none-eabi >/dev/null 2>&1 || missing="$$missing libnewlib-arm-none-eabi"; \
	$(PYTHON) -c 'import venv, ensurepip' 2>/dev/null || missing="$$missing python3-venv"; \
	dpkg -s postgresql >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v ser2net >/dev/null || missing="$$missing ser2net"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing system packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	      apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else \
	    echo "missing system packages:$$missing"; \
	    echo "run: sudo apt-get update && sudo apt-get install -y --no-install-recommends$$missing"; \
	    exit 1; \
	  fi; \
	fi

# QEMU $(QEMU_MIN).0 or later: Debian 12's own 7.2 loses every other timer interrupt of a sleeping
# core under icount (chip time). On Debian 12 it comes from bookworm-backports.
QEMU_MIN := 10
BACKPORTS := /etc/apt/sources.list.d/bookworm-backports.sources
qemu:
	@v=$$(qemu-system-arm --version 2>/dev/null | sed -n 's/^QEMU emulator version \([0-9]*\)\..*/\1/p'); \
	if [ -z "$$v" ] || [ "$$v" -lt $(QEMU_MIN) ] || ! command -v qemu-img >/dev/null; then \
	  release=""; . /etc/os-release 2>/dev/null; \
	  [ "$$VERSION_CODENAME" = bookworm ] && release="-t bookworm-backports"; \
	  if [ "$$(id -u)" != 0 ]; then \
	    echo "QEMU $(QEMU_MIN).0 or later is needed (found: $${v:-none})"; \
	    [ -n "$$release" ] && echo "add bookworm-backports to apt's sources, then:"; \
	    echo "run: sudo apt-get update && sudo apt-get install -y --no-install-recommends $$release qemu-system-arm qemu-utils"; \
	    exit 1; \
	  fi; \
	  echo "installing QEMU $(QEMU_MIN) or later (found: $${v:-none})"; \
	  if [ -n "$$release" ] && [ ! -e $(BACKPORTS) ]; then \
	    printf '%s\n' 'Types: deb' 'URIs: http://deb.debian.org/debian' 'Suites: bookworm-backports' \
	      'Components: main' 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg' > $(BACKPORTS); \
	  fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq --no-install-recommends $$release qemu-system-arm qemu-utils >/dev/null; \
	fi

venv: $(STAMP)

# Every extra plus the test and lint tools, at the exact versions of constraints.txt.
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e '.[all,test,lint]'
	@touch $@

firmware: sysdeps
	$(MAKE) -C firmware

lint: venv
	$(BIN)/ruff check harness tests benchmarks conftest.py
	$(BIN)/mypy

bench: sysdeps venv firmware
	$(BIN)/python benchmarks/boot_cycle.py
	$(BIN)/python benchmarks/dut_pool.py
	$(BIN)/python benchmarks/snapshot_reuse.py
	$(BIN)/python benchmarks/pyocd_cycle.py
	$(BIN)/python benchmarks/cocotb_bridge.py
	$(BIN)/python benchmarks/scpi_rate.py
	$(BIN)/python benchmarks/instrument_setup.py
	$(BIN)/python benchmarks/records.py
	$(BIN)/python benchmarks/uds_roundtrip.py
	$(BIN)/python benchmarks/soak.py
	$(BIN)/python benchmarks/suite_parallel.py
	$(BIN)/python benchmarks/panel.py
	$(BIN)/python benchmarks/lab.py
	$(BIN)/python benchmarks/chip_time.py

clean:
	$(MAKE) -C firmware clean
	rm -rf $(RESULTS) .pytest_cache

distclean: clean
	rm -rf $(VENV) *.egg-info
