/* Unit tests of the washer controller's state machine (washer.c) against the
 * fake HAL: every sensor value is set by the test, time advances by steps. */
#include "qtest.h"
#include "hal_fake.h"
#include "washer.h"

#define SECOND 1000u

static void setup(void)
{
    fake_hal_reset();
    washer_init();
}

QTEST_SUITE(washer, setup, 0);

/* Advance program time in 1 s steps. */
static void run_s(unsigned seconds)
{
    for (unsigned i = 0; i < seconds; i++)
        washer_step(SECOND);
}

QTEST(washer, powers_up_idle_with_outputs_off)
{
    QT_ASSERT_EQ(washer_state(), WS_IDLE);
    QT_ASSERT_EQ(washer_fault_mask(), 0);
    QT_ASSERT_EQ(fake_outputs.motor + fake_outputs.valve + fake_outputs.pump +
                 fake_outputs.heater + fake_outputs.lock, 0);
    QT_ASSERT_GE(fake_writes, 1);
}

QTEST(washer, rejects_unknown_program)
{
    QT_ASSERT_EQ(washer_start("jeans"), WR_UNKNOWN_PROGRAM);
    QT_ASSERT_EQ(washer_start("cotto"), WR_UNKNOWN_PROGRAM);
    QT_ASSERT_EQ(washer_state(), WS_IDLE);
}

QTEST(washer, refuses_to_start_with_door_open)
{
    fake_sensors.door_closed = 0;
    QT_ASSERT_EQ(washer_start("cotton"), WR_DOOR_OPEN);
    QT_ASSERT_EQ(fake_outputs.lock, 0);
}

QTEST(washer, start_fills_with_door_locked)
{
    QT_ASSERT_EQ(washer_start("cotton"), WR_OK);
    QT_ASSERT_EQ(washer_state(), WS_FILL);
    QT_ASSERT_EQ(fake_outputs.valve, 1);
    QT_ASSERT_EQ(fake_outputs.lock, 1);
    QT_ASSERT_EQ(fake_outputs.motor, 0);
    QT_ASSERT_EQ(washer_start("quick"), WR_BUSY);
}

QTEST(washer, full_program_reaches_done_in_order)
{
    static const washer_state_t order[] = { WS_WASH, WS_RINSE, WS_SPIN, WS_DRAIN, WS_DONE };
    QT_ASSERT_EQ(washer_start("quick"), WR_OK);
    fake_sensors.water_mm = 100;
    washer_step(SECOND);
    QT_ASSERT_EQ(washer_state(), WS_WASH);
    QT_ASSERT_EQ(fake_outputs.heater, 0);           /* quick: no heating */
    unsigned seen = 1;
    for (unsigned s = 0; s < 1000 && washer_state() != WS_DONE; s++) {
        washer_state_t before = washer_state();
        if (before == WS_DRAIN) {
            fake_sensors.water_mm = 0;
            fake_sensors.drum_rpm = 0;
        }
        washer_step(SECOND);
        if (washer_state() != before) {
            QT_ASSERT_LT(seen, 5);
            QT_ASSERT_EQ(washer_state(), order[seen]);
            seen++;
        }
    }
    QT_ASSERT_EQ(washer_state(), WS_DONE);
    QT_ASSERT_EQ(fake_outputs.lock, 0);
}

QTEST(washer, heats_only_below_program_temperature)
{
    QT_ASSERT_EQ(washer_start("cotton"), WR_OK);
    fake_sensors.water_mm = 100;
    washer_step(SECOND);
    QT_ASSERT_EQ(washer_state(), WS_WASH);
    QT_ASSERT_EQ(fake_outputs.heater, 1);
    fake_sensors.temp_c = 60;
    washer_step(SECOND);
    QT_ASSERT_EQ(fake_outputs.heater, 0);
}

QTEST(washer, overfill_enters_safe_state)
{
    QT_ASSERT_EQ(washer_start("cotton"), WR_OK);
    fake_sensors.water_mm = 151;
    washer_step(SECOND);
    QT_ASSERT_EQ(washer_state(), WS_FAULT);
    QT_ASSERT_EQ_HEX(washer_fault_mask(), 1u << WF_OVERFILL);
    QT_ASSERT_EQ(fake_outputs.valve, 0);
    QT_ASSERT_EQ(fake_outputs.pump, 1);
    QT_ASSERT_EQ(fake_outputs.lock, 1);
    QT_ASSERT_EQ(washer_start("cotton"), WR_FAULT_ACTIVE);
}

QTEST(washer, clear_waits_until_safe)
{
    QT_ASSERT_EQ(washer_start("cotton"), WR_OK);
    fake_sensors.water_mm = 151;
    washer_step(SECOND);
    QT_ASSERT_EQ(washer_clear(), WR_NOT_SAFE);
    fake_sensors.water_mm = 5;
    washer_step(SECOND);
    QT_ASSERT_EQ(fake_outputs.pump, 0);
    QT_ASSERT_EQ(washer_clear(), WR_OK);
    QT_ASSERT_EQ(washer_state(), WS_IDLE);
    QT_ASSERT_EQ(washer_fault_mask(), 0);
}

QTEST(washer, door_opened_while_locked_is_a_fault)
{
    QT_ASSERT_EQ(washer_start("wool"), WR_OK);
    fake_sensors.door_closed = 0;
    washer_step(SECOND);
    QT_ASSERT_EQ(washer_state(), WS_FAULT);
    QT_ASSERT(washer_fault_mask() & (1u << WF_DOOR_OPEN));
}

QTEST(washer, imbalance_counts_in_spin_only)
{
    QT_ASSERT_EQ(washer_start("quick"), WR_OK);
    fake_sensors.imbalance_pct = 50;
    fake_sensors.water_mm = 100;
    run_s(10);
    QT_ASSERT_EQ(washer_state(), WS_WASH);          /* not checked while washing */
    QT_ASSERT_EQ(washer_fault_mask(), 0);
    for (unsigned s = 0; s < 200 && washer_state() != WS_SPIN; s++)
        washer_step(SECOND);
    QT_ASSERT_EQ(washer_state(), WS_SPIN);
    washer_step(SECOND);
    QT_ASSERT_EQ(washer_state(), WS_FAULT);
    QT_ASSERT(washer_fault_mask() & (1u << WF_IMBALANCE));
}

QTEST(washer, stop_drains_then_idles)
{
    QT_ASSERT_EQ(washer_start("synthetic"), WR_OK);
    fake_sensors.water_mm = 100;
    washer_step(SECOND);
    QT_ASSERT_EQ(washer_stop(), WR_OK);
    QT_ASSERT_EQ(washer_state(), WS_DRAIN);
    QT_ASSERT_EQ(fake_outputs.pump, 1);
    fake_sensors.water_mm = 0;
    run_s(31);
    QT_ASSERT_EQ(washer_state(), WS_IDLE);
    QT_ASSERT_EQ(washer_stop(), WR_IDLE);
}

QTEST(washer, fill_timeout_after_two_minutes)
{
    QT_ASSERT_EQ(washer_start("cotton"), WR_OK);
    run_s(119);
    QT_ASSERT_EQ(washer_state(), WS_FILL);
    run_s(1);
    QT_ASSERT_EQ(washer_state(), WS_FAULT);
    QT_ASSERT(washer_fault_mask() & (1u << WF_FILL_TIMEOUT));
}
