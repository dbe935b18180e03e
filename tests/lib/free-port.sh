#!/usr/bin/env bash
# Prints a TCP port on 127.0.0.1 that nothing listens on (tests/lib/stack.sh, pg.sh).
for _ in $(seq 1 200); do
    p=$((20000 + RANDOM % 12700)) # below the kernel's ephemeral ports (32768+): no client socket holds it
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
        echo "$p"
        exit 0
    fi
done
echo "free-port.sh: no free port found" >&2
exit 1
