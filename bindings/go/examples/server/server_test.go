package main

// The example server as a process on 127.0.0.1 (stopped by its PID), with Go and curl
// clients presenting accepted and refused certificates of the test PKI (MTLS_PKI_DIR).
// The server binary is MTLS_GO_EXAMPLE_SERVER (run-tests.sh builds it), else `go build`.

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	mtls "libmtls.dev/mtls"
)

type server struct {
	addr  string
	lines chan string
}

func pkiDir(t *testing.T) string {
	d := os.Getenv("MTLS_PKI_DIR")
	if d == "" {
		if strings.Contains(os.Getenv("MTLS_GO_REQUIRE"), "pki") {
			t.Fatal("MTLS_PKI_DIR is not set")
		}
		t.Skip("MTLS_PKI_DIR is not set (the test PKI of the meson build)")
	}
	return d
}

func serverBinary(t *testing.T) string {
	if b := os.Getenv("MTLS_GO_EXAMPLE_SERVER"); b != "" {
		return b
	}
	bin := filepath.Join(t.TempDir(), "server")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Env = cleanEnv()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func startServer(t *testing.T, policyFile string) *server {
	pki := pkiDir(t)
	args := []string{serverBinary(t), "-policy", policyFile,
		"-cert", filepath.Join(pki, "server.pem"), "-key", filepath.Join(pki, "server.key.pem"),
		"-listen", "127.0.0.1:0"}
	// (Under an ASan build of libmtls the server inherits run-tests.sh's runtime preload.)
	cmd := exec.Command(args[0], args[1:]...)
	// If this test dies without its cleanup (a timeout panics), the server dies with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM) // by PID
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			t.Errorf("server %d did not stop on SIGTERM: killed", cmd.Process.Pid)
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	s := &server{lines: make(chan string, 100)}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			s.lines <- sc.Text()
		}
		close(s.lines)
		_ = cmd.Wait()
		close(exited)
	}()
	line := s.next(t, "listening on https://")
	s.addr = strings.TrimPrefix(line, "listening on https://")
	return s
}

// next returns the server's next stdout line, which must start with prefix.
func (s *server) next(t *testing.T, prefix string) string {
	t.Helper()
	select {
	case line, ok := <-s.lines:
		if !ok {
			t.Fatalf("server exited; wanted a line %q...", prefix)
		}
		if !strings.HasPrefix(line, prefix) {
			t.Fatalf("server said %q, want %q...", line, prefix)
		}
		return line
	case <-time.After(30 * time.Second):
		t.Fatalf("no line %q... from the server within 30 s", prefix)
	}
	return ""
}

type client struct {
	cert       string // PKI chain <cert>.chain.pem ("" = no certificate)
	key        string // PKI key <key>.key.pem ("": <cert>.key.pem)
	serverName string
}

func (c client) get(t *testing.T, s *server) (*identityJSON, error) {
	pki := pkiDir(t)
	pool := x509.NewCertPool()
	caPEM, err := os.ReadFile(filepath.Join(pki, "server-ca.pem"))
	if err != nil || !pool.AppendCertsFromPEM(caPEM) {
		t.Fatalf("server-ca.pem: %v", err)
	}
	cfg := &tls.Config{RootCAs: pool, ServerName: c.serverName}
	if c.cert != "" {
		key := c.key
		if key == "" {
			key = c.cert
		}
		cert, err := tls.LoadX509KeyPair(filepath.Join(pki, c.cert+".chain.pem"),
			filepath.Join(pki, key+".key.pem"))
		if err != nil {
			t.Fatal(err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	hc := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{
		TLSClientConfig: cfg, DisableKeepAlives: true}}
	resp, err := hc.Get("https://" + s.addr + "/whoami")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d: %s", resp.StatusCode, body)
	}
	var id identityJSON
	if err := json.Unmarshal(body, &id); err != nil {
		return nil, fmt.Errorf("body %q: %v", body, err)
	}
	return &id, nil
}

// cleanEnv is this process's environment without the ASan runtime preload that an ASan
// build of libmtls puts into it (curl must not run with it).
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "LD_PRELOAD=") && !strings.HasPrefix(kv, "ASAN_OPTIONS=") {
			env = append(env, kv)
		}
	}
	return env
}

func writePolicy(t *testing.T, doc interface{}) string {
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "policy.json")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func inspect(t *testing.T, name string) *mtls.Identity {
	pem, err := os.ReadFile(filepath.Join(pkiDir(t), name+".pem"))
	if err != nil {
		t.Fatal(err)
	}
	id, err := mtls.InspectPEM(pem)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestExampleServer(t *testing.T) {
	pki := pkiDir(t)
	// Policy #0 for SNI open.mtls.test: certificate requested, not required or verified;
	// policy #1 for everything else: require_and_verify against the test root CA.
	policy := writePolicy(t, []interface{}{
		map[string]interface{}{"match": map[string]interface{}{"sni": []string{"open.mtls.test"}},
			"client_authentication": map[string]interface{}{"mode": "request"}},
		map[string]interface{}{"client_authentication": map[string]interface{}{
			"mode": "require_and_verify", "trusted_ca_certs_pem_files": []string{
				filepath.Join(pki, "root-ca.pem")}}},
	})
	s := startServer(t, policy)

	// Accepted: the identity in the response and in the server's log is libmtls's.
	for _, name := range []string{"san", "basic", "via-int-sent"} {
		cert := map[string]string{"via-int-sent": "via-int"}[name]
		if cert == "" {
			cert = name
		}
		want := inspect(t, cert)
		id, err := client{cert: name, key: cert}.get(t, s)
		if err != nil {
			t.Fatalf("%s: refused: %v", name, err)
		}
		accepted := s.next(t, "accepted ")
		s.next(t, "request ")
		if !id.Accepted || id.Reason != "OK" || id.Policy != 1 || id.Subject != want.Subject ||
			id.Fingerprint != want.Fingerprint || id.Serial != want.Serial ||
			strings.Join(id.DNSNames, ",") != strings.Join(want.DNSNames, ",") ||
			!id.NotAfter.Equal(want.NotAfter) {
			t.Errorf("%s: response %+v, want the identity %+v", name, id, want)
		}
		if id.Identity["http.request.tls.client.verified"] != "SUCCESS" {
			t.Errorf("%s: verified placeholder %q", name, id.Identity["http.request.tls.client.verified"])
		}
		if !strings.Contains(accepted, fmt.Sprintf("subject=%q", want.Subject)) ||
			!strings.Contains(accepted, want.Fingerprint) {
			t.Errorf("%s: server logged %q, want subject %q", name, accepted, want.Subject)
		}
		t.Logf("%s: accepted as %q", name, id.Subject)
	}
	san := inspect(t, "san")
	if id, _ := (client{cert: "san"}).get(t, s); id == nil || id.SPIFFEID != san.SPIFFEID ||
		len(id.IPs) != 3 || id.SPIFFEID == "" {
		t.Errorf("san: %+v", id)
	} else {
		s.next(t, "accepted ")
		s.next(t, "request ")
	}

	// Refused: the handshake fails and the server logs libmtls's reason.
	for _, c := range []struct{ cert, reason string }{
		{"expired", "CERT_EXPIRED"},
		{"untrusted-ca", "UNKNOWN_ISSUER"},
		{"eku-server", "WRONG_EKU"},
		{"self-signed", "UNKNOWN_ISSUER"},
		{"", "NO_CERTIFICATE"},
	} {
		id, err := client{cert: c.cert}.get(t, s)
		if err == nil {
			t.Errorf("%q: accepted as %+v, want refused with %s", c.cert, id, c.reason)
			continue
		}
		line := s.next(t, "refused ")
		if !strings.HasPrefix(line, "refused reason="+c.reason+" ") {
			t.Errorf("%q: server logged %q, want reason %s", c.cert, line, c.reason)
		}
		t.Logf("%q: refused (%v); server: %s", c.cert, err, line)
	}

	// SNI selects policy #0 (request): no certificate, or an untrusted one, gets in.
	for _, name := range []string{"", "untrusted-ca"} {
		id, err := client{cert: name, serverName: "open.mtls.test"}.get(t, s)
		if err != nil || id.Policy != 0 || !id.Accepted {
			t.Errorf("open.mtls.test with %q: %+v %v", name, id, err)
			continue
		}
		s.next(t, "accepted policy=0 ")
		s.next(t, "request ")
	}

	// curl (OpenSSL) as the client, when it is installed.
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Log("no curl: skipping the curl clients")
		return
	}
	port := s.addr[strings.LastIndex(s.addr, ":")+1:]
	run := func(cert string) (string, error) {
		cmd := exec.Command(curl, "-sS", "--max-time", "20", "--cacert",
			filepath.Join(pki, "server-ca.pem"), "--cert", filepath.Join(pki, cert+".chain.pem"),
			"--key", filepath.Join(pki, cert+".key.pem"),
			"--resolve", "srv.mtls.test:"+port+":127.0.0.1", "https://srv.mtls.test:"+port+"/curl")
		cmd.Env = cleanEnv()
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run("san")
	var id identityJSON
	if err != nil || json.Unmarshal([]byte(out), &id) != nil || id.Subject != san.Subject ||
		id.Policy != 1 {
		t.Errorf("curl san: %v %q", err, out)
	} else {
		s.next(t, "accepted ")
		s.next(t, "request ")
		if id.Identity["http.request.tls.client.subject"] != san.Subject {
			t.Errorf("curl san identity: %v", id.Identity)
		}
	}
	if out, err := run("expired"); err == nil {
		t.Errorf("curl expired: accepted: %q", out)
	} else if line := s.next(t, "refused "); !strings.HasPrefix(line, "refused reason=CERT_EXPIRED ") {
		t.Errorf("curl expired: server logged %q", line)
	}
}
