"""The page-writing helpers report.py and report_studies.py share: number
formats, Google Benchmark rows, and Report (the page's lines and the targets
checked on the way)."""

import math
import os
import statistics

from results_data import load

med = statistics.median
TIME_SCALE = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}


def fmt(x, nd=2):
    return "–" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{x:.{nd}f}"


def mark(ok):
    return "✅" if ok else "❌"


def value_range(xs, nd=2):
    return f"{min(xs):.{nd}f}–{max(xs):.{nd}f}"


def seconds(b):
    """A Google Benchmark row's real time in seconds."""
    return b["real_time"] * TIME_SCALE[b["time_unit"]]


def bench_rows(path):
    """A Google Benchmark JSON output and its iteration rows by name."""
    j = load(path)
    return j, {b["name"]: b for b in j.get("benchmarks", []) if b.get("run_type", "iteration") == "iteration"}


class Report:
    """The page's lines and the targets checked on the way."""

    def __init__(self, work, run):
        self.work, self.run = work, run
        self.lines = []
        self.checks = []  # (target, met: True / False / None = not run, detail)

    def w(self, line):
        self.lines.append(line)

    def check(self, target, met, detail):
        self.checks.append((target, met, detail))

    def path(self, *parts):
        return os.path.join(self.work, *parts)
