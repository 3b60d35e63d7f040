/*
 * The wearable's firmware minus the hardware: sample the pulse sensor and the step line every
 * FW_SAMPLE_MS, detect beats and steps, and send fedwear wire-protocol frames (fedwear_wire.h):
 * deviceInfo at start, heartRate and steps every second, RR intervals every 5 s. This is the same
 * schedule and the same rules as the gateway's johnny-five component (PulseStepRecorder), so a
 * board running this sketch and a Firmata board on the gateway produce the same kind of stream.
 */
#ifndef FEDWEAR_WEARABLE_APP_H
#define FEDWEAR_WEARABLE_APP_H

#include <stdint.h>

#include "beat_detector.h"
#include "step_counter.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FW_SAMPLE_MS 20u
#define FW_HR_EVERY_MS 1000u
#define FW_RR_EVERY_MS 5000u
#define FW_STEPS_EVERY_MS 1000u
/* No heart rate (bpm 0, confidence 0) when the last beat is older than this. */
#define FW_HR_STALE_MS 3000u

typedef struct {
    uint32_t device_id;
    uint32_t seq;
    /* Wall-clock ms at boot, if the gateway ever tells us (0: timestamps are ms since boot). */
    uint64_t epoch_at_boot_ms;
    uint32_t next_sample_ms, next_hr_ms, next_rr_ms, next_steps_ms;
    uint8_t sampling;
    fw_beat_detector beats;
    fw_step_counter steps;
    uint16_t pending_rr[32];
    uint8_t pending_rr_n;
    uint32_t frames_sent, encode_errors;
} fw_wearable;

/* Starts the app at boot: sends deviceInfo. */
void fw_wearable_setup(fw_wearable *w, uint32_t device_id, uint64_t epoch_at_boot_ms);
/* Call from loop() as often as possible; samples when FW_SAMPLE_MS has passed (hal_millis). */
void fw_wearable_loop(fw_wearable *w);

#ifdef __cplusplus
}
#endif

#endif /* FEDWEAR_WEARABLE_APP_H */
