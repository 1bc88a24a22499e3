#!/usr/bin/env python3
"""Run the client tests against the real service (Python 3 stdlib).

  python3 tests/clients/run.py            both suites
  python3 tests/clients/run.py php        only the PHP client's
  python3 tests/clients/run.py node       only the mini program module's

Starts one private world with tests/e2e/harness.py (Redis, the WeChat
stand-in, lighttpd running cgi-bin/wxsub.fcgi or $WXSUB_BINARY), exports
to the child processes

  WXSUB_URL            http://127.0.0.1:PORT/cgi-bin/wxsub.fcgi
  WXSUB_API_KEY        an api key wxsub accepts
  STANDIN_URL          http://127.0.0.1:PORT of the stand-in (/__control/...)
  REDIS_PORT           the private Redis (127.0.0.1)
  WXSUB_TEMPLATE_IDS   the one-time templates wxsub and the stand-in know
  WXSUB_TEMPLATE_LONG  the long-term one
  WXSUB_TEMPLATE_UNKNOWN  one wxsub accepts and WeChat does not
  WXSUB_WECHAT_TIMEOUT_MS wechat.timeoutMs of the service
  WXSUB_WORKER         a command that drains the outbox once (the admin
                       tool's `worker --once` with the service's config)

runs `php tests/clients/php_client_test.php` and `node --test
tests/clients/miniprogram.test.js` (Redis and the stand-in are reset in
between), stops the world and exits non-zero if either failed or if the
harness found a problem in the logs (a leaked secret, a sanitizer report).
E2E_KEEP=1 keeps the temp dir.
"""

import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))
sys.dont_write_bytecode = True      # leave tests/e2e as it is

import harness  # noqa: E402

SUITES = {
    "php": ["php", "-d", "display_errors=stderr", "-d", "error_reporting=-1",
            # traces with arguments: the tests check the api key is not in them
            "-d", "zend.exception_ignore_args=0",
            "-d", "zend.exception_string_param_max_len=1000000",
            os.path.join(HERE, "php_client_test.php")],
    "node": ["node", "--test", os.path.join(HERE, "miniprogram.test.js")],
}


def main(argv):
    names = argv or ["php", "node"]
    for n in names:
        if n not in SUITES:
            sys.exit("unknown suite %r (php, node)" % n)
    missing = [SUITES[n][0] for n in names if shutil.which(SUITES[n][0]) is None]
    if missing:
        sys.exit("missing: %s" % ", ".join(missing))

    env = harness.Env("lighttpd")
    try:
        env.start()
    except BaseException:
        for p in env.stop():
            sys.stderr.write(p + "\n")
        raise
    results = {}
    problems = []
    try:
        child = dict(os.environ)
        child.update({
            "WXSUB_URL": "http://127.0.0.1:%d%s" % (env.http_port, env.script),
            "WXSUB_API_KEY": env.api_key,
            "STANDIN_URL": "http://127.0.0.1:%d" % env.standin_port,
            "REDIS_PORT": str(env.redis_port),
            "WXSUB_TEMPLATE_IDS": ",".join([harness.TPL1, harness.TPL2,
                                            harness.TPL3]),
            "WXSUB_TEMPLATE_LONG": harness.TPL_LONG,
            "WXSUB_TEMPLATE_UNKNOWN": harness.TPL_UNKNOWN,
            "WXSUB_WECHAT_TIMEOUT_MS": str(harness.TIMEOUT_MS),
            "WXSUB_WORKER": "%s -c %s worker --once" % (
                os.path.abspath(os.environ.get("WXSUB_ADMIN") or
                                os.path.join(REPO, "wxsub")), env.conf_path),
        })
        for i, name in enumerate(names):
            if i > 0:
                env.reset()
            print("== %s: %s" % (name, " ".join(SUITES[name])), flush=True)
            t0 = time.monotonic()
            try:
                rc = subprocess.run(SUITES[name], cwd=REPO, env=child,
                                    stdin=subprocess.DEVNULL,
                                    timeout=600).returncode
            except subprocess.TimeoutExpired:
                rc = "timed out"
            results[name] = rc
            print("== %s: %s in %.1f s" % (name, "passed" if rc == 0 else
                                           "FAILED (%s)" % rc,
                                           time.monotonic() - t0), flush=True)
    finally:
        problems = env.stop()
    for p in problems:
        sys.stderr.write("harness: %s\n" % p)
    failed = [n for n, rc in results.items() if rc != 0]
    print("== clients: %s" % ("FAILED: " + ", ".join(failed) if failed or
                              problems else "all passed"))
    return 1 if failed or problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
