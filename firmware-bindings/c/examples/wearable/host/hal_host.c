/*
 * The HAL on a PC: a simulated millisecond clock the test driver advances, sensor readings from the
 * driver's synthetic signals, and frames written to stdout.
 */
#include <stdio.h>

#include "../hal.h"
#include "host_signals.h"

uint32_t host_now_ms;

uint32_t hal_millis(void)
{
    return host_now_ms;
}

uint16_t hal_read_pulse(void)
{
    return host_pulse(host_now_ms);
}

uint8_t hal_read_step(void)
{
    return host_step(host_now_ms);
}

void hal_send(const uint8_t *bytes, size_t len)
{
    if (fwrite(bytes, 1, len, stdout) != len) {
        fprintf(stderr, "hal_send: write failed\n");
    }
}
