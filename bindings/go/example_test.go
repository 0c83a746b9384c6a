package mtls_test

import (
	"crypto/tls"
	"fmt"
	"log"
	"os"
	"time"

	mtls "libmtls.dev/mtls"
)

// The README's example (compiled by go vet and go test; not run: it needs files).
func Example() {
	chainPEM, _ := os.ReadFile("client.chain.pem")
	ctx, err := mtls.NewContextFromFile("policy.json", "") // Caddy client_authentication JSON
	if err != nil {
		log.Fatal(err) // *mtls.Error: Code, Name, Category, Message, Where, Line, Column
	}
	defer ctx.Close()
	res, err := ctx.VerifyPEM(chainPEM, time.Time{}, 0) // zero time: now; policy #0
	if err == nil && res.Accepted {
		fmt.Println(res.Subject, res.DNSNames, res.NotAfter, res.Placeholders["http.request.tls.client.spiffe_id"])
	}
	srv := &tls.Config{ClientAuth: tls.RequestClientCert, VerifyConnection: ctx.VerifyConnection}
	_ = srv
}
