# QSM-A unit-test image: SLCAN, ISO-TP, seed/key and the UDS server, run by qtest on the
# product's board (mps2-an385).
PRODUCT   := auto-tests
VERSION   := 1.0.0
CPU_FLAGS := -mcpu=cortex-m3 -mthumb
BOARD     := mps2-an385
LDSCRIPT  := common/board/$(BOARD)/$(BOARD).ld
INCLUDES  := common common/board/$(BOARD) auto auto/tests

SRCS := \
	$(COMMON_SRCS) \
	common/qtest.c \
	common/qtest_main.c \
	common/board/$(BOARD)/board.c \
	common/board/$(BOARD)/uart.c \
	auto/slcan.c \
	auto/isotp.c \
	auto/uds.c \
	auto/dtc.c \
	auto/seedkey.c \
	auto/body.c \
	auto/hal_sim.c \
	auto/tests/test_slcan.c \
	auto/tests/test_isotp.c \
	auto/tests/test_uds.c
