#!/usr/bin/env python3
"""xenrun: boot xenith as a PVH dom0 under Xen in QEMU (TCG) and judge the run.

    python3 tests/xenrun.py [--vcpus N] [--cmdline "selftest=all"] [--live]

The run's outcome is one of PASS, FAIL, PANIC, TIMEOUT, NOXEN or ERROR (the
run could not be started).  The runner exits 0 iff the outcome is the one
--expect names (or one of several, --expect FAIL,PASS) and every --grep
regex matched some output line.

How QEMU's exit status maps (the guest writes byte v to port 0xf4; QEMU
exits with (v<<1)|1): 1 = pass, 3 = fail, 5 = panic; 0 = Xen rebooted
(dom0 crashed or asked for a reboot; -no-reboot ends QEMU), judged PANIC.

Output: Xen's own lines start with "(XEN)", the guest's port-0xe9 bytes are
mirrored by Xen as "(d0) ..." lines; both are ignored for KTAP.  The
kernel's console (CONSOLEIO_write) arrives without a prefix.

Python 3 standard library only.
"""

import argparse
import os
import re
import select
import signal
import subprocess
import sys
import time

QEMU = "qemu-system-x86_64"
XEN = "build/xen"
DEFAULT_ELF = "build/xenith.elf"

RESULT_RE = re.compile(r"^(\d+) passed, (\d+) failed, (\d+) skipped$")
VERDICT_RE = re.compile(r"^Test result: (\w+)")
NOT_OK_RE = re.compile(r"^\s*not ok ")
BOOT_RE = re.compile(r"#\s*xenith: boot to ready (\d+) us(?: \((\d+) hypercalls\))?")
NOXEN_MSG = "not running under Xen"
TAIL_LINES = 40
# The kernel's "# FAIL file:line: what" lines (test_fail_at), repeated at
# the end of a failed run's report, at most this many.
FAIL_DIAG_RE = re.compile(r"^\s*# FAIL \S+:[0-9]+: ")
MAX_FAIL_DIAGS = 8

OUTCOMES = ("PASS", "FAIL", "PANIC", "NOXEN", "TIMEOUT", "ERROR")


def eprint(*a):
    print(*a, file=sys.stderr)
    sys.stderr.flush()


# --------------------------------------------------------------------------
# Building the QEMU command line


def guest_cmdline(cmdline):
    """The kernel's command line with exit=qemu added unless exit= is given.

    exit=qemu goes first, not last: Xen passes dom0 only the first 1023
    bytes of its command line (and the kernel keeps no more either), and an
    exit=qemu cut off the end would leave the default exit, poweroff: a
    passing run then halts Xen (a timeout), a failing one crashes dom0 and
    Xen reboots (judged a panic)."""
    if any(t.startswith("exit=") for t in cmdline.split()):
        return cmdline
    return "exit=qemu " + cmdline if cmdline else "exit=qemu"


def qemu_opt_escape(s):
    """-initrd is a comma-separated module list; a literal comma is ",,"."""
    return s.replace(",", ",,")


def machine_mib(a):
    """QEMU's RAM: 512 MiB, or dom0_mem plus 1 GiB for Xen and the PCI
    hole when dom0 is to have more (dom0_mem=5G: -m 6144, so dom0 has
    RAM above 4 GiB)."""
    return max(512, a.mem + 1024) if a.mem > 256 else 512


def xen_argv(a, kcmd):
    xen_append = ("console=com1 loglvl=all guest_loglvl=all dom0=pvh "
                  "dom0-iommu=none dom0_mem=%dM dom0_max_vcpus=%d"
                  % (a.mem, a.vcpus))
    initrd = qemu_opt_escape(a.elf + (" " + kcmd if kcmd else ""))
    return [QEMU, "-accel", "tcg", "-cpu", "max", "-m", str(machine_mib(a)),
            "-smp", str(a.smp), "-nographic", "-no-reboot",
            "-kernel", a.xen, "-append", xen_append,
            "-initrd", initrd,
            "-monitor", "none", "-serial", "stdio",
            "-device", "isa-debug-exit,iobase=0xf4,iosize=4"]


def noxen_machine(qemu, accel):
    """The plain-QEMU machine of a --no-xen boot; the KVM probe boots the
    same one, so what it proves is what the boot will use."""
    return [qemu, "-accel", accel, "-cpu", "max", "-m", "128",
            "-nographic", "-no-reboot",
            "-monitor", "none", "-serial", "none",
            "-device", "isa-debug-exit,iobase=0xf4,iosize=4"]


def noxen_argv(a, kcmd, e9path, accel):
    return noxen_machine(QEMU, accel) + [
        "-kernel", a.elf, "-append", kcmd, "-debugcon", "file:" + e9path]


# --------------------------------------------------------------------------
# Running QEMU, bounded in time


class Lines:
    """Splits a byte stream into \\r-free text lines, logging and echoing."""

    def __init__(self, log, live):
        self.buf = b""
        self.lines = []
        self.log = log
        self.live = live

    def feed(self, data):
        self.buf += data
        while True:
            nl = self.buf.find(b"\n")
            if nl < 0:
                break
            self._line(self.buf[:nl])
            self.buf = self.buf[nl + 1:]

    def flush(self):
        if self.buf:
            self._line(self.buf)
            self.buf = b""

    def _line(self, raw):
        text = raw.decode("utf-8", "replace").replace("\r", "")
        self.lines.append(text)
        self.log.write(text + "\n")
        self.log.flush()
        if self.live:
            sys.stdout.write(text + "\n")
            sys.stdout.flush()


def kill_group(proc):
    """SIGTERM the process group, SIGKILL it if it is still there."""
    for sig, grace in ((signal.SIGTERM, 2.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue


def die_with_parent():
    """In the child before exec: SIGKILL it if the runner dies, even by
    SIGKILL, so no QEMU outlives its runner (it has its own session, so a
    terminal's or CI's signals to our group do not reach it)."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)           # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def exit_on_signal(signum, _frame):
    """SIGTERM/SIGHUP end the runner through its finally clauses, which
    kill QEMU's process group."""
    raise SystemExit(128 + signum)


def run_qemu(argv, timeout, sinks):
    """Run argv in its own process group; feed output to sinks.

    sinks: list of (source, Lines) where source is "pipe" (QEMU's stdout and
    stderr) or a file path that QEMU appends to (polled).  Returns
    (status or None on timeout, wall seconds)."""
    start = time.monotonic()
    deadline = start + timeout
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True,
                            preexec_fn=die_with_parent)
    pipe_lines = None
    files = []                          # [path, Lines, offset]
    for src, lines in sinks:
        if src == "pipe":
            pipe_lines = lines
        else:
            files.append([src, lines, 0])
    fd = proc.stdout.fileno()
    pipe_open = True
    timed_out = False

    def poll_files():
        for f in files:
            try:
                with open(f[0], "rb") as fh:
                    fh.seek(f[2])
                    data = fh.read()
            except OSError:
                continue
            if data:
                f[2] += len(data)
                f[1].feed(data)

    try:
        while True:
            now = time.monotonic()
            if now >= deadline:
                timed_out = True
                break
            wait = min(0.1 if files else 0.5, deadline - now)
            if pipe_open:
                r, _, _ = select.select([fd], [], [], wait)
                if r:
                    data = os.read(fd, 65536)
                    if not data:
                        pipe_open = False       # EOF: QEMU is ending
                    elif pipe_lines:
                        pipe_lines.feed(data)
            else:
                time.sleep(min(wait, 0.05))
            poll_files()
            if not pipe_open and proc.poll() is not None:
                break
    except KeyboardInterrupt:
        kill_group(proc)
        raise
    finally:
        if proc.poll() is None:
            kill_group(proc)
    wall = time.monotonic() - start
    # Drain what is left, never blocking.
    if pipe_open:
        try:
            os.set_blocking(fd, False)
            while True:
                r, _, _ = select.select([fd], [], [], 0.2)
                if not r:
                    break
                data = os.read(fd, 65536)
                if not data:
                    break
                if pipe_lines:
                    pipe_lines.feed(data)
        except OSError:
            pass
    proc.stdout.close()
    poll_files()
    for _, lines in sinks:
        lines.flush()
    return (None if timed_out else proc.returncode), wall


# --------------------------------------------------------------------------
# Choosing the accelerator of a --no-xen boot
#
# /dev/kvm opening is no proof that KVM works: on some hosts QEMU 7.2 under
# -accel kvm aborts at once ("failed to set MSR 0x10a to 0x69",
# kvm_buf_set_msrs: Assertion ... failed, status 134), with -cpu max and
# -cpu host alike.  So QEMU itself is asked: a tiny guest is booted under
# KVM on the boot's own machine, and KVM is used only if that guest ran.
# The answer is kept in build/kvm-probe.json for as long as its key holds
# (the same QEMU binary, kernel boot and /dev/kvm node), so a test run
# probes once, not once per boot.  Delete the file to probe again.

# The probe guest writes PROBE_BYTE to port 0xf4: QEMU then exits with
# (0x2a << 1) | 1 = 85, a status no failing QEMU (1 on its own errors, 134
# on an abort) and no xenith verdict (1, 3, 5) gives.
PROBE_BYTE = 0x2a
PROBE_STATUS = (PROBE_BYTE << 1) | 1
# A healthy KVM boots it in 5 s on these machines (nested KVM is slow to
# create a VM), TCG in under 1 s; the bound leaves room for a loaded host.
PROBE_TIMEOUT = 30.0
# Bump when the probe changes, so no answer of an older probe is reused.
PROBE_VERSION = 1
# Set to 1, the probe runs a stand-in for QEMU that fails as the broken
# hosts' QEMU does: the fallback can be tested on a host whose KVM works.
FAKE_KVM_FAILURE_ENV = "XENITH_FAKE_KVM_FAILURE"
FAKE_QEMU_FAILURE = (
    "import os, sys\n"
    "sys.stderr.write(%r)\n"
    "sys.stderr.flush()\n"
    "os.abort()\n" % (
        "qemu-system-x86_64: error: failed to set MSR 0x10a to 0x69 "
        "(fake: %s=1)\n"
        "qemu-system-x86_64: ../../target/i386/kvm/kvm.c: kvm_buf_set_msrs: "
        "Assertion `ret == cpu->kvm_msr_buf->nmsrs' failed.\n"
        % FAKE_KVM_FAILURE_ENV))


def probe_guest_elf():
    """A PVH ELF of one instruction sequence, entered in 32-bit protected
    mode: write PROBE_BYTE to port 0xf4 (QEMU's isa-debug-exit), then halt.
    The probe checks the accelerator, not the kernel: a kernel bug must not
    be read as a broken KVM, nor need a built ELF."""
    import struct
    base = 0x100000
    code = bytes([0xb0, PROBE_BYTE,     # mov al, PROBE_BYTE
                  0xe6, 0xf4,           # out 0xf4, al
                  0xf4,                 # hlt
                  0xeb, 0xfd])          # jmp hlt
    ehsize, phsize, phnum = 64, 56, 2
    note_off = ehsize + phsize * phnum
    # XEN_ELFNOTE_PHYS32_ENTRY (18): where the PVH boot enters.
    note = struct.pack("<III4sI", 4, 4, 18, b"Xen\0", base + 0x1000)
    code_off = 0x1000
    ehdr = struct.pack("<4sBBBB8sHHIQQQIHHHHHH",
                       b"\x7fELF", 2, 1, 1, 0, b"\0" * 8,
                       2, 62, 1,                # ET_EXEC, EM_X86_64
                       base + code_off, ehsize, 0, 0,
                       ehsize, phsize, phnum, 64, 0, 0)
    load = struct.pack("<IIQQQQQQ", 1, 5, code_off, base + code_off,
                       base + code_off, len(code), len(code), 0x1000)
    pnote = struct.pack("<IIQQQQQQ", 4, 4, note_off, 0, 0,
                        len(note), len(note), 4)
    img = ehdr + load + pnote + note
    return img + b"\0" * (code_off - len(img)) + code


def describe_status(status):
    """A QEMU exit status as a shell would print it, with its signal."""
    if status is None:
        return "no exit within %g s" % PROBE_TIMEOUT
    if status < 0:
        try:
            name = signal.Signals(-status).name
        except ValueError:
            name = "signal %d" % -status
        return "status %d (%s)" % (128 - status, name)
    return "status %d" % status


def probe_key(qemu, fake):
    """What the probe's answer depends on; None if QEMU is not there."""
    import shutil
    path = shutil.which(qemu)
    if not path:
        return None
    path = os.path.realpath(path)
    st = os.stat(path)
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            boot_id = f.read().strip()
    except OSError:
        boot_id = None
    try:
        kv = os.stat("/dev/kvm")
        kvm_node = [kv.st_ino, kv.st_ctime_ns]   # new after a module reload
    except OSError:
        kvm_node = None
    return {"version": PROBE_VERSION, "qemu": path,
            "qemu_mtime_ns": st.st_mtime_ns, "qemu_size": st.st_size,
            "boot_id": boot_id, "kvm_node": kvm_node, "fake": fake}


def run_kvm_probe(qemu, fake, log_path, accel="kvm"):
    """Boot the probe guest under KVM once: (ok, what happened, QEMU's
    status or None if it did not exit in time).  accel is for the host
    test, which shows under TCG that the probe guest can pass."""
    import tempfile
    with tempfile.TemporaryDirectory(prefix="xenith-kvm-probe-") as tmp:
        elf = os.path.join(tmp, "probe.elf")
        with open(elf, "wb") as f:
            f.write(probe_guest_elf())
        if fake:
            argv = [sys.executable, "-c", FAKE_QEMU_FAILURE]
        else:
            argv = noxen_machine(qemu, accel) + ["-kernel", elf]
        d = os.path.dirname(log_path)
        if d:
            os.makedirs(d, exist_ok=True)
        with open(log_path, "w", encoding="utf-8", errors="replace") as log:
            log.write("# kvm probe: %s\n" % (
                "a stand-in for QEMU that aborts (%s=1)" % FAKE_KVM_FAILURE_ENV
                if fake else " ".join(argv)))
            out = Lines(log, False)
            status, wall = run_qemu(argv, PROBE_TIMEOUT, [("pipe", out)])
            log.write("# kvm probe: %s, wall %.2fs\n"
                      % (describe_status(status), wall))
    if status == PROBE_STATUS:
        return True, "%s probe passed in %.1f s" % (accel, wall), status
    said = [l.strip() for l in out.lines if l.strip()]
    why = "%s probe failed: %s" % (accel, describe_status(status))
    if said:
        why += ', its last words "%s"' % said[-1][:200]
    return False, why, status


def choose_accel(qemu=QEMU, cache_path=None, log_path=None):
    """The accelerator for a --no-xen boot and why: (accel, reason)."""
    import json
    fake = os.environ.get(FAKE_KVM_FAILURE_ENV, "") not in ("", "0")
    # A faked answer has its own file, so testing the fallback does not
    # throw away the real one.
    suffix = "-fake" if fake else ""
    if cache_path is None:
        cache_path = os.path.join("build", "kvm-probe%s.json" % suffix)
    if log_path is None:
        log_path = os.path.join("build", "logs", "kvm-probe%s.log" % suffix)
    if not fake:
        try:
            os.close(os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC))
        except OSError as e:
            return "tcg", "no usable /dev/kvm: %s" % e.strerror
    key = probe_key(qemu, fake)
    if key is None:
        return "tcg", "kvm probe not run: %s not found" % qemu
    try:
        with open(cache_path) as f:
            cached = json.load(f)
        if cached.get("key") == key:
            return ("kvm" if cached["ok"] else "tcg",
                    cached["why"] + " (cached in %s)" % cache_path)
    except (OSError, ValueError, KeyError, AttributeError):
        pass
    ok, why, status = run_kvm_probe(qemu, fake, log_path)
    why += "; log " + log_path
    # A timeout may be a loaded host, not a broken KVM: not kept, so the
    # next boot asks again.  A status is an answer and is kept.
    if status is not None:
        d = os.path.dirname(cache_path)
        if d:
            os.makedirs(d, exist_ok=True)
        tmp = cache_path + ".%d.tmp" % os.getpid()
        with open(tmp, "w") as f:
            json.dump({"key": key, "ok": ok, "why": why}, f, indent=1)
        os.replace(tmp, cache_path)
    return ("kvm" if ok else "tcg"), why


# --------------------------------------------------------------------------
# Judging


class Verdict:
    def __init__(self):
        self.outcome = None
        self.reasons = []
        self.passed = self.failed = self.skipped = None
        self.failing = []               # "suite.case # reason"
        self.boot_us = None
        self.boot_hypercalls = None
        self.grep_missing = []


def ktap_lines(lines):
    """The kernel's own console lines: not Xen's.  Its Xen-console output
    arrives raw; with console=e9 alone it arrives only as Xen's "(d0) "
    mirror of port 0xe9, which is then used instead (never both, or a
    console=xen,e9 run would count every line twice)."""
    raw = [l for l in lines if not l.startswith("(XEN)")
           and not l.startswith("(d0)")]
    if any(l.strip() == "KTAP version 1" for l in raw):
        return raw
    mirrored = [l[5:] for l in lines if l.startswith("(d0) ")]
    if any(l.strip() == "KTAP version 1" for l in mirrored):
        return mirrored
    return raw


class Suite:
    def __init__(self, name):
        self.name = name
        self.plan = None                # its "1..N", once seen
        self.cases = []                 # (ok, "name # directive")
        self.result = None              # its own top-level line, once seen


def parse_ktap(klines):
    """The one walk over the KTAP: (top-level plan, suites in order, top-
    level result lines that belong to no suite).  Everything the runner
    says about the run's structure is derived from this."""
    top_plan, suites, orphans, cur = None, [], [], None
    for l in klines:
        m = re.match(r"^1\.\.(\d+)$", l)
        if m:
            top_plan = int(m.group(1))
            continue
        m = re.match(r"^\s+# Subtest: (\S+)", l)
        if m:
            cur = Suite(m.group(1))
            suites.append(cur)
            continue
        m = re.match(r"^\s+1\.\.(\d+)$", l)
        if m and cur:
            cur.plan = int(m.group(1))
            continue
        m = re.match(r"^(\s*)(not )?ok \d+ (.*)$", l)
        if not m:
            continue
        ok, rest = not m.group(2), m.group(3).strip()
        if m.group(1) and cur:
            cur.cases.append((ok, rest))
        elif not m.group(1):
            if cur:
                cur.result = (ok, rest)
            else:
                orphans.append((ok, rest))
            cur = None                  # that suite is closed
    return top_plan, suites, orphans


def failing_cases(klines):
    """"suite.case # reason" for every failed case, and failed top-level
    lines for which no case failed (e.g. a suite aborted by a hang)."""
    _, suites, orphans = parse_ktap(klines)
    out = []
    for s in suites:
        bad = ["%s.%s" % (s.name, c) for ok, c in s.cases if not ok]
        out += bad
        if not bad and s.result and not s.result[0]:
            out.append(s.result[1])
    out += [r for ok, r in orphans if not ok]
    return out


def hung_case(klines):
    """Where a run that timed out was: the suite whose subtest was open and
    the number of the case after the last one reported.  The kernel's own
    watchdog names a hung case itself; this covers a hang it cannot see
    (a test spinning with interrupts off, before vCPUs watch each other)."""
    _, suites, _ = parse_ktap(klines)
    if not suites or suites[-1].result is not None:
        return None
    s, last = suites[-1], len(suites[-1].cases)
    return "suite %s, case %d of %s (after case %d)" % (
        s.name, last + 1, s.plan if s.plan is not None else "?", last)


def ktap_consistency(klines):
    """Problems with the KTAP's own bookkeeping: every plan (top level and
    per suite) matched by as many result lines, and the case results
    counted for comparison with the totals line.  A run cut short, or
    output garbled on the way, cannot then pass for a complete one."""
    top_plan, suites, orphans = parse_ktap(klines)
    problems = []
    counts = {"pass": 0, "fail": 0, "skip": 0}
    for s in suites:
        if s.result is not None and s.plan != len(s.cases):
            problems.append("suite %s planned %s cases, reported %d" %
                            (s.name, s.plan, len(s.cases)))
        for ok, rest in s.cases:
            key = "fail" if not ok else "skip" if "# SKIP" in rest else "pass"
            counts[key] += 1
    top_results = sum(s.result is not None for s in suites) + len(orphans)
    if top_plan is None:
        problems.append("no top-level plan")
    elif top_plan != top_results:
        problems.append("planned %d suites, reported %d" %
                        (top_plan, top_results))
    return problems, counts


def judge(lines, status, noxen_mode):
    """The outcome of a run.  FAIL and PASS need evidence that the guest
    ran its tests: a fail verdict (status 3) or a pass verdict (status 1)
    together with the KTAP that backs it.  Anything else, a QEMU that did
    not start, a status no guest writes, a verdict without its output, is
    ERROR, so an "expect FAIL" check cannot be satisfied by a run that
    never happened."""
    v = Verdict()
    klines = ktap_lines(lines)
    for l in klines:
        m = BOOT_RE.search(l)
        if m:
            v.boot_us = int(m.group(1))
            if m.group(2) is not None:
                v.boot_hypercalls = int(m.group(2))
            break
    results = [RESULT_RE.match(l) for l in klines]
    results = [m for m in results if m]
    if results:
        m = results[-1]
        v.passed, v.failed, v.skipped = (int(m.group(i)) for i in (1, 2, 3))
    verdicts = [VERDICT_RE.match(l).group(1) for l in klines
                if VERDICT_RE.match(l)]
    has_ktap = any(l.strip() == "KTAP version 1" for l in klines)
    not_ok = [l for l in klines if NOT_OK_RE.match(l)]
    panic_line = any(l.startswith("PANIC") for l in klines)
    # QEMU's firmware prints too: only the kernel's own words count.
    guest_spoke = any("xenith" in l or l.startswith("KTAP") or
                      l.startswith("PANIC") for l in klines)
    v.failing = failing_cases(klines)

    if status is None:
        v.outcome = "TIMEOUT"
        v.reasons.append("no exit before the time bound")
        where = hung_case(klines)
        if where:
            v.reasons.append("hung in " + where)
        return v
    if status not in (0, 1, 3, 5):
        v.outcome = "ERROR"
        v.reasons.append("QEMU exited with %s, which no guest "
                         "verdict produces (QEMU failed?)"
                         % describe_status(status))
        return v
    if noxen_mode:
        # Without Xen there is no KTAP: the guest's port 0xe9 words are
        # the evidence.
        if status == 3 and any(NOXEN_MSG in l for l in lines):
            v.outcome = "NOXEN"
        elif status == 3 and guest_spoke:
            v.outcome = "FAIL"
            v.reasons.append("QEMU status 3: guest fail verdict")
        else:
            v.outcome = "ERROR"
            v.reasons.append("status %d without the guest's words" % status)
        return v
    if status == 0 and not guest_spoke:
        v.outcome = "ERROR"
        v.reasons.append("QEMU status 0 before the guest printed anything: "
                         "Xen did not start it?")
        return v
    if panic_line or status in (0, 5):
        v.outcome = "PANIC"
        if panic_line:
            v.reasons.append("the kernel printed PANIC")
        if status == 0:
            v.reasons.append("QEMU status 0: Xen rebooted (dom0 crash?)")
        elif status == 5:
            v.reasons.append("QEMU status 5: guest panic verdict")
        return v
    if not has_ktap or not verdicts:
        v.outcome = "ERROR"
        v.reasons.append("QEMU status %d but no KTAP result from the guest"
                         % status)
        return v
    problems, counts = ktap_consistency(klines)
    if status == 3 or not_ok or "FAILURE" in verdicts:
        v.outcome = "FAIL"
        if status == 3:
            v.reasons.append("QEMU status 3: guest fail verdict")
        if not_ok:
            v.reasons.append("%d 'not ok' line(s)" % len(not_ok))
        if "FAILURE" in verdicts:
            v.reasons.append("Test result: FAILURE")
        return v
    # Status 1: a pass verdict, which the output must back up.
    if not results:
        problems.append("no 'N passed, N failed, N skipped' line")
    elif (v.passed, v.failed, v.skipped) != (counts["pass"], counts["fail"],
                                             counts["skip"]):
        problems.append("totals %d/%d/%d but the cases say %d/%d/%d" % (
            v.passed, v.failed, v.skipped, counts["pass"], counts["fail"],
            counts["skip"]))
    if not any(x in ("SUCCESS", "SKIP") for x in verdicts):
        problems.append("no 'Test result: SUCCESS|SKIP' line")
    if problems:
        v.outcome = "FAIL"
        v.reasons.append("malformed pass: " + "; ".join(problems))
    else:
        v.outcome = "PASS"
    return v


# Skips a dom0 run explains by itself: Xen starts dom0 with no xenstore
# and no PV console ring.  Anything else needs --allow-skip.
DOM0_SKIPS = [
    re.compile(r"^no xenstore \(a dom0 started by Xen alone has none\)$"),
    re.compile(r"^dom0 has no PV console ring$"),
    re.compile(r"^a dom0 cannot be saved or migrated: only a domU is$"),
]
# A case that needs RAM above 4 GiB, in a run that gave dom0 less than
# 4 GiB: explained.
NO_HIGH_RAM_SKIP = re.compile(r"^no RAM above 4 GiB ")
# A FIFO-only case under the 2-level ABI: explained when the run asked
# for it (evtchn=2l), never when auto or fifo should have given FIFO.
ABI_2L_SKIP = re.compile(r"^needs the FIFO event-channel ABI ")
ONLINE_RE = re.compile(r"^# xenith: boot to ready .* (\d+) vCPUs "
                       r"\((\d+) online\)")
NEEDS_RE = re.compile(r"^needs (\d+) vCPUs online(?: besides vCPU\d+)?, "
                      r"has (\d+)$")


def offline_asked(cmdline, vcpus):
    """The vCPUs offline= takes down, of those the domain has."""
    ids = set()
    for tok in cmdline.split():
        if tok.startswith("offline="):
            for x in tok[len("offline="):].split(","):
                if x.isdigit() and 0 < int(x) < vcpus:
                    ids.add(int(x))
    return ids


def vacuity_problems(klines, a, v):
    """Why a run that passed proves less than it says: vCPUs asked for
    that never came online, a run whose every case skipped (or that ran
    none), a case skipped for a reason this configuration does not
    explain.  A pass that hides one of these is a FAIL."""
    problems = []
    want = a.vcpus - len(offline_asked(a.cmdline, a.vcpus))
    online = None
    for l in klines:
        m = ONLINE_RE.match(l)
        if m:
            online = int(m.group(2))
    if online is not None and online != want:
        problems.append("%d vCPUs online, %d asked for" % (online, want))
    if v.passed == 0 and v.skipped and not a.no_tests_ok:
        problems.append("every case skipped: nothing was tested")
    elif v.passed == 0 and not a.no_tests_ok:
        problems.append("no case ran")
    top_plan, suites, orphans = parse_ktap(klines)
    for st in suites:
        for ok, rest in st.cases:
            if not ok or "# SKIP" not in rest:
                continue
            case = rest.split(" # SKIP", 1)[0].strip()
            why = rest.split("# SKIP", 1)[1].strip()
            m = NEEDS_RE.match(why)
            if m and online is not None:
                need, has = int(m.group(1)), int(m.group(2))
                # "besides vCPUn": the case's picks, vCPU0 not counted
                besides = "besides" in why
                if has < need and (has < online if besides
                                   else has == online):
                    continue
            elif any(r.search(why) for r in DOM0_SKIPS + a.allow_skip_re):
                continue
            elif ABI_2L_SKIP.search(why) and "evtchn=2l" in a.cmdline.split():
                continue
            elif NO_HIGH_RAM_SKIP.search(why) and a.mem < 4096:
                continue
            problems.append("%s.%s skipped, unexplained here: %s"
                            % (st.name, case, why))
    return problems


# --------------------------------------------------------------------------


def derive_name(a):
    base = re.sub(r"[^A-Za-z0-9.]+", "_", a.cmdline).strip("_")[:60] \
        or "default"
    name = "v%d-%s" % (a.vcpus, base)
    stem = os.path.basename(a.elf)
    if stem.endswith(".elf"):
        stem = stem[:-4]
    if stem.startswith("xenith-"):
        name = stem[len("xenith-"):] + "-" + name
    elif stem != "xenith":
        name = stem + "-" + name
    if a.no_xen:
        name = "noxen-" + re.sub(r"^v\d+-", "", name)
    return name


def parse_args(argv):
    p = argparse.ArgumentParser(
        description="Boot xenith under Xen in QEMU and judge the run.")
    p.add_argument("--elf", default=DEFAULT_ELF)
    p.add_argument("--xen", default=XEN, help=argparse.SUPPRESS)
    p.add_argument("--cmdline", default="",
                   help="kernel command line (exit=qemu is added unless "
                   "exit= is given)")
    p.add_argument("--vcpus", type=int, default=1, help="dom0_max_vcpus")
    p.add_argument("--smp", type=int, default=None,
                   help="QEMU pCPUs (default min(vcpus, 2))")
    p.add_argument("--mem", type=int, default=64, help="dom0_mem in MiB")
    p.add_argument("--timeout", type=float, default=120.0,
                   help="wall-clock bound in seconds")
    p.add_argument("--log", default=None)
    p.add_argument("--name", default=None)
    p.add_argument("--live", action="store_true",
                   help="echo output lines as they arrive")
    p.add_argument("--expect", default="PASS",
                   help="the outcome wanted: PASS, FAIL, PANIC, NOXEN or "
                   "TIMEOUT; several may be given as FAIL,PASS")
    p.add_argument("--no-xen", action="store_true",
                   help="boot the ELF directly (no Xen)")
    p.add_argument("--grep", action="append", default=[], metavar="REGEX",
                   help="require a matching output line (repeatable)")
    p.add_argument("--allow-skip", action="append", default=[],
                   metavar="REGEX", help="a skip reason this run explains "
                   "(repeatable); other skips, but for too few vCPUs and "
                   "dom0's missing xenstore and console ring, fail a pass")
    p.add_argument("--no-tests-ok", action="store_true",
                   help="a run that selects no case may pass")
    p.add_argument("--report-boot", action="store_true",
                   help="also print 'boot_us=N wall_s=X hypercalls=H'")
    a = p.parse_args(argv)
    if a.vcpus < 1:
        p.error("--vcpus must be >= 1")
    a.expect = a.expect.upper().replace("|", ",")
    for e in a.expect.split(","):
        if e not in ("PASS", "FAIL", "PANIC", "NOXEN", "TIMEOUT"):
            p.error("--expect: unknown outcome %r" % e)
    if a.smp is None:
        a.smp = min(a.vcpus, 2)
    if a.smp < 1:
        p.error("--smp must be >= 1")
    if a.timeout <= 0:
        p.error("--timeout must be > 0")
    try:
        a.grep_re = [re.compile(g) for g in a.grep]
        a.allow_skip_re = [re.compile(g) for g in a.allow_skip]
    except re.error as e:
        p.error("bad --grep regex: %s" % e)
    return a


def preflight(a):
    import shutil
    missing = []
    if not shutil.which(QEMU):
        missing.append("%s not in PATH (sh tests/deps.sh)" % QEMU)
    if not os.path.isfile(a.elf):
        missing.append("%s missing (make)" % a.elf)
    if not a.no_xen and not os.path.isfile(a.xen):
        missing.append("%s missing (sh tests/deps.sh)" % a.xen)
    return missing


def main(argv):
    a = parse_args(argv)
    name = a.name or derive_name(a)
    log_path = a.log or os.path.join("build", "logs", name + ".log")
    d = os.path.dirname(log_path)
    if d:
        os.makedirs(d, exist_ok=True)
    kcmd = guest_cmdline(a.cmdline)

    missing = preflight(a)
    if missing:
        for m in missing:
            eprint("xenrun: %s: %s" % (name, m))
        print("xenrun: %s: ERROR (expected %s) passed=- failed=- skipped=- "
              "wall=0.00s log=%s" % (name, a.expect, log_path))
        return 2

    # Said before the boot, so a boot that hangs still shows what it ran on.
    if a.no_xen:
        accel, why = choose_accel()
    else:
        accel, why = "tcg", "Xen boots always run under TCG"
    accel_line = "accel=%s (%s)" % (accel, why)
    print("xenrun: %s: %s" % (name, accel_line))
    sys.stdout.flush()

    with open(log_path, "w", encoding="utf-8", errors="replace") as log:
        log.write("# xenrun: %s\n" % accel_line)
        if a.no_xen:
            e9 = log_path + ".e9"
            open(e9, "wb").close()
            argv_q = noxen_argv(a, kcmd, e9, accel)
        else:
            e9 = None
            argv_q = xen_argv(a, kcmd)
        log.write("# xenrun: %s\n" % " ".join(
            "'%s'" % x if (" " in x or not x) else x for x in argv_q))
        log.flush()
        qemu_out = Lines(log, a.live)
        sinks = [("pipe", qemu_out)]
        e9_out = None
        if e9:
            e9_out = Lines(log, a.live)
            sinks.append((e9, e9_out))
        status, wall = run_qemu(argv_q, a.timeout, sinks)
        lines = qemu_out.lines + (e9_out.lines if e9_out else [])
        v = judge(lines, status, a.no_xen)
        if v.outcome == "PASS" and not a.no_xen:
            vac = vacuity_problems(ktap_lines(lines), a, v)
            if vac:
                v.outcome = "FAIL"
                v.reasons.append("vacuous pass: " + "; ".join(vac))
        log.write("# xenrun: QEMU status %s, wall %.2fs, outcome %s\n"
                  % ("timeout" if status is None else status, wall,
                     v.outcome))

    for rx in a.grep_re:
        if not any(rx.search(l) for l in lines):
            v.grep_missing.append(rx.pattern)

    ok = v.outcome in a.expect.split(",") and not v.grep_missing
    fmt = lambda x: "-" if x is None else str(x)
    if a.report_boot:
        print("boot_us=%s wall_s=%.2f hypercalls=%s" %
              (fmt(v.boot_us), wall, fmt(v.boot_hypercalls)))
    print("xenrun: %s: %s (expected %s) passed=%s failed=%s skipped=%s "
          "wall=%.2fs log=%s" % (name, v.outcome, a.expect, fmt(v.passed),
                                 fmt(v.failed), fmt(v.skipped), wall,
                                 log_path))
    if not ok:
        # The why comes after the log's tail: a CI page that shows only
        # the last lines of the output must still name the failed case.
        if not a.live:
            tail = lines[-TAIL_LINES:]
            print("xenrun:   last %d log lines:" % len(tail))
            for l in tail:
                print("  | " + l)
        for r in v.reasons:
            print("xenrun:   why: %s" % r)
        for f in v.failing:
            print("xenrun:   not ok: %s" % f)
        for l in [l for l in lines if FAIL_DIAG_RE.search(l)][:MAX_FAIL_DIAGS]:
            print("xenrun:   %s" % l.strip())
        for g in v.grep_missing:
            print("xenrun:   no output line matches /%s/" % g)
        print("xenrun: %s: %s, log %s" % (name, v.outcome, log_path))
    sys.stdout.flush()
    return 0 if ok else 1


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, exit_on_signal)
    signal.signal(signal.SIGHUP, exit_on_signal)
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:             # e.g. piped into head
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
