#include "settings.h"
#include "tv.h"

uint32_t crc32(const void *data, size_t len)
{
    const uint8_t *p = data;
    uint32_t crc = 0xFFFFFFFFu;
    while (len--) {
        crc ^= *p++;
        for (unsigned k = 0; k < 8u; k++)
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

void settings_seal(tv_settings_t *s)
{
    s->crc = crc32(s, offsetof(tv_settings_t, crc));
}

void settings_defaults(tv_settings_t *s)
{
    s->magic = SETTINGS_MAGIC;
    s->version = SETTINGS_VERSION;
    s->channel = TV_CHANNEL_DEFAULT;
    s->volume = TV_VOLUME_DEFAULT;
    s->mute = 0;
    s->input = TV_INPUT_TUNER;
    s->reserved = 0;
    settings_seal(s);
}

static int values_ok(const tv_settings_t *s)
{
    return s->version == SETTINGS_VERSION && s->channel >= TV_CHANNEL_MIN &&
           s->channel <= TV_CHANNEL_MAX && s->volume <= TV_VOLUME_MAX && s->mute <= 1u &&
           s->input < TV_INPUT_COUNT;
}

settings_origin_t settings_load(tv_settings_t *s)
{
    if (s->magic != SETTINGS_MAGIC) {
        settings_defaults(s);
        return SETTINGS_DEFAULT;
    }
    if (s->crc != crc32(s, offsetof(tv_settings_t, crc)) || !values_ok(s)) {
        settings_defaults(s);
        return SETTINGS_CORRUPT;
    }
    return SETTINGS_RESTORED;
}

const char *settings_origin_name(settings_origin_t o)
{
    switch (o) {
    case SETTINGS_RESTORED: return "restored";
    case SETTINGS_CORRUPT:  return "corrupt";
    default:                return "default";
    }
}
