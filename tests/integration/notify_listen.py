"""A service manager's notification socket for tests: binds an AF_UNIX datagram socket at
argv[1] (what systemd passes as $NOTIFY_SOCKET, sd_notify(3)) and appends each datagram to
argv[2] as one line (newlines shown as '|'), until argv[3] seconds have passed."""
import os
import socket
import sys
import time

path, out, limit = sys.argv[1], sys.argv[2], float(sys.argv[3])
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
end = time.monotonic() + limit
with open(out, "a", buffering=1) as f:
    while time.monotonic() < end:
        s.settimeout(max(0.05, end - time.monotonic()))
        try:
            data = s.recv(65536)
        except socket.timeout:
            continue
        f.write(data.decode("utf-8", "replace").strip("\n").replace("\n", "|") + "\n")
os.unlink(path)
