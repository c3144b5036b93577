/* Diagnostic trouble codes of the body module, with ISO 14229 status bits. */
#ifndef QSM_DTC_H
#define QSM_DTC_H

#include <stdint.h>

enum { DTC_LAMP_OPEN, DTC_WINDOW_STALL, DTC_LOW_VOLTAGE, DTC_COUNT };

#define DTC_TEST_FAILED        0x01u
#define DTC_FAILED_THIS_CYCLE  0x02u
#define DTC_CONFIRMED          0x08u
#define DTC_AVAILABILITY_MASK  0x0Bu

extern const uint32_t dtc_codes[DTC_COUNT];   /* 3-byte UDS DTC numbers */

void dtc_init(void);
/* Result of a monitor: failed sets testFailed (and confirms), passed clears it.
 * Returns 1 when the DTC newly failed. */
int dtc_report(unsigned idx, int failed);
uint8_t dtc_status(unsigned idx);
void dtc_clear_all(void);
unsigned dtc_active_count(void);

#endif
