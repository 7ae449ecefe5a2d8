"""Turns the per-repeat results of bench/run.py into latest.json, latest.md and latest.png.

Statistics: for each row, the median of the per-repeat ops/s and the spread (min..max, and
±half that range as a percentage of the median). Ratios are median / median; because the
scenarios run interleaved, each repeat also gives a paired ratio, and the min..max of those
shows how stable the ratio is. Nothing here judges a number beyond "meets / misses target".
"""
import json
import os
import statistics

COLORS = {"xproc": "#1f77b4", "xproc (Python)": "#4fa3e0", "raw UDS": "#7f7f7f",
          "Redis": "#d62728", "redis-py": "#ff9896", "multiprocessing": "#2ca02c"}


def _row_meta(key, scenarios):
    """(system, label, unit of one op) for a row key, including rows that a scenario fans out."""
    for k, system, label, unit, _kind, _arg in scenarios:
        if k == key:
            return system, label, unit
    if key.startswith("redisbench_"):
        return "Redis", f"redis-benchmark -c 1 -P 1 -d 64, {key.split('_', 1)[1].upper()}", "command"
    if key.startswith("py_") or key.startswith("py"):
        return "xproc (Python)", f"Python binding: {key}", "op"
    return "?", key, "op"


def _stats(values):
    vals = [v for v in values if v is not None]
    if not vals:
        return None
    med = statistics.median(vals)
    return {"median": med, "min": min(vals), "max": max(vals), "n": len(vals),
            "spread_pct": 100.0 * (max(vals) - min(vals)) / 2 / med if med else None}


def _find_py(rows, kind):
    """The Python binding's row for 'queue' or 'dict', by name."""
    for key in rows:
        if (key.startswith("py_") or key.startswith("py")) and kind in key and rows[key]["stats"]:
            return key
    return None


def build(args, scenarios, ratios, results, errors, memory, facts, busy_seen, elapsed):
    rows = {}
    order = []
    # scenario order first, then fanned-out rows in the order they appeared
    fanned = {"redis_benchmark": sorted(k for k in results if k.startswith("redisbench_")),
              "python": sorted(k for k in results if k.startswith("py"))}
    for key, *_ in scenarios:
        keys = fanned.get(key) or [key]
        for k in keys:
            order.append(k)
            per_rep = results.get(k, [])
            system, label, unit = _row_meta(k, scenarios)
            ops = [r["ops_per_s"] if r else None for r in per_rep]
            p50 = [r.get("p50_us") for r in per_rep if r and r.get("p50_us") is not None]
            notes = [r.get("note") for r in per_rep if r and r.get("note")]
            st = _stats(ops)
            reason = None
            if st is None:
                reason = errors.get(k) or errors.get(key) or "no result"
            rows[k] = {"key": k, "system": system, "label": label, "op": unit,
                       "stats": st, "ops_per_s_per_repeat": ops,
                       "p50_us_median": statistics.median(p50) if p50 else None,
                       "note": notes[0] if notes else None,
                       "failed_repeats": sum(1 for r in per_rep if r is None),
                       "not_run": reason}
    ratio_rows = []
    for key, label, num, den, target in ratios:
        nk = _find_py(rows, num[3:]) if num.startswith("py:") else num
        r = {"key": key, "label": label, "target": target, "numerator": nk, "denominator": den,
             "ratio": None, "paired_min": None, "paired_max": None, "verdict": None}
        n_row, d_row = rows.get(nk) if nk else None, rows.get(den)
        if not n_row or not n_row["stats"] or not d_row or not d_row["stats"]:
            missing = []
            if not n_row or not n_row["stats"]:
                missing.append(f"{num}: {n_row['not_run'] if n_row else 'no such row'}"
                               if not num.startswith("py:") else
                               f"Python binding {num[3:]} row: "
                               f"{(rows.get('python') or {}).get('not_run') or 'absent'}")
            if not d_row or not d_row["stats"]:
                missing.append(f"{den}: {d_row['not_run'] if d_row else 'no such row'}")
            r["verdict"] = "not run: " + "; ".join(missing)
        else:
            r["ratio"] = n_row["stats"]["median"] / d_row["stats"]["median"]
            paired = [a / b for a, b in zip(n_row["ops_per_s_per_repeat"], d_row["ops_per_s_per_repeat"])
                      if a and b]
            if paired:
                r["paired_min"], r["paired_max"] = min(paired), max(paired)
            if target is None:
                r["verdict"] = "context"
            else:
                r["verdict"] = "meets" if r["ratio"] >= target else "misses"
        ratio_rows.append(r)
    return {
        "mode": "quick" if args.quick else "full",
        "config": {"repeats": args.repeats, "secs_cap_per_run": args.secs, "rust_iters_cap": args.iters,
                   "python_iters_cap": args.py_iters, "warmup": args.warmup, "value_bytes": args.size,
                   "idle_threshold": args.idle_threshold, "elapsed_s": round(elapsed, 1),
                   "busiest_idle_check": round(max(busy_seen), 3) if busy_seen else None},
        "machine": facts,
        "memory": memory,
        "rows": [rows[k] for k in order],
        "ratios": ratio_rows,
    }


def _k(v):
    if v is None:
        return "-"
    if v >= 1e6:
        return f"{v / 1e6:.2f} M"
    if v >= 1e3:
        return f"{v / 1e3:.1f} k"
    return f"{v:.0f}"


def _mib(kib):
    return f"{kib / 1024:.1f} MiB" if kib is not None else "-"


def markdown(doc):
    c, m = doc["config"], doc["machine"]
    out = [f"# xproc benchmarks — {m['date']}", ""]
    if doc["mode"] == "quick":
        out += ["**Quick run** (harness check): few, short repeats; the numbers are rough. "
                "Run `bench/run.sh` without `--quick` on an idle machine for figures.", ""]
    out += [f"{c['repeats']} repeats per scenario, interleaved (order rotated each repeat), each run "
            f"capped at {c['secs_cap_per_run']:g} s; {c['value_bytes']} B values; one connection "
            f"unless said. Median of the repeats; spread = min..max (±half-range as % of the median). "
            f"Busiest idle check before a run: {c['busiest_idle_check']:.0%} of 2 vCPUs "
            f"(threshold {c['idle_threshold']:.0%}). Total time {c['elapsed_s']:.0f} s.", "",
            "## Ratios (the targets)", "",
            "| ratio | target | median ratio | paired per-repeat range | verdict |", "|---|---|---|---|---|"]
    for r in doc["ratios"]:
        tgt = f"≥ {r['target']:g}" if r["target"] is not None else "–"
        ratio = f"**{r['ratio']:.2f}×**" if r["ratio"] is not None else "-"
        pr = (f"{r['paired_min']:.2f}–{r['paired_max']:.2f}" if r["paired_min"] is not None else "-")
        out.append(f"| {r['label']} | {tgt} | {ratio} | {pr} | {r['verdict']} |")
    out += ["", "## Throughput", "",
            "| system | scenario | one op = | median ops/s | spread (min..max, ±%) | p50 per op | n |",
            "|---|---|---|---|---|---|---|"]
    for r in doc["rows"]:
        st = r["stats"]
        if st is None:
            out.append(f"| {r['system']} | {r['label']} | {r['op']} | not run | {r['not_run']} | - | 0 |")
            continue
        p50 = f"{r['p50_us_median']:.1f} µs" if r["p50_us_median"] is not None else "-"
        fail = f", {r['failed_repeats']} failed" if r["failed_repeats"] else ""
        out.append(f"| {r['system']} | {r['label']} | {r['op']} | **{_k(st['median'])}** | "
                   f"{_k(st['min'])}..{_k(st['max'])} (±{st['spread_pct']:.0f}%) | {p50} | "
                   f"{st['n']}{fail} |")
    mem = doc["memory"] or {}
    out += ["", "## Broker memory", "",
            f"xprocd peak RSS (VmHWM) over the whole run: **{_mib(mem.get('xprocd_vmhwm_kib'))}** "
            f"(RSS after start-up {_mib(mem.get('xprocd_rss_start_kib'))}, at the end "
            f"{_mib(mem.get('xprocd_rss_end_kib'))}); redis-server peak for comparison "
            f"{_mib(mem.get('redis_vmhwm_kib'))}. {mem.get('note', '')}.", "",
            "## Machine", ""]
    for k, v in m.items():
        out.append(f"- {k}: {v}")
    out += ["", "Figures on this shared 2-vCPU VM vary ±10–25 % between runs; compare numbers from "
            "the same run only. How each scenario is measured: docs/BENCHMARKS.md.", ""]
    return "\n".join(out)


def plot(doc, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in doc["rows"] if r["stats"]]
    ratios = [r for r in doc["ratios"] if r["ratio"] is not None]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(15, max(5, 0.42 * len(rows) + 1.5)),
                                   gridspec_kw={"width_ratios": [3, 2]})
    y = list(range(len(rows)))[::-1]
    med = [r["stats"]["median"] / 1e3 for r in rows]
    lo = [(r["stats"]["median"] - r["stats"]["min"]) / 1e3 for r in rows]
    hi = [(r["stats"]["max"] - r["stats"]["median"]) / 1e3 for r in rows]
    ax1.barh(y, med, xerr=[lo, hi], color=[COLORS.get(r["system"], "#999999") for r in rows],
             capsize=3)
    ax1.set_yticks(y)
    ax1.set_yticklabels([f"{r['system']}: {r['label']}" for r in rows], fontsize=7)
    ax1.set_xscale("log")
    ax1.set_xlabel("k ops/s (median, bars = min..max over repeats; log scale)")
    ax1.set_title("Throughput, one connection, 64 B values")
    for yy, v in zip(y, med):
        ax1.text(v, yy, f" {v:.1f}k", va="center", fontsize=7)
    if ratios:
        y2 = list(range(len(ratios)))[::-1]
        vals = [r["ratio"] for r in ratios]
        cols = ["#2ca02c" if r["verdict"] == "meets" else "#d62728" if r["verdict"] == "misses"
                else "#999999" for r in ratios]
        ax2.barh(y2, vals, color=cols)
        for yy, r in zip(y2, ratios):
            if r["target"] is not None:
                ax2.plot([r["target"], r["target"]], [yy - 0.4, yy + 0.4], color="black", lw=2)
            ax2.text(r["ratio"], yy, f" {r['ratio']:.2f}×", va="center", fontsize=7)
        ax2.set_yticks(y2)
        ax2.set_yticklabels([r["label"] for r in ratios], fontsize=7)
        ax2.set_xlabel("ratio of medians (black tick = target)")
        ax2.set_title("Target ratios (green meets, red misses, grey context)")
    else:
        ax2.text(0.5, 0.5, "no ratio could be computed", ha="center", transform=ax2.transAxes)
        ax2.set_axis_off()
    fig.suptitle(f"xproc benchmarks, {doc['machine']['date']} ({doc['mode']} run)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_all(doc, out_dir):
    with open(os.path.join(out_dir, "latest.json"), "w") as f:
        json.dump(doc, f, indent=1)
    with open(os.path.join(out_dir, "latest.md"), "w") as f:
        f.write(markdown(doc))
    try:
        plot(doc, os.path.join(out_dir, "latest.png"))
    except ImportError as e:  # matplotlib missing and --no-install given
        print(f"[bench] no plot: {e}")
