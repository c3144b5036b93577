#include "seedkey.h"

uint32_t seedkey_key(uint32_t seed)
{
    uint32_t x = seed ^ 0xA5C3F00Du;
    x = (x << 11) | (x >> 21);
    return x + 0x13579BDFu;
}

uint32_t seedkey_next_seed(uint32_t *state, uint32_t entropy)
{
    uint32_t x = *state ^ entropy;
    if (x == 0)
        x = 0x6D2B79F5u;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *state = x;
    return x ? x : 1u;
}
