# QSM-T unit-test image: NEC decoder, settings checksum, power/AV state machine
# and CEC link against a fake HAL, run by qtest on the product's board.
PRODUCT   := tv-tests
VERSION   := 1.0.0
CPU_FLAGS := -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16
BOARD     := stm32f405
LDSCRIPT  := common/board/$(BOARD)/$(BOARD).ld
INCLUDES  := common common/board/$(BOARD) tv tv/tests

SRCS := \
	$(COMMON_SRCS) \
	common/qtest.c \
	common/qtest_main.c \
	common/qtest_selftest.c \
	common/board/$(BOARD)/board.c \
	common/board/$(BOARD)/usart.c \
	common/board/$(BOARD)/uart.c \
	tv/tv.c \
	tv/nec.c \
	tv/settings.c \
	tv/cec.c \
	tv/tests/hal_fake.c \
	tv/tests/test_nec.c \
	tv/tests/test_settings.c \
	tv/tests/test_power.c \
	tv/tests/test_cec.c
