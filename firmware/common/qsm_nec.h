/* NEC: NEC infrared receiver: pulse-width measurement and frame decoding
 * Generated from targets/svd/qsm_periph.svd by firmware/rtl/svd2header.py; do not edit. */
#ifndef QSM_NEC_H
#define QSM_NEC_H

#include <stdint.h>

#define QSM_NEC_BASE 0x40101000u

typedef struct {
    volatile uint32_t CTRL; /* 0x000 Control */
    volatile uint32_t CLKDIV; /* 0x004 Clock cycles per tick minus one; the NEC unit is 16 ticks */
    volatile uint32_t TOL; /* 0x008 Width tolerance */
    volatile uint32_t STATUS; /* 0x00C Status */
    volatile uint32_t IE; /* 0x010 Interrupt enables, one per STATUS event */
    const volatile uint32_t DATA; /* 0x014 Raw bits of the last frame, first received in bit 0 */
    const volatile uint32_t CODE; /* 0x018 Decoded address and command of the last frame */
    const volatile uint32_t ERRINFO; /* 0x01C Cause of the last error */
    const volatile uint32_t MEAS; /* 0x020 Last finished mark or space */
    const volatile uint32_t ID; /* 0x024 Block identification */
} qsm_nec_t;

#define QSM_NEC ((qsm_nec_t *)QSM_NEC_BASE)

#define QSM_NEC_CTRL_RESET 0x00000000u
#define QSM_NEC_CTRL_EN_Pos 0u
#define QSM_NEC_CTRL_EN_Msk 0x00000001u
#define QSM_NEC_CTRL_POL_Pos 1u
#define QSM_NEC_CTRL_POL_Msk 0x00000002u
#define QSM_NEC_CTRL_EXT_Pos 2u
#define QSM_NEC_CTRL_EXT_Msk 0x00000004u

#define QSM_NEC_CLKDIV_RESET 0x00000023u
#define QSM_NEC_CLKDIV_DIV_Pos 0u
#define QSM_NEC_CLKDIV_DIV_Msk 0x0000FFFFu

#define QSM_NEC_TOL_RESET 0x00000002u
#define QSM_NEC_TOL_SHIFT_Pos 0u
#define QSM_NEC_TOL_SHIFT_Msk 0x00000007u

#define QSM_NEC_STATUS_RESET 0x00000000u
#define QSM_NEC_STATUS_FRAME_Pos 0u
#define QSM_NEC_STATUS_FRAME_Msk 0x00000001u
#define QSM_NEC_STATUS_REPEAT_Pos 1u
#define QSM_NEC_STATUS_REPEAT_Msk 0x00000002u
#define QSM_NEC_STATUS_ERROR_Pos 2u
#define QSM_NEC_STATUS_ERROR_Msk 0x00000004u
#define QSM_NEC_STATUS_OVERRUN_Pos 3u
#define QSM_NEC_STATUS_OVERRUN_Msk 0x00000008u
#define QSM_NEC_STATUS_BUSY_Pos 8u
#define QSM_NEC_STATUS_BUSY_Msk 0x00000100u
#define QSM_NEC_STATUS_LEVEL_Pos 9u
#define QSM_NEC_STATUS_LEVEL_Msk 0x00000200u

#define QSM_NEC_IE_RESET 0x00000000u
#define QSM_NEC_IE_FRAME_Pos 0u
#define QSM_NEC_IE_FRAME_Msk 0x00000001u
#define QSM_NEC_IE_REPEAT_Pos 1u
#define QSM_NEC_IE_REPEAT_Msk 0x00000002u
#define QSM_NEC_IE_ERROR_Pos 2u
#define QSM_NEC_IE_ERROR_Msk 0x00000004u
#define QSM_NEC_IE_OVERRUN_Pos 3u
#define QSM_NEC_IE_OVERRUN_Msk 0x00000008u

#define QSM_NEC_DATA_RESET 0x00000000u
#define QSM_NEC_DATA_DATA_Pos 0u
#define QSM_NEC_DATA_DATA_Msk 0xFFFFFFFFu

#define QSM_NEC_CODE_RESET 0x00000000u
#define QSM_NEC_CODE_ADDR_Pos 0u
#define QSM_NEC_CODE_ADDR_Msk 0x0000FFFFu
#define QSM_NEC_CODE_CMD_Pos 16u
#define QSM_NEC_CODE_CMD_Msk 0x00FF0000u

#define QSM_NEC_ERRINFO_RESET 0x00000000u
#define QSM_NEC_ERRINFO_CAUSE_Pos 0u
#define QSM_NEC_ERRINFO_CAUSE_Msk 0x00000007u
#define QSM_NEC_ERRINFO_CAUSE_NONE 0u
#define QSM_NEC_ERRINFO_CAUSE_LEAD_MARK 1u
#define QSM_NEC_ERRINFO_CAUSE_LEAD_SPACE 2u
#define QSM_NEC_ERRINFO_CAUSE_BIT_MARK 3u
#define QSM_NEC_ERRINFO_CAUSE_BIT_SPACE 4u
#define QSM_NEC_ERRINFO_CAUSE_CHECK 5u
#define QSM_NEC_ERRINFO_BITS_Pos 8u
#define QSM_NEC_ERRINFO_BITS_Msk 0x00003F00u

#define QSM_NEC_MEAS_RESET 0x00000000u
#define QSM_NEC_MEAS_WIDTH_Pos 0u
#define QSM_NEC_MEAS_WIDTH_Msk 0x00000FFFu
#define QSM_NEC_MEAS_MARK_Pos 16u
#define QSM_NEC_MEAS_MARK_Msk 0x00010000u

#define QSM_NEC_ID_RESET 0x514E4501u
#define QSM_NEC_ID_REV_Pos 0u
#define QSM_NEC_ID_REV_Msk 0x000000FFu
#define QSM_NEC_ID_BLOCK_Pos 8u
#define QSM_NEC_ID_BLOCK_Msk 0xFFFFFF00u

#endif /* QSM_NEC_H */
