"""scripts/demo as a newcomer runs it: the service it printed still
answers after the command returned, until `scripts/demo stop`, which
leaves no process and no file; a second run leaves one of each; stop
refuses a state file the demo did not write (issue 15)."""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

import harness
from harness import REPO, TPL1, http_request, assert_wxsub_answer

DEMO = os.path.join(REPO, "scripts", "demo")


class DemoTests(unittest.TestCase):
    """Needs no world of its own: the demo makes one. Runs in the
    lighttpd pass (the demo's server) only."""

    SERVERS = ("lighttpd",)

    def setUp(self):
        self.top = tempfile.mkdtemp(prefix="wxsub-demo-test-")
        self.dir = os.path.join(self.top, "demo")
        self.env = dict(os.environ, WXSUB_DEMO_DIR=self.dir,
                        WXSUB_BINARY=harness.binary_path())
        self.addCleanup(shutil.rmtree, self.top, True)
        # whatever happens, nothing of the demo outlives the test
        self.addCleanup(self.demo, "stop", check=False, py=True)

    def demo(self, *args, check=True, timeout=600, py=False):
        """scripts/demo ARGS; py: scripts/demo.py, without the wrapper's
        dependency check and build (done by the first run)."""
        argv = [sys.executable, DEMO + ".py"] if py else [DEMO]
        p = subprocess.run(argv + list(args), env=self.env,
                           capture_output=True, text=True, timeout=timeout,
                           stdin=subprocess.DEVNULL)
        if check and p.returncode != 0:
            self.fail("scripts/demo %s: exit %d\n%s%s" % (
                " ".join(args), p.returncode, p.stdout[-3000:], p.stderr))
        return p

    def state(self):
        with open(os.path.join(self.dir, "state.json")) as f:
            return json.load(f)

    @staticmethod
    def printed(out, label):
        m = re.search(r"^%s +(\S+)" % re.escape(label), out, re.M)
        if not m:
            raise AssertionError("the demo printed no %r line:\n%s"
                                 % (label, out[-2000:]))
        return m.group(1)

    def running(self, st):
        """The processes of a state that still run: those it names
        (same pid, same start time) and wxsub processes with its config."""
        live = [pid for pid, started in st["procs"].values()
                if harness.proc_start_time(pid) == started]
        return live + harness.pids_with_config(st["conf"])

    def test_the_service_outlives_the_command_until_stop(self):
        out = self.demo().stdout
        base = self.printed(out, "service").replace("/<route>", "")
        key = self.printed(out, "api key")
        standin = int(self.printed(out, "stand-in").rsplit(":", 1)[1])
        m = re.match(r"http://127\.0\.0\.1:(\d+)(/.*)$", base)
        self.assertIsNotNone(m, base)
        port, script = int(m.group(1)), m.group(2)
        for hint in ("/health", "/send", " subs "):
            self.assertIn(hint, out.split("try next", 1)[1])

        # the command has returned: the service still answers
        r = http_request(port, "GET", script + "/health")
        assert_wxsub_answer(r, "/health")
        self.assertEqual(r.json.get("redis"), "ok", r)
        oid = harness.openid("demotest")
        auth = {"Authorization": "Bearer " + key,
                "Content-Type": "application/json"}
        r = http_request(port, "POST", script + "/record",
                         {"openId": oid, "templateIds": [TPL1]}, auth)
        assert_wxsub_answer(r, "/record")
        self.assertEqual(r.status, 200, r)
        r = http_request(standin, "POST", "/__control/quota",
                         {"openid": oid, "template_id": TPL1, "count": 1},
                         {"Content-Type": "application/json"})
        self.assertEqual(r.status, 200, r)
        r = http_request(port, "POST", script + "/send",
                         {"openId": oid, "templateId": TPL1,
                          "data": {"thing1": "after the demo"}}, auth)
        assert_wxsub_answer(r, "/send")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.json.get("msgid"), r)

        st = self.demo("status", py=True).stdout
        self.assertIn("health   200", st)
        self.assertNotIn("GONE", st)

        # a second run stops the first: one of everything
        first = self.state()
        self.demo("start", py=True)
        self.assertEqual(self.running(first), [],
                         "the first demo's processes still run")
        second = self.state()
        self.assertNotEqual(first["world"], second["world"])
        self.assertFalse(os.path.exists(first["world"]))
        self.assertEqual(sorted(os.listdir(self.dir)), sorted(
            ["state.json", os.path.basename(second["world"])]))
        live = [w for w, (pid, t) in second["procs"].items()
                if harness.proc_start_time(pid) == t]
        self.assertEqual(sorted(live), ["redis", "server", "standin"])

        p = self.demo("stop", py=True)
        self.assertIn("stopped", p.stdout)
        self.assertEqual(self.running(second), [])
        self.assertFalse(os.path.exists(self.dir),
                         "files left: %s" % (os.listdir(self.dir)
                                             if os.path.isdir(self.dir)
                                             else self.dir))
        with self.assertRaises(OSError):
            http_request(port, "GET", script + "/health", timeout=5)
        self.assertEqual(self.demo("status", check=False, py=True).returncode,
                         3)

    def plant(self, text, mode=0o600, owner=None):
        os.mkdir(self.dir, 0o700)
        p = os.path.join(self.dir, "state.json")
        with open(p, "w") as f:
            f.write(text)
        os.chmod(p, mode)
        if owner is not None:
            os.chown(p, owner, -1)
        return p

    def test_stop_refuses_a_state_file_it_did_not_write(self):
        # a process of ours the planted file names: it must survive
        victim = subprocess.Popen(["sleep", "600"])
        self.addCleanup(victim.wait)
        self.addCleanup(victim.kill)
        world = os.path.join(self.dir, "wxsub-e2e-planted")
        good = {"writer": "wxsub scripts/demo 2", "world": world,
                "conf": "/nonexistent",
                "procs": {"redis": [victim.pid,
                                    harness.proc_start_time(victim.pid)]}}
        cases = [
            ("not ours", json.dumps(good), 0o600, 65534),
            ("readable by others", json.dumps(good), 0o644, None),
            ("another writer", json.dumps(dict(good, writer="x")), 0o600,
             None),
            ("a world elsewhere", json.dumps(dict(good, world="/etc")),
             0o600, None),
            ("not JSON", "{", 0o600, None),
        ]
        for what, text, mode, owner in cases:
            with self.subTest(what):
                self.plant(text, mode, owner)
                os.mkdir(world)
                p = self.demo("stop", check=False, py=True)
                self.assertEqual(p.returncode, 1, p)
                self.assertIn("refusing", p.stderr)
                self.assertEqual(len(p.stderr.strip().splitlines()), 1,
                                 p.stderr)
                self.assertIsNone(victim.poll(), "a refused stop signalled")
                self.assertTrue(os.path.isdir(world), "it removed the world")
                shutil.rmtree(self.dir)
        # a directory open to others is refused too
        os.mkdir(self.dir)
        os.chmod(self.dir, 0o755)
        p = self.demo("stop", check=False, py=True)
        self.assertEqual(p.returncode, 1, p)
        self.assertIn("0700", p.stderr)
        self.assertIsNone(victim.poll())
        os.rmdir(self.dir)


if __name__ == "__main__":
    unittest.main()
