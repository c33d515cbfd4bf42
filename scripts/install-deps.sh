#!/usr/bin/env bash
# Installs everything brandpulse needs to build, test and run its demo, from Debian 12 packages.
# Idempotent: does nothing when every package is present. Uses sudo only when not root.
set -euo pipefail

packages=(
  # toolchain
  g++ cmake make pkg-config git ca-certificates
  # required libraries
  librdkafka-dev librocksdb-dev libsimdjson-dev libhyperscan-dev libfmt-dev
  # chosen libraries: config, command line, tests, benchmarks
  libyaml-cpp-dev libcli11-dev libgtest-dev libgmock-dev libbenchmark-dev
  # the HTTP query API (server) and its tests (client)
  libcpp-httplib-dev
  # issue 16: the HTTP listener itself (pipeline/http_server.*): GNU libmicrohttpd is
  # event-driven, so trickling or idle clients hold no worker thread
  libmicrohttpd-dev
  # real word lists for the synthetic firehose (en, no, es)
  wamerican wnorwegian wspanish
  # enrichment: language detection (CLD2 with its full tables, issue 13)
  libcld2-dev
  # benchmark baselines and reporting (bench/): RE2, PCRE2, nlohmann/json, ripgrep, gnuplot,
  # GNU time for peak RSS, bc for the ratios
  libre2-dev libpcre2-dev nlohmann-json3-dev ripgrep gnuplot-nox time bc
  # operations (docs/operations.md): logs (spdlog), `promtool check metrics` in the tests
  # (prometheus), the dashboard's end-to-end test in a headless browser (chromium), a pty (script)
  libspdlog-dev prometheus chromium bsdutils python3
  # issue 12: the webhook sink (libcurl) and its HMAC-SHA256 signature (OpenSSL's libcrypto)
  libcurl4-openssl-dev libssl-dev
  # issue 14: ICU, the independent reference for NFC and UAX #29 word characters in the tests
  libicu-dev
  # issue 14 (precision tools): validate's ambiguity warnings: inflected forms and names from
  # Hunspell's en/nb/es dictionaries, English word frequency classes from SCOWL
  libhunspell-dev hunspell-en-us hunspell-no hunspell-es scowl
  # Kafka tests, demo and bench: kcat produces the firehose to dev-kafka's mock cluster
  kcat
)

# `make fuzz` only (never `make test`, which replays the corpora with g++): clang and libFuzzer.
if [ "${1:-}" = "--fuzz" ]; then
  packages+=(clang libclang-rt-14-dev)
fi

# `make bench` / `make bench-full` only: Node.js and npm for the DuckDB peer (bench/duckdb/, npm
# @duckdb/node-api installed into the bench's output directory). A Node.js installed some other
# way (NodeSource's package carries its own npm) is used as it is.
if [ "${1:-}" = "--bench" ]; then
  command -v node >/dev/null 2>&1 || packages+=(nodejs)
  command -v npm >/dev/null 2>&1 || packages+=(npm)
fi

# deploy/: the manifests test renders with `kubectl kustomize` (Debian's kubernetes-client, kubectl
# 1.20); a kubectl installed some other way (it owns /usr/bin/kubectl too) is used as it is.
if ! command -v kubectl >/dev/null 2>&1; then packages+=(kubernetes-client); fi

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$package")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
echo "install-deps: installing ${missing[*]}"
"${sudo_cmd[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
