#!/usr/bin/env python3
"""Host test of the runner's judgement (tests/xenrun.py judge()): synthetic
console output and QEMU statuses in, outcome out.  The runner is what
every boot check stands on, so it must be shown to say FAIL, PANIC,
TIMEOUT and ERROR when it should, not only PASS."""

import os
import sys
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


if __name__ == "__main__":
    unittest.main(verbosity=1)
