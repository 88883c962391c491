#!/usr/bin/env python3
"""Runs every example of README.md as written, so that the README cannot drift.

Each fenced ```sh block of README.md is taken from the file at run time and
run line by line with bash in a temporary folder (HOME too), with the built
programs first on PATH. A block is known by the section it is in; a block
this test does not know fails it, so a new example gets a runner here.

What differs from a reader's run, and only this (each substitution must find
its text, or the test fails):
  * the placeholders of an address (<fingerprint>, <password>, the ports
    5223 and 443) become those of a router this test started on a free
    port, as the reader would paste them;
  * paths outside the temporary folder (/srv/xftp-files, the install prefix)
    move into it; `ldconfig` is not run (LD_LIBRARY_PATH stands for it);
  * the quick start's scripts/run-smp-server runs with SMP_SERVER_BIN (the
    built program: no packages, no build) and SMP_SERVER_PORT (a free port),
    and is stopped with SIGINT; scripts/test, which is this suite, is only
    checked to be there;
  * a long-running command (`xftp-server start`) runs in the background.
A comment "# prints: TEXT" or "# prints TEXT" checks the command's output.

Usage: test_readme.py <source dir> <build dir> [extra CFLAGS for cc]
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

SRC, BUILD = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
EXTRA_CFLAGS = sys.argv[3] if len(sys.argv) > 3 else ""
APPS = os.path.join(BUILD, "apps")
FAILS = []
PROCS = []


def fail(msg):
    print("FAIL: " + msg)
    FAILS.append(msg)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def blocks(text):
    """(section heading, [lines]) of every ```sh block."""
    out, section, cur = [], "", None
    for line in text.splitlines():
        stripped = line.strip()
        if cur is None and line.startswith("## "):
            section = line[3:].strip()
        elif cur is None and stripped == "```sh":
            cur = []
        elif cur is not None and stripped == "```":
            out.append((section, cur))
            cur = None
        elif cur is not None:
            cur.append(stripped)
    return out


def subst(line, pairs):
    for old, new in pairs:
        if old not in line:
            fail(f"README line '{line}' no longer has '{old}': update tests/integration/test_readme.py")
            return None
        line = line.replace(old, new)
    return line


def run(line, cwd, env, timeout=120):
    """Runs one README line with bash; checks a '# prints' comment."""
    print("  $ " + line, flush=True)
    p = subprocess.run(["bash", "-c", line], cwd=cwd, env=env, capture_output=True, text=True,
                       timeout=timeout)
    if p.returncode != 0:
        fail(f"'{line}' exited {p.returncode}: {p.stdout}{p.stderr}")
    m = re.search(r"#\s*prints:?\s*(.*)$", line)
    if m and m.group(1).strip() not in p.stdout:
        fail(f"'{line}' did not print '{m.group(1).strip()}': {p.stdout}")
    return p.stdout


def wait_for(path, pattern, proc, seconds=30):
    end = time.time() + seconds
    while time.time() < end:
        text = open(path).read() if os.path.exists(path) else ""
        m = re.search(pattern, text, re.M)
        if m:
            return m, text
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    fail(f"no '{pattern}' in {path}: {open(path).read() if os.path.exists(path) else ''}")
    return None, ""


def stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def start_smp_router(t, env):
    """An smp-server of our own for the examples: (address parts, process)."""
    e = dict(env, SMP_SERVER_CFG_PATH=f"{t}/smp/etc", SMP_SERVER_LOG_PATH=f"{t}/smp/var")
    subprocess.run([f"{APPS}/smp-server", "init", "-y", "--disable-web"], env=e, capture_output=True, check=True)
    port = free_port()
    ini = f"{t}/smp/etc/smp-server.ini"
    text = re.sub(r"^port: .*$", f"port: {port}", open(ini).read(), flags=re.M)
    open(ini, "w").write(text)
    pw = re.search(r"^create_password: (\S+)$", text, re.M).group(1)
    fp = open(f"{t}/smp/etc/fingerprint").read().strip()
    log = open(f"{t}/smp.out", "w")
    proc = subprocess.Popen([f"{APPS}/smp-server", "start"], env=e, stdout=log, stderr=subprocess.STDOUT)
    PROCS.append(proc)
    wait_for(f"{t}/smp.out", r"^Serving SMP protocol on port", proc)
    return fp, pw, port


def quick_start(lines, t, env):
    if lines != ["scripts/run-smp-server"] and lines != ["scripts/test"]:
        fail(f"Quick start block {lines}: update tests/integration/test_readme.py")
        return
    script = os.path.join(SRC, lines[0])
    if not os.access(script, os.X_OK):
        fail(f"{lines[0]} is not an executable file")
        return
    if lines[0] == "scripts/test":
        if subprocess.run(["bash", "-n", script]).returncode != 0:
            fail("scripts/test does not parse")
        return
    port = free_port()
    e = dict(env, SMP_SERVER_BIN=f"{APPS}/smp-server", SMP_SERVER_PORT=str(port),
             SMP_SERVER_CFG_PATH=f"{t}/run/etc", SMP_SERVER_LOG_PATH=f"{t}/run/var")
    out = f"{t}/run.out"
    with open(out, "w") as log:
        proc = subprocess.Popen(["bash", "-c", lines[0]], cwd=SRC, env=e, stdout=log,
                                stderr=subprocess.STDOUT)
    PROCS.append(proc)
    m, _ = wait_for(out, rf"^Serving SMP protocol on port {port} ", proc)
    stop(proc)
    text = open(out).read()
    if proc.returncode != 0:
        fail(f"run-smp-server exited {proc.returncode}: {text}")
    for what in ("Server address: smp://", "Warning: server source code is not specified",
                 "CA private key location"):
        if text.count(what) != 1:
            fail(f"run-smp-server printed '{what}' {text.count(what)} times: {text}")
    if "Server stopped" not in text:
        fail(f"run-smp-server did not stop on SIGINT: {text}")


def smp_block(lines, t, env):
    fp, pw, port = start_smp_router(t, env)
    work = f"{t}/smp-work"
    os.makedirs(work)
    for line in lines:
        if "smp://" in line:
            line = subst(line, [("<fingerprint>", fp), ("<password>", pw), ("localhost:5223", f"localhost:{port}")])
        if line:
            run(line, work, env)


def xftp_block(lines, t, env):
    work = f"{t}/xftp-work"
    os.makedirs(work)
    e = dict(env, XFTP_SERVER_CFG_PATH=f"{t}/xftp/etc", XFTP_SERVER_LOG_PATH=f"{t}/xftp/var")
    with open(f"{work}/photo.jpg", "wb") as f:
        f.write(os.urandom(300 * 1024 + 17))
    os.makedirs(f"{t}/srv")  # as /srv on Debian
    port, fp, proc = free_port(), None, None
    for line in lines:
        if line.startswith("xftp-server init"):
            line = subst(line, [("/srv/xftp-files", f"{t}/srv/xftp-files")])
            if line:
                run(line, work, e)
            ini = f"{t}/xftp/etc/file-server.ini"  # 443 is not ours to take
            text = re.sub(r"^port: .*$", f"port: {port}", open(ini).read(), flags=re.M)
            open(ini, "w").write(text)
            fp = open(f"{t}/xftp/etc/fingerprint").read().strip()
        elif line.startswith("xftp-server start"):
            log = open(f"{t}/xftp.out", "w")
            proc = subprocess.Popen(["bash", "-c", line], cwd=work, env=e, stdout=log, stderr=subprocess.STDOUT)
            PROCS.append(proc)
            wait_for(f"{t}/xftp.out", r"^Listening on port", proc)
            m = re.search(r"#\s*prints\s+(\S+)", line)
            pat = re.escape(m.group(1)) if m else ""
            pat = pat.replace(re.escape("<fingerprint>"), re.escape(fp or "")).replace(
                re.escape("<host>"), r"[^:\s]+").replace(re.escape("[:port]"), rf"(:{port})?")
            if not m or not re.search(pat, open(f"{t}/xftp.out").read()):
                fail(f"'{line}': the address is not as its comment says: {open(f'{t}/xftp.out').read()}")
        else:
            if "xftp://" in line:
                line = subst(line, [("<fingerprint>", fp or ""), ("localhost:443", f"localhost:{port}")])
            if line:
                run(line, work, e)
    got = f"{t}/home/Downloads/photo.jpg"
    if not os.path.exists(got) or open(got, "rb").read() != open(f"{work}/photo.jpg", "rb").read():
        fail("xftp recv did not give back photo.jpg in ~/Downloads")
    if proc:
        stop(proc)


def library_block(lines, t, env):
    fp, pw, port = start_smp_router(t, env) if not os.path.exists(f"{t}/smp") else read_smp(t)
    work = f"{t}/lib-work"
    os.makedirs(work)
    os.symlink(os.path.join(SRC, "examples"), f"{work}/examples")
    prefix = f"{t}/prefix"
    e = dict(env, PKG_CONFIG_PATH=f"{prefix}/lib/pkgconfig:{prefix}/lib64/pkgconfig",
             LD_LIBRARY_PATH=f"{prefix}/lib:{prefix}/lib64")
    for line in lines:
        if line.startswith("cmake --install build"):
            line = subst(line, [("cmake --install build", f"cmake --install {BUILD} --prefix {prefix}")])
        elif line == "ldconfig":
            continue  # LD_LIBRARY_PATH above
        elif line.startswith("cc "):
            line = subst(line, [("cc ", f"cc {EXTRA_CFLAGS} ")])
        elif "smp://" in line:
            line = subst(line, [("<fingerprint>", fp), ("<password>", pw), ("localhost:5223", f"localhost:{port}")])
        if line:
            run(line, work, e)


def read_smp(t):
    text = open(f"{t}/smp/etc/smp-server.ini").read()
    return (open(f"{t}/smp/etc/fingerprint").read().strip(),
            re.search(r"^create_password: (\S+)$", text, re.M).group(1),
            int(re.search(r"^port: (\d+)$", text, re.M).group(1)))


RUNNERS = {
    "Quick start": quick_start,
    "Queues from scripts: the `smp` client": smp_block,
    "Files: `xftp-server` and `xftp`": xftp_block,
    "The C library": library_block,
}


def main():
    t = tempfile.mkdtemp(prefix="sx_readme.")
    try:
        os.makedirs(f"{t}/home")
        env = dict(os.environ, HOME=f"{t}/home", PATH=APPS + os.pathsep + os.environ.get("PATH", ""))
        found = blocks(open(os.path.join(SRC, "README.md")).read())
        if not found:
            fail("no ```sh block in README.md")
        for section, lines in found:
            runner = RUNNERS.get(section)
            if not runner:
                fail(f"README section '{section}' has an example this test does not run: add it to "
                     "tests/integration/test_readme.py")
                continue
            print(f"README '{section}': {len(lines)} line(s)", flush=True)
            runner(lines, t, env)
    finally:
        for p in PROCS:
            stop(p)
        shutil.rmtree(t, ignore_errors=True)
    if FAILS:
        print(f"{len(FAILS)} check(s) failed")
        sys.exit(1)
    print("all README examples ran")


main()
