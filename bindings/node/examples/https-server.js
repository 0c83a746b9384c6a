#!/usr/bin/env node
'use strict';
// examples/https-server.js - an HTTPS server on node:https whose client certificates are
// judged by libmtls, from a Caddy policy, with Caddy's verdicts and identity strings.
//
//   node examples/https-server.js --policy policy.json --cert server.pem --key server.key.pem \
//        [--host 127.0.0.1] [--port 8443] [--server srv0]
//
// Node's TLS asks for a client certificate (requestCert) but accepts whatever comes
// (rejectUnauthorized: false): libmtls decides, once per connection. An accepted client
// gets 200 and its identity as JSON; a refused one 403 with the reason, and the connection
// is closed. Prints "listening on https://HOST:PORT" when ready; SIGTERM/SIGINT stop it.
//
// What reaches libmtls: getPeerCertificate(true) is the leaf, then each `issuerCertificate`
// that node found among the certificates the client sent (walked until the self-signed
// end, which refers to itself, or until the chain stops). That is the client's chain in
// issuer order, not byte for byte what was sent: node drops certificates that do not chain.

const fs = require('node:fs');
const https = require('node:https');
const { parseArgs } = require('node:util');

const mtls = require('..'); // in your project: require('libmtls')

const { values: opt } = parseArgs({
  options: {
    policy: { type: 'string' },
    cert: { type: 'string' },
    key: { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '8443' },
    server: { type: 'string' },
  },
});
if (!opt.policy || !opt.cert || !opt.key) {
  process.stderr.write('usage: https-server.js --policy FILE --cert PEM --key PEM ' +
                       '[--host H] [--port P] [--server NAME]\n');
  process.exit(2);
}

const ctx = mtls.Context.fromFile(opt.policy, { server: opt.server });

// The client's DER chain, leaf first, from node's parsed peer certificate.
function peerChain(socket) {
  const chain = [];
  let cert = socket.getPeerCertificate(true);
  const seen = new Set();
  while (cert && cert.raw && !seen.has(cert)) {
    chain.push(cert.raw);
    seen.add(cert);
    if (cert.issuerCertificate === cert) {
      break; // self-signed: node makes it its own issuer
    }
    cert = cert.issuerCertificate;
  }
  return chain;
}

// Go (Caddy) sees IPv4 clients of a dual-stack socket as plain IPv4.
const plainIp = (ip) => (ip && ip.startsWith('::ffff:') ? ip.slice(7) : ip) || null;

// One verdict per TLS connection, reused by its keep-alive requests.
const verdicts = new WeakMap();

function judge(socket) {
  let v = verdicts.get(socket);
  if (v === undefined) {
    const index = ctx.select(socket.servername || null, plainIp(socket.remoteAddress),
                             plainIp(socket.localAddress));
    v = index < 0
      ? { accepted: false, reason: 'NO_MATCHING_POLICY', message: 'no connection policy matches' }
      : ctx.verify(peerChain(socket), { policyIndex: index });
    verdicts.set(socket, v);
    const who = v.subject === undefined || v.subject === null ? '-' : JSON.stringify(v.subject);
    console.log(`${socket.remoteAddress} ${v.accepted ? 'accept' : 'refuse'} ${v.reason} ${who}`);
  }
  return v;
}

function send(res, status, body, close) {
  const text = JSON.stringify(body) + '\n';
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(text),
    ...(close ? { Connection: 'close' } : {}),
  });
  res.end(text);
}

const server = https.createServer({
  cert: fs.readFileSync(opt.cert),
  key: fs.readFileSync(opt.key),
  requestCert: true,
  rejectUnauthorized: false,
}, (req, res) => {
  const v = judge(req.socket);
  if (!v.accepted) {
    send(res, 403, { reason: v.reason, message: v.message }, true);
    return;
  }
  send(res, 200, {
    subject: v.subject,
    issuer: v.issuer,
    serial: v.serial,
    fingerprint: v.fingerprint,
    spiffeId: v.spiffeId,
    sanDnsNames: v.sanDnsNames,
    sanEmails: v.sanEmails,
    sanIps: v.sanIps,
    sanUris: v.sanUris,
    notAfter: v.notAfter,
    verified: v.verified,
    policyIndex: v.policyIndex,
  }, false);
});

server.listen(Number(opt.port), opt.host, () => {
  const { address, port } = server.address();
  const host = address.includes(':') ? `[${address}]` : address;
  console.log(`listening on https://${host}:${port} (libmtls ${mtls.version()} on ${mtls.tlsLibrary()})`);
});

function stop() {
  server.close(() => {
    ctx.close();
    process.exit(0);
  });
  server.closeAllConnections?.(); // node >= 18.2
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
