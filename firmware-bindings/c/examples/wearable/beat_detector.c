/* See beat_detector.h; the TypeScript twin explains each step. */
#include "beat_detector.h"

#include <string.h>

void fw_beat_init(fw_beat_detector *d)
{
    memset(d, 0, sizeof *d);
    d->min_ibi_ms = 250u;
    d->max_ibi_ms = 2000u;
    d->reset_after_ms = 2500u;
    d->last_ibi_ms = 600u;
    d->seen_min = INT32_MAX;
    d->seen_max = INT32_MIN;
}

static void restart(fw_beat_detector *d, uint32_t t_ms)
{
    uint32_t beats = d->beats, acc = d->ibis_accepted, ref = d->ibis_refused, resets = d->resets + 1u;
    fw_beat_init(d);
    d->beats = beats;
    d->ibis_accepted = acc;
    d->ibis_refused = ref;
    d->resets = resets;
    d->started = 1u;
    d->start_ms = t_ms;
}

static uint16_t median_of(const uint16_t *xs, uint8_t n)
{
    uint16_t s[FW_BEAT_WINDOW];
    uint8_t i, j;
    if (n == 0u) {
        return 0u;
    }
    for (i = 0; i < n; i++) {
        uint16_t x = xs[i];
        for (j = i; j > 0u && s[j - 1u] > x; j--) {
            s[j] = s[j - 1u];
        }
        s[j] = x;
    }
    return (n & 1u) ? s[n / 2u] : (uint16_t)(((uint32_t)s[n / 2u - 1u] + s[n / 2u]) / 2u);
}

uint16_t fw_beat_median_ibi(const fw_beat_detector *d)
{
    return median_of(d->recent, d->recent_n);
}

static int beat_at(fw_beat_detector *d, uint32_t at, uint16_t *ibi_ms)
{
    uint32_t ibi;
    uint16_t med;
    int plausible;
    d->beats++;
    if (!d->have_last_beat) {
        d->have_last_beat = 1u;
        d->last_beat_ms = at;
        return 1;
    }
    ibi = at - d->last_beat_ms;
    d->last_beat_ms = at;
    med = fw_beat_median_ibi(d);
    plausible = ibi >= d->min_ibi_ms && ibi <= d->max_ibi_ms;
    if (plausible && d->recent_n >= 3u) {
        uint32_t dev = ibi > med ? ibi - med : med - ibi;
        plausible = dev * 10u <= (uint32_t)med * 3u; /* within 30% of the median */
    }
    if (!plausible) {
        d->ibis_refused++;
        if (++d->refused_in_a_row >= 3u) {
            d->recent_n = 0u;
        }
        return 1;
    }
    d->refused_in_a_row = 0u;
    d->last_ibi_ms = (uint16_t)ibi;
    if (d->recent_n == FW_BEAT_WINDOW) {
        memmove(d->recent, d->recent + 1, (FW_BEAT_WINDOW - 1u) * sizeof d->recent[0]);
        d->recent_n--;
    }
    d->recent[d->recent_n++] = (uint16_t)ibi;
    d->ibis_accepted++;
    *ibi_ms = (uint16_t)ibi;
    return 2;
}

int fw_beat_push(fw_beat_detector *d, int32_t v, uint32_t t, uint16_t *ibi_ms)
{
    int result = 0;
    if (!d->started) {
        d->started = 1u;
        d->start_ms = t;
    }
    if (!d->have_threshold) {
        if (v < d->seen_min) {
            d->seen_min = v;
        }
        if (v > d->seen_max) {
            d->seen_max = v;
        }
        if (t - d->start_ms >= d->max_ibi_ms && d->seen_max > d->seen_min) {
            d->threshold = (d->seen_min + d->seen_max) / 2;
            d->peak = d->threshold;
            d->trough = d->threshold;
            d->have_threshold = 1u;
        }
    } else {
        uint32_t since = d->have_last_beat ? t - d->last_beat_ms : UINT32_MAX;
        uint32_t refractory = (uint32_t)d->last_ibi_ms * 6u / 10u;
        uint32_t quiet;
        if (refractory < d->min_ibi_ms) {
            refractory = d->min_ibi_ms;
        }
        if (v < d->threshold && since > refractory && v < d->trough) {
            d->trough = v;
        }
        if (v > d->threshold && v > d->peak) {
            d->peak = v;
        }
        if (!d->in_pulse && v >= d->threshold && d->have_prev && d->prev_v < d->threshold && since > refractory) {
            /* Linear interpolation of the crossing between the previous sample and this one. */
            uint32_t at = d->prev_t + (uint32_t)(((int64_t)(t - d->prev_t) * (d->threshold - d->prev_v)) / (v - d->prev_v));
            d->in_pulse = 1u;
            result = beat_at(d, at, ibi_ms);
        }
        if (d->in_pulse && v < d->threshold) {
            d->in_pulse = 0u;
            if (d->peak > d->trough) {
                d->threshold = (d->peak + d->trough) / 2;
            }
            d->peak = d->threshold;
            d->trough = d->threshold;
        }
        quiet = d->have_last_beat ? t - d->last_beat_ms : (t - d->start_ms) - d->max_ibi_ms;
        if (quiet > d->reset_after_ms && quiet < 0x80000000u) {
            restart(d, t);
        }
    }
    d->prev_v = v;
    d->prev_t = t;
    d->have_prev = 1u;
    return result;
}
