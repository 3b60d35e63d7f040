/*
 * Heartbeats from a pulse-sensor waveform sampled at a fixed rate: the same method as
 * firmware-bindings/johnny-five/beat-detector.ts (PulseSensor-style adaptive threshold, 60%-of-last-
 * interval refractory period, interpolated upward crossing, plausibility check against the median
 * of the last 7 intervals, restart after 2.5 s without a beat), in integer arithmetic for an MCU.
 */
#ifndef FEDWEAR_BEAT_DETECTOR_H
#define FEDWEAR_BEAT_DETECTOR_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FW_BEAT_WINDOW 7u

typedef struct {
    uint16_t min_ibi_ms; /* 250: 240 bpm */
    uint16_t max_ibi_ms; /* 2000: 30 bpm */
    uint16_t reset_after_ms; /* 2500 */
    int32_t threshold, peak, trough, seen_min, seen_max, prev_v;
    uint32_t start_ms, last_beat_ms, prev_t;
    uint16_t last_ibi_ms;
    uint8_t have_threshold, in_pulse, have_last_beat, have_prev, refused_in_a_row;
    uint16_t recent[FW_BEAT_WINDOW]; /* accepted intervals, oldest first */
    uint8_t recent_n;
    uint8_t started;
    uint32_t beats, ibis_accepted, ibis_refused, resets;
} fw_beat_detector;

void fw_beat_init(fw_beat_detector *d);
/* One sample. Returns 0: no beat; 1: a beat without a usable interval; 2: a beat whose interval
 * (ms) was accepted and written to *ibi_ms. */
int fw_beat_push(fw_beat_detector *d, int32_t value, uint32_t t_ms, uint16_t *ibi_ms);
/* Median of the accepted intervals in the window, or 0 when there are none. */
uint16_t fw_beat_median_ibi(const fw_beat_detector *d);

#ifdef __cplusplus
}
#endif

#endif /* FEDWEAR_BEAT_DETECTOR_H */
