#!/usr/bin/env python3
"""Checks w4a8's module-pattern matcher against Python's re.match, the
matcher compressed-tensors itself uses.

1. Every line of tests/data/module_regex_cases.tsv states what Python says
   (match / no / error) or 'unsupported' (Python accepts, w4a8 refuses); this
   script checks the statement against Python.
2. It generates random patterns and names (fixed seed), records Python's
   answer for each, and runs the C++ test ModuleRegex.CasesFromFile on that
   table: every answer must agree.

usage: module_regex_vs_python.py CASES.tsv W4A8_TESTS_BINARY OUT_DIR [COUNT]
"""
import os
import random
import re
import signal
import subprocess
import sys


class TooSlow(Exception):
    pass


def _too_slow(signum, frame):
    raise TooSlow()


def python_answer(pattern, name):
    """Python's answer, or None where Python's backtracking takes too long
    (it can take exponential time; w4a8's matcher cannot)."""
    try:
        r = re.compile(pattern)
    except re.error:
        return "error"
    signal.signal(signal.SIGALRM, _too_slow)
    signal.setitimer(signal.ITIMER_REAL, 0.5)
    try:
        return "match" if r.match(name) else "no"
    except TooSlow:
        return None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def check_table(path):
    bad = 0
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            pattern, name, expect = line.rstrip("\n").split("\t")
            got = python_answer(pattern, name)
            if got is None:  # exponential in Python: the table's answer is by reasoning
                continue
            ok = got != "error" if expect == "unsupported" else got == expect
            if not ok:
                print(f"table disagrees with Python: {pattern!r} on {name!r}: table {expect}, Python {got}")
                bad += 1
    return bad


ATOMS = ["a", "b", ".", r"\.", "[ab]", "[^a]", r"\d", "x", "1", "[a-x]", r"\w"]
QUANTS = ["*", "+", "?", "{2}", "{1,3}", "{,2}", "{2,}", "{,}", "*?", "+?", "??", "{0,2}?"]


def random_pattern(rng, depth=0):
    parts = []
    for _ in range(rng.randint(0, 4)):
        roll = rng.random()
        if roll < 0.15 and depth < 3:
            inner = random_pattern(rng, depth + 1)
            if rng.random() < 0.5:
                inner += "|" + random_pattern(rng, depth + 1)
            atom = ("(?:" if rng.random() < 0.3 else "(") + inner + ")"
        elif roll < 0.2:
            atom = rng.choice(["^", "$"])
        else:
            atom = rng.choice(ATOMS)
        if rng.random() < 0.45:
            atom += rng.choice(QUANTS)
            if rng.random() < 0.05:
                # "multiple repeat": both must refuse it. A second "+" would
                # be Python 3.11's possessive form, which w4a8 refuses on purpose.
                atom += rng.choice([q for q in QUANTS if not q.startswith("+")])
        parts.append(atom)
    return "".join(parts)


def random_name(rng):
    return "".join(rng.choice("ab.x1") for _ in range(rng.randint(0, 14)))


def main():
    cases, tests_binary, out_dir = sys.argv[1:4]
    count = int(sys.argv[4]) if len(sys.argv) > 4 else 4000
    if check_table(cases):
        return 1
    rng = random.Random(20261207)
    os.makedirs(out_dir, exist_ok=True)
    table = os.path.join(out_dir, "module_regex_random_cases.tsv")
    answers = {"match": 0, "no": 0, "error": 0, "too slow in Python (left out)": 0}
    with open(table, "w", encoding="utf-8") as f:
        f.write("# random patterns; the third column is Python's answer\n")
        for _ in range(count):
            pattern, name = random_pattern(rng), random_name(rng)
            answer = python_answer(pattern, name)
            if answer is None:
                answers["too slow in Python (left out)"] += 1
                continue
            answers[answer] += 1
            f.write(f"{pattern}\t{name}\t{answer}\n")
    print(f"{count} random cases, Python says: {answers}")
    if min(answers[a] for a in ("match", "no", "error")) < count // 50:
        print("the generator no longer covers all three answers; fix it")
        return 1
    env = dict(os.environ, W4A8_REGEX_CASES=table)
    return subprocess.call([tests_binary, "--gtest_filter=ModuleRegex.CasesFromFile", "--gtest_brief=1"], env=env)


if __name__ == "__main__":
    sys.exit(main())
