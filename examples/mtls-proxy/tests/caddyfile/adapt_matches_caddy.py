#!/usr/bin/env python3
"""adapt_matches_caddy.py MTLS_PROXY

For every Caddyfile in adapt/, run `caddy adapt` (Debian's Caddy 2.6.2, the judge) and
`MTLS_PROXY adapt --config F`, normalise key order and compare. The differences that are
allowed are listed below, per file and with their reason; anything else fails with a diff.
Certificates are generated with the openssl CLI into a temporary directory, which is also
the working directory of both programs (Caddy reads trusted_*_cert_file relative to it).
Exit 77 (meson: skipped) when caddy or openssl is missing.
"""
import base64
import difflib
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ADAPT_DIR = os.path.join(HERE, 'adapt')

# Differences allowed in every file (Caddy 2.6.2 builds these lists from Go maps, so their
# order changes from run to run; mtls-proxy keeps Caddyfile order or sorts).
GLOBAL_REASON = ('order of match.sni, certificates.automate and internal-issuer subjects '
                 'is random in Caddy 2.6.2 (Go map iteration)')

# Per-file expectations. kind:
#   equal                 both succeed; outputs equal after the listed transforms
#   both_fail             both refuse the file; ours names the file:line and says why
#   ours_fails            Caddy adapts it, mtls-proxy refuses it on purpose
#   ours_fails_validate   `caddy adapt` accepts it but `caddy adapt --validate` (loading) fails
#   ours_only             Caddy 2.6.2 does not know the syntax (newer Caddy does)
EXPECT = {
    'pem_bundle.Caddyfile': {
        'kind': 'equal',
        'transform': 'bundle_all_certs',
        'reason': 'a PEM bundle keeps all its certificates (Caddy 2.6.2 kept only the first; '
                  'DESIGN.md §1/§3: a bug current Caddy fixed)',
    },
    'fail_conflicting_tls.Caddyfile': {
        'kind': 'both_fail',
        'caddy': ['conflicting client auth configuration'],
        'ours': ['fail_conflicting_tls.Caddyfile:', "snippet's tls line",
                 'tls cert.pem key.pem { client_auth'],
        'reason': 'Caddy fails without saying how to fix it; mtls-proxy says what to do',
    },
    'fail_unknown_mode.Caddyfile': {
        'kind': 'ours_fails_validate',
        'caddy': ['client auth mode not recognized: verify_always'],
        'ours': ['fail_unknown_mode.Caddyfile:4:', 'client auth mode not recognized: verify_always'],
        'reason': 'Caddy only notices a bad mode when it loads the config; mtls-proxy at adapt',
    },
    'fail_pem_private_key.Caddyfile': {
        'kind': 'both_fail',
        'caddy': ['no CERTIFICATE pem block found in key-then-cert.pem'],
        'ours': ['fail_pem_private_key.Caddyfile:4:', 'key-then-cert.pem', 'PRIVATE KEY'],
        'reason': 'a non-CERTIFICATE block is an error naming the file',
    },
    'fail_import_cycle.Caddyfile': {
        'kind': 'both_fail',
        'caddy': ['a cycle of imports exists'],
        'ours': ['fail_import_cycle.Caddyfile:', 'a cycle of imports exists'],
        'reason': 'import cycles are errors',
    },
    'fail_https_upstream.Caddyfile': {
        'kind': 'ours_fails',
        'ours': ['fail_https_upstream.Caddyfile:3:', 'https://', 'not supported by mtls-proxy'],
        'reason': 'mtls-proxy speaks plain HTTP to upstreams; Caddy would add a TLS transport',
    },
    'trust_pool.Caddyfile': {
        'kind': 'ours_only',
        'caddy': ['unknown subdirective for client_auth: trust_pool'],
        'reason': 'trust_pool is current Caddy syntax (2.8+), unknown to 2.6.2',
    },
}


def die(msg):
    print('FAIL: ' + msg)
    sys.exit(1)


def run(cmd, cwd, env):
    p = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def openssl(tmp, *args):
    p = subprocess.run(['openssl'] + list(args), cwd=tmp, capture_output=True, text=True)
    if p.returncode != 0:
        die('openssl %s: %s' % (' '.join(args), p.stderr.strip()))


def pem_b64(path):
    """base64 of each CERTIFICATE block's DER, as Caddy writes it"""
    out, cur = [], None
    for line in open(path):
        line = line.strip()
        if line == '-----BEGIN CERTIFICATE-----':
            cur = []
        elif line == '-----END CERTIFICATE-----':
            out.append(base64.b64encode(base64.b64decode(''.join(cur))).decode())
            cur = None
        elif cur is not None:
            cur.append(line)
    return out


def make_pki(tmp):
    openssl(tmp, 'req', '-x509', '-newkey', 'ed25519', '-keyout', 'ca-key.pem', '-out',
            'ca-cert.pem', '-days', '3650', '-nodes', '-subj', '/CN=Test CA')
    openssl(tmp, 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256',
            '-keyout', 'ca2-key.pem', '-out', 'ca2-cert.pem', '-days', '3650', '-nodes',
            '-subj', '/CN=Second CA')
    for name, cn in (('', 'mysite.com'), ('2', 'other.example')):
        openssl(tmp, 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256',
                '-keyout', 'key%s.pem' % name, '-out', 'cert%s.pem' % name, '-days', '3650',
                '-nodes', '-subj', '/CN=' + cn)
    openssl(tmp, 'req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384',
            '-keyout', 'client-key.pem', '-out', 'client.csr', '-nodes', '-subj', '/CN=client')
    openssl(tmp, 'x509', '-req', '-in', 'client.csr', '-CA', 'ca-cert.pem', '-CAkey',
            'ca-key.pem', '-CAcreateserial', '-out', 'client-cert.pem', '-days', '365')
    with open(os.path.join(tmp, 'bundle.pem'), 'w') as f:
        for n in ('ca-cert.pem', 'ca2-cert.pem'):
            f.write(open(os.path.join(tmp, n)).read())
    with open(os.path.join(tmp, 'key-then-cert.pem'), 'w') as f:
        for n in ('client-key.pem', 'client-cert.pem'):
            f.write(open(os.path.join(tmp, n)).read())


def normalise(o):
    if isinstance(o, dict):
        r = {k: normalise(v) for k, v in o.items()}
        if isinstance(r.get('sni'), list):
            r['sni'] = sorted(r['sni'])
        if isinstance(r.get('automate'), list):
            r['automate'] = sorted(r['automate'])
        if 'issuers' in r and isinstance(r.get('subjects'), list):
            r['subjects'] = sorted(r['subjects'])
        return r
    if isinstance(o, list):
        return [normalise(x) for x in o]
    return o


def bundle_all_certs(o, bundle):
    """what Caddy would print if it kept every certificate of bundle.pem"""
    if isinstance(o, dict):
        return {k: (list(bundle) if k in ('trusted_ca_certs', 'trusted_leaf_certs')
                    and v == bundle[:1] else bundle_all_certs(v, bundle))
                for k, v in o.items()}
    if isinstance(o, list):
        return [bundle_all_certs(x, bundle) for x in o]
    return o


def last_json(text):
    lines = [l for l in text.splitlines() if l.startswith('{')]
    return json.loads(lines[-1]) if lines else None


def policies(cfg):
    out = {}
    for srv in cfg.get('apps', {}).get('http', {}).get('servers', {}).values():
        for p in srv.get('tls_connection_policies', []):
            for host in p.get('match', {}).get('sni', []):
                out[host] = p
    return out


def check_ours_only(name, ours, ctx):
    pol = policies(ours)
    want = {
        'file.example': {'mode': 'require_and_verify',
                         'ca': {'provider': 'file', 'pem_files': ['ca-cert.pem', 'bundle.pem']}},
        'inline.example': {'ca': {'provider': 'inline', 'trusted_ca_certs': [ctx['CA_B64']]}},
    }
    for host, ca in want.items():
        got = pol.get(host, {}).get('client_authentication')
        if got != ca:
            return '%s: %s client_authentication is %s, want %s' % (name, host, got, ca)
    return None


def diff(a, b):
    sa = json.dumps(a, indent=1, sort_keys=True).splitlines()
    sb = json.dumps(b, indent=1, sort_keys=True).splitlines()
    return '\n'.join(difflib.unified_diff(sa, sb, 'caddy adapt', 'mtls-proxy adapt', lineterm=''))


def contains_all(text, needles):
    return [n for n in needles if n not in text]


def check_file(name, proxy, tmp, env, ctx):
    exp = EXPECT.get(name, {'kind': 'equal'})
    kind = exp['kind']
    c_rc, c_out, c_err = run(['caddy', 'adapt', '--config', name, '--adapter', 'caddyfile'],
                             tmp, env)
    o_rc, o_out, o_err = run([proxy, 'adapt', '--config', name], tmp, env)
    c_msg = (c_err.strip().splitlines() or [''])[-1]
    o_msg = o_err.strip()
    if kind == 'equal':
        if c_rc != 0:
            return 'caddy adapt failed: %s' % c_msg
        if o_rc != 0:
            return 'mtls-proxy adapt failed: %s' % o_msg
        c_json, o_json = last_json(c_out), json.loads(o_out)
        if exp.get('transform') == 'bundle_all_certs':
            c_json = bundle_all_certs(c_json, ctx['BUNDLE'])
        a, b = normalise(c_json), normalise(o_json)
        if a != b:
            return 'outputs differ:\n' + diff(a, b)
        return None
    if kind in ('both_fail', 'ours_fails', 'ours_fails_validate', 'ours_only'):
        if kind == 'both_fail' and c_rc == 0:
            return 'caddy adapt unexpectedly succeeded'
        if kind in ('ours_fails', 'ours_fails_validate') and c_rc != 0:
            return 'caddy adapt unexpectedly failed: %s' % c_msg
        if kind == 'ours_fails_validate':
            v_rc, _, v_err = run(['caddy', 'adapt', '--config', name, '--adapter', 'caddyfile',
                                  '--validate'], tmp, env)
            if v_rc == 0:
                return 'caddy adapt --validate unexpectedly succeeded'
            c_msg = (v_err.strip().splitlines() or [''])[-1]
        if kind in ('both_fail', 'ours_fails_validate', 'ours_only'):
            missing = contains_all(c_msg, exp.get('caddy', []))
            if c_rc == 0 and kind == 'ours_only':
                return 'caddy adapt unexpectedly succeeded (2.6.2 should not know this syntax)'
            if missing:
                return 'caddy error lacks %s: %s' % (missing, c_msg)
        if kind == 'ours_only':
            if o_rc != 0:
                return 'mtls-proxy adapt failed: %s' % o_msg
            return check_ours_only(name, json.loads(o_out), ctx)
        if o_rc == 0:
            return 'mtls-proxy adapt unexpectedly succeeded'
        missing = contains_all(o_msg, exp.get('ours', []))
        if missing:
            return 'mtls-proxy error lacks %s: %s' % (missing, o_msg)
        return None
    return 'unknown expectation kind %s' % kind


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    proxy = os.path.abspath(sys.argv[1])
    for tool in ('caddy', 'openssl'):
        if shutil.which(tool) is None:
            print('SKIP: %s is not installed' % tool)
            return 77
    tmp = tempfile.mkdtemp(prefix='adapt-matches-caddy-')
    try:
        home = os.path.join(tmp, '.home')
        for d in ('', 'data', 'config'):
            os.makedirs(os.path.join(home, d), exist_ok=True)
        make_pki(tmp)
        files = sorted(f for f in os.listdir(ADAPT_DIR) if f.endswith('.Caddyfile'))
        shutil.copytree(ADAPT_DIR, tmp, dirs_exist_ok=True)
        ctx = {
            'CA_B64': pem_b64(os.path.join(tmp, 'ca-cert.pem'))[0],
            'LEAF_B64': pem_b64(os.path.join(tmp, 'client-cert.pem'))[0],
            'BUNDLE': pem_b64(os.path.join(tmp, 'bundle.pem')),
        }
        env = {k: v for k, v in os.environ.items()
               if k not in ('SITE_NAME', 'MISSING_UPSTREAM')}
        env.update({'HOME': home, 'XDG_DATA_HOME': os.path.join(home, 'data'),
                    'XDG_CONFIG_HOME': os.path.join(home, 'config'),
                    'CA_B64': ctx['CA_B64'], 'LEAF_B64': ctx['LEAF_B64'],
                    'UPSTREAM': '10.0.0.8:8000'})
        failed = 0
        print('allowed everywhere: ' + GLOBAL_REASON)
        for name in files:
            why = check_file(name, proxy, tmp, env, ctx)
            exp = EXPECT.get(name, {'kind': 'equal'})
            note = ' (%s: %s)' % (exp['kind'], exp['reason']) if 'reason' in exp else ''
            if why is None:
                print('ok   %s%s' % (name, note))
            else:
                failed += 1
                print('FAIL %s%s\n     %s' % (name, note, why.replace('\n', '\n     ')))
        print('%d of %d Caddyfiles as expected' % (len(files) - failed, len(files)))
        return 1 if failed else 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())
