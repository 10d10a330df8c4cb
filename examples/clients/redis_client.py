#!/usr/bin/env python3
"""A faultline external client for Redis with Sentinel (protocol 1, JSON Lines).

faultline starts one of these per worker process (docs/client-protocol.md) and
sends it `open`, then one `invoke` at a time, then `close`. It implements the
three built-in workloads:

  register  read / write / cas on integer keys: GET, SET, and an EVAL script
            that sets the key only if it holds the expected value
  set       add (SADD to one Redis set) / read (SMEMBERS, sorted)
  append    a transaction of list reads and appends as one EVAL script
            (LRANGE / RPUSH), which Redis runs atomically on one server

How it finds the primary, and why that is the point of the test: before every
operation it asks the sentinel on its own node (FAULTLINE_HOST:26379, falling
back to the other nodes' sentinels only when that one does not answer) for the
primary's address, as a client running next to that node would. When a
partition cuts the primary off, the sentinels of the majority elect a new
primary a few seconds later, but the sentinel on the isolated node cannot take
part, keeps its old view, and its clients keep writing to the old primary,
which keeps acknowledging them: Redis replication is asynchronous and, by
default (min-replicas-to-write 0), a primary with no replica connected still
accepts writes. When the partition heals, the old primary is turned into a
replica of the new one and throws its own data away: every write it
acknowledged after the cut is lost. The set workload then shows lost elements;
the register workload shows reads that no linearizable order explains.

Reads go to the same primary as writes. REDIS_READ_FROM=local sends them to
this client's own node instead (often a replica), which adds stale reads to
the picture even without faults.

Outcomes (Jepsen's rules): nothing sent (connection refused, no route, no
sentinel knows a primary) -> fail; an error reply from Redis (READONLY from a
demoted primary, NOREPLICAS, LOADING...) -> fail, Redis rejects a command
before running it; a timeout or a connection lost after the command was sent
-> info for writes (the write may have happened), fail for reads (a read
changes nothing).

Standard library only, so any python3 runs it. Environment: FAULTLINE_HOST,
FAULTLINE_HOSTS, FAULTLINE_KEY_PREFIX (from faultline); REDIS_PORT (6379),
SENTINEL_PORT (26379), REDIS_MASTER_NAME (mymaster), REDIS_READ_FROM
(primary | local).
"""

import json
import os
import socket
import sys
import time

PORT = int(os.environ.get("REDIS_PORT", "6379"))
SENTINEL_PORT = int(os.environ.get("SENTINEL_PORT", "26379"))
MASTER_NAME = os.environ.get("REDIS_MASTER_NAME", "mymaster")
READ_FROM = os.environ.get("REDIS_READ_FROM", "primary")
# Answer this long before faultline's own deadline, so the answer is ours.
MARGIN = 0.25
# A sentinel that does not answer within this is skipped.
SENTINEL_TIMEOUT = 0.5
# Replies larger than this are refused (a final set read of ~100k elements fits).
MAX_REPLY = 64 << 20

# Sets KEYS[1] to ARGV[2] if it holds ARGV[1]; 1 if it did, 0 if not.
CAS_SCRIPT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2])
  return 1
end
return 0
"""

# ARGV[1]: JSON [[f, i, v], ...] with f "r" or "append", i the 1-based index of
# the key in KEYS, v the element (a string). Returns JSON: for each micro-op,
# the list read, or false for an append.
APPEND_SCRIPT = """
local mops = cjson.decode(ARGV[1])
local out = {}
for i, m in ipairs(mops) do
  local k = KEYS[m[2]]
  if m[1] == 'r' then
    out[i] = redis.call('LRANGE', k, 0, -1)
  else
    redis.call('RPUSH', k, m[3])
    out[i] = false
  end
end
return cjson.encode(out)
"""


class NotSent(Exception):
    """The command certainly never reached Redis."""


class Indefinite(Exception):
    """The command was (or may have been) sent, and no answer came."""


class RedisError(Exception):
    """Redis answered with an error: it did not run the command."""


def log(msg):
    print(f"redis_client: {msg}", file=sys.stderr, flush=True)


def encode(args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        b = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(out)


class Reader:
    """RESP2 replies from a socket, bounded in size. Parses at an offset into
    one growing buffer, so a large array (a final set read) costs linear time."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray()
        self.pos = 0

    def _fill(self):
        chunk = self.sock.recv(1 << 16)
        if not chunk:
            raise ConnectionError("connection closed by the server")
        if len(self.buf) + len(chunk) > MAX_REPLY:
            raise ConnectionError(f"reply over {MAX_REPLY} bytes")
        self.buf += chunk

    def _line(self):
        while True:
            end = self.buf.find(b"\r\n", self.pos)
            if end >= 0:
                line = bytes(self.buf[self.pos : end])
                self.pos = end + 2
                return line
            self._fill()

    def _exact(self, n):
        while len(self.buf) < self.pos + n + 2:
            self._fill()
        data = bytes(self.buf[self.pos : self.pos + n])
        self.pos += n + 2
        return data

    def reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            return RedisError(rest.decode(errors="replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n)
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.reply() for _ in range(n)]
        raise ConnectionError(f"unreadable reply line {line[:80]!r}")


def call(host, port, args, deadline, connect_timeout=None):
    """Runs one command on a fresh connection (so that a refused connection
    always means "not sent"); returns the reply, raises NotSent, Indefinite or
    RedisError."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise NotSent("no time left before sending")
    try:
        sock = socket.create_connection(
            (host, port), timeout=min(left, connect_timeout or left)
        )
    except OSError as e:
        raise NotSent(f"connect {host}:{port}: {e}") from None
    try:
        sock.settimeout(max(0.001, deadline - time.monotonic()))
        try:
            sock.sendall(encode(args))
            reply = Reader(sock).reply()
        except socket.timeout:
            raise Indefinite(f"timeout waiting for {host}:{port}") from None
        except (OSError, ConnectionError, ValueError) as e:
            raise Indefinite(f"connection to {host}:{port} lost: {e}") from None
    finally:
        sock.close()
    if isinstance(reply, RedisError):
        raise reply
    return reply


class Client:
    def __init__(self, open_msg):
        self.host = open_msg.get("host") or os.environ["FAULTLINE_HOST"]
        hosts = open_msg.get("hosts") or os.environ.get("FAULTLINE_HOSTS", "").split()
        # Own node's sentinel first; the others only when it does not answer.
        self.sentinels = [self.host] + [h for h in hosts if h != self.host]
        self.prefix = open_msg.get("key_prefix") or os.environ.get(
            "FAULTLINE_KEY_PREFIX", "faultline/"
        )
        self.workload = open_msg.get("workload") or os.environ.get("FAULTLINE_WORKLOAD")
        self.primary = None

    def find_primary(self, deadline):
        """The primary according to the first sentinel that answers."""
        errors = []
        for s in self.sentinels:
            try:
                r = call(
                    s,
                    SENTINEL_PORT,
                    ["SENTINEL", "get-master-addr-by-name", MASTER_NAME],
                    min(deadline, time.monotonic() + SENTINEL_TIMEOUT),
                    SENTINEL_TIMEOUT,
                )
            except (NotSent, Indefinite, RedisError) as e:
                errors.append(str(e))
                continue
            if isinstance(r, list) and len(r) == 2:
                primary = r[0].decode()
                if primary != self.primary:
                    log(f"sentinel {s} says the primary is {primary} (was {self.primary})")
                    self.primary = primary
                return primary
            errors.append(f"sentinel {s}: no primary known ({r!r})")
        # A sentinel lookup changes nothing: whatever comes next was never sent.
        raise NotSent("no sentinel named a primary: " + "; ".join(errors))

    def run(self, host, args, deadline):
        return call(host, PORT, args, deadline)

    def write_target(self, deadline):
        return self.find_primary(deadline)

    def read_target(self, deadline):
        if READ_FROM == "local":
            return self.host
        return self.find_primary(deadline)

    # -- workloads ----------------------------------------------------------

    def register(self, f, key, value, deadline):
        k = f"{self.prefix}r/{key}"
        if f == "read":
            raw = self.run(self.read_target(deadline), ["GET", k], deadline)
            return "ok", (None if raw is None else json.loads(raw)), None
        if f == "write":
            self.run(self.write_target(deadline), ["SET", k, json.dumps(value)], deadline)
            return "ok", value, None
        if f == "cas":
            old, new = value
            r = self.run(
                self.write_target(deadline),
                ["EVAL", CAS_SCRIPT, 1, k, json.dumps(old), json.dumps(new)],
                deadline,
            )
            return ("ok", value, None) if r == 1 else ("fail", value, "cas mismatch")
        return "fail", value, f"unknown operation {f}"

    def set(self, f, value, deadline):
        k = f"{self.prefix}s"
        if f == "add":
            self.run(self.write_target(deadline), ["SADD", k, json.dumps(value)], deadline)
            return "ok", value, None
        if f == "read":
            members = self.run(self.read_target(deadline), ["SMEMBERS", k], deadline)
            return "ok", sorted(json.loads(m) for m in members or []), None
        return "fail", value, f"unknown operation {f}"

    def append(self, f, value, deadline):
        if f != "txn" or not isinstance(value, list):
            return "fail", value, f"unknown operation {f}"
        keys, mops = [], []
        for m in value:
            fm, key = m[0], m[1]
            if fm not in ("r", "append"):
                return "fail", value, f"unknown micro-op {fm}"
            if key not in keys:
                keys.append(key)
            v = None if fm == "r" else json.dumps(m[2])
            mops.append([fm, keys.index(key) + 1, v])
        read_only = all(m[0] == "r" for m in value)
        target = self.read_target(deadline) if read_only else self.write_target(deadline)
        args = ["EVAL", APPEND_SCRIPT, len(keys)]
        args += [f"{self.prefix}a/{k}" for k in keys]
        args.append(json.dumps(mops))
        out = json.loads(self.run(target, args, deadline))
        # cjson encodes an empty Lua table as {}.
        out = [] if isinstance(out, dict) else out
        done = []
        for i, m in enumerate(value):
            if m[0] == "r":
                lst = out[i] if i < len(out) and isinstance(out[i], list) else []
                done.append(["r", m[1], [json.loads(x) for x in lst]])
            else:
                done.append(m)
        return "ok", done, None

    def invoke(self, msg):
        f, value, key = msg.get("f"), msg.get("value"), msg.get("key")
        timeout = msg.get("timeout_ms", 5000) / 1000.0
        deadline = time.monotonic() + max(0.05, timeout - MARGIN)
        is_read = f == "read" or (
            f == "txn"
            and isinstance(value, list)
            and all(isinstance(m, list) and m and m[0] == "r" for m in value)
        )
        try:
            if self.workload == "register":
                return self.register(f, key, value, deadline)
            if self.workload == "set":
                return self.set(f, value, deadline)
            if self.workload == "append":
                return self.append(f, value, deadline)
            return "fail", value, f"unknown workload {self.workload}"
        except NotSent as e:
            return "fail", value, f"not sent: {e}"
        except RedisError as e:
            return "fail", value, f"redis: {e}"
        except Indefinite as e:
            return ("fail" if is_read else "info"), value, str(e)
        except Exception as e:  # a reply we cannot read: say so, never guess
            return ("fail" if is_read else "info"), value, f"client error: {e!r}"


def send(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def main():
    client = None
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        msg = json.loads(line)
        t = msg.get("type")
        if t == "open":
            try:
                client = Client(msg)
            except (KeyError, ValueError) as e:
                send({"type": "error", "error": f"bad open message: {e}"})
                continue
            send({"type": "ok"})
        elif t == "invoke":
            if client is None:
                send({"type": "fail", "id": msg.get("id"), "error": "invoke before open"})
                continue
            kind, value, error = client.invoke(msg)
            out = {"type": kind, "id": msg.get("id"), "value": value}
            if error:
                out["error"] = error
            send(out)
        elif t == "close":
            return
        else:
            log(f"ignoring message of type {t!r}")


if __name__ == "__main__":
    main()
