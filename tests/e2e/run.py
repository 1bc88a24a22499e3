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

The whole suite runs on lighttpd and apache (harness.SERVERS). The other
deploy kits (harness.DEPLOY_SERVERS) run only the test classes that name
them in a SERVERS attribute (test_deploy.py); a class with SERVERS runs
only in the passes of the servers it names.
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


def for_server(test, server):
    """Classes naming SERVERS run in those passes only; the others run
    on the servers of the whole suite."""
    servers = getattr(type(test), "SERVERS", None)
    if servers is None:
        return server in harness.SERVERS
    return server in servers


def build_suite(patterns, server=None):
    loader = unittest.TestLoader()
    suite = loader.discover(HERE, pattern="test_*.py", top_level_dir=HERE)
    for t in iter_tests(suite):
        if isinstance(t, unittest.loader._FailedTest):
            raise SystemExit("cannot load %s: %s" % (t.id(), t._exception))
    pats = [p.lower() for p in patterns]
    out = unittest.TestSuite()
    for t in iter_tests(suite):
        if server is not None and not for_server(t, server):
            continue
        if not pats or any(p in t.id().lower() for p in pats):
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
    print("wxsub e2e: binary %s" % harness.binary_path())
    summary, ok, failed = [], True, []
    t_all = time.monotonic()
    for server in servers:
        harness.set_server(server)
        suite = build_suite(args.patterns, server)
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
        dt = time.monotonic() - t0
        bad = len(res.failures) + len(res.errors) + \
            len(res.unexpectedSuccesses)
        ok = ok and res.wasSuccessful()
        for t, _ in res.failures + res.errors + [
                (t, None) for t in res.unexpectedSuccesses]:
            failed.append("%s %s" % (server, t.id()))
        summary.append("%-21s %3d tests, %d failed/errors, %d skipped, "
                       "%d expected failures, %.1f s"
                       % (server, res.testsRun, bad, len(res.skipped),
                          len(res.expectedFailures), dt))
    print("\n===== summary =====")
    for line in summary:
        print(line)
    print("total %.1f s: %s" % (time.monotonic() - t_all,
                                "OK" if ok else "FAILED"))
    if failed:
        print("failed: " + ", ".join(failed))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
