# QSM-W washer: TI/Luminary LM3S6965 (Cortex-M3), QEMU machine lm3s6965evb.
PRODUCT   := washer
VERSION   := 1.3.0
CPU_FLAGS := -mcpu=cortex-m3 -mthumb
BOARD     := lm3s6965
LDSCRIPT  := common/board/$(BOARD)/$(BOARD).ld
INCLUDES  := common common/board/$(BOARD) washer

SRCS := \
	$(COMMON_SRCS) \
	common/board/$(BOARD)/board.c \
	common/board/$(BOARD)/uart.c \
	washer/main.c \
	washer/washer.c

ifeq ($(SIM),1)
SRCS += washer/hal_sim.c
else
$(error washer: only the emulated build (SIM=1) exists; there is no hardware HAL yet)
endif
