"""Python etcd3 (gRPC) against one etcd-compatible endpoint.

Usage: python3 etcd3_smoke.py HOST PORT PREFIX
Prints "ok" and exits 0 when every step behaved as etcd's API promises;
otherwise an assertion names the step that did not.
"""

import sys
import threading

import etcd3


def main() -> None:
    host, port, prefix = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    client = etcd3.client(host=host, port=port, timeout=10)

    # put / get
    client.put(prefix + "a", "1")
    client.put(prefix + "b", "2")
    value, meta = client.get(prefix + "a")
    assert value == b"1", ("get", value)
    assert meta.key == (prefix + "a").encode(), ("get key", meta.key)
    assert meta.version == 1, ("version", meta.version)
    missing, _ = client.get(prefix + "none")
    assert missing is None, ("missing", missing)

    # prefix
    found = sorted((m.key.decode(), v.decode()) for v, m in client.get_prefix(prefix))
    assert found == [(prefix + "a", "1"), (prefix + "b", "2")], ("prefix", found)

    # delete
    assert client.delete(prefix + "b") is True, "delete"
    assert client.get(prefix + "b")[0] is None, "deleted"

    # txn
    ok, _ = client.transaction(
        compare=[client.transactions.value(prefix + "a") == "1"],
        success=[client.transactions.put(prefix + "a", "2")],
        failure=[],
    )
    assert ok is True, "txn success"
    ok, responses = client.transaction(
        compare=[client.transactions.value(prefix + "a") == "1"],
        success=[],
        failure=[client.transactions.get(prefix + "a")],
    )
    assert ok is False, "txn failure"
    assert responses[0][0][0] == b"2", ("txn else", responses)

    # lease
    lease = client.lease(30)
    client.put(prefix + "leased", "x", lease=lease)
    assert lease.remaining_ttl > 0, ("ttl", lease.remaining_ttl)
    keys = sorted(k.decode() for k in lease.keys)
    assert keys == [prefix + "leased"], ("lease keys", keys)
    lease.revoke()
    assert client.get(prefix + "leased")[0] is None, "revoked"

    # watch: events from a past revision
    first = client.put(prefix + "w", "1").header.revision
    client.put(prefix + "w", "2")
    events, cancel = client.watch(prefix + "w", start_revision=first)
    seen = []
    done = threading.Event()

    def stop_later() -> None:
        if not done.wait(10):
            cancel()

    threading.Thread(target=stop_later, daemon=True).start()
    for event in events:
        seen.append(event.value)
        if len(seen) == 2:
            break
    done.set()
    cancel()
    assert seen == [b"1", b"2"], ("watch", seen)

    client.delete_prefix(prefix)
    client.close()
    print("ok")


if __name__ == "__main__":
    main()
