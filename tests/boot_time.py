#!/usr/bin/env python3
"""boot_time: hand-over-to-result time of PVH dom0 kernels, booted the way
Xen's CI smoke job boots XTF (tests/xen_ci_boot.py), measured by Xen's
own clock.

    python3 tests/boot_time.py [--runs 5] [--vcpus 1] NAME=ELF[@CMDLINE] ...

Each kernel boots --runs times; the kernels alternate (a, b, a, b, ...)
so that a slow spell of the host falls on all of them alike.  The job's
command line carries `console_timestamps=boot`, so Xen stamps each of its
own lines with the time since it booted.  Hand-over is Xen's last line
before dom0 runs ("Freed NNNkB init memory"); the end is its line on
dom0's shutdown ("Hardware Dom0 halted" or "... shutdown"), which dom0
asks for right after it printed its result.  Both are Xen's stamps, so
the host's scheduling of QEMU and of this script is not in the figure.

Prints each run, then per kernel the min, median and max in ms.  Exit
status 0 only if every run of every kernel printed `Test result:` SUCCESS
(or SKIP, what xenith's selftest=none says: it boots to ready and stops).
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import xen_ci_boot  # noqa: E402

STAMP = r"\(XEN\) \[\s*(\d+)\.(\d{6})\] "
HANDOVER_RE = re.compile(STAMP + r"Freed \d+kB init memory")
END_RE = re.compile(STAMP + r"Hardware Dom0 (?:halted|shutdown)")


def seconds(m):
    return int(m.group(1)) + int(m.group(2)) / 1e6


def one_boot(xen, elf, cmdline, vcpus, serial, timeout):
    """Hand-over to shutdown in ms, or an error string."""
    if os.path.exists(serial):
        os.unlink(serial)
    argv = xen_ci_boot.qemu_argv(xen, elf, serial, cmdline,
                                 "dom0_max_vcpus=%d" % vcpus)
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    end = time.monotonic() + timeout
    text = ""
    try:
        while time.monotonic() < end:
            exited = proc.poll() is not None
            try:
                with open(serial, errors="replace") as f:
                    text = f.read()
            except FileNotFoundError:
                pass
            if END_RE.search(text) or exited:
                break
            time.sleep(0.1)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    verdict = xen_ci_boot.VERDICT_RE.search(text)
    h, e = HANDOVER_RE.search(text), END_RE.search(text)
    # selftest=none runs nothing and says SKIP: a boot to ready.
    if not verdict or verdict.group(1) not in ("SUCCESS", "SKIP"):
        return "no 'Test result: SUCCESS' or SKIP (log %s)" % serial
    if not h or not e:
        return "no Xen hand-over or shutdown stamp (log %s)" % serial
    return (seconds(e) - seconds(h)) * 1000.0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("kernels", nargs="+", metavar="NAME=ELF[@CMDLINE]")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--vcpus", type=int, default=1)
    p.add_argument("--xen", default="build/xen")
    p.add_argument("--timeout", type=float, default=60.0)
    p.add_argument("--logdir", default="build/logs")
    a = p.parse_args()

    kernels = []
    for k in a.kernels:
        name, sep, rest = k.partition("=")
        elf, _, cmdline = rest.partition("@")
        if not sep or not name or not elf:
            p.error("expected NAME=ELF[@CMDLINE], got %r" % k)
        kernels.append((name, elf, cmdline))
    os.makedirs(a.logdir, exist_ok=True)
    times = {name: [] for name, _, _ in kernels}
    failed = 0
    for run in range(1, a.runs + 1):
        for name, elf, cmdline in kernels:
            serial = os.path.join(a.logdir, "boot-time-%s-%d.serial"
                                  % (name, run))
            r = one_boot(a.xen, elf, cmdline, a.vcpus, serial, a.timeout)
            if isinstance(r, str):
                failed += 1
                print("run %d %-10s FAIL: %s" % (run, name, r))
            else:
                times[name].append(r)
                print("run %d %-10s %8.1f ms" % (run, name, r))
            sys.stdout.flush()
    print("hand-over to result, %d vCPU(s), Xen-CI shape, %d runs each "
          "(min / median / max ms):" % (a.vcpus, a.runs))
    for name, _, cmdline in kernels:
        t = times[name]
        if t:
            print("  %-10s %7.1f %7.1f %7.1f  (%s)" % (
                name, min(t), statistics.median(t), max(t),
                cmdline or "no command line"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
