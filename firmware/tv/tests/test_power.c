/* Power state machine, AV limits and the standby current budget. */
#include "qtest.h"
#include "hal_fake.h"
#include "tv.h"

static void setup(void)
{
    tv_av_t av = { TV_CHANNEL_DEFAULT, TV_VOLUME_DEFAULT, 0, TV_INPUT_TUNER };
    fake_leak_ua = 0;
    tv_init(&av);
}
QTEST_SUITE(power, setup, 0);

static void boot(void)
{
    tv_power_on();
    for (unsigned i = 0; i < TV_BOOT_MS; i++)
        tv_step(1);
}

QTEST(power, starts_in_standby_within_budget)
{
    QT_ASSERT_EQ(tv_power(), TV_STANDBY);
    QT_ASSERT_EQ(fake_outputs.panel, 0);
    QT_ASSERT_EQ(fake_outputs.standby_led, 1);
    QT_ASSERT_LE(fake_outputs.supply_ua, TV_STANDBY_BUDGET_UA);
    QT_ASSERT_EQ(fake_outputs.standby_over_budget, 0);
}

QTEST(power, boots_then_turns_on)
{
    tv_power_on();
    QT_ASSERT_EQ(tv_power(), TV_BOOTING);
    QT_ASSERT_EQ(fake_outputs.panel, 1);
    QT_ASSERT_EQ(fake_outputs.backlight, 0);
    for (unsigned i = 0; i + 1 < TV_BOOT_MS; i++)
        tv_step(1);
    QT_ASSERT_EQ(tv_power(), TV_BOOTING);
    tv_step(1);
    QT_ASSERT_EQ(tv_power(), TV_ON);
    QT_ASSERT_EQ(fake_outputs.backlight, 1);
    QT_ASSERT_EQ(fake_outputs.audio, 1);
    tv_power_off();
    QT_ASSERT_EQ(tv_power(), TV_STANDBY);
    QT_ASSERT_EQ(fake_outputs.panel, 0);
}

QTEST(power, av_commands_need_the_tv_on)
{
    QT_ASSERT_EQ(tv_set_volume(20), TR_NOT_ON);
    tv_power_on();
    QT_ASSERT_EQ(tv_set_channel(5), TR_NOT_ON);     /* still booting */
    for (unsigned i = 0; i < TV_BOOT_MS; i++)
        tv_step(1);
    QT_ASSERT_EQ(tv_set_channel(5), TR_OK);
}

QTEST(power, limits_hold)
{
    boot();
    QT_ASSERT_EQ(tv_set_channel(TV_CHANNEL_MAX + 1), TR_BAD_ARG);
    QT_ASSERT_EQ(tv_set_channel(0), TR_BAD_ARG);
    QT_ASSERT_EQ(tv_set_volume(TV_VOLUME_MAX + 1), TR_BAD_ARG);
    QT_ASSERT_EQ(tv_set_volume(TV_VOLUME_MAX), TR_OK);
    QT_ASSERT_EQ(tv_volume_step(1), TR_OK);
    QT_ASSERT_EQ(tv_av()->volume, TV_VOLUME_MAX);     /* clamps */
    QT_ASSERT_EQ(tv_set_channel(TV_CHANNEL_MAX), TR_OK);
    QT_ASSERT_EQ(tv_channel_step(1), TR_OK);
    QT_ASSERT_EQ(tv_av()->channel, TV_CHANNEL_MIN);   /* wraps */
    QT_ASSERT_EQ(tv_set_input(TV_INPUT_COUNT), TR_BAD_ARG);
}

QTEST(power, mute_silences_the_amplifier)
{
    boot();
    QT_ASSERT_EQ(tv_set_mute(1), TR_OK);
    QT_ASSERT_EQ(fake_outputs.audio, 0);
    QT_ASSERT_EQ(tv_volume_step(1), TR_OK);           /* volume up un-mutes */
    QT_ASSERT_EQ(tv_av()->mute, 0);
    QT_ASSERT_EQ(fake_outputs.audio, 1);
}

QTEST(power, standby_leak_raises_budget_flag)
{
    fake_leak_ua = 200;
    tv_step(1);
    QT_ASSERT_EQ(fake_outputs.standby_over_budget, 1);
    QT_ASSERT_GT(fake_outputs.supply_ua, TV_STANDBY_BUDGET_UA);
    boot();
    QT_ASSERT_EQ(fake_outputs.standby_over_budget, 0);  /* only a standby budget */
    fake_leak_ua = 0;
    tv_power_off();
    QT_ASSERT_EQ(fake_outputs.standby_over_budget, 0);
}
