package mtls_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"path/filepath"
	"testing"
	"time"

	mtls "libmtls.dev/mtls"
)

// handshake runs a crypto/tls server with cfg on 127.0.0.1 and one client; returns the
// server's handshake error and the client's.
func handshake(t *testing.T, cfg *tls.Config, client *tls.Config) (error, error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	srvErr := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			srvErr <- err
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(20 * time.Second))
		tc := tls.Server(c, cfg)
		err = tc.Handshake()
		if err == nil {
			_, err = tc.Write([]byte("ok"))
		}
		srvErr <- err
	}()
	c, err := net.DialTimeout("tcp", ln.Addr().String(), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	tc := tls.Client(c, client)
	cerr := tc.Handshake()
	if cerr == nil {
		// TLS 1.3: the server's verdict arrives after the client's handshake.
		_, cerr = io.ReadAll(io.LimitReader(tc, 2))
	}
	return <-srvErr, cerr
}

func tlsConfigs(t *testing.T, clientCert string) (*tls.Config, *tls.Config) {
	pki := pkiDir(t)
	srvCert, err := tls.LoadX509KeyPair(filepath.Join(pki, "server.pem"),
		filepath.Join(pki, "server.key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(readFile(t, filepath.Join(pki, "server-ca.pem")))
	client := &tls.Config{RootCAs: pool, ServerName: "localhost"}
	if clientCert != "" {
		cc, err := tls.LoadX509KeyPair(filepath.Join(pki, clientCert+".chain.pem"),
			filepath.Join(pki, clientCert+".key.pem"))
		if err != nil {
			t.Fatal(err)
		}
		client.Certificates = []tls.Certificate{cc}
	}
	return &tls.Config{Certificates: []tls.Certificate{srvCert}}, client
}

func TestVerifyConnection(t *testing.T) {
	pki := pkiDir(t)
	ctx := newCtx(t, policyJSON(t, "require_and_verify", filepath.Join(pki, "root-ca.pem")))
	for _, c := range []struct {
		cert string
		want mtls.Code
	}{{"basic", mtls.CodeOK}, {"expired", mtls.CodeCertExpired}, {"", mtls.CodeNoCertificate}} {
		srv, cli := tlsConfigs(t, c.cert)
		srv.ClientAuth = tls.RequestClientCert
		srv.VerifyConnection = ctx.VerifyConnection
		serr, cerr := handshake(t, srv, cli)
		if c.want == mtls.CodeOK {
			if serr != nil || cerr != nil {
				t.Errorf("%s: server %v, client %v", c.cert, serr, cerr)
			}
			continue
		}
		if !errors.Is(serr, &mtls.Error{Code: c.want}) || cerr == nil {
			t.Errorf("%q: server %v, client %v; want %s", c.cert, serr, cerr, c.want)
		}
	}
}

// ServerConfig selects by remote IP: 127.0.0.0/8 must verify; others only request.
func TestServerConfig(t *testing.T) {
	pki := pkiDir(t)
	ctx := newCtx(t, []byte(`[
	  {"match":{"remote_ip":{"ranges":["192.0.2.0/24"]}},"client_authentication":{"mode":"request"}},
	  {"match":{"remote_ip":{"ranges":["127.0.0.0/8"]}},"client_authentication":{
	    "mode":"require_and_verify","trusted_ca_certs_pem_files":["`+
		filepath.Join(pki, "root-ca.pem")+`"]}}]`))
	for _, c := range []struct {
		cert string
		want mtls.Code
	}{{"basic", mtls.CodeOK}, {"untrusted-ca", mtls.CodeUnknownIssuer},
		{"", mtls.CodeNoCertificate}} {
		srv, cli := tlsConfigs(t, c.cert)
		serr, cerr := handshake(t, ctx.ServerConfig(srv), cli)
		if c.want == mtls.CodeOK {
			if serr != nil || cerr != nil {
				t.Errorf("%s: server %v, client %v", c.cert, serr, cerr)
			}
			continue
		}
		if !errors.Is(serr, &mtls.Error{Code: c.want}) || cerr == nil {
			t.Errorf("%q: server %v, client %v; want %s", c.cert, serr, cerr, c.want)
		}
	}
	// No policy for this client's address: the handshake fails (Caddy's rule).
	only := newCtx(t, []byte(`[{"match":{"remote_ip":{"ranges":["192.0.2.0/24"]}},
	  "client_authentication":{"mode":"request"}}]`))
	srv, cli := tlsConfigs(t, "basic")
	serr, _ := handshake(t, only.ServerConfig(srv), cli)
	if !errors.Is(serr, &mtls.Error{Code: mtls.CodeNoMatchingPolicy}) {
		t.Errorf("no policy: server %v", serr)
	}
}
