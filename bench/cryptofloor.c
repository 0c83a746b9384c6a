/*
 * cryptofloor.c - the public-key cost of one mTLS handshake for the server, timed with the
 * same BoringSSL the servers under test link (Debian ships no `bssl speed`). The floor of the
 * benchmark's key setup (TLS 1.3, X25519, P-256 server key, Ed25519 client CA):
 *   X25519 key generation + shared secret   (the server's key share)
 *   ECDSA P-256 sign                         (the server's CertificateVerify)
 *   Ed25519 verify                           (the CA's signature on the client certificate)
 *   ECDSA P-384 verify (or P-256)            (the client's CertificateVerify)
 * Each operation runs in a loop for --time seconds of CPU time, --reps times; the median
 * µs/op (CPU time) is kept.
 * Hashing, record encryption and certificate parsing are not included: this is the floor no
 * server can go below, not an estimate of a handshake.
 *
 *   cryptofloor [--time S (0.5)] [--reps N (3)]
 * Prints a table, then one line "JSON {...}".
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/curve25519.h>
#include <openssl/ec.h>
#include <openssl/ec_key.h>
#include <openssl/ecdsa.h>
#include <openssl/nid.h>
#include <openssl/rand.h>

struct fixture {
    uint8_t x_peer_pub[32];
    uint8_t ed_pub[32], ed_sig[64], tbs[480];
    EC_KEY *p256, *p384;
    uint8_t digest32[32], digest48[48];
    uint8_t sig256[80], sig384[120];
    unsigned sig256_len, sig384_len;
};

typedef int (*op_fn)(struct fixture *f);

/* CPU time of this thread, not wall time: on a shared machine other processes' time slices
 * would otherwise count as ours. */
static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int op_x25519(struct fixture *f)
{
    uint8_t pub[32], priv[32], shared[32];
    X25519_keypair(pub, priv);
    return X25519(shared, priv, f->x_peer_pub);
}

static int op_p256_sign(struct fixture *f)
{
    uint8_t sig[80];
    unsigned len = sizeof(sig);
    return ECDSA_sign(0, f->digest32, sizeof(f->digest32), sig, &len, f->p256);
}

static int op_ed25519_verify(struct fixture *f)
{
    return ED25519_verify(f->tbs, sizeof(f->tbs), f->ed_sig, f->ed_pub);
}

static int op_p384_verify(struct fixture *f)
{
    return ECDSA_verify(0, f->digest48, sizeof(f->digest48), f->sig384, f->sig384_len, f->p384);
}

static int op_p256_verify(struct fixture *f)
{
    return ECDSA_verify(0, f->digest32, sizeof(f->digest32), f->sig256, f->sig256_len, f->p256);
}

static int op_p384_sign(struct fixture *f)
{
    uint8_t sig[120];
    unsigned len = sizeof(sig);
    return ECDSA_sign(0, f->digest48, sizeof(f->digest48), sig, &len, f->p384);
}

/* µs per call of `fn`, timed over about `secs` seconds. */
static double time_op(op_fn fn, struct fixture *f, double secs)
{
    long n = 0, batch = 16;
    double t0 = now_s(), t;
    do {
        for (long i = 0; i < batch; i++) {
            if (fn(f) != 1) {
                fprintf(stderr, "cryptofloor: an operation failed\n");
                exit(1);
            }
        }
        n += batch;
        t = now_s();
    } while (t - t0 < secs);
    return (t - t0) * 1e6 / (double)n;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median_op(op_fn fn, struct fixture *f, double secs, int reps)
{
    double v[32];
    for (int i = 0; i < reps; i++) {
        v[i] = time_op(fn, f, secs);
    }
    qsort(v, (size_t)reps, sizeof(v[0]), cmp_d);
    return v[reps / 2];
}

static EC_KEY *ec_key(int nid)
{
    EC_KEY *k = EC_KEY_new_by_curve_name(nid);
    if (k == NULL || !EC_KEY_generate_key(k)) {
        fprintf(stderr, "cryptofloor: EC key generation failed\n");
        exit(1);
    }
    return k;
}

static void setup(struct fixture *f)
{
    uint8_t priv[32], ed_priv[64];
    X25519_keypair(f->x_peer_pub, priv);
    RAND_bytes(f->tbs, sizeof(f->tbs));
    ED25519_keypair(f->ed_pub, ed_priv);
    ED25519_sign(f->ed_sig, f->tbs, sizeof(f->tbs), ed_priv);
    RAND_bytes(f->digest32, sizeof(f->digest32));
    RAND_bytes(f->digest48, sizeof(f->digest48));
    f->p256 = ec_key(NID_X9_62_prime256v1);
    f->p384 = ec_key(NID_secp384r1);
    f->sig256_len = sizeof(f->sig256);
    f->sig384_len = sizeof(f->sig384);
    if (!ECDSA_sign(0, f->digest32, 32, f->sig256, &f->sig256_len, f->p256) ||
        !ECDSA_sign(0, f->digest48, 48, f->sig384, &f->sig384_len, f->p384)) {
        fprintf(stderr, "cryptofloor: signing failed\n");
        exit(1);
    }
}

int main(int argc, char **argv)
{
    double secs = 0.5;
    int reps = 3;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--time") == 0) {
            secs = atof(argv[i + 1]);
        } else if (strcmp(argv[i], "--reps") == 0) {
            reps = atoi(argv[i + 1]);
        } else {
            fprintf(stderr, "usage: cryptofloor [--time S] [--reps N]\n");
            return 2;
        }
    }
    if (secs <= 0 || reps < 1 || reps > 32) {
        fprintf(stderr, "usage: cryptofloor [--time S] [--reps N]\n");
        return 2;
    }
    struct fixture f;
    setup(&f);
    double x = median_op(op_x25519, &f, secs, reps);
    double s256 = median_op(op_p256_sign, &f, secs, reps);
    double ed = median_op(op_ed25519_verify, &f, secs, reps);
    double v384 = median_op(op_p384_verify, &f, secs, reps);
    double v256 = median_op(op_p256_verify, &f, secs, reps);
    double s384 = median_op(op_p384_sign, &f, secs, reps);
    double floor384 = x + s256 + ed + v384, floor256 = x + s256 + ed + v256;
    printf("server-side public-key operations of one handshake (µs, median of %d)\n", reps);
    printf("  X25519 keygen + shared secret   %8.1f\n", x);
    printf("  ECDSA P-256 sign                %8.1f\n", s256);
    printf("  Ed25519 verify                  %8.1f\n", ed);
    printf("  ECDSA P-384 verify              %8.1f\n", v384);
    printf("  ECDSA P-256 verify              %8.1f\n", v256);
    printf("  floor, P-384 client key         %8.1f\n", floor384);
    printf("  floor, P-256 client key         %8.1f\n", floor256);
    printf("  (client side, not in the floor: ECDSA P-384 sign %.1f)\n", s384);
    printf("JSON {\"x25519_us\":%.2f,\"p256_sign_us\":%.2f,\"ed25519_verify_us\":%.2f,"
           "\"p384_verify_us\":%.2f,\"p256_verify_us\":%.2f,\"p384_sign_us\":%.2f,"
           "\"floor_p384_client_us\":%.2f,\"floor_p256_client_us\":%.2f}\n",
           x, s256, ed, v384, v256, s384, floor384, floor256);
    EC_KEY_free(f.p256);
    EC_KEY_free(f.p384);
    return 0;
}
