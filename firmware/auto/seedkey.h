/* SecurityAccess level 1 seed/key algorithm (the tester holds the same). */
#ifndef QSM_SEEDKEY_H
#define QSM_SEEDKEY_H

#include <stdint.h>

/* key = rotl32(seed ^ 0xA5C3F00D, 11) + 0x13579BDF */
uint32_t seedkey_key(uint32_t seed);
/* Next nonzero pseudo-random seed (xorshift32); `entropy` is mixed in. */
uint32_t seedkey_next_seed(uint32_t *state, uint32_t entropy);

#endif
