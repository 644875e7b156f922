#!/bin/sh
# Regenerates the fixtures of discover_test.go with openssl and the real
# docker CLI. The keys are throwaway test keys that protect nothing.
set -eu
cd "$(dirname "$0")"
rm -rf certs dockerconfig
mkdir certs
cd certs
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 36500 \
	-subj /CN=composegen-test-ca -keyout ca-key.pem -out ca.pem 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-subj /CN=composegen-test-client -keyout key.pem -out client.csr 2>/dev/null
printf 'extendedKeyUsage=clientAuth\n' > ext.cnf
openssl x509 -req -in client.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial \
	-days 36500 -extfile ext.cnf -out cert.pem 2>/dev/null
rm -f client.csr ext.cnf ca.srl ca-key.pem
cd ..
export DOCKER_CONFIG="$PWD/dockerconfig"
certs="$PWD/certs"
docker context create prod --description "TLS engine" \
	--docker "host=tcp://10.0.0.5:2376,ca=$certs/ca.pem,cert=$certs/cert.pem,key=$certs/key.pem" >/dev/null
docker context create insecure --docker "host=tcp://10.0.0.6:2376,skip-tls-verify=true" >/dev/null
docker context create builder --docker "host=ssh://deploy@build-1:2200" >/dev/null
docker context create plain --docker "host=tcp://10.0.0.7" >/dev/null
docker context create rootless-podman --docker "host=unix:///run/user/1000/podman/podman.sock" >/dev/null
docker context use prod >/dev/null
