/*
 * fedwear wire protocol, C99. Layout and check order: ../wire-format.md. Every step here has a
 * twin in the TypeScript codec (crc16.ts, cobs.ts, encode.ts, decode.ts, frame-decoder.ts).
 */
#include "fedwear_wire.h"

#include <string.h>

/* ---- CRC-16/CCITT-FALSE: reveng catalogue entry CRC-16/IBM-3740; bitwise form, no table, to
 * spare 512 bytes of flash (the gateway side uses a table). ---- */

uint16_t fw_crc16_update(uint16_t crc, const uint8_t *data, size_t len)
{
    size_t i;
    int bit;
    for (i = 0; i < len; i++) {
        crc = (uint16_t)(crc ^ ((uint16_t)data[i] << 8));
        for (bit = 0; bit < 8; bit++) {
            crc = (crc & 0x8000u) ? (uint16_t)((crc << 1) ^ 0x1021u) : (uint16_t)(crc << 1);
        }
    }
    return crc;
}

uint16_t fw_crc16(const uint8_t *data, size_t len)
{
    return fw_crc16_update((uint16_t)FW_CRC16_INIT, data, len);
}

/* ---- COBS (Cheshire and Baker, IEEE/ACM ToN 7(2), 1999). A final full 0xFF block gets no
 * empty block after it, as in cobs.ts. ---- */

size_t fw_cobs_encode(const uint8_t *src, size_t len, uint8_t *dst, size_t cap)
{
    size_t code_at = 0;
    size_t w = 1;
    uint8_t code = 1;
    size_t i;
    if (cap < FW_COBS_MAX_ENCODED_LEN(len)) {
        return 0;
    }
    for (i = 0; i < len; i++) {
        if (src[i] == 0) {
            dst[code_at] = code;
            code_at = w++;
            code = 1;
        } else {
            dst[w++] = src[i];
            code++;
            if (code == 0xFF) {
                dst[code_at] = code;
                code = 1;
                if (i + 1 == len) {
                    return w;
                }
                code_at = w++;
            }
        }
    }
    dst[code_at] = code;
    return w;
}

int fw_cobs_decode(const uint8_t *src, size_t len, uint8_t *dst, size_t cap, size_t *out_len)
{
    size_t i = 0;
    size_t w = 0;
    if (len == 0) {
        return FW_ERR_COBS;
    }
    while (i < len) {
        uint8_t code = src[i];
        size_t end;
        size_t j;
        if (code == 0) {
            return FW_ERR_COBS;
        }
        end = i + code;
        if (end > len) {
            return FW_ERR_COBS;
        }
        for (j = i + 1; j < end; j++) {
            if (src[j] == 0) {
                return FW_ERR_COBS;
            }
            if (w >= cap) {
                return FW_ERR_BUFFER;
            }
            dst[w++] = src[j];
        }
        i = end;
        if (code != 0xFF && i < len) {
            if (w >= cap) {
                return FW_ERR_BUFFER;
            }
            dst[w++] = 0;
        }
    }
    *out_len = w;
    return FW_OK;
}

/* ---- little-endian fields ---- */

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v & 0xFFu);
    p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v & 0xFFu);
    p[1] = (uint8_t)((v >> 8) & 0xFFu);
    p[2] = (uint8_t)((v >> 16) & 0xFFu);
    p[3] = (uint8_t)(v >> 24);
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)((uint16_t)p[0] | ((uint16_t)p[1] << 8));
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

/* Well-formed UTF-8 per RFC 3629 section 4 (no overlongs, no surrogates, nothing past
 * U+10FFFF): exactly what the TypeScript side's fatal TextDecoder accepts. */
static int utf8_valid(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        size_t extra;
        uint8_t lo = 0x80, hi = 0xBF;
        size_t k;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            extra = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            extra = 2;
            if (c == 0xE0) {
                lo = 0xA0;
            } else if (c == 0xED) {
                hi = 0x9F;
            }
        } else if (c >= 0xF0 && c <= 0xF4) {
            extra = 3;
            if (c == 0xF0) {
                lo = 0x90;
            } else if (c == 0xF4) {
                hi = 0x8F;
            }
        } else {
            return 0;
        }
        if (i + extra >= n) {
            return 0;
        }
        if (s[i + 1] < lo || s[i + 1] > hi) {
            return 0;
        }
        for (k = 2; k <= extra; k++) {
            if (s[i + k] < 0x80 || s[i + k] > 0xBF) {
                return 0;
            }
        }
        i += extra + 1;
    }
    return 1;
}

/* ---- encoding ---- */

static size_t payload_len(const fw_record *rec)
{
    switch (rec->type) {
    case FW_TYPE_HEART_RATE:
        return 3;
    case FW_TYPE_RR_INTERVALS:
        return 1u + 2u * rec->u.rr.count;
    case FW_TYPE_STEPS:
        return 4;
    case FW_TYPE_ENERGY_LABEL:
        return 7;
    case FW_TYPE_BATTERY:
        return 3;
    case FW_TYPE_DEVICE_INFO:
        return 5u + rec->u.device_info.model_len;
    default:
        return 0;
    }
}

static int check_fields(const fw_record *rec)
{
    if (rec->timestamp_ms > FW_MAX_TIMESTAMP_MS) {
        return FW_ERR_FIELD;
    }
    switch (rec->type) {
    case FW_TYPE_HEART_RATE:
        return rec->u.heart_rate.confidence <= 100 ? FW_OK : FW_ERR_FIELD;
    case FW_TYPE_RR_INTERVALS:
        return rec->u.rr.count <= FW_MAX_RR ? FW_OK : FW_ERR_FIELD;
    case FW_TYPE_STEPS:
        return FW_OK;
    case FW_TYPE_ENERGY_LABEL:
        return rec->u.energy_label.source >= FW_SOURCE_CHEST_STRAP && rec->u.energy_label.source <= FW_SOURCE_LAB
                   ? FW_OK
                   : FW_ERR_FIELD;
    case FW_TYPE_BATTERY:
        return rec->u.battery.percent <= 100 ? FW_OK : FW_ERR_FIELD;
    case FW_TYPE_DEVICE_INFO:
        if (rec->u.device_info.model_len > FW_MAX_MODEL_LEN) {
            return FW_ERR_FIELD;
        }
        return utf8_valid((const uint8_t *)rec->u.device_info.model, rec->u.device_info.model_len) ? FW_OK
                                                                                                   : FW_ERR_FIELD;
    default:
        return FW_ERR_UNKNOWN_TYPE;
    }
}

int fw_encode_record(const fw_record *rec, uint8_t *dst, size_t cap)
{
    size_t n;
    uint8_t *p;
    uint8_t i;
    int err = check_fields(rec);
    if (err != FW_OK) {
        return err;
    }
    n = FW_HEADER_LEN + payload_len(rec) + FW_CRC_LEN;
    if (cap < n) {
        return FW_ERR_BUFFER;
    }
    dst[0] = (uint8_t)FW_PROTOCOL_VERSION;
    dst[1] = rec->type;
    put32(dst + 2, rec->device_id);
    put32(dst + 6, rec->seq);
    put32(dst + 10, (uint32_t)(rec->timestamp_ms & 0xFFFFFFFFu));
    put32(dst + 14, (uint32_t)(rec->timestamp_ms >> 32));
    p = dst + FW_HEADER_LEN;
    switch (rec->type) {
    case FW_TYPE_HEART_RATE:
        put16(p, rec->u.heart_rate.bpm_x10);
        p[2] = rec->u.heart_rate.confidence;
        break;
    case FW_TYPE_RR_INTERVALS:
        p[0] = rec->u.rr.count;
        for (i = 0; i < rec->u.rr.count; i++) {
            put16(p + 1 + 2u * i, rec->u.rr.ms[i]);
        }
        break;
    case FW_TYPE_STEPS:
        put32(p, rec->u.steps.total);
        break;
    case FW_TYPE_ENERGY_LABEL:
        put32(p, rec->u.energy_label.kcal_per_min_x1000);
        put16(p + 4, rec->u.energy_label.duration_s);
        p[6] = rec->u.energy_label.source;
        break;
    case FW_TYPE_BATTERY:
        p[0] = rec->u.battery.percent;
        put16(p + 1, rec->u.battery.millivolts);
        break;
    default: /* FW_TYPE_DEVICE_INFO; check_fields refused anything else */
        p[0] = rec->u.device_info.fw_major;
        p[1] = rec->u.device_info.fw_minor;
        p[2] = rec->u.device_info.fw_patch;
        p[3] = rec->u.device_info.hw_rev;
        p[4] = rec->u.device_info.model_len;
        memcpy(p + 5, rec->u.device_info.model, rec->u.device_info.model_len);
        break;
    }
    {
        uint16_t crc = fw_crc16(dst, n - FW_CRC_LEN);
        dst[n - 2] = (uint8_t)(crc >> 8); /* big-endian: the CRC register's natural order */
        dst[n - 1] = (uint8_t)(crc & 0xFFu);
    }
    return (int)n;
}

int fw_encode_frame(const fw_record *rec, uint8_t *dst, size_t cap)
{
    uint8_t raw[FW_MAX_RECORD_LEN];
    size_t m;
    int n = fw_encode_record(rec, raw, sizeof raw);
    if (n < 0) {
        return n;
    }
    if (cap < 1) {
        return FW_ERR_BUFFER;
    }
    m = fw_cobs_encode(raw, (size_t)n, dst, cap - 1);
    if (m == 0) {
        return FW_ERR_BUFFER;
    }
    dst[m] = 0;
    return (int)(m + 1);
}

/* ---- decoding: same check order as decode.ts ---- */

int fw_decode_record(const uint8_t *src, size_t len, fw_record *out)
{
    size_t body;
    size_t n;
    const uint8_t *p;
    uint8_t type;
    uint32_t ts_high;
    uint8_t i;
    if (len < FW_HEADER_LEN + FW_CRC_LEN) {
        return FW_ERR_LENGTH;
    }
    body = len - FW_CRC_LEN;
    if (fw_crc16(src, body) != (uint16_t)(((uint16_t)src[body] << 8) | src[body + 1])) {
        return FW_ERR_CRC;
    }
    if (src[0] != FW_PROTOCOL_VERSION) {
        return FW_ERR_VERSION;
    }
    type = src[1];
    if (type < FW_TYPE_HEART_RATE || type > FW_TYPE_DEVICE_INFO) {
        return FW_ERR_UNKNOWN_TYPE;
    }
    n = body - FW_HEADER_LEN;
    p = src + FW_HEADER_LEN;
    switch (type) {
    case FW_TYPE_HEART_RATE:
    case FW_TYPE_BATTERY:
        if (n != 3) {
            return FW_ERR_LENGTH;
        }
        break;
    case FW_TYPE_STEPS:
        if (n != 4) {
            return FW_ERR_LENGTH;
        }
        break;
    case FW_TYPE_ENERGY_LABEL:
        if (n != 7) {
            return FW_ERR_LENGTH;
        }
        break;
    case FW_TYPE_RR_INTERVALS:
        if (n < 1 || p[0] > FW_MAX_RR || n != 1u + 2u * p[0]) {
            return FW_ERR_LENGTH;
        }
        break;
    default: /* FW_TYPE_DEVICE_INFO */
        if (n < 5 || p[4] > FW_MAX_MODEL_LEN || n != 5u + p[4]) {
            return FW_ERR_LENGTH;
        }
        break;
    }
    ts_high = get32(src + 14);
    if (ts_high > 0x1FFFFFu) {
        return FW_ERR_FIELD;
    }
    switch (type) {
    case FW_TYPE_HEART_RATE:
        if (p[2] > 100) {
            return FW_ERR_FIELD;
        }
        break;
    case FW_TYPE_ENERGY_LABEL:
        if (p[6] < FW_SOURCE_CHEST_STRAP || p[6] > FW_SOURCE_LAB) {
            return FW_ERR_FIELD;
        }
        break;
    case FW_TYPE_BATTERY:
        if (p[0] > 100) {
            return FW_ERR_FIELD;
        }
        break;
    case FW_TYPE_DEVICE_INFO:
        if (!utf8_valid(p + 5, p[4])) {
            return FW_ERR_FIELD;
        }
        break;
    default:
        break;
    }
    /* Valid: only now touch *out, so a rejected frame leaves the caller's record alone. */
    memset(out, 0, sizeof *out);
    out->type = type;
    out->device_id = get32(src + 2);
    out->seq = get32(src + 6);
    out->timestamp_ms = ((uint64_t)ts_high << 32) | get32(src + 10);
    switch (type) {
    case FW_TYPE_HEART_RATE:
        out->u.heart_rate.bpm_x10 = get16(p);
        out->u.heart_rate.confidence = p[2];
        break;
    case FW_TYPE_RR_INTERVALS:
        out->u.rr.count = p[0];
        for (i = 0; i < p[0]; i++) {
            out->u.rr.ms[i] = get16(p + 1 + 2u * i);
        }
        break;
    case FW_TYPE_STEPS:
        out->u.steps.total = get32(p);
        break;
    case FW_TYPE_ENERGY_LABEL:
        out->u.energy_label.kcal_per_min_x1000 = get32(p);
        out->u.energy_label.duration_s = get16(p + 4);
        out->u.energy_label.source = p[6];
        break;
    case FW_TYPE_BATTERY:
        out->u.battery.percent = p[0];
        out->u.battery.millivolts = get16(p + 1);
        break;
    default:
        out->u.device_info.fw_major = p[0];
        out->u.device_info.fw_minor = p[1];
        out->u.device_info.fw_patch = p[2];
        out->u.device_info.hw_rev = p[3];
        out->u.device_info.model_len = p[4];
        memcpy(out->u.device_info.model, p + 5, p[4]);
        out->u.device_info.model[p[4]] = '\0';
        break;
    }
    return FW_OK;
}

/* ---- streaming decoder: frame-decoder.ts, byte at a time ---- */

void fw_decoder_init(fw_decoder *d)
{
    memset(d, 0, sizeof *d);
}

static int reject(fw_decoder *d, int err)
{
    d->stats.frames_bad++;
    switch (err) {
    case FW_ERR_COBS:
        d->stats.cobs++;
        break;
    case FW_ERR_LENGTH:
        d->stats.length++;
        break;
    case FW_ERR_CRC:
        d->stats.crc++;
        break;
    case FW_ERR_VERSION:
        d->stats.version++;
        break;
    case FW_ERR_UNKNOWN_TYPE:
        d->stats.unknown_type++;
        break;
    default:
        d->stats.field++;
        break;
    }
    return err;
}

/* A forward jump of m < 2^31 means m frames never arrived; anything else went backwards. */
static void track(fw_decoder *d, uint32_t device_id, uint32_t seq)
{
    size_t i;
    for (i = 0; i < d->device_count; i++) {
        if (d->devices[i].device_id == device_id) {
            uint32_t missing = seq - d->devices[i].last_seq - 1u;
            if (missing != 0) {
                if (missing < 0x80000000u) {
                    d->stats.seq_gaps += missing;
                    d->stats.seq_gap_events++;
                } else {
                    d->stats.seq_rewinds++;
                }
            }
            d->devices[i].last_seq = seq;
            return;
        }
    }
    if (d->device_count < FW_DECODER_MAX_DEVICES) {
        i = d->device_count++;
    } else {
        /* Forget the device seen first, as the TypeScript decoder does. */
        i = d->device_oldest;
        d->device_oldest = (d->device_oldest + 1) % FW_DECODER_MAX_DEVICES;
    }
    d->devices[i].device_id = device_id;
    d->devices[i].last_seq = seq;
}

static void restart(fw_decoder *d)
{
    d->decoded_len = 0;
    d->encoded_len = 0;
    d->block_left = 0;
    d->zero_pending = 0;
    d->dropping = 0;
}

int fw_decoder_push(fw_decoder *d, uint8_t byte, fw_record *out)
{
    if (byte == 0) {
        int result = 0;
        /* Empty frames are not errors: a sender may lead with 0x00 to flush the receiver. */
        if (!d->dropping && d->encoded_len > 0) {
            if (d->block_left != 0) {
                result = reject(d, FW_ERR_COBS);
            } else {
                int err = fw_decode_record(d->buf, d->decoded_len, out);
                if (err != FW_OK) {
                    result = reject(d, err);
                } else {
                    d->stats.frames_ok++;
                    track(d, out->device_id, out->seq);
                    result = 1;
                }
            }
        }
        restart(d);
        return result;
    }
    if (d->dropping) {
        return 0;
    }
    if (++d->encoded_len > FW_DECODER_MAX_FRAME) {
        d->dropping = 1;
        return reject(d, FW_ERR_LENGTH);
    }
    if (d->block_left == 0) {
        if (d->zero_pending) {
            d->buf[d->decoded_len++] = 0;
        }
        d->block_left = (uint8_t)(byte - 1u);
        d->zero_pending = byte != 0xFF;
    } else {
        d->buf[d->decoded_len++] = byte;
        d->block_left--;
    }
    return 0;
}

int fw_decoder_end(fw_decoder *d)
{
    int result = 0;
    if (!d->dropping && d->encoded_len > 0) {
        result = reject(d, FW_ERR_LENGTH);
    }
    restart(d);
    return result;
}
