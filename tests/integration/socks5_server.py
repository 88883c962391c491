#!/usr/bin/env python3
"""A small SOCKS5 server for the tests (RFC 1928 CONNECT only; RFC 1929
username/password accepted with any credentials). It records every CONNECT
as a line "<address type> <host>:<port> <username or ->" in the log file,
then relays bytes both ways. A name ending in .onion, and "localhost", are
reached at 127.0.0.1 (so a test can use an onion name that only this proxy
resolves); other names are resolved here.

Usage: socks5_server.py PORT_FILE LOG_FILE
Listens on 127.0.0.1 on a port from the system, written to PORT_FILE once
listening. Runs until killed.
"""
import os
import socket
import sys
import threading

LOCK = threading.Lock()


def recv_exact(s, n):
    b = b""
    while len(b) < n:
        chunk = s.recv(n - len(b))
        if not chunk:
            raise EOFError
        b += chunk
    return b


def pump(src, dst):
    try:
        while True:
            b = src.recv(65536)
            if not b:
                break
            dst.sendall(b)
    except OSError:
        pass
    for s in (dst, src):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def serve(c, log_path):
    user = "-"
    try:
        ver, n = recv_exact(c, 2)
        methods = recv_exact(c, n)
        if ver != 5:
            return
        if 2 in methods:
            c.sendall(b"\x05\x02")
            av, ul = recv_exact(c, 2)
            user = recv_exact(c, ul).decode("utf-8", "replace") or "-"
            (pl,) = recv_exact(c, 1)
            recv_exact(c, pl)
            c.sendall(b"\x01\x00")
        elif 0 in methods:
            c.sendall(b"\x05\x00")
        else:
            c.sendall(b"\x05\xff")
            return
        ver, cmd, _, atyp = recv_exact(c, 4)
        if atyp == 1:
            host = socket.inet_ntop(socket.AF_INET, recv_exact(c, 4))
        elif atyp == 4:
            host = socket.inet_ntop(socket.AF_INET6, recv_exact(c, 16))
        elif atyp == 3:
            (hl,) = recv_exact(c, 1)
            host = recv_exact(c, hl).decode("ascii", "replace")
        else:
            return
        port = int.from_bytes(recv_exact(c, 2), "big")
        with LOCK:
            with open(log_path, "a") as f:
                f.write("%d %s:%d %s\n" % (atyp, host, port, user.replace(" ", "_")))
        if cmd != 1:
            c.sendall(b"\x05\x07\x00\x01\x00\x00\x00\x00\x00\x00")
            return
        target = "127.0.0.1" if host.endswith(".onion") or host == "localhost" else host
        try:
            d = socket.create_connection((target, port), timeout=10)
            d.settimeout(None)
        except OSError:
            c.sendall(b"\x05\x05\x00\x01\x00\x00\x00\x00\x00\x00")
            return
        # the bound address as a name, so that clients read a variable-length reply
        c.sendall(b"\x05\x00\x00\x03\x05proxy\x00\x00")
        t = threading.Thread(target=pump, args=(d, c), daemon=True)
        t.start()
        pump(c, d)
        t.join()
        d.close()
    except (EOFError, OSError, ValueError):
        pass
    finally:
        c.close()


def main():
    port_file, log_path = sys.argv[1], sys.argv[2]
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(64)
    open(log_path, "a").close()
    tmp = port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % ls.getsockname()[1])
    os.rename(tmp, port_file)
    while True:
        c, _ = ls.accept()
        threading.Thread(target=serve, args=(c, log_path), daemon=True).start()


if __name__ == "__main__":
    main()
