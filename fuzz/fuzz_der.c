/*
 * fuzz_der - core/der.c (der.h) against BoringSSL's CBS/CBB, which this build links: the
 * in-house reader and writer must behave exactly as BoringSSL's, input by input, because
 * libmtls's Go-style certificate parsing sits on them.
 *
 * The input is read twice:
 *   - as DER: every reader call (any element, get_asn1 and get_asn1_element, peek, optional,
 *     optional uint64, bool, u8, mem_equal, the INTEGER and BIT STRING checks) with the tags
 *     the input starts with and a rotating set of fixed ones, then element by element down
 *     through constructed elements, comparing each call on the contents. Compared: the return
 *     value, what is left of the input, every output (started at sentinels, so that values
 *     written on failure count too);
 *   - as a writer program: byte by byte, operations on nested writers (open a child, bytes,
 *     u8, INTEGER, BOOLEAN, OID text, flush, length and data, writes to closed children),
 *     run on both sides with the same return values and the same bytes at the end.
 *
 * The comparison itself is libmtls/tests/der_oracle.h, shared with tests/test_der.c
 * (hand-written vectors and seeded random inputs). Suggested -max_len: 4096.
 */
#include <string.h>

#include <openssl/bytestring.h>
#include <openssl/mem.h>

#include "core/der.h"
#include "core/mem.h"
#include "fuzz.h"

#define DER_ORACLE_CHECK(cond) FUZZ_CHECK(cond)
#include "tests/der_oracle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cmp_contents(data, size, size, NUM_FIXED_TAGS);
    int budget = 64;
    walk(data, size, 0, &budget);
    run_writer_program(data, size);
    return 0;
}
