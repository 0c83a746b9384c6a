/*
 * demo.h - `mtls-proxy demo`: the README's first command, needing no arguments and no files.
 *
 * Makes a throwaway PKI in a fresh temporary directory (demo_pki.h), starts a built-in HTTP
 * upstream on 127.0.0.1, writes the tutorial's Caddyfile (client_auth require_and_verify
 * with the Ed25519 client CA) into that directory, runs `mtls-proxy run --config
 * DIR/Caddyfile` as a child process, then shows with curl one client accepted (alice, whose
 * CA is trusted) and one refused (mallory, whose CA is not), and cleans up.
 *
 * Testing hook: MTLS_DEMO_PROXY_CMD replaces the proxy command. It is split at whitespace
 * (no quoting) and `--config DIR/Caddyfile` is appended, e.g.
 *   MTLS_DEMO_PROXY_CMD="caddy run --adapter caddyfile" mtls-proxy demo
 * runs the same demo against a real Caddy. Every child (proxy and curl) runs in the temporary
 * directory with HOME set to it and without proxy or curlrc variables, so that nothing
 * outside it is read or written.
 */
#ifndef MTLS_PROXY_DEMO_H
#define MTLS_PROXY_DEMO_H

/*
 * demo_main runs the demo. `argv[0]` is "demo"; options: `--keep` (leave the temporary
 * directory and print its path), `--help`. Returns the process exit status: 0 when alice got
 * HTTP 200 and mallory was refused during the TLS handshake, 1 when the demo failed (the
 * reason is printed), 2 for a usage error or when curl is not installed.
 */
int demo_main(int argc, char **argv);

#endif /* MTLS_PROXY_DEMO_H */
