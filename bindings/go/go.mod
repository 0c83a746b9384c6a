module libmtls.dev/mtls

go 1.19
