#!/bin/sh
# A tiny faultline client (docs/client-protocol.md) that needs no database: the
# register workload's keys are files in a folder on this machine, shared by every
# client process of the run, each read-modify-write under a lock (an atomic mkdir).
# It shows the protocol in a few lines of POSIX shell:
#
#   faultline test --workload register --client-command "sh examples/clients/echo_register.sh"
#
# The folder is $ECHO_REGISTER_DIR (set it with --client-env), else one under
# ${TMPDIR:-/tmp} named after the run's key prefix. Only the register workload.
#
# It parses faultline's messages with sed, which is enough for their fixed shapes
# (integers for keys and values); a real client should use a JSON library.

prefix=$(printf '%s' "${FAULTLINE_KEY_PREFIX:-default}" | tr -c 'A-Za-z0-9' '_')
dir=${ECHO_REGISTER_DIR:-${TMPDIR:-/tmp}/faultline-echo-register-$prefix}

# field NAME LINE: an integer field's text, or nothing.
field() {
    printf '%s\n' "$2" | sed -n "s/.*\"$1\":\(-\{0,1\}[0-9][0-9]*\).*/\1/p"
}

# lock KEY / unlock KEY: at most ~2000 attempts, then give up (the op fails: nothing done).
lock() {
    n=0
    until mkdir "$dir/lock.$1" 2>/dev/null; do
        n=$((n + 1))
        [ "$n" -gt 2000 ] && return 1
    done
    return 0 # (the loop's own status is its body's last: 1)
}
unlock() { rmdir "$dir/lock.$1"; }

while IFS= read -r line; do
    case "$line" in
    *'"type":"open"'*)
        if mkdir -p "$dir" 2>/dev/null; then
            printf '{"type":"ok"}\n'
        else
            printf '{"type":"error","error":"cannot create %s"}\n' "$dir"
        fi
        continue ;;
    *'"type":"close"'*) exit 0 ;;
    *'"type":"invoke"'*) ;;
    *) echo "unexpected message: $line" >&2; exit 1 ;;
    esac
    id=$(field id "$line")
    key=$(field key "$line")
    f=$(printf '%s\n' "$line" | sed -n 's/.*"f":"\([a-z]*\)".*/\1/p')
    if [ -z "$key" ]; then
        printf '{"type":"fail","id":%s,"error":"no key: only the register workload"}\n' "$id"
        continue
    fi
    if ! lock "$key"; then
        printf '{"type":"fail","id":%s,"error":"lock busy"}\n' "$id"
        continue
    fi
    cur=null
    [ -f "$dir/r.$key" ] && read -r cur < "$dir/r.$key"
    case "$f" in
    read)
        printf '{"type":"ok","id":%s,"value":%s}\n' "$id" "$cur" ;;
    write)
        new=$(field value "$line")
        printf '%s\n' "$new" > "$dir/r.$key"
        printf '{"type":"ok","id":%s}\n' "$id" ;;
    cas)
        old=$(printf '%s\n' "$line" | sed -n 's/.*"value":\[\(-\{0,1\}[0-9]*\),.*/\1/p')
        new=$(printf '%s\n' "$line" | sed -n 's/.*"value":\[[^,]*,\(-\{0,1\}[0-9]*\)\].*/\1/p')
        if [ "$cur" = "$old" ]; then
            printf '%s\n' "$new" > "$dir/r.$key"
            printf '{"type":"ok","id":%s}\n' "$id"
        else
            printf '{"type":"fail","id":%s,"error":"cas mismatch"}\n' "$id"
        fi ;;
    *)
        printf '{"type":"fail","id":%s,"error":"unknown operation %s"}\n' "$id" "$f" ;;
    esac
    unlock "$key"
done
