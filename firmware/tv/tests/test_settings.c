/* Settings copy in .noinit: CRC-32, restore, reject when corrupt. */
#include "qtest.h"
#include "settings.h"
#include "tv.h"

static tv_settings_t s;

QTEST_SUITE(settings, 0, 0);

QTEST(settings, crc32_matches_reference_vector)
{
    QT_ASSERT_EQ_HEX(crc32("123456789", 9), 0xCBF43926u);
    QT_ASSERT_EQ_HEX(crc32("", 0), 0x00000000u);
}

QTEST(settings, cold_ram_gives_defaults)
{
    for (unsigned i = 0; i < sizeof(s); i++)
        ((uint8_t *)&s)[i] = 0;
    QT_ASSERT_EQ(settings_load(&s), SETTINGS_DEFAULT);
    QT_ASSERT_EQ(s.channel, TV_CHANNEL_DEFAULT);
    QT_ASSERT_EQ(s.volume, TV_VOLUME_DEFAULT);
    QT_ASSERT_EQ(settings_load(&s), SETTINGS_RESTORED);    /* defaults were sealed */
}

QTEST(settings, sealed_copy_is_restored)
{
    settings_defaults(&s);
    s.channel = 42;
    s.volume = 33;
    s.input = TV_INPUT_HDMI2;
    settings_seal(&s);
    QT_ASSERT_EQ(settings_load(&s), SETTINGS_RESTORED);
    QT_ASSERT_EQ(s.channel, 42);
    QT_ASSERT_EQ(s.input, TV_INPUT_HDMI2);
}

QTEST(settings, any_flipped_bit_is_corrupt)
{
    for (unsigned byte = 0; byte < sizeof(s); byte++) {
        settings_defaults(&s);
        s.volume = 20;
        settings_seal(&s);
        if (byte < 4)
            continue;                  /* a broken magic reads as a cold start */
        ((uint8_t *)&s)[byte] ^= 0x10;
        QT_ASSERT_EQ(settings_load(&s), SETTINGS_CORRUPT);
        QT_ASSERT_EQ(s.volume, TV_VOLUME_DEFAULT);
    }
}

QTEST(settings, out_of_range_values_with_good_crc_are_rejected)
{
    settings_defaults(&s);
    s.volume = TV_VOLUME_MAX + 1;
    settings_seal(&s);
    QT_ASSERT_EQ(settings_load(&s), SETTINGS_CORRUPT);
    QT_ASSERT_EQ(s.volume, TV_VOLUME_DEFAULT);
}
