"""The namespace the official client runs in (``support.official.Namespace``), checked with plain tools instead of
the client: only loopback, the private hosts file and name server, every other lookup seen and refused, and the
machine's own files untouched."""

from __future__ import annotations

from pathlib import Path

from support.official import HOST, Namespace, require_namespace

#: what runs in the namespace: its interfaces, its files, and two lookups (the fake's host, and another)
SCRIPT = """
ip -o link | cut -d: -f2
echo ---
cat /etc/hosts
echo ---
getent hosts www.codebuddy.ai
echo ---
getent hosts other.example.invalid || echo refused
"""


def test_the_namespace_holds_only_loopback_and_its_own_names(tmp_path: Path) -> None:
    require_namespace()
    hosts_before, resolv_before = Path("/etc/hosts").read_bytes(), Path("/etc/resolv.conf").read_bytes()
    with Namespace(tmp_path, Path("/bin/sh")) as ns:
        ns.start(["sh", "-c", SCRIPT], {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
        done = ns.go()
    assert done.returncode == 0, done.tail()
    links, hosts, codebuddy, other = (part.strip() for part in done.stdout.split("---\n"))
    assert links.split() == ["lo"]
    assert hosts == (tmp_path / "hosts").read_text().strip() and f"127.0.0.1 localhost {HOST}" in hosts
    assert codebuddy.split() == ["127.0.0.1", "localhost", HOST]
    assert other == "refused" and "other.example.invalid" in done.lookups
    assert Path("/etc/hosts").read_bytes() == hosts_before and Path("/etc/resolv.conf").read_bytes() == resolv_before
