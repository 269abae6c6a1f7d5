#!/usr/bin/env python3
"""Host test of the runner's judgement (tests/xenrun.py judge()): synthetic
console output and QEMU statuses in, outcome out.  The runner is what
every boot check stands on, so it must be shown to say FAIL, PANIC,
TIMEOUT and ERROR when it should, not only PASS."""

import json
import os
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import xenrun  # noqa: E402

GOOD = """(XEN) Freed 656kB init memory
xenith: PVH dom0 on Xen 4.17, start info v0
KTAP version 1
# xenith: boot to ready 42000 us (13 hypercalls), 2 vCPUs (1 online)
1..2
    KTAP version 1
    # Subtest: mm
    1..2
    ok 1 heap
    ok 2 orders_aligned # SKIP not today
ok 1 mm
    KTAP version 1
    # Subtest: time
    1..1
    ok 1 delay
ok 2 time
# Totals: pass:2 fail:0 skip:1
2 passed, 0 failed, 1 skipped
Test result: SUCCESS""".split("\n")


def judge(lines, status, noxen=False):
    return xenrun.judge(lines, status, noxen)


class Judge(unittest.TestCase):
    def test_good_pass(self):
        v = judge(GOOD, 1)
        self.assertEqual(v.outcome, "PASS", v.reasons)
        self.assertEqual((v.passed, v.failed, v.skipped), (2, 0, 1))
        self.assertEqual((v.boot_us, v.boot_hypercalls), (42000, 13))

    def test_truncated_suite_is_not_a_pass(self):
        lines = [l for l in GOOD if l != "    ok 1 delay"]
        self.assertEqual(judge(lines, 1).outcome, "FAIL")

    def test_missing_suite_is_not_a_pass(self):
        lines = GOOD[:GOOD.index("ok 1 mm") + 1] + GOOD[-3:]
        self.assertEqual(judge(lines, 1).outcome, "FAIL")

    def test_totals_must_match_cases(self):
        lines = [l.replace("2 passed", "3 passed") for l in GOOD]
        self.assertEqual(judge(lines, 1).outcome, "FAIL")

    def test_not_ok_fails_and_is_named(self):
        lines = [l.replace("    ok 1 delay", "    not ok 1 delay")
                 for l in GOOD]
        v = judge(lines, 1)
        self.assertEqual(v.outcome, "FAIL")
        self.assertIn("time.delay", v.failing)

    def test_fail_verdict(self):
        lines = [l.replace("SUCCESS", "FAILURE") for l in GOOD]
        self.assertEqual(judge(lines, 3).outcome, "FAIL")

    def test_fail_status_without_ktap_is_error(self):
        self.assertEqual(judge(["(XEN) hello"], 3).outcome, "ERROR")

    def test_qemu_that_never_started_is_error(self):
        lines = ["qemu: could not load kernel 'x': No such file"]
        self.assertEqual(judge(lines, 1).outcome, "ERROR")
        self.assertEqual(judge(lines, 2).outcome, "ERROR")

    def test_panic(self):
        lines = GOOD[:8] + ["PANIC on vCPU0: #PF page fault at 0"]
        self.assertEqual(judge(lines, 5).outcome, "PANIC")

    def test_xen_reboot_after_guest_output_is_panic(self):
        self.assertEqual(judge(GOOD[:8], 0).outcome, "PANIC")

    def test_xen_reboot_before_guest_is_error(self):
        self.assertEqual(judge(["(XEN) Panic on CPU 0"], 0).outcome, "ERROR")

    def test_timeout_names_where(self):
        v = judge(GOOD[:9], None)
        self.assertEqual(v.outcome, "TIMEOUT")
        self.assertTrue(any("suite mm, case 2 of 2" in r for r in v.reasons),
                        v.reasons)

    def test_noxen(self):
        lines = ["xenith: not running under Xen (no Xen CPUID leaves)"]
        self.assertEqual(judge(lines, 3, noxen=True).outcome, "NOXEN")
        self.assertEqual(judge([], 3, noxen=True).outcome, "ERROR")

    def test_e9_mirror_only(self):
        lines = ["(d0) " + l for l in GOOD if not l.startswith("(XEN)")]
        self.assertEqual(judge(lines, 1).outcome, "PASS")

    def test_exit_option_is_a_token(self):
        self.assertEqual(xenrun.guest_cmdline("selftest=all"),
                         "exit=qemu selftest=all")
        self.assertEqual(xenrun.guest_cmdline("exit=halt"), "exit=halt")
        self.assertTrue(xenrun.guest_cmdline("myexit=1").startswith(
            "exit=qemu"))


class FakeKvmFailure:
    """XENITH_FAKE_KVM_FAILURE=1 for the duration of a with block."""

    def __enter__(self):
        self.old = os.environ.get(xenrun.FAKE_KVM_FAILURE_ENV)
        os.environ[xenrun.FAKE_KVM_FAILURE_ENV] = "1"

    def __exit__(self, *exc):
        if self.old is None:
            del os.environ[xenrun.FAKE_KVM_FAILURE_ENV]
        else:
            os.environ[xenrun.FAKE_KVM_FAILURE_ENV] = self.old


@unittest.skipUnless(shutil.which(xenrun.QEMU), xenrun.QEMU + " not in PATH")
class Accel(unittest.TestCase):
    """The KVM probe of --no-xen boots (xenrun.choose_accel): a QEMU that
    aborts under KVM means TCG, and the reason says so."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="test_xenrun-")
        self.cache = os.path.join(self.dir, "kvm-probe.json")
        self.log = os.path.join(self.dir, "kvm-probe.log")

    def tearDown(self):
        shutil.rmtree(self.dir)

    def choose(self):
        return xenrun.choose_accel(cache_path=self.cache, log_path=self.log)

    def test_status_is_told_as_a_shell_would(self):
        self.assertEqual(xenrun.describe_status(-6), "status 134 (SIGABRT)")
        self.assertEqual(xenrun.describe_status(1), "status 1")

    def test_failed_probe_falls_back_to_tcg_and_says_why(self):
        with FakeKvmFailure():
            accel, why = self.choose()
        self.assertEqual(accel, "tcg")
        self.assertIn("kvm probe failed: status 134 (SIGABRT)", why)
        self.assertIn("kvm_buf_set_msrs: Assertion", why)
        with open(self.log) as f:
            self.assertIn("failed to set MSR 0x10a to 0x69", f.read())

    def test_answer_is_cached_for_the_run(self):
        with FakeKvmFailure():
            first = self.choose()
            os.unlink(self.log)         # a second probe would write it
            accel, why = self.choose()
        self.assertEqual(accel, "tcg")
        self.assertIn(first[1], why)
        self.assertIn("(cached in %s)" % self.cache, why)
        self.assertFalse(os.path.exists(self.log))

    def test_answer_for_another_key_is_not_reused(self):
        with FakeKvmFailure():
            key = xenrun.probe_key(xenrun.QEMU, True)
        key["qemu_mtime_ns"] += 1       # QEMU was upgraded since
        with open(self.cache, "w") as f:
            json.dump({"key": key, "ok": True, "why": "old"}, f)
        with FakeKvmFailure():
            accel, why = self.choose()
        self.assertEqual(accel, "tcg")
        self.assertNotIn("cached", why)

    def test_probe_that_hangs_is_bounded_and_not_cached(self):
        saved = (xenrun.FAKE_QEMU_FAILURE, xenrun.PROBE_TIMEOUT)
        xenrun.FAKE_QEMU_FAILURE = "import time; time.sleep(60)"
        xenrun.PROBE_TIMEOUT = 0.5
        try:
            with FakeKvmFailure():
                accel, why = self.choose()
        finally:
            xenrun.FAKE_QEMU_FAILURE, xenrun.PROBE_TIMEOUT = saved
        self.assertEqual(accel, "tcg")
        self.assertIn("kvm probe failed: no exit within", why)
        self.assertFalse(os.path.exists(self.cache))

    def test_probe_guest_passes_under_tcg(self):
        # A probe that could never pass would put every host on TCG
        # without a word: its guest must give the status it looks for.
        ok, why, status = xenrun.run_kvm_probe(xenrun.QEMU, False, self.log,
                                               accel="tcg")
        self.assertTrue(ok, why)
        self.assertEqual(status, xenrun.PROBE_STATUS)



def args(vcpus=2, cmdline="selftest=all", allow=(), no_tests_ok=False,
         mem=64):
    import re
    import types
    return types.SimpleNamespace(
        vcpus=vcpus, cmdline=cmdline, no_tests_ok=no_tests_ok, mem=mem,
        allow_skip_re=[re.compile(x) for x in allow])


def vacuity(lines, a):
    v = judge(lines, 1)
    return xenrun.vacuity_problems(xenrun.ktap_lines(lines), a, v)


class Vacuity(unittest.TestCase):
    """A pass that proves less than it says (issue 20, item 10)."""

    def test_unexplained_skip(self):
        p = vacuity(GOOD, args(vcpus=1))
        self.assertEqual(p, ["mm.orders_aligned skipped, unexplained "
                             "here: not today"])
        self.assertEqual(vacuity(GOOD, args(vcpus=1, allow=["^not today$"])),
                         [])

    def test_too_few_vcpus_explains_a_skip(self):
        lines = [l.replace("# SKIP not today",
                           "# SKIP needs 3 vCPUs online, has 1") for l in GOOD]
        self.assertEqual(vacuity(lines, args(vcpus=1)), [])
        # ... but not when the run has the vCPUs the case needs
        lines = [l.replace("(1 online)", "(4 online)") for l in lines]
        self.assertEqual(len(vacuity(lines, args(vcpus=4))), 1)

    def test_no_high_ram_explains_a_skip_below_4g_only(self):
        lines = [l.replace("# SKIP not today",
                           "# SKIP no RAM above 4 GiB (dom0_mem or memory= "
                           "below it)") for l in GOOD]
        self.assertEqual(vacuity(lines, args(vcpus=1)), [])
        self.assertEqual(len(vacuity(lines, args(vcpus=1, mem=5120))), 1)

    def test_vcpus_that_never_came_online(self):
        p = vacuity(GOOD, args(vcpus=2, allow=["not today"]))
        self.assertEqual(p, ["1 vCPUs online, 2 asked for"])
        self.assertEqual(vacuity(GOOD, args(vcpus=2, cmdline="offline=1",
                                            allow=["not today"])), [])

    def test_all_skipped_is_not_a_pass(self):
        lines = [l for l in GOOD if "time" not in l and "delay" not in l]
        lines = [l.replace("1..2", "1..1").replace("2 passed", "0 passed")
                 .replace("    ok 1 heap", "    ok 1 heap # SKIP not today")
                 .replace("skipped", "skipped").replace("1 skipped",
                                                        "2 skipped")
                 for l in lines]
        self.assertIn("every case skipped: nothing was tested",
                      vacuity(lines, args(vcpus=1, allow=["not today"])))

if __name__ == "__main__":
    unittest.main(verbosity=1)
