#!/usr/bin/env python3
"""Pool the floor/wxsub pairs of several bench.py --save runs:

    python3 bench/pool.py FILE...

For each route, every pair's ratio (req/s of wxsub over its floor's, the
two measured back to back) over all runs: their number, median, mean,
quartiles and range, and the median of each run; then the same for the
ratio of the chain's CPU per request."""

import json
import sys


def quantile(xs, q):
    xs = sorted(xs)
    i = (len(xs) - 1) * q
    lo = int(i)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (i - lo)


def main():
    pairs, medians, chains = {}, {}, {}
    for path in sys.argv[1:]:
        with open(path) as f:
            for line in f:
                run = json.loads(line)
                for route, rs in run["ratios"].items():
                    pairs.setdefault(route, []).extend(rs)
                    medians.setdefault(route, []).append(quantile(rs, 0.5))
                for route, rs in run.get("chain_ratios", {}).items():
                    chains.setdefault(route, []).extend(rs)
    print("| route | pairs | pooled median | mean | quartiles | range | "
          "median of each run |")
    print("|---|---|---|---|---|---|---|")
    for route in sorted(pairs):
        rs = pairs[route]
        print("| %s | %d | %.3f | %.3f | %.3f-%.3f | %.3f-%.3f | %s |" % (
            route, len(rs), quantile(rs, 0.5), sum(rs) / len(rs),
            quantile(rs, 0.25), quantile(rs, 0.75), min(rs), max(rs),
            " ".join("%.3f" % m for m in medians[route])))
    if chains:
        print()
        print("The chain's CPU per request, floor over wxsub, every pair:")
        for route in sorted(chains):
            cs = chains[route]
            print("  %s: %d pairs, median %.3f, quartiles %.3f-%.3f, range "
                  "%.3f-%.3f" % (route, len(cs), quantile(cs, 0.5),
                                 quantile(cs, 0.25), quantile(cs, 0.75),
                                 min(cs), max(cs)))


if __name__ == "__main__":
    main()
