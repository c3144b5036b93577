# QSM-T TV main controller: STM32F405 (Cortex-M4F), QEMU machine netduinoplus2.
PRODUCT   := tv
VERSION   := 1.0.0
CPU_FLAGS := -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16
BOARD     := stm32f405
LDSCRIPT  := common/board/$(BOARD)/$(BOARD).ld
INCLUDES  := common common/board/$(BOARD) tv

SRCS := \
	$(COMMON_SRCS) \
	common/board/$(BOARD)/board.c \
	common/board/$(BOARD)/usart.c \
	common/board/$(BOARD)/uart.c \
	tv/main.c \
	tv/tv.c \
	tv/nec.c \
	tv/remote.c \
	tv/settings.c \
	tv/cec.c

ifeq ($(SIM),1)
SRCS += tv/hal_sim.c
else
$(error tv: only the emulated build (SIM=1) exists; there is no hardware HAL yet)
endif
