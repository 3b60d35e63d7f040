/*
 * Host-side driver for the C codec, so tests/firmware-bindings/c-agreement.test.ts can compare it
 * with the TypeScript codec byte for byte. Text in, text out; the test writes the input files.
 *
 *   test_vectors encode FILE   each line a record (format below) -> frame hex, or "error KIND"
 *   test_vectors record FILE   each line unframed record hex -> record line, or "error KIND"
 *   test_vectors cobs FILE     each line hex -> COBS-encoded hex ("-" for empty input)
 *   test_vectors crc FILE      each line hex -> CRC-16 as 4 hex digits
 *   test_vectors decode FILE   whole file one hex byte stream (whitespace ignored), fed a byte at
 *                              a time to the streaming decoder -> a record line per record,
 *                              "reject KIND" per rejected frame, then a "stats ..." line
 *
 * Record lines (integers in decimal, as on the wire: bpm*10, kcal/min*1000; model as hex or "-"):
 *   heartRate DEV SEQ TS BPMX10 CONFIDENCE
 *   rrIntervals DEV SEQ TS COUNT MS...
 *   steps DEV SEQ TS TOTAL
 *   energyLabel DEV SEQ TS KCALX1000 DURATION SOURCE
 *   battery DEV SEQ TS PERCENT MILLIVOLTS
 *   deviceInfo DEV SEQ TS MAJOR MINOR PATCH HWREV MODELHEX
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fedwear_wire.h"

#define LINE_MAX_LEN 65536

static char line[LINE_MAX_LEN];
static uint8_t bytes[LINE_MAX_LEN / 2];
static uint8_t out[2 * LINE_MAX_LEN];
static uint8_t back[LINE_MAX_LEN / 2];

static void die(const char *what, const char *ctx)
{
    fprintf(stderr, "test_vectors: %s: %s\n", what, ctx);
    exit(2);
}

static const char *kind_name(int err)
{
    switch (err) {
    case FW_ERR_COBS:
        return "cobs";
    case FW_ERR_LENGTH:
        return "length";
    case FW_ERR_CRC:
        return "crc";
    case FW_ERR_VERSION:
        return "version";
    case FW_ERR_UNKNOWN_TYPE:
        return "unknownType";
    case FW_ERR_FIELD:
        return "field";
    case FW_ERR_BUFFER:
        return "buffer";
    default:
        return "unknown";
    }
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Parses a hex token ("-" is empty) into dst; returns its byte count. */
static size_t parse_hex(const char *s, uint8_t *dst, size_t cap)
{
    size_t n = 0;
    if (strcmp(s, "-") == 0) {
        return 0;
    }
    while (s[0] != '\0') {
        int hi = hexval((unsigned char)s[0]);
        int lo = s[1] != '\0' ? hexval((unsigned char)s[1]) : -1;
        if (hi < 0 || lo < 0) {
            die("bad hex", s);
        }
        if (n >= cap) {
            die("hex too long", s);
        }
        dst[n++] = (uint8_t)(hi * 16 + lo);
        s += 2;
    }
    return n;
}

static void print_hex(const uint8_t *p, size_t n)
{
    size_t i;
    if (n == 0) {
        fputc('-', stdout);
    }
    for (i = 0; i < n; i++) {
        printf("%02x", p[i]);
    }
    fputc('\n', stdout);
}

static char *next_token(char **cursor)
{
    char *t = strtok(*cursor, " \t\r\n");
    *cursor = NULL;
    return t;
}

static uint64_t num(char **cursor, uint64_t max, const char *what)
{
    char *t = next_token(cursor);
    char *end;
    unsigned long long v;
    if (t == NULL) {
        die("missing field", what);
    }
    v = strtoull(t, &end, 10);
    if (*end != '\0' || v > max) {
        die("bad number", what);
    }
    return (uint64_t)v;
}

static void parse_record(char *text, fw_record *r)
{
    char *cursor = text;
    char *type = next_token(&cursor);
    uint8_t i;
    memset(r, 0, sizeof *r);
    if (type == NULL) {
        die("empty record line", "");
    }
    r->device_id = (uint32_t)num(&cursor, 0xFFFFFFFFu, "device id");
    r->seq = (uint32_t)num(&cursor, 0xFFFFFFFFu, "seq");
    r->timestamp_ms = num(&cursor, UINT64_MAX, "timestamp");
    if (strcmp(type, "heartRate") == 0) {
        r->type = FW_TYPE_HEART_RATE;
        r->u.heart_rate.bpm_x10 = (uint16_t)num(&cursor, 0xFFFF, "bpm");
        r->u.heart_rate.confidence = (uint8_t)num(&cursor, 0xFF, "confidence");
    } else if (strcmp(type, "rrIntervals") == 0) {
        uint8_t count = (uint8_t)num(&cursor, 0xFF, "count");
        r->type = FW_TYPE_RR_INTERVALS;
        r->u.rr.count = count;
        for (i = 0; i < count; i++) {
            uint16_t v = (uint16_t)num(&cursor, 0xFFFF, "interval");
            if (i < FW_MAX_RR) {
                r->u.rr.ms[i] = v;
            }
        }
    } else if (strcmp(type, "steps") == 0) {
        r->type = FW_TYPE_STEPS;
        r->u.steps.total = (uint32_t)num(&cursor, 0xFFFFFFFFu, "total");
    } else if (strcmp(type, "energyLabel") == 0) {
        r->type = FW_TYPE_ENERGY_LABEL;
        r->u.energy_label.kcal_per_min_x1000 = (uint32_t)num(&cursor, 0xFFFFFFFFu, "kcal");
        r->u.energy_label.duration_s = (uint16_t)num(&cursor, 0xFFFF, "duration");
        r->u.energy_label.source = (uint8_t)num(&cursor, 0xFF, "source");
    } else if (strcmp(type, "battery") == 0) {
        r->type = FW_TYPE_BATTERY;
        r->u.battery.percent = (uint8_t)num(&cursor, 0xFF, "percent");
        r->u.battery.millivolts = (uint16_t)num(&cursor, 0xFFFF, "millivolts");
    } else if (strcmp(type, "deviceInfo") == 0) {
        char *model;
        r->type = FW_TYPE_DEVICE_INFO;
        r->u.device_info.fw_major = (uint8_t)num(&cursor, 0xFF, "major");
        r->u.device_info.fw_minor = (uint8_t)num(&cursor, 0xFF, "minor");
        r->u.device_info.fw_patch = (uint8_t)num(&cursor, 0xFF, "patch");
        r->u.device_info.hw_rev = (uint8_t)num(&cursor, 0xFF, "hw rev");
        model = next_token(&cursor);
        if (model == NULL) {
            die("missing field", "model");
        }
        /* One byte over the limit still fits the array, so the encoder's refusal is testable. */
        r->u.device_info.model_len =
            (uint8_t)parse_hex(model, (uint8_t *)r->u.device_info.model, sizeof r->u.device_info.model);
    } else {
        r->type = 0xEE; /* unknown: lets the test check FW_ERR_UNKNOWN_TYPE */
    }
}

static void print_record(const fw_record *r)
{
    uint8_t i;
    static const char *names[] = {"?", "heartRate", "rrIntervals", "steps", "energyLabel", "battery", "deviceInfo"};
    printf("%s %" PRIu32 " %" PRIu32 " %" PRIu64, names[r->type], r->device_id, r->seq, r->timestamp_ms);
    switch (r->type) {
    case FW_TYPE_HEART_RATE:
        printf(" %u %u\n", (unsigned)r->u.heart_rate.bpm_x10, (unsigned)r->u.heart_rate.confidence);
        break;
    case FW_TYPE_RR_INTERVALS:
        printf(" %u", (unsigned)r->u.rr.count);
        for (i = 0; i < r->u.rr.count; i++) {
            printf(" %u", (unsigned)r->u.rr.ms[i]);
        }
        fputc('\n', stdout);
        break;
    case FW_TYPE_STEPS:
        printf(" %" PRIu32 "\n", r->u.steps.total);
        break;
    case FW_TYPE_ENERGY_LABEL:
        printf(" %" PRIu32 " %u %u\n", r->u.energy_label.kcal_per_min_x1000, (unsigned)r->u.energy_label.duration_s,
               (unsigned)r->u.energy_label.source);
        break;
    case FW_TYPE_BATTERY:
        printf(" %u %u\n", (unsigned)r->u.battery.percent, (unsigned)r->u.battery.millivolts);
        break;
    default:
        printf(" %u %u %u %u ", (unsigned)r->u.device_info.fw_major, (unsigned)r->u.device_info.fw_minor,
               (unsigned)r->u.device_info.fw_patch, (unsigned)r->u.device_info.hw_rev);
        print_hex((const uint8_t *)r->u.device_info.model, r->u.device_info.model_len);
        break;
    }
}

static char *hex_token(char *text)
{
    char *cursor = text;
    char *t = next_token(&cursor);
    return t != NULL ? t : (char *)"-";
}

static int run_lines(FILE *f, const char *mode)
{
    while (fgets(line, sizeof line, f) != NULL) {
        if (strchr(line, '\n') == NULL && !feof(f)) {
            die("line too long", mode);
        }
        if (strcmp(mode, "encode") == 0) {
            fw_record r;
            int n;
            parse_record(line, &r);
            n = fw_encode_frame(&r, out, FW_MAX_FRAME_LEN);
            if (n < 0) {
                printf("error %s\n", kind_name(n));
            } else {
                print_hex(out, (size_t)n);
            }
        } else if (strcmp(mode, "record") == 0) {
            fw_record r;
            size_t n = parse_hex(hex_token(line), bytes, sizeof bytes);
            int err = fw_decode_record(bytes, n, &r);
            if (err != FW_OK) {
                printf("error %s\n", kind_name(err));
            } else {
                print_record(&r);
            }
        } else if (strcmp(mode, "cobs") == 0) {
            size_t n = parse_hex(hex_token(line), bytes, sizeof bytes);
            size_t m = fw_cobs_encode(bytes, n, out, sizeof out);
            size_t back_len = 0;
            /* Round trip inside C too, so a decoder bug shows up as "roundtrip-mismatch". */
            if (fw_cobs_decode(out, m, back, sizeof back, &back_len) != FW_OK || back_len != n ||
                memcmp(back, bytes, n) != 0) {
                printf("roundtrip-mismatch\n");
            } else {
                print_hex(out, m);
            }
        } else if (strcmp(mode, "crc") == 0) {
            size_t n = parse_hex(hex_token(line), bytes, sizeof bytes);
            printf("%04x\n", (unsigned)fw_crc16(bytes, n));
        } else {
            die("unknown mode", mode);
        }
    }
    return 0;
}

static int run_stream(FILE *f)
{
    fw_decoder d;
    fw_record r;
    int hi = -1;
    int c;
    fw_decoder_init(&d);
    while ((c = fgetc(f)) != EOF) {
        int v = hexval(c);
        int res;
        if (v < 0) {
            if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
                continue;
            }
            die("bad hex in stream", "decode");
        }
        if (hi < 0) {
            hi = v;
            continue;
        }
        res = fw_decoder_push(&d, (uint8_t)(hi * 16 + v), &r);
        hi = -1;
        if (res == 1) {
            print_record(&r);
        } else if (res < 0) {
            printf("reject %s\n", kind_name(res));
        }
    }
    if (hi >= 0) {
        die("odd number of hex digits", "decode");
    }
    c = fw_decoder_end(&d);
    if (c < 0) {
        printf("reject %s\n", kind_name(c));
    }
    printf("stats framesOk=%" PRIu32 " framesBad=%" PRIu32 " cobs=%" PRIu32 " length=%" PRIu32 " crc=%" PRIu32
           " version=%" PRIu32 " unknownType=%" PRIu32 " field=%" PRIu32 " seqGaps=%" PRIu64 " seqGapEvents=%" PRIu32
           " seqRewinds=%" PRIu32 "\n",
           d.stats.frames_ok, d.stats.frames_bad, d.stats.cobs, d.stats.length, d.stats.crc, d.stats.version,
           d.stats.unknown_type, d.stats.field, d.stats.seq_gaps, d.stats.seq_gap_events, d.stats.seq_rewinds);
    return 0;
}

int main(int argc, char **argv)
{
    FILE *f;
    int rc;
    if (argc != 3) {
        fprintf(stderr, "usage: test_vectors encode|record|cobs|crc|decode FILE\n");
        return 2;
    }
    f = fopen(argv[2], "r");
    if (f == NULL) {
        die("cannot open", argv[2]);
    }
    rc = strcmp(argv[1], "decode") == 0 ? run_stream(f) : run_lines(f, argv[1]);
    fclose(f);
    return rc;
}
