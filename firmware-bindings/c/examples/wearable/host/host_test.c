/*
 * Runs the wearable sketch's core (wearable_app.c) on the host against synthetic sensors and writes
 * the frames it sends to stdout; the truth goes to stderr. The TypeScript test decodes the frames
 * with FrameDecoder and compares.
 *
 *   host_test BPM STEPS_PER_MIN DURATION_S [bounce]
 *
 * Pulse: a PPG-like wave (systolic peak, then a smaller diastolic wave) at exactly BPM, on a
 * drifting baseline with a little noise. Steps: pulses 100 ms wide at STEPS_PER_MIN, none in the
 * last 500 ms so every one is counted by the end; with "bounce", each edge chatters for one sample.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../wearable_app.h"
#include "host_signals.h"

static double beat_ms, step_ms;
static uint32_t duration_ms, steps_emitted_limit;
static int bounce;
static uint32_t noise_state = 12345u;

/* Biweight kernel: a smooth bump of half-width w around c, without libm. */
static double bump(double x, double c, double w)
{
    double u = (x - c) / w;
    return u <= -1.0 || u >= 1.0 ? 0.0 : (1.0 - u * u) * (1.0 - u * u);
}

/* Triangle wave in [-1, 1] with the given period. */
static double triangle(double t, double period)
{
    double p = t / period - (double)(long)(t / period);
    return p < 0.5 ? 4.0 * p - 1.0 : 3.0 - 4.0 * p;
}

uint16_t host_pulse(uint32_t t)
{
    double v = 480.0 + 18.0 * triangle((double)t, 4000.0);
    long k = (long)((double)t / beat_ms);
    long j;
    /* The last two beats can still shape the wave. */
    for (j = k - 1; j <= k; j++) {
        double tau = (double)t - (100.0 + (double)j * beat_ms);
        if (j >= 0) {
            v += 260.0 * bump(tau, 130.0, 110.0) + 100.0 * bump(tau, 360.0, 150.0);
        }
    }
    noise_state = noise_state * 1103515245u + 12345u;
    v += (double)((noise_state >> 16) % 7u) - 3.0;
    if (v < 0.0) {
        v = 0.0;
    }
    return (uint16_t)(v > 1023.0 ? 1023.0 : v);
}

uint8_t host_step(uint32_t t)
{
    long k;
    double rise, dt;
    if (step_ms <= 0.0 || (double)t < 250.0) {
        return 0u;
    }
    k = (long)(((double)t - 250.0) / step_ms);
    if ((uint32_t)k >= steps_emitted_limit) {
        return 0u;
    }
    rise = 250.0 + (double)k * step_ms;
    dt = (double)t - rise;
    if (bounce && ((dt >= 20.0 && dt < 40.0) || (dt >= 120.0 && dt < 140.0))) {
        return dt < 100.0 ? 0u : 1u; /* one sample of the old level right after each edge */
    }
    return dt < 100.0 ? 1u : 0u;
}

int main(int argc, char **argv)
{
    fw_wearable app;
    double bpm, spm;
    uint32_t t;
    if (argc < 4) {
        fprintf(stderr, "usage: host_test BPM STEPS_PER_MIN DURATION_S [bounce]\n");
        return 2;
    }
    bpm = atof(argv[1]);
    spm = atof(argv[2]);
    duration_ms = (uint32_t)(atof(argv[3]) * 1000.0);
    bounce = argc > 4 && strcmp(argv[4], "bounce") == 0;
    if (bpm < 30.0 || bpm > 240.0 || spm < 0.0 || spm > 300.0 || duration_ms < 1000u) {
        fprintf(stderr, "host_test: BPM must be 30..240, STEPS_PER_MIN 0..300, DURATION_S >= 1\n");
        return 2;
    }
    beat_ms = 60000.0 / bpm;
    step_ms = spm > 0.0 ? 60000.0 / spm : 0.0;
    steps_emitted_limit = step_ms > 0.0 && duration_ms > 750u ? (uint32_t)(((double)duration_ms - 750.0) / step_ms) + 1u : 0u;

    host_now_ms = 0u;
    fw_wearable_setup(&app, 0x00C0FFEEu, 1732000000000ull);
    /* The Arduino loop() spins much faster than the 20-ms sampling; 1 ms is close enough. */
    for (t = 0u; t <= duration_ms; t++) {
        host_now_ms = t;
        fw_wearable_loop(&app);
    }
    fflush(stdout);
    fprintf(stderr, "truth steps=%lu beats_per_min=%.3f frames=%lu encode_errors=%lu bounces_ignored=%lu ibis_refused=%lu\n",
            (unsigned long)steps_emitted_limit, bpm, (unsigned long)app.frames_sent, (unsigned long)app.encode_errors,
            (unsigned long)app.steps.bounces_ignored, (unsigned long)app.beats.ibis_refused);
    return 0;
}
