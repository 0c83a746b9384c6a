/* core/version.c - runtime version. */
#include <mtls/mtls.h>

MTLS_API const char *mtls_version(void)
{
    return MTLS_VERSION_STRING;
}
