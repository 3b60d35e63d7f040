/*
 * Steps from a digital step line: one step per debounced rising edge, as
 * firmware-bindings/johnny-five/step-counter.ts does (a level counts once it has held for
 * debounce_ms; steps closer than min_step_ms are refused).
 */
#ifndef FEDWEAR_STEP_COUNTER_H
#define FEDWEAR_STEP_COUNTER_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    uint16_t debounce_ms; /* 30 */
    uint16_t min_step_ms; /* 150 */
    uint32_t total; /* cumulative, wraps like the wire's u32 */
    uint8_t raw, stable, started, have_step;
    uint32_t raw_since, last_step_ms;
    uint32_t bounces_ignored, steps_refused;
} fw_step_counter;

void fw_steps_init(fw_step_counter *c, uint32_t initial);
/* The line's level at t_ms (call every sample). */
void fw_steps_sample(fw_step_counter *c, uint8_t level, uint32_t t_ms);

#ifdef __cplusplus
}
#endif

#endif /* FEDWEAR_STEP_COUNTER_H */
