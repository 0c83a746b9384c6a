// Command server is an HTTPS server (crypto/tls, net/http) whose client authentication is
// decided by libmtls from a Caddy policy: Go asks for a client certificate without verifying
// it (tls.RequestClientCert) and VerifyConnection hands the chain to libmtls, which accepts
// or refuses the handshake exactly as Caddy would. Each request is answered with the
// client's identity, as JSON.
//
//	server -policy policy.json -cert server.pem -key server.key.pem [-listen 127.0.0.1:8443]
//
// It prints "listening on https://ADDR" once it accepts connections, and one line per
// verdict ("accepted subject=..." / "refused reason=... message=..."); SIGINT or SIGTERM
// stops it.
package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	mtls "libmtls.dev/mtls"
)

// stdout is shared by the handshake goroutines: one line at a time.
var out = struct {
	sync.Mutex
	w *os.File
}{w: os.Stdout}

func logf(format string, args ...interface{}) {
	out.Lock()
	defer out.Unlock()
	fmt.Fprintf(out.w, format+"\n", args...)
}

// identityJSON is what the server answers: the verdict and the client's identity.
type identityJSON struct {
	Accepted    bool              `json:"accepted"`
	Reason      string            `json:"reason"`
	Policy      int               `json:"policy"`
	Subject     string            `json:"subject"`
	Issuer      string            `json:"issuer"`
	Serial      string            `json:"serial"`
	Fingerprint string            `json:"fingerprint"`
	SPIFFEID    string            `json:"spiffe_id,omitempty"`
	DNSNames    []string          `json:"dns_names"`
	Emails      []string          `json:"emails"`
	IPs         []string          `json:"ips"`
	URIs        []string          `json:"uris"`
	NotAfter    time.Time         `json:"not_after"`
	Identity    map[string]string `json:"identity"`
}

func main() {
	policy := flag.String("policy", "", "Caddy policy JSON file (client_authentication, "+
		"tls_connection_policies or a whole config)")
	server := flag.String("server", "", "server name in a whole Caddy config (e.g. srv0)")
	certFile := flag.String("cert", "", "server certificate (PEM)")
	keyFile := flag.String("key", "", "server private key (PEM)")
	listen := flag.String("listen", "127.0.0.1:8443", "address to listen on")
	flag.Parse()
	if *policy == "" || *certFile == "" || *keyFile == "" {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*policy, *server, *certFile, *keyFile, *listen); err != nil {
		log.Fatal(err)
	}
}

func run(policyFile, serverName, certFile, keyFile, listen string) error {
	ctx, err := mtls.NewContextFromFile(policyFile, serverName)
	if err != nil {
		return err // *mtls.Error: code, message, line/column
	}
	defer ctx.Close()
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return err
	}
	cfg := &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
		// Go asks for a certificate and verifies nothing; libmtls decides. The short form
		// is VerifyConnection: ctx.VerifyConnection; this one also logs the verdict.
		ClientAuth: tls.RequestClientCert,
		VerifyConnection: func(cs tls.ConnectionState) error {
			res, err := ctx.VerifyConnectionState(cs, nil, nil)
			var e *mtls.Error
			switch {
			case errors.As(err, &e): // no policy matches this SNI
				logf("refused reason=%s message=%s", e.Name, strconv.Quote(e.Message))
				return err
			case err != nil:
				logf("refused error=%s", strconv.Quote(err.Error()))
				return err
			case res.Accepted:
				logf("accepted policy=%d subject=%s fingerprint=%s", res.PolicyIndex,
					strconv.Quote(res.Subject), res.Fingerprint)
			default:
				logf("refused reason=%s message=%s", res.Reason, strconv.Quote(res.Message))
			}
			return res.Err()
		},
	}
	ln, err := tls.Listen("tcp", listen, cfg)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		// The handshake was accepted; get the identity libmtls renders (Caddy's
		// placeholders) for this connection's client.
		res, err := ctx.VerifyConnectionState(*r.TLS, nil, nil)
		if err != nil || !res.Accepted {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		// Values are Caddy's raw bytes: strconv.Quote before logging them.
		logf("request path=%s subject=%s spiffe_id=%s", strconv.Quote(r.URL.Path),
			strconv.Quote(res.Subject), strconv.Quote(res.SPIFFEID))
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(identityJSON{
			Accepted: res.Accepted, Reason: res.Reason, Policy: res.PolicyIndex,
			Subject: res.Subject, Issuer: res.Issuer, Serial: res.Serial,
			Fingerprint: res.Fingerprint, SPIFFEID: res.SPIFFEID, DNSNames: res.DNSNames,
			Emails: res.Emails, IPs: res.IPs, URIs: res.URIs, NotAfter: res.NotAfter,
			Identity: res.Placeholders,
		})
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: log.New(os.Stderr, "server: ", 0)}
	stop, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	logf("listening on https://%s", ln.Addr().(*net.TCPAddr).String())
	select {
	case err := <-done:
		return err
	case <-stop.Done():
	}
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	return srv.Shutdown(sctx)
}
