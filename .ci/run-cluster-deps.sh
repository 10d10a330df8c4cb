#!/bin/sh
# Installs the Debian packages that faultline's control plane, local cluster and
# etcd, PostgreSQL and Redis integration tests need. Idempotent and non-interactive; called by .ci/run.
#
# Debian's maintainer scripts would start a host-wide sshd, etcd, PostgreSQL
# ("main" cluster), redis-server and redis-sentinel on install. The tests never use
# those (every node runs its own sshd, etcd, redis and sentinel inside its own
# namespaces, and the postgres tests run their own server from
# /usr/lib/postgresql/<version>/bin with a data directory of their own), and they
# would hold ports on 127.0.0.1 (etcd 2379/2380, redis 6379, sentinel 26379), so a
# policy-rc.d that denies every service start is in place while apt runs.
set -eu

if [ "$(id -u)" != 0 ]; then
    echo "run-cluster-deps.sh: must run as root" >&2
    exit 1
fi

# chromium: the report pages are tested in a headless browser (tests/integration/report_serve.rs).
# libxml2-utils: xmllint validates the JUnit output against its schema (tests/integration/junit.rs).
# postgresql: the server binaries for tests/postgres_e2e.rs (runuser, from util-linux,
# runs them as the postgres user the package creates).
# python3: the example external clients (examples/clients/etcd_client.py,
# tests/external_client_e2e.rs; examples/clients/redis_client.py, stdlib only).
# redis-*: the Redis suite (examples/suites/redis.toml, tests/redis_e2e.rs) runs
# Debian's redis-server and redis-sentinel on the nodes.
PACKAGES="openssh-server openssh-client iptables iproute2 etcd-server etcd-client \
libssl-dev pkg-config util-linux procps tar chromium libxml2-utils python3 postgresql \
redis-server redis-sentinel redis-tools"

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

# Deny every service start while apt runs. An existing policy-rc.d (Docker
# images ship one) is set aside and restored afterwards, whatever it said.
policy=/usr/sbin/policy-rc.d
backup=/usr/sbin/policy-rc.d.faultline-backup
if [ -e "$policy" ]; then
    mv "$policy" "$backup"
fi
printf '#!/bin/sh\n# faultline: no service starts while installing test deps\nexit 101\n' > "$policy"
chmod 0755 "$policy"
cleanup() {
    rm -f "$policy"
    if [ -e "$backup" ]; then
        mv "$backup" "$policy"
    fi
}
trap cleanup EXIT INT TERM

export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing

# Should a host sshd, etcd, PostgreSQL or Redis have been started anyway (an init system that
# ignores policy-rc.d), stop and disable it, but only for a package this run
# installed: a service that ran before is not ours to stop. The tests never use
# them, and they would hold ports on 127.0.0.1 (etcd 2379, redis 6379, sentinel 26379).
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    case " $missing " in *" etcd-server "*) systemctl disable --now etcd >/dev/null 2>&1 || true ;; esac
    case " $missing " in *" openssh-server "*) systemctl disable --now ssh >/dev/null 2>&1 || true ;; esac
    case " $missing " in *" postgresql "*) systemctl disable --now postgresql >/dev/null 2>&1 || true ;; esac
    case " $missing " in *" redis-server "*) systemctl disable --now redis-server >/dev/null 2>&1 || true ;; esac
    case " $missing " in *" redis-sentinel "*) systemctl disable --now redis-sentinel >/dev/null 2>&1 || true ;; esac
fi
echo "run-cluster-deps.sh: installed:$missing"
