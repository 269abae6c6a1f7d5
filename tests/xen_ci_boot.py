#!/usr/bin/env python3
"""xen_ci_boot: boot xenith exactly as Xen's CI smoke job boots XTF, and
require `Test result: SUCCESS`.

    python3 tests/xen_ci_boot.py [--elf build/xenith.elf] [--timeout 60]

The job's shape (Xen's automation/scripts/qemu-smoke-x86-64.sh, as the
issue quotes it): Xen with xenith as the PVH dom0 and *no* kernel command
line, no exit device, `noreboot`, the serial console into a file; the job
waits for the `Test result:` line in that file.  `-accel tcg -cpu max` is
added because Xen does not boot under KVM on these machines.

With no exit device xenith's verdict cannot end QEMU: after the result
dom0 powers off and Xen, told `noreboot`, spins.  So this script watches
the serial file, bounded by a monotonic clock, and ends QEMU itself once
the verdict line is there (or the bound has passed).  Exit status 0 only
for SUCCESS.  Python 3 standard library only.
"""

import argparse
import os
import re
import subprocess
import sys
import time

VERDICT_RE = re.compile(r"Test result: (\w+)")


def qemu_argv(xen, elf, serial, cmdline="", xen_extra=""):
    """The job's QEMU; cmdline and xen_extra are empty in the job itself
    (tests/boot_time.py uses them to compare kernels in the same shape)."""
    initrd = elf + (" " + cmdline.replace(",", ",,") if cmdline else "")
    return ["qemu-system-x86_64", "-accel", "tcg", "-cpu", "max",
            "-nographic", "-kernel", xen, "-initrd", initrd,
            "-append", "loglvl=all console=com1 noreboot "
                       "console_timestamps=boot dom0-iommu=none dom0=pvh"
                       + (" " + xen_extra if xen_extra else ""),
            "-m", "512", "-monitor", "none", "-serial", "file:" + serial]


def wait_verdict(proc, serial, timeout):
    """The verdict word, or None; bounded by the monotonic clock."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        exited = proc.poll() is not None    # before the read: nothing lost
        try:
            with open(serial, errors="replace") as f:
                m = VERDICT_RE.search(f.read())
            if m:
                return m.group(1)
        except FileNotFoundError:
            pass
        if exited:
            return None
        time.sleep(0.1)
    return None


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--elf", default="build/xenith.elf")
    p.add_argument("--xen", default="build/xen")
    p.add_argument("--timeout", type=float, default=60.0)
    p.add_argument("--serial", default="build/logs/xen-ci-boot.serial")
    a = p.parse_args()

    os.makedirs(os.path.dirname(a.serial), exist_ok=True)
    if os.path.exists(a.serial):
        os.unlink(a.serial)
    argv = qemu_argv(a.xen, a.elf, a.serial)
    print("xen_ci_boot: " + " ".join(argv))
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    verdict = wait_verdict(proc, a.serial, a.timeout)
    wall = time.monotonic() - t0
    exited = proc.poll()
    if exited is None:
        proc.kill()
    err = proc.communicate()[1].decode(errors="replace").strip()
    if verdict is None:
        why = ("QEMU exited with %d" % exited if exited is not None
               else "no verdict within %.0f s" % a.timeout)
        print("xen_ci_boot: FAIL: no 'Test result:' line (%s); serial log %s"
              % (why, a.serial))
        if err:
            print("xen_ci_boot: QEMU said: " + err.splitlines()[-1])
        return 1
    print("xen_ci_boot: 'Test result: %s' after %.1f s; serial log %s"
          % (verdict, wall, a.serial))
    return 0 if verdict == "SUCCESS" else 1


if __name__ == "__main__":
    sys.exit(main())
