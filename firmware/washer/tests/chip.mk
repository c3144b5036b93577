# QSM-W washer unit-test image: the controller (washer.c) against a fake HAL,
# run by qtest on the same board as the product (lm3s6965evb).
PRODUCT   := washer-tests
VERSION   := 1.3.0
CPU_FLAGS := -mcpu=cortex-m3 -mthumb
BOARD     := lm3s6965
LDSCRIPT  := common/board/$(BOARD)/$(BOARD).ld
INCLUDES  := common common/board/$(BOARD) washer washer/tests

SRCS := \
	$(COMMON_SRCS) \
	common/qtest.c \
	common/qtest_main.c \
	common/qtest_selftest.c \
	common/board/$(BOARD)/board.c \
	common/board/$(BOARD)/uart.c \
	washer/washer.c \
	washer/tests/hal_fake.c \
	washer/tests/test_washer.c
