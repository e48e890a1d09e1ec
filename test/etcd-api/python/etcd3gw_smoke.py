"""Python's etcd3gw (etcd's JSON gateway client) against one Conclave member's HTTP API.

Usage: python3 etcd3gw_smoke.py HOST PORT PREFIX. Prints one line per check
and exits non-zero at the first failure.
"""
import sys
import threading
import time

import etcd3gw

host, port, prefix = sys.argv[1], int(sys.argv[2]), sys.argv[3]
# The client's default API path (/v3alpha/): the server answers it as /v3/.
client = etcd3gw.client(host=host, port=port, timeout=10)


def check(name, condition, detail=""):
    if not condition:
        print(f"FAIL {name} {detail}")
        sys.exit(1)
    print(f"ok {name}")


k = prefix + "a"
check("put", client.put(k, "1") is True)
check("get", client.get(k) == [b"1"], client.get(k))
client.put(prefix + "b", "2")
got = sorted(client.get_prefix(prefix), key=lambda item: item[1]["key"])
check("get_prefix", [v for v, _ in got] == [b"1", b"2"], got)
check("replace succeeds", client.replace(k, "1", "3") is True)
check("replace refuses", client.replace(k, "1", "4") is False)
check("create refuses an existing key", client.create(k, "5") is False)
check("create", client.create(prefix + "c", "6") is True)
check("status", "header" in client.status())
check("members", len(client.members()) >= 1)

lease = client.lease(30)
client.put(prefix + "leased", "x", lease=lease)
check("lease ttl", 0 < lease.ttl() <= 30, lease.ttl())
check("lease refresh", 0 < lease.refresh() <= 30)
check("lease keys", lease.keys() == [(prefix + "leased").encode()], lease.keys())
check("lease revoke", lease.revoke() is True)
check("revoke deleted the key", client.get(prefix + "leased") == [])

events = []


def watch():
    events.append(client.watch_once(prefix + "w", timeout=10))


watcher = threading.Thread(target=watch)
watcher.start()
deadline = time.time() + 10
while watcher.is_alive() and time.time() < deadline:
    client.put(prefix + "w", "seen")
    watcher.join(0.2)
check("watch_once", len(events) == 1 and events[0]["kv"]["value"] == b"seen", events)

check("delete", client.delete(k) is True)
check("delete of a missing key", client.delete(k) is False)
check("delete_prefix", client.delete_prefix(prefix) is not None)
check("all gone", client.get_prefix(prefix) == [])
print("done")
