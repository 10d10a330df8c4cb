#!/usr/bin/env bash
# A CI job's body: bring up a local cluster, run a suite against it, always tear the
# cluster down, and exit with faultline's own code (0 valid, 1 invalid, 2 unknown,
# 254 bad arguments, 255 crashed), leaving for the CI system to keep:
#   $OUT/junit.xml     JUnit XML (a suite per run, the explanation as the failure)
#   $OUT/results.json  the results document (every run's verdict and results.json)
#   $OUT/store/        the store folders: histories, logs, plots, HTML reports
#
# Usage (as root, from the repository):
#   examples/ci/faultline-ci.sh SUITE.toml [more faultline test options...]
# Environment: FAULTLINE (the binary; default: target/release/faultline),
#   OUT (default: ci-out), NODES (default: 5), PREFIX and SUBNET (the cluster's names
#   and private /24; default: fl, 10.77.0.0).
set -uo pipefail

suite=${1:?usage: faultline-ci.sh SUITE.toml [faultline test options...]}
shift
faultline=${FAULTLINE:-target/release/faultline}
out=${OUT:-ci-out}
nodes=${NODES:-5}
cluster="$out/cluster"

mkdir -p "$out"
"$faultline" cluster up --dir "$cluster" --nodes "$nodes" \
    --prefix "${PREFIX:-fl}" --subnet "${SUBNET:-10.77.0.0}" || exit 255
# Whatever happens below, the namespaces, bridge and daemons go.
trap '"$faultline" cluster down --dir "$cluster" >&2 || true' EXIT

"$faultline" test --suite "$suite" --cluster "$cluster" --store "$out/store" \
    --no-progress --junit "$out/junit.xml" --json "$@" > "$out/results.json"
code=$?
echo "faultline test exited $code; results in $out/ (junit.xml, results.json, store/)" >&2
exit "$code"
