#include "step_counter.h"

#include <string.h>

void fw_steps_init(fw_step_counter *c, uint32_t initial)
{
    memset(c, 0, sizeof *c);
    c->debounce_ms = 30u;
    c->min_step_ms = 150u;
    c->total = initial;
}

static void advance(fw_step_counter *c, uint32_t t)
{
    if (c->raw == c->stable || t - c->raw_since < c->debounce_ms) {
        return;
    }
    c->stable = c->raw;
    if (c->stable) {
        if (c->have_step && c->raw_since - c->last_step_ms < c->min_step_ms) {
            c->steps_refused++;
            return;
        }
        c->have_step = 1u;
        c->last_step_ms = c->raw_since;
        c->total++;
    }
}

void fw_steps_sample(fw_step_counter *c, uint8_t level, uint32_t t)
{
    level = level ? 1u : 0u;
    advance(c, t);
    if (!c->started) {
        /* The first level seen is the resting state, not an edge. */
        c->started = 1u;
        c->raw = c->stable = level;
        c->raw_since = t;
        return;
    }
    if (level == c->raw) {
        return;
    }
    if (c->raw != c->stable) {
        c->bounces_ignored++;
    }
    c->raw = level;
    c->raw_since = t;
}
