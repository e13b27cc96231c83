#!/usr/bin/env python3
"""The arithmetic of scripts/bench-balance.sh (docs/balancing.md, Benchmark); stdlib only.

  bench-balance-report.py plan DRY.jsonl CUT_PERCENT
      prints "INFLIGHT STARTUP_S T1_S T2_S N" for each dry run: when to cut and restore the
      quota (seconds after generation started) and how many tokens to generate.
  bench-balance-report.py busiest RUN.err
      prints the device that runs the most half-block units in the ring's current plan, read
      from the last "plan N (...)" line of a run's log (the device the benchmark slows).
  bench-balance-report.py report RUNS.jsonl [--json FILE] [--title TEXT]
      prints the table of the benchmark's runs and optionally writes the figures as JSON.

Each line of a .jsonl file describes one run of `lingualinked run`: {"kind": "dry" | "scenario"
| "fresh", "inflight", "balance", "round", "n", "out": its JSON output, "launch_unix_s",
"cut_unix_s", "restore_unix_s"} (the wall clock of the quota changes; null when none).
"""

import argparse
import datetime
import json
import math
import re
import statistics
import sys

# Tokens of request 0 each window should hold; the table flags windows under MIN_WINDOW.
BEFORE_TOKENS = 180
DURING_TOKENS = 130
AFTER_TOKENS = 180
MIN_WINDOW = 100
DRIFT = 1.25
# A cgroup quota costs a device more than its share says (caches refill after every pause): a
# 40 % device profiles at about 33 % (docs/emu-cluster.md), so assume 80 % of the share.
QUOTA_EFFICIENCY = 0.8


def read_jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def read_output(path):
    with open(path) as f:
        return json.load(f)


def count_in(times, a, b):
    return sum(1 for t in times if a < t <= b)


def rate(requests, a, b):
    """Tokens per second of `requests` (lists of token times) in the window (a, b]."""
    if a is None or b is None or b <= a:
        return None
    return sum(count_in(t, a, b) for t in requests) / (b - a)


def plan(args):
    for run in read_jsonl(args.dry):
        out = read_output(run["out"])
        t0 = out["requests"][0]["token_seconds"]
        if len(t0) < 2 or t0[-1] <= t0[0]:
            sys.exit(f"dry run with {run['inflight']} in flight made too few tokens to time")
        tokens_per_s = (len(t0) - 1) / (t0[-1] - t0[0])
        startup = out["started_unix_s"] - run["launch_unix_s"]
        # The slowdown can at most stretch the cut device's stage by 1 / (its share), so the
        # whole step too; the window is sized for that and holds more tokens when the ring is
        # faster. N covers the case where the cut costs nothing at all, on a machine up to
        # DRIFT times faster than in the dry run (its cores' speed drifts).
        slowdown = 100.0 / (args.cut_percent * QUOTA_EFFICIENCY)
        t1 = t0[0] + BEFORE_TOKENS / tokens_per_s
        t2 = t1 + DURING_TOKENS * slowdown / tokens_per_s
        n = math.ceil(DRIFT * tokens_per_s * (t2 - t0[0])) + AFTER_TOKENS
        print(f"{run['inflight']} {startup:.3f} {t1:.3f} {t2:.3f} {n}")


PLAN_LINE = re.compile(r"plan \d+ \(([^()]*)\)")
SLICE = re.compile(r"\[(\d+)([af])\.\.(\d+)([af])\]")


def units(segment):
    """Half-block units of a segment as the log writes it ("embed+[0a..3f]+head": 8)."""
    m = SLICE.search(segment)
    if not m:
        return 0
    first = 2 * int(m.group(1)) + (m.group(2) == "f")
    last = 2 * int(m.group(3)) + (m.group(4) == "f")
    return last - first + 1


def busiest(args):
    ring = None
    with open(args.log) as f:
        for line in f:
            for m in PLAN_LINE.finditer(line):
                ring = m.group(1)
    if ring is None:
        sys.exit(f"no plan line in {args.log}")
    devices = [part.split(": ", 1) for part in ring.split(", ")]
    name, _ = max(devices, key=lambda d: units(d[1]))
    print(name)


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def ratio(a, b):
    return a / b if a is not None and b else None


def run_figures(run):
    """The figures of one run: windows, tokens/s in each, the balancer's moves."""
    out = read_output(run["out"])
    started = out["started_unix_s"]
    times = [r["token_seconds"] for r in out["requests"]]
    t0 = times[0]
    # Decode window: while every request decodes (as `bench` counts it).
    begin = max(t[0] for t in times)
    end = min(t[-1] for t in times)
    cut = run["cut_unix_s"] - started if run.get("cut_unix_s") else None
    restore = run["restore_unix_s"] - started if run.get("restore_unix_s") else None
    balance = out.get("balance") or {}
    moves = balance.get("moves") or []
    f = {
        "kind": run["kind"], "inflight": run["inflight"], "balance": run["balance"],
        "round": run.get("round"), "n": run["n"], "started_unix_s": started,
        "slowed": run.get("device"),
        "cut_unix_s": run.get("cut_unix_s"), "restore_unix_s": run.get("restore_unix_s"),
        "cut_s": cut, "restore_s": restore, "decode_window_s": [begin, end],
        "segments": [d.get("segment", "?") for d in out.get("devices", [])],
        "moves": len(moves), "bytes_moved": sum(m.get("bytes", 0) for m in moves),
        "balance_epoch": balance.get("epoch"),
        "generated_ids": [r["generated_ids"] for r in out["requests"]],
    }
    if run["kind"] == "fresh":
        f["whole"] = {"all": rate(times, begin, end), "r0": rate([t0], begin, end)}
        f["r0_tokens"] = {"whole": count_in(t0, begin, end)}
        return f
    windows = {"before": (begin, cut), "during": (cut, restore), "after": (restore, end)}
    for name, (a, b) in windows.items():
        f[name] = {"all": rate(times, a, b), "r0": rate([t0], a, b)}
    f["r0_tokens"] = {n: (count_in(t0, a, b) if a is not None and b is not None else 0)
                      for n, (a, b) in windows.items()}
    # The balancer's answer to the cut: the first move finished after it, and the state after
    # the last move that began before the restore.
    in_cut = [m for m in moves if cut is not None and m["done_s"] > cut
              and (restore is None or m["at_s"] < restore)]
    f["steps_to_move"] = count_in(t0, cut, in_cut[0]["done_s"]) if in_cut else None
    f["first_move_after_cut_s"] = in_cut[0]["done_s"] - cut if in_cut else None
    settled = in_cut[-1]["done_s"] if in_cut else None
    f["after_move"] = {"all": rate(times, settled, restore), "r0": rate([t0], settled, restore)}
    return f


def fmt(x, digits=1):
    return "-" if x is None else f"{x:.{digits}f}"


def pair(w):
    return f"{fmt(w['all'])} | {fmt(w['r0'])}"


def outputs_agree(runs):
    """None if every output is the same token sequence (over their common length), else why not."""
    outputs = [(f"{r['kind']} {r['inflight']} in flight, balance {r['balance']}, round "
                f"{r['round']}, request {i}", ids)
               for r in runs for i, ids in enumerate(r["generated_ids"])]
    if not outputs:
        return None
    ref_name, ref = max(outputs, key=lambda o: len(o[1]))
    for name, ids in outputs:
        if ids != ref[:len(ids)]:
            at = next(k for k, (a, b) in enumerate(zip(ids, ref)) if a != b)
            return f"{name} differs from {ref_name} at token {at}"
    return None


def machine():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "?")
    except OSError:
        pass
    return cpu, datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def report(args):
    runs = [run_figures(r) for r in read_jsonl(args.runs) if r["kind"] in ("scenario", "fresh")]
    cpu, date = machine()
    print(f"{args.title}\nCPU: {cpu}; {date}")
    print("tokens/s: aggregate over all requests | request 0 alone; windows in s since generation "
          "started\n")
    head = (f"{'in flight':>9} {'balance':>7} {'round':>5} {'cut s':>6} {'back s':>6} {'N':>5} "
            f"{'before':>13} {'during':>13} {'after':>13} {'r0 tokens b/d/a':>15} "
            f"{'steps->move':>11} {'moves':>5} {'bytes moved':>11} {'slowed':>7}  segments at the end")
    print(head)
    short = []
    for r in runs:
        if r["kind"] != "scenario":
            continue
        tok = r["r0_tokens"]
        short += [f"{r['inflight']} in flight, balance {r['balance']}, round {r['round']}: {w}"
                  f" {tok[w]}" for w in ("before", "during", "after") if tok[w] < MIN_WINDOW]
        print(f"{r['inflight']:>9} {r['balance']:>7} {r['round']:>5} {fmt(r['cut_s'], 2):>6} "
              f"{fmt(r['restore_s'], 2):>6} {r['n']:>5} {pair(r['before']):>13} "
              f"{pair(r['during']):>13} {pair(r['after']):>13} "
              f"{'/'.join(str(tok[w]) for w in ('before', 'during', 'after')):>15} "
              f"{fmt(r['steps_to_move'], 0):>11} {r['moves']:>5} {r['bytes_moved']:>11} "
              f"{r['slowed'] or '-':>7}  {' '.join(r['segments'])}")
    fresh = [r for r in runs if r["kind"] == "fresh"]
    if fresh:
        print("\nfresh ring, planned (solved, calibrated) with the quota cut in effect:")
        for r in fresh:
            print(f"{r['inflight']:>9} {r['balance']:>7} {r['round']:>5} {'':>6} {'':>6} "
                  f"{r['n']:>5} {'whole run:':>13} {pair(r['whole']):>13} {'':>13} "
                  f"{r['r0_tokens']['whole']:>15} {'':>11} {'':>5} {'':>11} "
                  f"{r['slowed'] or '-':>7}  {' '.join(r['segments'])}")

    summary = {}
    print()
    for k in sorted({r["inflight"] for r in runs}):
        sel = lambda kind, bal: [r for r in runs if r["kind"] == kind and r["inflight"] == k
                                 and r["balance"] == bal]
        on, off, fr = sel("scenario", "on"), sel("scenario", "off"), sel("fresh", "off")
        by_round = {r["round"]: r for r in off}
        on_off = median([ratio(r["during"]["all"], by_round[r["round"]]["during"]["all"])
                         for r in on if r["round"] in by_round])
        after_move = median([r["after_move"]["all"] for r in on])
        fresh_all = median([r["whole"]["all"] for r in fr])
        s = {
            "during_off": median([r["during"]["all"] for r in off]),
            "during_on": median([r["during"]["all"] for r in on]),
            "on_off_during": on_off,
            "steps_to_move": median([r["steps_to_move"] for r in on]),
            "bytes_moved": median([r["bytes_moved"] for r in on]),
            "on_after_move": after_move, "fresh": fresh_all,
            "on_after_move_over_fresh": ratio(after_move, fresh_all),
        }
        summary[str(k)] = s
        print(f"{k} in flight (medians over rounds): during the slowdown off {fmt(s['during_off'])}, "
              f"on {fmt(s['during_on'])} tokens/s, on/off {fmt(on_off, 2)}; "
              f"decode steps of request 0 from the cut to the first move {fmt(s['steps_to_move'], 0)}, "
              f"bytes moved {fmt(s['bytes_moved'], 0)}; on after the move {fmt(after_move)}, "
              f"fresh {fmt(fresh_all)}, on-after-move / fresh {fmt(s['on_after_move_over_fresh'], 2)}")
    differ = outputs_agree(runs)
    n_out = sum(len(r["generated_ids"]) for r in runs)
    print(f"generated_ids: {'all ' + str(n_out) + ' outputs equal' if differ is None else 'DIFFER: ' + differ}")
    print("windows under %d tokens of request 0: %s" % (MIN_WINDOW, "; ".join(short) or "none"))
    if args.json:
        for r in runs:
            del r["generated_ids"]
        with open(args.json, "w") as f:
            json.dump({"title": args.title, "cpu": cpu, "date": date, "runs": runs,
                       "summary": summary, "outputs_equal": differ is None,
                       "outputs_differ": differ, "short_windows": short}, f, indent=2)
            f.write("\n")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    pp = sub.add_parser("plan")
    pp.add_argument("dry")
    pp.add_argument("cut_percent", type=float)
    pb = sub.add_parser("busiest")
    pb.add_argument("log")
    pr = sub.add_parser("report")
    pr.add_argument("runs")
    pr.add_argument("--json")
    pr.add_argument("--title", default="bench-balance")
    args = p.parse_args()
    {"plan": plan, "busiest": busiest, "report": report}[args.cmd](args)


if __name__ == "__main__":
    main()
