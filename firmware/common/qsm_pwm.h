/* PWM: Motor PWM controller: one complementary channel with dead time and fault shutdown
 * Generated from targets/svd/qsm_periph.svd by firmware/rtl/svd2header.py; do not edit. */
#ifndef QSM_PWM_H
#define QSM_PWM_H

#include <stdint.h>

#define QSM_PWM_BASE 0x40100000u

typedef struct {
    volatile uint32_t CTRL; /* 0x000 Control */
    volatile uint32_t PERIOD; /* 0x004 Period in clock cycles (at least 2), applied at the next period start */
    volatile uint32_t DUTY; /* 0x008 High-side interval in clock cycles, dead time included, applied at the next period start */
    volatile uint32_t DEADTIME; /* 0x00C Cycles both outputs stay off around each switch */
    volatile uint32_t STATUS; /* 0x010 Status */
    volatile uint32_t IE; /* 0x014 Interrupt enables */
    const volatile uint32_t COUNT; /* 0x018 Period counter */
    const volatile uint32_t ID; /* 0x01C Block identification */
} qsm_pwm_t;

#define QSM_PWM ((qsm_pwm_t *)QSM_PWM_BASE)

#define QSM_PWM_CTRL_RESET 0x00000000u
#define QSM_PWM_CTRL_EN_Pos 0u
#define QSM_PWM_CTRL_EN_Msk 0x00000001u

#define QSM_PWM_PERIOD_RESET 0x000003E8u
#define QSM_PWM_PERIOD_PERIOD_Pos 0u
#define QSM_PWM_PERIOD_PERIOD_Msk 0x0000FFFFu

#define QSM_PWM_DUTY_RESET 0x00000000u
#define QSM_PWM_DUTY_DUTY_Pos 0u
#define QSM_PWM_DUTY_DUTY_Msk 0x0000FFFFu

#define QSM_PWM_DEADTIME_RESET 0x00000000u
#define QSM_PWM_DEADTIME_DT_Pos 0u
#define QSM_PWM_DEADTIME_DT_Msk 0x000000FFu

#define QSM_PWM_STATUS_RESET 0x00000000u
#define QSM_PWM_STATUS_FAULT_Pos 0u
#define QSM_PWM_STATUS_FAULT_Msk 0x00000001u
#define QSM_PWM_STATUS_PERIOD_Pos 1u
#define QSM_PWM_STATUS_PERIOD_Msk 0x00000002u
#define QSM_PWM_STATUS_FAULT_IN_Pos 8u
#define QSM_PWM_STATUS_FAULT_IN_Msk 0x00000100u
#define QSM_PWM_STATUS_RUN_Pos 9u
#define QSM_PWM_STATUS_RUN_Msk 0x00000200u

#define QSM_PWM_IE_RESET 0x00000000u
#define QSM_PWM_IE_FAULT_Pos 0u
#define QSM_PWM_IE_FAULT_Msk 0x00000001u
#define QSM_PWM_IE_PERIOD_Pos 1u
#define QSM_PWM_IE_PERIOD_Msk 0x00000002u

#define QSM_PWM_COUNT_RESET 0x00000000u
#define QSM_PWM_COUNT_COUNT_Pos 0u
#define QSM_PWM_COUNT_COUNT_Msk 0x0000FFFFu

#define QSM_PWM_ID_RESET 0x51504D01u
#define QSM_PWM_ID_REV_Pos 0u
#define QSM_PWM_ID_REV_Msk 0x000000FFu
#define QSM_PWM_ID_BLOCK_Pos 8u
#define QSM_PWM_ID_BLOCK_Msk 0xFFFFFF00u

#endif /* QSM_PWM_H */
