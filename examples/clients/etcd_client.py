#!/usr/bin/env python3
"""A faultline external client for etcd (docs/client-protocol.md), standard library only.

It does what faultline's built-in etcd client does (crates/harness/src/clients/etcd.rs), through
etcd's v3 HTTP/JSON gateway, so both give the same verdicts:

    faultline test --cluster cluster --workload register \\
        --client-command "python3 examples/clients/etcd_client.py"

Workloads: register (read / write / cas per key), set (add / read), append (txn),
counter (add / read of key "counter").
Keys live under FAULTLINE_KEY_PREFIX: register key K is PREFIX + "r/" + K, set element
E is PREFIX + "s/" + E, append key K is PREFIX + "a/" + K, the counter is
PREFIX + "c/counter"; values are JSON text.

Outcomes follow Jepsen's rules: a read that went wrong in any way is `fail` (it changed
nothing); a write is `fail` only when it certainly did not apply (the connection was
refused, etcd rejected it), else `info`.

Environment: ETCD_PORT (default 2379), ETCD_SERIALIZABLE=1 for serializable reads.
"""

import base64
import http.client
import json
import os
import random
import socket
import sys
import time

PORT = int(os.environ.get("ETCD_PORT", "2379"))
SERIALIZABLE = os.environ.get("ETCD_SERIALIZABLE", "") not in ("", "0")
CONNECT_TIMEOUT = 1.0
TXN_ATTEMPTS = 8
# etcd's gRPC codes meaning "refused before applying" (as the built-in client).
REJECTED_CODES = {3, 5, 7, 8, 9, 11, 12, 16}


class NotApplied(Exception):
    """The request certainly had no effect."""


class Unknown(Exception):
    """The request may or may not have taken effect."""


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def b64(data):
    return base64.b64encode(data).decode("ascii")


def unb64(s):
    return base64.b64decode(s) if s else b""


def text(v):
    """A value's JSON text, as serde_json writes it (compact)."""
    return json.dumps(v, separators=(",", ":"))


def int64(v):
    """proto3 JSON writes int64 as a string."""
    try:
        return int(v)
    except (TypeError, ValueError):
        return 0


class Etcd:
    def __init__(self, host):
        self.host = host
        self.conn = None

    def call(self, path, body, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise Unknown("timeout: no time left")
        if self.conn is None:
            conn = http.client.HTTPConnection(self.host, PORT, timeout=min(CONNECT_TIMEOUT, left))
            try:
                conn.connect()
            except OSError as e:
                # No connection: nothing was sent.
                raise NotApplied("not sent: %s" % e)
            self.conn = conn
        try:
            self.conn.sock.settimeout(max(deadline - time.monotonic(), 0.001))
            self.conn.request("POST", "/v3/kv/" + path, body=text(body),
                              headers={"content-type": "application/json"})
            resp = self.conn.getresponse()
            status, data = resp.status, resp.read()
        except (OSError, http.client.HTTPException) as e:
            # The request may have gone out: unknown. Start over with a new connection.
            self.conn.close()
            self.conn = None
            kind = "timeout" if isinstance(e, socket.timeout) else "connection lost"
            raise Unknown("%s: %s" % (kind, e))
        if status != 200:
            raise classify(status, data)
        try:
            return json.loads(data)
        except ValueError as e:
            raise Unknown("malformed response: %s" % e)


def classify(status, data):
    try:
        v = json.loads(data)
    except ValueError:
        v = {}
    v = v if isinstance(v, dict) else {}
    message = v.get("message") or v.get("error") or "HTTP %d: %s" % (status, data[:200])
    code = v.get("code")
    if code is not None:
        code = int64(code)
        if code in REJECTED_CODES:
            return NotApplied("rejected (grpc code %d): %s" % (code, message))
        return Unknown("indeterminate (grpc code %d): %s" % (code, message))
    # No gRPC status: the gateway itself refused (404, 405, a body it could not parse).
    if 400 <= status < 500:
        return NotApplied("rejected (grpc code 0): %s" % message)
    return Unknown("indeterminate (grpc code 0): %s" % message)


def kvs(answer):
    return [(unb64(kv.get("key")), unb64(kv.get("value")),
             int64(kv.get("mod_revision", kv.get("modRevision"))))
            for kv in answer.get("kvs") or []]


def prefix_end(prefix):
    end = bytearray(prefix)
    while end:
        if end[-1] < 0xFF:
            end[-1] += 1
            return bytes(end)
        end.pop()
    return b"\0"


def range_body(key, end=None):
    body = {"key": b64(key)}
    if end is not None:
        body["range_end"] = b64(end)
    if SERIALIZABLE:
        body["serializable"] = True
    return body


class Client:
    def __init__(self, host, workload, prefix):
        self.etcd = Etcd(host)
        self.workload = workload
        self.prefix = prefix

    def key(self, space, k):
        k = k if isinstance(k, str) else text(k)
        return (self.prefix + space + "/" + k).encode()

    def invoke(self, op, deadline):
        """Returns (type, value, error)."""
        f, value = op["f"], op.get("value")
        try:
            if self.workload == "register":
                return self.register(f, value, op.get("key"), deadline)
            if self.workload == "set":
                return self.set(f, value, deadline)
            if self.workload == "append":
                return self.append(f, value, deadline)
            if self.workload == "counter":
                return self.counter(f, value, op.get("key"), deadline)
        except NotApplied as e:
            return "fail", value, str(e)
        except Unknown as e:
            # A read changes nothing: whatever happened, it did not happen.
            return ("fail" if f == "read" else "info"), value, str(e)
        return "fail", value, "unknown workload %s" % self.workload

    def register(self, f, value, k, deadline):
        key = self.key("r", k)
        if f == "read":
            found = kvs(self.etcd.call("range", range_body(key), deadline))
            if not found:
                return "ok", None, None
            try:
                return "ok", json.loads(found[0][1]), None
            except ValueError as e:
                return "fail", None, "bad value: %s" % e
        if f == "write":
            self.etcd.call("put", {"key": b64(key), "value": b64(text(value).encode())}, deadline)
            return "ok", value, None
        if f == "cas":
            if not isinstance(value, list) or len(value) != 2:
                return "fail", value, "cas needs [old, new]"
            old, new = value
            body = {
                "compare": [{"key": b64(key), "target": "VALUE", "result": "EQUAL",
                             "value": b64(text(old).encode())}],
                "success": [{"request_put": {"key": b64(key), "value": b64(text(new).encode())}}],
            }
            answer = self.etcd.call("txn", body, deadline)
            if answer.get("succeeded"):
                return "ok", value, None
            return "fail", value, "cas mismatch"
        return "fail", value, "unknown operation %s" % f

    def set(self, f, value, deadline):
        if f == "add":
            key = self.key("s", value)
            self.etcd.call("put", {"key": b64(key), "value": b64(text(value).encode())}, deadline)
            return "ok", value, None
        if f == "read":
            prefix = (self.prefix + "s/").encode()
            found = kvs(self.etcd.call("range", range_body(prefix, prefix_end(prefix)), deadline))
            try:
                elements = [json.loads(v) for _, v, _ in found]
            except ValueError as e:
                return "fail", None, "malformed response: element: %s" % e
            elements.sort(key=lambda e: e if isinstance(e, int) else 0)
            return "ok", elements, None
        return "fail", value, "unknown operation %s" % f

    def append(self, f, mops, deadline):
        """A read-modify-write guarded by each key's mod revision, as the built-in client."""
        if f != "txn":
            return "fail", mops, "unknown operation %s" % f
        keys = []
        for m in mops:
            if m[0] not in ("r", "append"):
                return "fail", mops, "unknown micro-op %s" % m[0]
            if m[1] not in keys:
                keys.append(m[1])
        ekeys = [self.key("a", k) for k in keys]
        for _ in range(TXN_ATTEMPTS):
            try:
                snap = self.etcd.call(
                    "txn", {"success": [{"request_range": {"key": b64(k)}} for k in ekeys]}, deadline)
                lists, revs = [], []
                for r in snap.get("responses") or []:
                    rng = r.get("response_range", r.get("responseRange")) or {}
                    found = kvs(rng)
                    lists.append(json.loads(found[0][1]) if found else [])
                    revs.append(found[0][2] if found else 0)
                if len(lists) != len(keys):
                    raise ValueError("%d range answers for %d keys" % (len(lists), len(keys)))
            except (Unknown, NotApplied, ValueError) as e:
                return "fail", mops, str(e)  # nothing written yet
            out, written = [], [False] * len(keys)
            for m in mops:
                i = keys.index(m[1])
                if m[0] == "r":
                    out.append(["r", m[1], list(lists[i])])
                else:
                    lists[i].append(m[2])
                    written[i] = True
                    out.append(m)
            if not any(written):
                return "ok", out, None
            body = {
                "compare": [{"key": b64(k), "target": "MOD", "result": "EQUAL",
                             "mod_revision": str(rev)} for k, rev in zip(ekeys, revs)],
                "success": [{"request_put": {"key": b64(k), "value": b64(text(l).encode())}}
                            for k, l, w in zip(ekeys, lists, written) if w],
            }
            if self.etcd.call("txn", body, deadline).get("succeeded"):
                return "ok", out, None
            time.sleep(random.randint(1, 10) / 1000)
        return "fail", mops, "txn conflict: the guard lost %d times" % TXN_ATTEMPTS


    def counter_value(self, key, deadline):
        """The counter's value and mod revision (0, 0 when the key is missing)."""
        found = kvs(self.etcd.call("range", range_body(key), deadline))
        if not found:
            return 0, 0
        return int(found[0][1]), found[0][2]

    def counter(self, f, value, k, deadline):
        """etcd has no atomic add: read, then write the sum guarded by the revision."""
        key = self.key("c", k)
        if f == "read":
            try:
                return "ok", self.counter_value(key, deadline)[0], None
            except ValueError as e:
                return "fail", None, "bad counter value: %s" % e
        if f != "add":
            return "fail", value, "unknown operation %s" % f
        if not isinstance(value, int):
            return "fail", value, "add needs an integer"
        for _ in range(TXN_ATTEMPTS):
            try:
                n, rev = self.counter_value(key, deadline)
            except (Unknown, NotApplied, ValueError) as e:
                return "fail", value, str(e)  # nothing written yet
            body = {
                "compare": [{"key": b64(key), "target": "MOD", "result": "EQUAL",
                             "mod_revision": str(rev)}],
                "success": [{"request_put": {"key": b64(key), "value": b64(str(n + value).encode())}}],
            }
            if self.etcd.call("txn", body, deadline).get("succeeded"):
                return "ok", value, None
            time.sleep(random.randint(1, 10) / 1000)
        return "fail", value, "add conflict: the guard lost %d times" % TXN_ATTEMPTS


def send(msg):
    sys.stdout.write(text(msg) + "\n")
    sys.stdout.flush()


def main():
    client = None
    for line in sys.stdin:
        if not line.strip():
            continue
        msg = json.loads(line)
        t = msg.get("type")
        if t == "open":
            client = Client(msg["host"], msg["workload"], msg["key_prefix"])
            send({"type": "ok"})
        elif t == "invoke":
            # Answer a little before faultline gives up on us.
            deadline = time.monotonic() + msg["timeout_ms"] / 1000 * 0.9
            kind, value, error = client.invoke(msg, deadline)
            reply = {"type": kind, "id": msg["id"], "value": value}
            if error:
                reply["error"] = error
            send(reply)
        elif t == "close":
            return
        else:
            log("unexpected message: %s" % line.strip())
            return


if __name__ == "__main__":
    main()
