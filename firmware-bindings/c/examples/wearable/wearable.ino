/*
 * fedwear wearable sketch: a pulse sensor on A0, a step line on pin 2 (a pedometer IC's step
 * output, e.g. the step interrupt of a BMA400/LIS2DS12 accelerometer, or a reed switch to ground),
 * and fedwear wire-protocol frames to the gateway over USB serial, or over a BLE UART when
 * FEDWEAR_USE_BLE is defined (boards with ArduinoBLE, e.g. Nano 33 BLE; Nordic UART Service).
 *
 * Everything but the hardware lives in plain C (wearable_app.c, beat_detector.c, step_counter.c),
 * which the tests compile and run on the host with host/hal_host.c in place of this file.
 * The sketch folder needs fedwear_wire.h and fedwear_wire.c from firmware-bindings/c next to it:
 * copy them in (the Arduino IDE only compiles files inside the sketch folder).
 */
#include "hal.h"
#include "wearable_app.h"

#ifndef FEDWEAR_DEVICE_ID
#define FEDWEAR_DEVICE_ID 0x00C0FFEEul
#endif
#define PULSE_PIN A0
#define STEP_PIN 2

#ifdef FEDWEAR_USE_BLE
#include <ArduinoBLE.h>
/* Nordic UART Service: the gateway subscribes to TX notifications. */
static BLEService uart("6E400001-B5A3-F393-E0A9-E50E24DCCA9E");
static BLECharacteristic tx("6E400003-B5A3-F393-E0A9-E50E24DCCA9E", BLENotify, 20);
#endif

static fw_wearable app;

extern "C" uint32_t hal_millis(void) { return millis(); }
extern "C" uint16_t hal_read_pulse(void) { return (uint16_t)analogRead(PULSE_PIN); }
extern "C" uint8_t hal_read_step(void) { return digitalRead(STEP_PIN) == HIGH ? 1u : 0u; }

extern "C" void hal_send(const uint8_t *bytes, size_t len)
{
#ifdef FEDWEAR_USE_BLE
    /* A frame is at most 87 bytes; notifications carry 20. The 0x00 delimiter reassembles them. */
    while (len > 0) {
        size_t n = len < 20 ? len : 20;
        tx.writeValue(bytes, n);
        bytes += n;
        len -= n;
    }
#else
    Serial.write(bytes, len);
#endif
}

void setup()
{
    pinMode(STEP_PIN, INPUT);
#ifdef FEDWEAR_USE_BLE
    BLE.begin();
    BLE.setLocalName("fedwear");
    BLE.setAdvertisedService(uart);
    uart.addCharacteristic(tx);
    BLE.addService(uart);
    BLE.advertise();
#else
    Serial.begin(115200);
#endif
    fw_wearable_setup(&app, FEDWEAR_DEVICE_ID, 0);
}

void loop()
{
#ifdef FEDWEAR_USE_BLE
    BLE.poll();
#endif
    fw_wearable_loop(&app);
}
