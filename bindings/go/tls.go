package mtls

import (
	"crypto/tls"
	"net"
	"time"
)

// Raw returns the DER certificates of a TLS connection's client, as it sent them.
func rawChain(cs *tls.ConnectionState) [][]byte {
	chain := make([][]byte, 0, len(cs.PeerCertificates))
	for _, c := range cs.PeerCertificates {
		chain = append(chain, c.Raw)
	}
	return chain
}

func addrIP(a net.Addr) string {
	switch v := a.(type) {
	case *net.TCPAddr:
		return v.IP.String()
	case *net.UDPAddr:
		return v.IP.String()
	case nil:
		return ""
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil || net.ParseIP(host) == nil {
		return ""
	}
	return host
}

// VerifyConnectionState judges the client of a finished TLS handshake, now: the policy is
// selected by the server name the client sent (cs.ServerName) and the connection's
// addresses (`remote`/`local`, nil when unknown: IP matchers then do not match), and the
// chain is cs.PeerCertificates as the client sent it (Go has verified nothing when
// ClientAuth is tls.RequestClientCert). Errors: no matching policy (CodeNoMatchingPolicy),
// closed Context.
func (c *Context) VerifyConnectionState(cs tls.ConnectionState, remote, local net.Addr) (*Result, error) {
	idx, err := c.Select(cs.ServerName, addrIP(remote), addrIP(local))
	if err != nil {
		return nil, err
	}
	return c.Verify(rawChain(&cs), time.Time{}, idx)
}

// VerifyConnection lets libmtls decide on the client of a crypto/tls server:
//
//	&tls.Config{ClientAuth: tls.RequestClientCert, VerifyConnection: ctx.VerifyConnection}
//
// Go asks for a certificate without verifying it; libmtls judges it under the policy the
// SNI selects (IP matchers do not match: use ServerConfig for policies that have them) and a
// refusal fails the handshake with the *Error of Result.Err (Go sends a bad_certificate
// alert).
func (c *Context) VerifyConnection(cs tls.ConnectionState) error {
	r, err := c.VerifyConnectionState(cs, nil, nil)
	if err != nil {
		return err
	}
	return r.Err()
}

// ServerConfig returns a copy of `base` whose GetConfigForClient selects the policy of each
// connection (SNI and both addresses, as Caddy does), asks for a client certificate unless
// the policy's mode is off, and whose VerifyConnection lets libmtls decide under that
// policy. It replaces base's GetConfigForClient, ClientAuth and VerifyConnection.
// A connection that no policy matches fails its handshake (Caddy's rule).
func (c *Context) ServerConfig(base *tls.Config) *tls.Config {
	var cfg *tls.Config
	if base != nil {
		cfg = base.Clone()
	} else {
		cfg = &tls.Config{}
	}
	template := cfg.Clone()
	template.GetConfigForClient = nil
	cfg.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		var remote, local net.Addr
		if hello.Conn != nil {
			remote, local = hello.Conn.RemoteAddr(), hello.Conn.LocalAddr()
		}
		idx, err := c.Select(hello.ServerName, addrIP(remote), addrIP(local))
		if err != nil {
			return nil, err
		}
		mode, err := c.PolicyMode(idx)
		if err != nil {
			return nil, err
		}
		conf := template.Clone()
		conf.ClientAuth = tls.RequestClientCert
		if mode == ModeOff {
			conf.ClientAuth = tls.NoClientCert
		}
		conf.VerifyConnection = func(cs tls.ConnectionState) error {
			r, err := c.Verify(rawChain(&cs), time.Time{}, idx)
			if err != nil {
				return err
			}
			return r.Err()
		}
		return conf, nil
	}
	return cfg
}
