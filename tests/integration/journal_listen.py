"""A stand-in for systemd-journald's native socket, for tests: binds an AF_UNIX datagram socket at
argv[1] (/run/systemd/journal/socket, where libsystemd's sd_journal_send writes) and appends each
entry to argv[2] as one JSON object, until argv[3] seconds have passed. The native protocol
(systemd's "Native Journal Protocol" document): fields "KEY=value\\n", or "KEY\\n" + 64-bit
little-endian length + value + "\\n" for values holding a newline; an entry too big for one
datagram comes as a sealed memfd passed with SCM_RIGHTS."""
import array
import json
import os
import socket
import struct
import sys
import time


def parse(data):
    fields, i = {}, 0
    while i < len(data):
        nl = data.index(b"\n", i)
        line = data[i:nl]
        if b"=" in line:
            k, v = line.split(b"=", 1)
            i = nl + 1
        else:
            k = line
            (n,) = struct.unpack_from("<Q", data, nl + 1)
            v = data[nl + 9:nl + 9 + n]
            i = nl + 9 + n + 1
        fields[k.decode()] = v.decode("utf-8", "replace")
    return fields


path, out, limit = sys.argv[1], sys.argv[2], float(sys.argv[3])
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
end = time.monotonic() + limit
with open(out, "a", buffering=1) as f:
    while time.monotonic() < end:
        s.settimeout(max(0.05, end - time.monotonic()))
        try:
            data, anc, _, _ = s.recvmsg(1 << 20, socket.CMSG_SPACE(4))
        except socket.timeout:
            continue
        for level, kind, cdata in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fd = array.array("i", cdata[:4])[0]
                data = os.pread(fd, 1 << 24, 0)
                os.close(fd)
        f.write(json.dumps(parse(data)) + "\n")
