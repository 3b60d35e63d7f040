/*
 * fedwear device-to-gateway wire protocol, C99 side. Byte layout: ../wire-format.md.
 * Mirrors ../layout.ts and ../records.ts; the shared vectors (tests/fixtures/wire-vectors.json)
 * and a differential test against the TypeScript codec keep the two identical.
 *
 * No heap, no I/O, nothing beyond <stdint.h>, <stddef.h> and <string.h>: every function writes
 * into a buffer the caller owns, so it runs on a microcontroller as-is.
 */
#ifndef FEDWEAR_WIRE_H
#define FEDWEAR_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define FW_PROTOCOL_VERSION 1u

#define FW_TYPE_HEART_RATE 1u
#define FW_TYPE_RR_INTERVALS 2u
#define FW_TYPE_STEPS 3u
#define FW_TYPE_ENERGY_LABEL 4u
#define FW_TYPE_BATTERY 5u
#define FW_TYPE_DEVICE_INFO 6u

#define FW_SOURCE_CHEST_STRAP 1u
#define FW_SOURCE_GYM_EQUIPMENT 2u
#define FW_SOURCE_LAB 3u

#define FW_HEADER_LEN 18u
#define FW_CRC_LEN 2u
#define FW_MAX_RR 32u
#define FW_MAX_MODEL_LEN 32u
/* Timestamps must stay below 2^53 so the TypeScript side can hold them exactly. */
#define FW_MAX_TIMESTAMP_MS 9007199254740991ull

/* Longest header + payload + CRC: an RR record with 32 intervals (18 + 65 + 2). */
#define FW_MAX_RECORD_LEN (FW_HEADER_LEN + 1u + 2u * FW_MAX_RR + FW_CRC_LEN)
/* Upper bound on COBS output for n input bytes (exact for n > 0: n + ceil(n / 254)). */
#define FW_COBS_MAX_ENCODED_LEN(n) ((n) + ((n) + 253u) / 254u + ((n) == 0u ? 1u : 0u))
/* Longest encoded frame without its 0x00 (86), and with it (87): size your TX buffer to this. */
#define FW_MAX_ENCODED_LEN FW_COBS_MAX_ENCODED_LEN(FW_MAX_RECORD_LEN)
#define FW_MAX_FRAME_LEN (FW_MAX_ENCODED_LEN + 1u)

/* Decoder sizing; override with -D when compiling. The frame limit matches the TypeScript
 * decoder's default maxFrameLength. A device-side decoder hears few senders, so 8 devices by
 * default (the TypeScript decoder, gateway-sized, tracks 1024); both forget the oldest first. */
#ifndef FW_DECODER_MAX_FRAME
#define FW_DECODER_MAX_FRAME FW_MAX_ENCODED_LEN
#endif
#ifndef FW_DECODER_MAX_DEVICES
#define FW_DECODER_MAX_DEVICES 8u
#endif

/* Results. Decoding errors are the TypeScript WireErrorKind values, in the same order. */
#define FW_OK 0
#define FW_ERR_COBS (-1)
#define FW_ERR_LENGTH (-2)
#define FW_ERR_CRC (-3)
#define FW_ERR_VERSION (-4)
#define FW_ERR_UNKNOWN_TYPE (-5)
#define FW_ERR_FIELD (-6)
/* Encoding only: the caller's buffer is too small. */
#define FW_ERR_BUFFER (-7)

typedef struct {
    uint8_t type; /* FW_TYPE_* */
    uint32_t device_id;
    uint32_t seq;
    uint64_t timestamp_ms;
    union {
        struct {
            uint16_t bpm_x10; /* bpm * 10 */
            uint8_t confidence; /* 0..100 */
        } heart_rate;
        struct {
            uint8_t count; /* 0..FW_MAX_RR */
            uint16_t ms[FW_MAX_RR];
        } rr;
        struct {
            uint32_t total;
        } steps;
        struct {
            uint32_t kcal_per_min_x1000;
            uint16_t duration_s;
            uint8_t source; /* FW_SOURCE_* */
        } energy_label;
        struct {
            uint8_t percent; /* 0..100 */
            uint16_t millivolts;
        } battery;
        struct {
            uint8_t fw_major, fw_minor, fw_patch, hw_rev;
            uint8_t model_len; /* UTF-8 bytes, 0..FW_MAX_MODEL_LEN; may contain 0x00 */
            char model[FW_MAX_MODEL_LEN + 1]; /* decoder adds a terminating 0x00 */
        } device_info;
    } u;
} fw_record;

typedef struct {
    uint32_t frames_ok;
    uint32_t frames_bad; /* sum of the six error counters */
    uint32_t cobs, length, crc, version, unknown_type, field;
    uint64_t seq_gaps; /* frames missing, over all devices (64-bit: one wild jump is up to 2^31) */
    uint32_t seq_gap_events; /* forward jumps by more than one */
    uint32_t seq_rewinds; /* backward or repeated sequence numbers: reboot, duplicate; not loss */
} fw_stats;

typedef struct {
    uint32_t device_id;
    uint32_t last_seq;
} fw_seq_slot;

typedef struct {
    fw_stats stats;
    uint8_t buf[FW_DECODER_MAX_FRAME]; /* COBS-decoded bytes of the frame in progress */
    size_t decoded_len;
    size_t encoded_len;
    uint8_t block_left; /* data bytes left in the COBS block; 0: next byte is a code */
    uint8_t zero_pending; /* the block's code was not 0xFF, so a 0x00 follows it */
    uint8_t dropping; /* skipping an oversize frame until the next 0x00 */
    fw_seq_slot devices[FW_DECODER_MAX_DEVICES];
    size_t device_count;
    size_t device_oldest; /* ring index: the slot to forget next once the table is full */
} fw_decoder;

/* CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, no xorout); check 0x29B1. */
#define FW_CRC16_INIT 0xFFFFu
uint16_t fw_crc16_update(uint16_t crc, const uint8_t *data, size_t len);
uint16_t fw_crc16(const uint8_t *data, size_t len);

/* COBS-encodes src into dst (no delimiter). Returns bytes written, or 0 if cap is too small. */
size_t fw_cobs_encode(const uint8_t *src, size_t len, uint8_t *dst, size_t cap);
/* Decodes one COBS frame (no delimiter). Returns FW_OK with *out_len set, FW_ERR_COBS on bad
 * input (empty, 0x00 inside, truncated block), FW_ERR_BUFFER if cap is too small. */
int fw_cobs_decode(const uint8_t *src, size_t len, uint8_t *dst, size_t cap, size_t *out_len);

/* Header + payload + CRC, unframed. Returns the length, FW_ERR_FIELD for an out-of-range value
 * (confidence or percent > 100, too many RR intervals, model too long or not UTF-8, unknown
 * source, timestamp >= 2^53), FW_ERR_UNKNOWN_TYPE, or FW_ERR_BUFFER (need FW_MAX_RECORD_LEN). */
int fw_encode_record(const fw_record *rec, uint8_t *dst, size_t cap);
/* COBS(record) + 0x00: the bytes to send. Same results; a cap of FW_MAX_FRAME_LEN always fits. */
int fw_encode_frame(const fw_record *rec, uint8_t *dst, size_t cap);
/* Decodes one unframed record. Returns FW_OK or a negative FW_ERR_* (the kind). */
int fw_decode_record(const uint8_t *src, size_t len, fw_record *out);

void fw_decoder_init(fw_decoder *d);
/* Feeds one received byte. Returns 1 when it completed a record (written to *out), 0 when
 * nothing completed, or a negative FW_ERR_* when it completed a rejected frame (already counted). */
int fw_decoder_push(fw_decoder *d, uint8_t byte, fw_record *out);
/* End of input: an unterminated frame is lost and counted as FW_ERR_LENGTH (returned), else 0. */
int fw_decoder_end(fw_decoder *d);

#endif /* FEDWEAR_WIRE_H */
