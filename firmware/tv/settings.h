/* User settings that survive a warm reset: kept in the .noinit RAM section
 * (not cleared by the startup code) with a magic and a CRC-32; a cold start
 * (power-on RAM, or a RAM scrub) or a corrupt copy falls back to defaults. */
#ifndef TV_SETTINGS_H
#define TV_SETTINGS_H

#include <stdint.h>
#include <stddef.h>

#define SETTINGS_MAGIC   0x53565451u     /* "QTVS" */
#define SETTINGS_VERSION 1u

typedef struct {
    uint32_t magic;
    uint16_t version;
    uint16_t channel;
    uint8_t  volume;
    uint8_t  mute;
    uint8_t  input;
    uint8_t  reserved;
    uint32_t crc;           /* CRC-32 of every byte before this field */
} tv_settings_t;

typedef enum {
    SETTINGS_RESTORED = 0,  /* valid copy found after a warm reset */
    SETTINGS_DEFAULT,       /* no copy (cold start): defaults */
    SETTINGS_CORRUPT,       /* a copy with a bad checksum or values: defaults */
} settings_origin_t;

/* CRC-32 (IEEE 802.3, reflected, init and final xor 0xFFFFFFFF). */
uint32_t crc32(const void *data, size_t len);

/* Validate *s: SETTINGS_RESTORED when intact; otherwise fill it with defaults
 * (sealed) and say why. */
settings_origin_t settings_load(tv_settings_t *s);
/* Recompute the checksum after a change. */
void settings_seal(tv_settings_t *s);
void settings_defaults(tv_settings_t *s);
const char *settings_origin_name(settings_origin_t o);

#endif
