/* A classic CAN frame as it travels through SLCAN. */
#ifndef QSM_CAN_H
#define QSM_CAN_H

#include <stdint.h>

typedef struct {
    uint32_t id;        /* 11-bit, or 29-bit when ext */
    uint8_t  ext;       /* 1: extended identifier */
    uint8_t  rtr;       /* 1: remote frame (no data) */
    uint8_t  dlc;       /* 0..8 */
    uint8_t  data[8];
} can_frame_t;

/* Identifiers of the QSM-A body control module (firmware/README.md). */
#define CAN_ID_UDS_PHYS     0x7E0u   /* tester -> ECU, physical */
#define CAN_ID_UDS_FUNC     0x7DFu   /* tester -> all ECUs, functional */
#define CAN_ID_UDS_RESP     0x7E8u   /* ECU -> tester */
#define CAN_ID_BODY_CMD     0x2A0u   /* body commands */
#define CAN_ID_CRASH        0x050u   /* airbag controller crash signal */
#define CAN_ID_BODY_STATUS  0x3A0u   /* periodic status, every 100 ms */

#endif
