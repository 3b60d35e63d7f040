/*
 * What the wearable sketch needs from its hardware. wearable.ino implements it with the Arduino
 * API; host/hal_host.c implements it on a PC so the same core runs in the tests.
 */
#ifndef FEDWEAR_HAL_H
#define FEDWEAR_HAL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Milliseconds since boot (wraps after 49.7 days; the core uses wrap-safe differences). */
uint32_t hal_millis(void);
/* Pulse sensor ADC reading, 0..1023. */
uint16_t hal_read_pulse(void);
/* Step line level, 0 or 1. */
uint8_t hal_read_step(void);
/* Sends bytes to the gateway (USB serial, or a BLE UART). */
void hal_send(const uint8_t *bytes, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* FEDWEAR_HAL_H */
