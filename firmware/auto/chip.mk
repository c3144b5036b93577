# QSM-A body control module: ARM MPS2 AN385 (Cortex-M3), QEMU machine mps2-an385.
PRODUCT   := auto
VERSION   := 1.0.0
CPU_FLAGS := -mcpu=cortex-m3 -mthumb
BOARD     := mps2-an385
LDSCRIPT  := common/board/$(BOARD)/$(BOARD).ld
INCLUDES  := common common/board/$(BOARD) auto

SRCS := \
	$(COMMON_SRCS) \
	common/board/$(BOARD)/board.c \
	common/board/$(BOARD)/uart.c \
	auto/main.c \
	auto/slcan.c \
	auto/isotp.c \
	auto/uds.c \
	auto/dtc.c \
	auto/seedkey.c \
	auto/body.c

ifeq ($(SIM),1)
SRCS += auto/hal_sim.c
else
$(error auto: only the emulated build (SIM=1) exists; there is no hardware HAL yet)
endif
