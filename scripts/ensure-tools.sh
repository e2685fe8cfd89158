#!/usr/bin/env bash
# Installs what the build and the test brokers need when a machine lacks it:
# a Rust toolchain with rustfmt and clippy, Java 17+ and Maven (Apache Kafka
# is assembled from Maven Central), python3 (broker probes, Tansu's wheel),
# openssl and kcat.
set -euo pipefail

have() { command -v "$1" >/dev/null 2>&1; }
apt_updated=0
apt_install() {
  if [ "$apt_updated" = 0 ]; then apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

if ! have cargo; then
  echo "installing Rust (rustup from Debian)" >&2
  apt_install rustup || apt_install cargo rustc
  have rustup && rustup default stable
fi
if have rustup; then
  rustup component add rustfmt clippy >/dev/null 2>&1 || true
fi
have java || { echo "installing Java 17" >&2; apt_install openjdk-17-jre-headless; }
have mvn || { echo "installing Maven" >&2; apt_install maven; }
have python3 || { echo "installing python3" >&2; apt_install python3 python3-pip; }
# The secured test broker (TLS, SASL) gets its certificates from openssl.
have openssl || { echo "installing openssl" >&2; apt_install openssl; }
# kcat is an interop peer (tests/src/kcat.rs runs it over librdkafka 2.16).
have kcat || { echo "installing kcat" >&2; apt_install kcat; }

# Report versions (a closed pipe must not fail the script under pipefail).
cargo --version
{ java -version 2>&1 | head -n1; } || true
{ mvn -v 2>/dev/null | head -n1; } || true
python3 --version
