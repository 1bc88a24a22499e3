#!/usr/bin/env python3
"""Run wxsub's end-to-end suite.

  python3 tests/e2e/run.py                      all servers (below)
  python3 tests/e2e/run.py --server lighttpd    or apache, apache-cgi,
                                                apache-cgid,
                                                apache-htaccess-fcgid,
                                                apache-proxy-fcgi,
                                                apache-suexec-fcgid,
                                                apache-suexec-cgi, nginx
  python3 tests/e2e/run.py -k Token -k redis    only tests whose id holds
                                                one of these (any case)
  WXSUB_BINARY=/path/to/asan/cgi-bin/wxsub.fcgi python3 tests/e2e/run.py

Every test is printed with its result; the exit code is non-zero when
anything failed (including the log checks done when an Env stops:
sanitizer reports, secrets in logs). E2E_KEEP=1 keeps the temp dirs.

Which class runs in which pass (class attributes, harness.E2ECase):
SERVERS names its passes; otherwise KIND "server" (the default) runs in
the pass of each server of the whole suite (harness.SERVERS: lighttpd,
apache), KIND "logic" once, in the first of those passes this run makes.
The deploy kits (harness.DEPLOY_SERVERS) run only the classes naming them
in SERVERS. Classes with WORLD "shared" (the default) share the run's
Redis and stand-in, and a web server with the classes of the same config;
they run one after the other. The summary's last line names what failed.
"""

import argparse
import os
import signal
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import harness  # noqa: E402


def iter_tests(suite):
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            yield from iter_tests(t)
        else:
            yield t


class TimedResult(unittest.TextTestResult):
    """Prints each test with its result and duration; descriptions are
    left out (the test's name says what it does)."""

    def getDescription(self, test):
        return str(test)

    def startTest(self, test):
        self._t0 = time.monotonic()
        super().startTest(test)

    def _write_status(self, test, status):
        if not hasattr(self, "_t0"):
            return super()._write_status(test, status)
        return super()._write_status(test, "%s (%.2f s)" % (
            status, time.monotonic() - self._t0))


def for_server(test, server, logic_pass):
    """Classes naming SERVERS run in those passes only; KIND "logic"
    classes in the logic pass only; the others on the servers of the
    whole suite."""
    cls = type(test)
    servers = getattr(cls, "SERVERS", None)
    if servers is not None:
        return server in servers
    if getattr(cls, "KIND", "server") == "logic":
        return server == logic_pass
    return server in harness.SERVERS


def grouped(tests, server):
    """The tests, each class's together, classes that can share a world
    (same harness.world_key) one after the other, else in file order."""
    first = {}
    order = []
    for t in tests:
        cls = type(t)
        if getattr(cls, "WORLD", None) == "shared":
            key = harness.world_key(cls, server)
        else:
            key = (cls.__module__, cls.__qualname__)
        first.setdefault(key, len(first))
        order.append((first[key], cls.__module__, cls.__qualname__, t))
    # sorted() is stable: a class's tests keep their order
    return [t for _, _, _, t in sorted(order, key=lambda x: x[:3])]


def build_suite(patterns, server=None, logic_pass=None):
    loader = unittest.TestLoader()
    suite = loader.discover(HERE, pattern="test_*.py", top_level_dir=HERE)
    for t in iter_tests(suite):
        if isinstance(t, unittest.loader._FailedTest):
            raise SystemExit("cannot load %s: %s" % (t.id(), t._exception))
    pats = [p.lower() for p in patterns]
    picked = []
    for t in iter_tests(suite):
        if server is not None and not for_server(t, server, logic_pass):
            continue
        if not pats or any(p in t.id().lower() for p in pats):
            picked.append(t)
    out = unittest.TestSuite()
    for t in grouped(picked, server):
        out.addTest(t)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--server", action="append", default=[],
                    choices=harness.ALL_SERVERS + ("all",),
                    help="a pass (repeatable; default all)")
    ap.add_argument("-k", dest="patterns", action="append", default=[],
                    help="run only tests whose id contains this")
    ap.add_argument("--binary", help="wxsub.fcgi to test (default "
                    "$WXSUB_BINARY or cgi-bin/wxsub.fcgi of this checkout)")
    ap.add_argument("-f", "--failfast", action="store_true")
    args = ap.parse_args()

    def interrupted(signum, frame):
        raise KeyboardInterrupt("signal %d" % signum)
    # unittest lets KeyboardInterrupt through; harness's atexit hook then
    # stops every server, Redis and stand-in still running
    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGINT, interrupted)
    if args.binary:
        os.environ["WXSUB_BINARY"] = os.path.abspath(args.binary)
    if os.geteuid() != 0:
        sys.stderr.write("run.py: run as root (Apache's children become "
                         "www-data; the harness chowns files for them)\n")
    servers = []
    for s in args.server or ["all"]:
        for name in harness.ALL_SERVERS if s == "all" else [s]:
            if name not in servers:
                servers.append(name)
    # logic classes run once, in the first pass on a server of the suite
    logic_pass = next((s for s in servers if s in harness.SERVERS), None)
    print("wxsub e2e: binary %s" % harness.binary_path())
    summary, ok, failed = [], True, []
    t_all = time.monotonic()
    for server in servers:
        harness.set_server(server)
        suite = build_suite(args.patterns, server, logic_pass)
        n = suite.countTestCases()
        print("\n===== %s: %d tests =====" % (server, n), flush=True)
        why = harness.preflight(server) if n else None
        if why:
            print("cannot run: %s" % why, flush=True)
            summary.append("%-21s %3d tests not run: %s" % (server, n, why))
            failed.append("%s (not run)" % server)
            ok = False
            continue
        t0 = time.monotonic()
        runner = unittest.TextTestRunner(stream=sys.stdout, verbosity=2,
                                         failfast=args.failfast,
                                         resultclass=TimedResult)
        res = runner.run(suite)
        late = harness.end_pass(final=server == servers[-1])
        for p in late:
            print("\nAFTER THE PASS (%s): %s" % (server, p), flush=True)
        if late:
            ok = False
            failed.append("%s (after the pass: shared worlds' logs)" % server)
        dt = time.monotonic() - t0
        bad = len(res.failures) + len(res.errors) + \
            len(res.unexpectedSuccesses)
        ok = ok and res.wasSuccessful()
        for t, _ in res.failures + res.errors + [
                (t, None) for t in res.unexpectedSuccesses]:
            # a subtest's failure names its test once
            name = "%s %s" % (server, getattr(t, "test_case", t).id())
            if name not in failed:
                failed.append(name)
        summary.append("%-21s %3d tests, %d failed/errors, %d skipped, "
                       "%d expected failures, %.1f s"
                       % (server, res.testsRun, bad, len(res.skipped),
                          len(res.expectedFailures), dt))
    print("\n===== summary =====")
    for line in summary:
        print(line)
    print("started: %s" % ", ".join("%s %d" % kv
                                    for kv in harness.STARTS.items()))
    print("total %.1f s: %s" % (time.monotonic() - t_all,
                                "OK" if ok else "FAILED"))
    if failed:
        print("failed: " + ", ".join(failed))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
