#!/usr/bin/env python3
"""The benchmark report's arithmetic and its CI gates, on made-up records:
a gate fails when pcloud is slower than its margin or a peer is missing,
a goal missed is printed as missed, dropped trials are counted."""
import io
import json
import os
import subprocess
import sys
import tempfile
import unittest
from contextlib import redirect_stdout

sys.dont_write_bytecode = True  # nothing left in the source tree
sys.path.insert(0, os.path.dirname(__file__))
import report  # noqa: E402


def fig(case, peer, samples, **extra):
    f = {"case": case, "title": case, "peer": peer, "end_point": "e",
         "unit": "ms", "samples": samples, "dropped": {}, "setting": "",
         "na": ""}
    f.update(extra)
    return f


def healthy():
    return [fig("host-kill", "floor", [5, 6, 7]),
            fig("host-kill", "supervisord", [1000, 1010, 1020]),
            fig("host-kill", "pcloud", [8, 9, 10], goal_median=20),
            fig("vm-kill-running", "pcloud", [1700, 1800]),
            fig("vm-kill-running", "Pacemaker 1 s", [3000, 3200])]


def gates(figures):
    out = io.StringIO()
    with redirect_stdout(out):
        failed = report.check_gates(figures)
    return failed, out.getvalue()


class report_test(unittest.TestCase):
    def test_summary(self):
        s = report.summary(fig("c", "p", [4, 1, 3, 2, 5], goal_median=2))
        self.assertEqual((s["n"], s["median"], s["min"], s["max"]),
                         (5, 3, 1, 5))
        self.assertFalse(s["goal_met"])

    def test_healthy_run_passes_every_gate(self):
        failed, text = gates(healthy())
        self.assertEqual(failed, 0, text)

    def test_pcloud_at_four_times_the_floor_fails(self):
        figures = healthy()
        figures[2]["samples"] = [28, 29, 30]
        failed, text = gates(figures)
        self.assertEqual(failed, 1)
        self.assertIn("gate FAILED: pcloud's host MTTR within 3x the floor",
                      text)
        self.assertIn("floor median 6.0 ms", text)

    def test_vm_slower_than_pacemaker_fails(self):
        figures = healthy()
        figures[3]["samples"] = [3300, 3400]
        failed, _ = gates(figures)
        self.assertEqual(failed, 1)

    def test_missing_peer_fails(self):
        failed, text = gates([f for f in healthy()
                              if f["peer"] != "supervisord"])
        self.assertEqual(failed, 1)
        self.assertIn("no figure for supervisord", text)

    def test_markdown_says_missed_and_dropped(self):
        figures = [fig("host-hung", "pcloud", [3500], goal_median=3100,
                       dropped={"not recovered within 30 s": 2}),
                   fig("host-hung", "floor", [], na="no health check")]
        text = report.markdown(figures, {"date": "d", "machine": "m",
                                         "versions": "v"})
        self.assertIn("**missed**", text)
        self.assertIn("2: not recovered within 30 s", text)
        self.assertIn("n/a: no health check", text)

    def test_command_line_gate_exit_status(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "r.jsonl")
            figures = healthy()
            figures[2]["samples"] = [100, 100, 100]
            with open(path, "w") as f:
                f.write("\n".join(json.dumps(x) for x in figures) + "\n")
            run = subprocess.run(
                [sys.executable, os.path.join(os.path.dirname(__file__),
                                              "report.py"), path, "--gate"],
                capture_output=True, text=True)
            self.assertEqual(run.returncode, 1, run.stdout + run.stderr)


if __name__ == "__main__":
    unittest.main()
