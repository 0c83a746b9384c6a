/*
 * tlsio.c - the BIO under a client connection's SSL. BoringSSL reads a TLS record in two
 * reads (its 5-byte header, then the rest); this BIO reads what the socket has in one recv
 * and serves both from a buffer, which goes back to the buffer cache when the connection
 * idles (conn.c), so an idle connection holds none. After a short read it reports "would block" without a syscall
 * until epoll says the socket is readable again (conn_event clears `drained`): the loop is
 * level-triggered, so nothing that arrives meanwhile is missed.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/bio.h>

#include "worker.h"

#define CIO_WBUF (4 * IO_BUF) /* sealed bytes collected before a send */

/* Fills the empty buffer from the socket. Returns bytes, 0 at EOF, -1 (errno) otherwise. */
static ssize_t cio_fill(struct cio *io)
{
    if (io->drained) {
        errno = EAGAIN;
        return -1;
    }
    if (!bq_room(&io->rb, io->busy ? 4 * IO_BUF : IO_BUF)) {
        errno = ENOMEM;
        return -1;
    }
    size_t room = io->rb.cap - io->rb.len;
    ssize_t n = recv(io->fd, io->rb.p + io->rb.len, room, 0);
    if (n > 0) {
        io->rb.len += (size_t)n;
        io->drained = (size_t)n < room;
        io->busy = !io->drained;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        io->drained = 1;
    }
    return n;
}

static int cio_read(BIO *b, char *out, int len)
{
    struct cio *io = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    if (len <= 0) {
        return 0;
    }
    if (bq_size(&io->rb) == 0) {
        ssize_t n = cio_fill(io);
        if (n <= 0) {
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
                BIO_set_retry_read(b);
            }
            return (int)n;
        }
    }
    size_t n = bq_size(&io->rb) < (size_t)len ? bq_size(&io->rb) : (size_t)len;
    memcpy(out, io->rb.p + io->rb.off, n);
    bq_consume(&io->rb, n);
    return (int)n; /* the buffer goes back when the connection idles (conn.c drive) */
}

int cio_flush(struct cio *io)
{
    while (bq_size(&io->wb) != 0) {
        ssize_t n = send(io->fd, io->wb.p + io->wb.off, bq_size(&io->wb), MSG_NOSIGNAL);
        if (n < 0) {
            return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
        }
        bq_consume(&io->wb, (size_t)n);
    }
    return 1;
}

/* Corked: the record joins `wb` (up to CIO_WBUF bytes, then `wb` goes out first). */
static int cio_write_corked(BIO *b, struct cio *io, const char *in, int len)
{
    if (bq_size(&io->wb) >= CIO_WBUF) {
        int f = cio_flush(io);
        if (f < 0) {
            return -1;
        }
        if (f == 0 && bq_size(&io->wb) >= CIO_WBUF) {
            BIO_set_retry_write(b);
            return -1;
        }
    }
    if (!bq_room(&io->wb, (size_t)len)) {
        errno = ENOMEM;
        return -1;
    }
    memcpy(io->wb.p + io->wb.len, in, (size_t)len);
    io->wb.len += (size_t)len;
    return len;
}

static int cio_write(BIO *b, const char *in, int len)
{
    struct cio *io = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    if (io->cork || bq_size(&io->wb) != 0) {
        return cio_write_corked(b, io, in, len); /* never ahead of records already queued */
    }
    ssize_t n = send(io->fd, in, (size_t)len, MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        BIO_set_retry_write(b);
    }
    return (int)n;
}

static long cio_ctrl(BIO *b, int cmd, long larg, void *parg)
{
    (void)b;
    (void)larg;
    (void)parg;
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static BIO_METHOD *cio_meth;
static pthread_once_t cio_once = PTHREAD_ONCE_INIT;

static void cio_init(void)
{
    BIO_METHOD *m = BIO_meth_new(BIO_TYPE_SOCKET, "mtls-proxy client");
    if (m != NULL && BIO_meth_set_read(m, cio_read) && BIO_meth_set_write(m, cio_write) &&
        BIO_meth_set_ctrl(m, cio_ctrl)) {
        cio_meth = m;
    }
}

int cio_attach(SSL *ssl, struct cio *io, int fd)
{
    pthread_once(&cio_once, cio_init);
    BIO *b = cio_meth != NULL ? BIO_new(cio_meth) : NULL;
    if (b == NULL) {
        return 0;
    }
    io->fd = fd;
    io->drained = 0;
    BIO_set_data(b, io);
    BIO_set_init(b, 1);
    SSL_set_bio(ssl, b, b); /* the SSL owns the one reference */
    return 1;
}
