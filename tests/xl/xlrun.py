#!/usr/bin/env python3
"""xlrun: the xl integration rig.  xenith as a domU of the real Xen toolstack.

    python3 tests/xl/xlrun.py [--elf build/xenith.elf] [--live]

Boots Xen 4.17 in QEMU (TCG) with Debian's Linux as a PV dom0 from an
initramfs whose /init (tests/xl/init) starts xenstored, xen-init-dom0 and
xenconsoled, then runs the checks of tests/xl/scenario.sh, which create
xenith guests with `xl create` from configs/xl/xenith.cfg and judge them.
See tests/xl/README.md.

Before the run: tests/xl/fetch.sh (the Debian packages, cached under
build/xl-cache/, downloaded once) and tests/xl/mkinitrd.sh (the initramfs,
built every run under build/xl/).

What it prints: the rig's own lines (those /init prefixes "xl| "), live;
the whole console (Xen, dom0 Linux, the rig) goes to build/logs/xl.log.
Then the outcome and the wall times.  Exits 0 only when the rig passed:
QEMU status 1 (dom0 wrote byte 0 to isa-debug-exit) AND the rig's
"RIG RESULT: PASS" line.  Status 3 is the rig's fail; status 0 means Xen
rebooted (dom0 crashed, or its /init could not write the port).

Python 3 standard library only; the QEMU runner is tests/xenrun.py's.
"""

import argparse
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                os.pardir))
import xenrun  # noqa: E402  (tests/xenrun.py)

CACHE = "build/xl-cache"
OUTDIR = "build/xl"
RIG_PREFIX = "xl| "
TAIL_LINES = 40

# Xen: everything the guests print, in a console ring that a whole run
# fits in (xl dmesg is how the rig reads the guests' port 0xe9 lines).
#
# Three pCPUs, dom0's one vCPU pinned to pCPU0, the guests on the others
# (guest.sh's cpus=, from `xl info`): no pCPU ever switches between a PV
# vCPU (dom0) and an HVM one (a PVH guest).  Where it did (two pCPUs
# shared by all), QEMU TCG's nested SVM now and then lost a guest's state
# at a VMRUN: the guest triple-faulted right after a vmmcall or an x2APIC
# EOI, or with Xen's own RIP (the instruction after its VMRUN) as the
# guest's.  Measured: 4 of 11 rigs saw a triple fault with the pCPUs
# shared; none in 13 with dom0 apart (8 with the guests on pCPU1 alone,
# 5 with them on pCPUs 1-2); dom0 runs of xenith (HVM vCPUs only) never
# showed it.
#
# spec-ctrl=eager-fpu: Xen restores a vCPU's FPU/SSE/AVX registers at
# every context switch, instead of lazily on first use (CR0.TS and a #NM
# trap).  With the lazy switch, under QEMU TCG, dom0's processes computed
# wrong sums now and then (awk: 19909 for 19900) and crashed (SIGSEGV,
# glibc's heap-corruption aborts, a busybox shell's loop counter jumping):
# the rigs of 3 parallel loops of awk and xl list beside a running guest
# all saw it (3 to 12 bad of 1200-2400 runs); 4 rigs with eager-fpu saw
# none in 4800.
#
# dom0_mem=384M: check_save_restore writes the guest's 64 MiB to a file in
# dom0's /tmp (RAM); with 256M, /tmp (half of it) ran out of space.
XEN_APPEND = ("console=com1 loglvl=all guest_loglvl=all conring_size=4m "
              "dom0_mem=384M,max:384M dom0_max_vcpus=1 dom0_vcpus_pin "
              "spec-ctrl=eager-fpu")
RIG_PCPUS = 3
DOM0_CMDLINE = "console=hvc0 earlyprintk=xen quiet"


class RigLines(xenrun.Lines):
    """Console lines, logged; the rig's own echoed live without their
    prefix (or every line with --live), with their arrival times."""

    def __init__(self, log, live, t0):
        super().__init__(log, False)
        self.all_live = live
        self.t0 = t0
        self.rig = []                   # (seconds since QEMU start, text)

    def _line(self, raw):
        super()._line(raw)
        text = self.lines[-1]
        at = time.monotonic() - self.t0
        if text.startswith(RIG_PREFIX):
            self.rig.append((at, text[len(RIG_PREFIX):]))
        if self.all_live:
            print("[%6.2f] %s" % (at, text))
        elif text.startswith(RIG_PREFIX):
            print(text[len(RIG_PREFIX):])
        else:
            return
        sys.stdout.flush()


def qemu_argv(a, initrd):
    modules = ",".join([
        xenrun.qemu_opt_escape(a.vmlinux + " " + DOM0_CMDLINE),
        xenrun.qemu_opt_escape(initrd)])
    return [xenrun.QEMU, "-accel", "tcg", "-cpu", a.cpu,
            "-m", "1024", "-smp", str(a.smp), "-nographic", "-no-reboot",
            "-monitor", "none", "-serial", "stdio",
            "-device", "isa-debug-exit,iobase=0xf4,iosize=4",
            "-kernel", a.xen, "-append", " ".join([XEN_APPEND] + a.xen_arg),
            "-initrd", modules]


# Bounds of the preparation steps, on the monotonic clock: the first
# fetch downloads ~73 MB; later ones and the initramfs take seconds.
FETCH_BOUND = 900.0
MKINITRD_BOUND = 300.0


def step(what, argv, bound):
    """Run a preparation step, bounded; its output passes through.
    Seconds taken."""
    t = time.monotonic()
    proc = subprocess.Popen(argv, start_new_session=True,
                            preexec_fn=xenrun.die_with_parent)
    try:
        rc = proc.wait(timeout=bound)
    except subprocess.TimeoutExpired:
        xenrun.kill_group(proc)
        print("xlrun: %s did not end within %.0f s" % (what, bound))
        sys.exit(2)
    finally:
        if proc.poll() is None:
            xenrun.kill_group(proc)
    if rc != 0:
        print("xlrun: %s failed (status %d)" % (what, rc))
        sys.exit(2)
    return time.monotonic() - t


def judge(status, rig):
    """(outcome, why) from QEMU's status and the rig's lines."""
    said_pass = any(t == "RIG RESULT: PASS" for _, t in rig)
    said_fail = any(t.startswith("RIG RESULT: FAIL") for _, t in rig)
    if status is None:
        return "TIMEOUT", "no exit before the time bound"
    if status == 1 and said_pass:
        return "PASS", "QEMU status 1 and RIG RESULT: PASS"
    if status == 1:
        return "ERROR", "QEMU status 1 without the rig's PASS line"
    if status == 3:
        return "FAIL", ("QEMU status 3: the rig's fail verdict" if said_fail
                        else "QEMU status 3 without the rig's verdict line")
    if status == 0:
        if not rig:
            return "ERROR", ("QEMU status 0 before /init spoke: dom0 or Xen "
                             "crashed/rebooted while booting")
        return "FAIL", "QEMU status 0: Xen rebooted (dom0 crash, or the " \
            "port 0xf4 write did not end QEMU)"
    return "ERROR", "QEMU exited with status %d (QEMU failed?)" % status


def first_at(rig, prefix):
    for at, text in rig:
        if text.startswith(prefix):
            return at
    return None


def main(argv):
    p = argparse.ArgumentParser(description="xenith under the real xl "
                                "toolstack, nested in QEMU.")
    p.add_argument("--elf", default=xenrun.DEFAULT_ELF)
    p.add_argument("--cfg", default="configs/xl/xenith.cfg")
    p.add_argument("--xen", default=xenrun.XEN)
    p.add_argument("--cpu", default="max,-smap",
                   help="QEMU's -cpu for the rig's machine (default "
                   "%(default)s: Linux as a PV dom0 fails with SMAP)")
    p.add_argument("--smp", type=int, default=RIG_PCPUS,
                   help="the rig's pCPUs (default %(default)s): pCPU0 is "
                   "dom0's, the others the guests'")
    p.add_argument("--xen-arg", action="append", default=[],
                   help="one more option for Xen's command line, after "
                   "the rig's own (the last of two settings wins)")
    p.add_argument("--timeout", type=float, default=900.0,
                   help="wall-clock bound of the QEMU run, in seconds")
    p.add_argument("--log", default="build/logs/xl.log")
    p.add_argument("--live", action="store_true",
                   help="echo every console line, not only the rig's, "
                   "with its arrival time")
    p.add_argument("--scenario", default="tests/xl/scenario.sh",
                   help="the checks to run (default: tests/xl/scenario.sh)")
    p.add_argument("--checks", default=None,
                   help="run only these checks of the scenario, in this "
                   "order (space-separated names; default: its CHECKS)")
    a = p.parse_args(argv)
    a.vmlinux = os.path.join(CACHE, "vmlinux")
    start = time.monotonic()

    for f in (a.elf, a.xen, a.cfg, a.scenario):
        if not os.path.isfile(f):
            print("xlrun: %s missing (make; sh tests/deps.sh)" % f)
            return 2
    fetch_s = step("tests/xl/fetch.sh", ["sh", "tests/xl/fetch.sh"],
                   FETCH_BOUND)
    os.makedirs(OUTDIR, exist_ok=True)
    if a.checks is not None:
        # The scenario as it is, its CHECKS overridden at the end.
        chosen = os.path.join(OUTDIR, "scenario-checks.sh")
        with open(a.scenario) as src, open(chosen, "w") as dst:
            dst.write(src.read())
            dst.write('\nCHECKS="%s"\n' % a.checks)
        a.scenario = chosen
    initrd = os.path.join(OUTDIR, "initrd.cpio.gz")
    mk_s = step("tests/xl/mkinitrd.sh",
                ["sh", "tests/xl/mkinitrd.sh", a.elf, a.cfg, a.scenario,
                 initrd], MKINITRD_BOUND)

    os.makedirs(os.path.dirname(a.log), exist_ok=True)
    argv_q = qemu_argv(a, initrd)
    with open(a.log, "w", encoding="utf-8", errors="replace") as log:
        log.write("# xlrun: %s\n" % " ".join(
            "'%s'" % x if (" " in x or not x) else x for x in argv_q))
        log.flush()
        out = RigLines(log, a.live, time.monotonic())
        status, qemu_s = xenrun.run_qemu(argv_q, a.timeout, [("pipe", out)])
        outcome, why = judge(status, out.rig)
        log.write("# xlrun: QEMU status %s, wall %.2fs, outcome %s\n"
                  % ("timeout" if status is None else status, qemu_s,
                     outcome))
    total_s = time.monotonic() - start

    print()
    if outcome != "PASS" and not (status == 3 and any(
            t.startswith("RIG RESULT: FAIL") for _, t in out.rig)):
        # The rig did not get to say why: show what the console said last.
        tail = [l for l in out.lines if not l.startswith(RIG_PREFIX)]
        tail = tail[-TAIL_LINES:]
        print("xlrun: last %d console lines other than the rig's:"
              % len(tail))
        for l in tail:
            print("  | " + l)
    init_at = first_at(out.rig, "xl rig: dom0 /init")
    up_at = first_at(out.rig, "toolstack up")
    print("xlrun: wall %.1f s: fetch %.1f s, initramfs %.1f s, QEMU %.1f s"
          % (total_s, fetch_s, mk_s, qemu_s) +
          (" (dom0 /init at %.1f s" % init_at if init_at is not None else "")
          + (", toolstack up at %.1f s" % up_at if up_at is not None else "")
          + (")" if init_at is not None else ""))
    # A pass through a retry is a pass, but never a silent one.
    retries = [t for _, t in out.rig if t.startswith("retries: ")]
    # So is a pass that needed the guest's upcall watch to raise a lost
    # interrupt again (events/upcall_watch.c).
    watch = [t for _, t in out.rig if t.startswith("upcall watch: ")]
    print("xlrun: %s (%s); %s; %s; QEMU status %s; log %s"
          % (outcome, why, retries[-1] if retries else "retries: unknown",
             watch[-1] if watch else "upcall watch: unknown",
             "timeout" if status is None else status, a.log))
    return 0 if outcome == "PASS" else 1


if __name__ == "__main__":
    import signal
    signal.signal(signal.SIGTERM, xenrun.exit_on_signal)
    signal.signal(signal.SIGHUP, xenrun.exit_on_signal)
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        sys.exit(130)
