"""Run inside ``unshare --net --mount``: make the namespace loopback only, hand its sockets out, start a command.

``python netns.py FD HOSTS RESOLV -- ARGV...`` (as root, in a fresh network and mount namespace):

1. brings ``lo`` up (the namespace has no other interface: nothing but 127.0.0.1 and ::1 is reachable);
2. bind-mounts HOSTS over ``/etc/hosts`` and RESOLV over ``/etc/resolv.conf``, in this mount namespace only
   (``unshare --mount`` makes its mounts private: the machine's own files are never touched);
3. binds TCP 127.0.0.1:443 (listening) and UDP 127.0.0.1:53, and sends both to the parent over the Unix socket FD
   (SCM_RIGHTS): a socket stays in the namespace it was made in, so the parent serves the fake and records the name
   lookups on them from outside;
4. waits for one byte on FD (the parent is serving), then replaces itself with ARGV.

Standard library only; it imports nothing from the project (it runs before the test's path is set up).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys


def main(argv: list[str]) -> int:
    fd, hosts, resolv, sep, *command = argv
    if sep != "--" or not command:
        raise SystemExit("usage: netns.py FD HOSTS RESOLV -- ARGV...")
    channel = socket.socket(fileno=int(fd))
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    subprocess.run(["mount", "--bind", hosts, "/etc/hosts"], check=True)
    if os.path.exists("/etc/resolv.conf"):
        subprocess.run(["mount", "--bind", resolv, "/etc/resolv.conf"], check=True)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 443))
    listener.listen(128)
    dns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    dns.bind(("127.0.0.1", 53))
    socket.send_fds(channel, [b"s"], [listener.fileno(), dns.fileno()])
    listener.close()
    dns.close()
    if channel.recv(1) != b"g":
        return 3  # the parent gave up
    channel.close()
    os.execvp(command[0], command)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
