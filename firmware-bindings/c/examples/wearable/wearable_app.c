#include "wearable_app.h"

#include <string.h>

#include "fedwear_wire.h"
#include "hal.h"

#define FW_MODEL "fedwear-wearable-sketch"

static void send_record(fw_wearable *w, fw_record *r, uint32_t now)
{
    uint8_t tx[FW_MAX_FRAME_LEN];
    int n;
    r->device_id = w->device_id;
    r->seq = w->seq++;
    r->timestamp_ms = w->epoch_at_boot_ms + now;
    n = fw_encode_frame(r, tx, sizeof tx);
    if (n < 0) {
        w->encode_errors++;
        return;
    }
    hal_send(tx, (size_t)n);
    w->frames_sent++;
}

void fw_wearable_setup(fw_wearable *w, uint32_t device_id, uint64_t epoch_at_boot_ms)
{
    fw_record r;
    uint32_t now = hal_millis();
    memset(w, 0, sizeof *w);
    w->device_id = device_id;
    w->epoch_at_boot_ms = epoch_at_boot_ms;
    fw_beat_init(&w->beats);
    fw_steps_init(&w->steps, 0u);
    w->next_sample_ms = now;
    w->next_hr_ms = now + FW_HR_EVERY_MS;
    w->next_rr_ms = now + FW_RR_EVERY_MS;
    w->next_steps_ms = now + FW_STEPS_EVERY_MS;
    memset(&r, 0, sizeof r);
    r.type = FW_TYPE_DEVICE_INFO;
    r.u.device_info.fw_major = 1u;
    r.u.device_info.fw_minor = 0u;
    r.u.device_info.fw_patch = 0u;
    r.u.device_info.hw_rev = 1u;
    r.u.device_info.model_len = (uint8_t)(sizeof FW_MODEL - 1u);
    memcpy(r.u.device_info.model, FW_MODEL, sizeof FW_MODEL);
    send_record(w, &r, now);
}

/* Wrap-safe "a is at or after b" for millis() values. */
static int reached(uint32_t a, uint32_t b)
{
    return (uint32_t)(a - b) < 0x80000000u;
}

static void heart_rate(fw_wearable *w, uint32_t t)
{
    fw_record r;
    uint16_t med = fw_beat_median_ibi(&w->beats);
    memset(&r, 0, sizeof r);
    r.type = FW_TYPE_HEART_RATE;
    if (w->beats.recent_n >= 3u && w->beats.have_last_beat && t - w->beats.last_beat_ms <= FW_HR_STALE_MS && med > 0u) {
        /* Spread of the window: median absolute deviation, as a share of the median. */
        uint16_t dev[FW_BEAT_WINDOW];
        uint8_t i, j, n = w->beats.recent_n;
        uint16_t mad;
        int32_t conf;
        for (i = 0; i < n; i++) {
            uint16_t x = w->beats.recent[i];
            uint16_t d = x > med ? (uint16_t)(x - med) : (uint16_t)(med - x);
            for (j = i; j > 0u && dev[j - 1u] > d; j--) {
                dev[j] = dev[j - 1u];
            }
            dev[j] = d;
        }
        mad = (n & 1u) ? dev[n / 2u] : (uint16_t)((dev[n / 2u - 1u] + dev[n / 2u]) / 2u);
        conf = 100 - (int32_t)((400u * mad + med / 2u) / med);
        r.u.heart_rate.bpm_x10 = (uint16_t)((600000u + med / 2u) / med);
        r.u.heart_rate.confidence = (uint8_t)(conf < 5 ? 5 : conf > 100 ? 100 : conf);
    }
    send_record(w, &r, t);
}

static void rr_intervals(fw_wearable *w, uint32_t t)
{
    fw_record r;
    if (w->pending_rr_n == 0u) {
        return;
    }
    memset(&r, 0, sizeof r);
    r.type = FW_TYPE_RR_INTERVALS;
    r.u.rr.count = w->pending_rr_n;
    memcpy(r.u.rr.ms, w->pending_rr, w->pending_rr_n * sizeof w->pending_rr[0]);
    w->pending_rr_n = 0u;
    send_record(w, &r, t);
}

static void steps(fw_wearable *w, uint32_t t)
{
    fw_record r;
    memset(&r, 0, sizeof r);
    r.type = FW_TYPE_STEPS;
    r.u.steps.total = w->steps.total;
    send_record(w, &r, t);
}

void fw_wearable_loop(fw_wearable *w)
{
    uint32_t t = hal_millis();
    uint16_t ibi = 0u;
    if (!reached(t, w->next_sample_ms)) {
        return;
    }
    /* Date the sample by its slot, not by when loop() got round to it, so the sample clock stays regular. */
    t = w->next_sample_ms;
    w->next_sample_ms += FW_SAMPLE_MS;
    fw_steps_sample(&w->steps, hal_read_step(), t);
    if (fw_beat_push(&w->beats, (int32_t)hal_read_pulse(), t, &ibi) == 2) {
        if (w->pending_rr_n == sizeof w->pending_rr / sizeof w->pending_rr[0]) {
            rr_intervals(w, t); /* full: send early rather than drop */
        }
        w->pending_rr[w->pending_rr_n++] = ibi;
    }
    if (reached(t, w->next_hr_ms)) {
        heart_rate(w, t);
        w->next_hr_ms += FW_HR_EVERY_MS;
    }
    if (reached(t, w->next_rr_ms)) {
        rr_intervals(w, t);
        w->next_rr_ms += FW_RR_EVERY_MS;
    }
    if (reached(t, w->next_steps_ms)) {
        steps(w, t);
        w->next_steps_ms += FW_STEPS_EVERY_MS;
    }
}
