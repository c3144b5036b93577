/* The version block; values come from the Makefile (-D FW_*). */
#include "version.h"
#include "con.h"

#ifndef FW_VERSION_MAJOR
#error "FW_VERSION_* / FW_GIT_HASH / FW_BUILD_ID / FW_PRODUCT come from the Makefile"
#endif

/* Keep at least one NUL in every string field ("NUL padded"). */
_Static_assert(sizeof(FW_GIT_HASH) <= sizeof(((fw_version_t *)0)->git),
               "GIT_HASH longer than 15 characters");
_Static_assert(sizeof(FW_BUILD_ID) <= sizeof(((fw_version_t *)0)->build),
               "BUILD_ID longer than 23 characters");
_Static_assert(sizeof(FW_PRODUCT) <= sizeof(((fw_version_t *)0)->product),
               "product name longer than 15 characters");
_Static_assert(FW_VERSION_MAJOR <= 255 && FW_VERSION_MINOR <= 255 && FW_VERSION_PATCH <= 255,
               "version numbers must fit in a byte");

__attribute__((section(".version"), used))
const fw_version_t fw_version = {
    .magic    = FW_VERSION_MAGIC,
    .major    = FW_VERSION_MAJOR,
    .minor    = FW_VERSION_MINOR,
    .patch    = FW_VERSION_PATCH,
    .reserved = 0,
    .git      = FW_GIT_HASH,
    .build    = FW_BUILD_ID,
    .product  = FW_PRODUCT,
};

void version_print_fields(void)
{
    const fw_version_t *v = &fw_version;
    con_printf("product=%.16s version=%u.%u.%u git=%.16s build=%.24s",
               v->product, v->major, v->minor, v->patch, v->git, v->build);
}
