/* Synthetic sensor signals for the host build (host_test.c defines them). */
#ifndef FEDWEAR_HOST_SIGNALS_H
#define FEDWEAR_HOST_SIGNALS_H

#include <stdint.h>

extern uint32_t host_now_ms;
uint16_t host_pulse(uint32_t t_ms);
uint8_t host_step(uint32_t t_ms);

#endif
