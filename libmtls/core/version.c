/* core/version.c - runtime version, and the TLS library libmtls is bound to at run time. */
#include <mtls/mtls.h>

#include <openssl/crypto.h>

MTLS_API const char *mtls_version(void)
{
    return MTLS_VERSION_STRING;
}

MTLS_API const char *mtls_tls_library(void)
{
    /* Resolved by the dynamic linker like every other libssl/libcrypto call of libmtls: when
     * another OpenSSL-named library wins the lookup, its own name comes back. */
    const char *v = OpenSSL_version(OPENSSL_VERSION);
    return v != NULL ? v : "unknown";
}
