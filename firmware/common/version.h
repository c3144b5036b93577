/* Firmware version block (contract: symbol fw_version, section .version, 64 bytes). */
#ifndef QSM_VERSION_H
#define QSM_VERSION_H

#include <stdint.h>

#define FW_VERSION_MAGIC 0x564D5351u   /* bytes "QSMV" in little endian */

typedef struct fw_version {
    uint32_t magic;        /*  0 */
    uint8_t  major;        /*  4 */
    uint8_t  minor;        /*  5 */
    uint8_t  patch;        /*  6 */
    uint8_t  reserved;     /*  7, 0 */
    char     git[16];      /*  8, NUL padded */
    char     build[24];    /* 24, NUL padded */
    char     product[16];  /* 48, NUL padded */
} fw_version_t;

_Static_assert(sizeof(fw_version_t) == 64, "version block must be 64 bytes");

extern const fw_version_t fw_version;

/* Prints "product=<p> version=<M.m.p> git=<hash> build=<id>" (no line end). */
void version_print_fields(void);

#endif
