#!/usr/bin/env python3
"""Pool the floor/wxsub pairs of several bench.py --save runs:

    python3 bench/pool.py FILE...

For each route, every pair's ratio (req/s of wxsub over its floor's, the
two measured back to back) over all runs: their number, median, mean,
quartiles and range, and the median of each run."""

import json
import sys


def quantile(xs, q):
    xs = sorted(xs)
    i = (len(xs) - 1) * q
    lo = int(i)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (i - lo)


def main():
    pairs, medians = {}, {}
    for path in sys.argv[1:]:
        with open(path) as f:
            for line in f:
                run = json.loads(line)
                for route, rs in run["ratios"].items():
                    pairs.setdefault(route, []).extend(rs)
                    medians.setdefault(route, []).append(quantile(rs, 0.5))
    print("| route | pairs | pooled median | mean | quartiles | range | "
          "median of each run |")
    print("|---|---|---|---|---|---|---|")
    for route in sorted(pairs):
        rs = pairs[route]
        print("| %s | %d | %.3f | %.3f | %.3f-%.3f | %.3f-%.3f | %s |" % (
            route, len(rs), quantile(rs, 0.5), sum(rs) / len(rs),
            quantile(rs, 0.25), quantile(rs, 0.75), min(rs), max(rs),
            " ".join("%.3f" % m for m in medians[route])))


if __name__ == "__main__":
    main()
