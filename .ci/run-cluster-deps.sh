#!/bin/sh
# Installs the Debian packages that faultline's control plane, local cluster and
# etcd integration tests need. Idempotent and non-interactive; called by .ci/run.
#
# Debian's maintainer scripts would start a host-wide sshd and etcd on install. The
# tests never use those (every node runs its own sshd and etcd inside its own
# namespaces), and a host etcd would hold ports 2379/2380 on 127.0.0.1, so a
# policy-rc.d that denies every service start is in place while apt runs.
set -eu

if [ "$(id -u)" != 0 ]; then
    echo "run-cluster-deps.sh: must run as root" >&2
    exit 1
fi

PACKAGES="openssh-server openssh-client iptables iproute2 etcd-server etcd-client \
libssl-dev pkg-config util-linux procps tar"

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing="$missing $p"
    fi
done

if [ -z "$missing" ]; then
    echo "run-cluster-deps.sh: all packages present"
    exit 0
fi

policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# faultline: no service starts while installing test deps\nexit 101\n' > "$policy"
    chmod 0755 "$policy"
    created_policy=1
fi
cleanup() {
    if [ "$created_policy" = 1 ]; then
        rm -f "$policy"
    fi
}
trap cleanup EXIT INT TERM

export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing

# sshd needs its privilege-separation directory; the per-node sshd gets its own
# private /run, but the host one must exist for `sshd -t` style checks.
mkdir -p /run/sshd
echo "run-cluster-deps.sh: installed:$missing"
