"""Turns the per-repeat results of bench/run.py into latest.json, latest.md and latest.png.

Statistics: for each row and CPU placement, the median of the per-repeat ops/s and the spread
(min..max, and ±half that range as a percentage of the median). Ratios are median / median;
because the scenarios run interleaved, each repeat also gives a paired ratio, and the min..max
of those shows how stable the ratio is. Nothing here judges a number beyond "meets / misses
target".
"""
import json
import os
import statistics

COLORS = {"same": "#1f77b4", "split": "#ff7f0e", "free": "#7f7f7f"}


def _row_meta(key, scenarios):
    """(system, label, unit of one op) for a row key, including rows that a scenario fans out."""
    for k, system, label, unit, _kind, _arg in scenarios:
        if k == key:
            return system, label, unit
    if key == "redisbench_lpush_rpop":
        return "Redis", "redis-benchmark LPUSH+RPOP mix (harmonic mean of the two rows)", "command"
    if key.startswith("redisbench_"):
        return "Redis", f"redis-benchmark -c 1 -P 1 -d 64, {key.split('_', 1)[1].upper()}", "command"
    if key.startswith("py"):
        return "xproc (Python)", f"Python binding: {key}", "op"
    for lang, name in (("go_", "Go"), ("java_", "Java"), ("node_", "Node.js"), ("csharp_", "C#")):
        if key.startswith(lang):
            what = ("queue put+get, unpipelined" if key.endswith("queue_put_get")
                    else "queue, producer process -> consumer process")
            return f"xproc ({name})", f"{name} binding: {what}", (
                "put or get" if key.endswith("queue_put_get") else "item delivered")
    return "?", key, "op"


def _is_binding_row(key):
    # Rows the "bindings" scenario fans out to (bench programs of the Go, Java, Node, C# bindings).
    return key.startswith(("go_", "java_", "node_", "csharp_"))


def _stats(values):
    vals = [v for v in values if v is not None]
    if not vals:
        return None
    med = statistics.median(vals)
    return {"median": med, "min": min(vals), "max": max(vals), "n": len(vals),
            "spread_pct": 100.0 * (max(vals) - min(vals)) / 2 / med if med else None}


def _is_py_binding_row(key):
    # Python binding rows are "py_*" (run.py prefixes them); "python" is the scenario itself.
    return key.startswith("py") and not key.startswith("python")


def _cell(results, errors, key, parent):
    per_rep = results.get(key, [])
    ops = [r["ops_per_s"] if r else None for r in per_rep]
    p50 = [r.get("p50_us") for r in per_rep if r and r.get("p50_us") is not None]
    notes = [r.get("note") for r in per_rep if r and r.get("note")]
    st = _stats(ops)
    return {"stats": st, "ops_per_s_per_repeat": ops,
            "p50_us_median": statistics.median(p50) if p50 else None,
            "note": notes[0] if notes else None,
            "failed_repeats": sum(1 for r in per_rep if r is None),
            "not_run": None if st else (errors.get(key) or errors.get(parent) or "no result")}


def _ratio(rows_by_key, pl, num, den, target):
    if num.startswith("py:"):
        nk = next((k for k, r in rows_by_key.items() if _is_py_binding_row(k) and num[3:] in k
                   and r["by_placement"][pl]["stats"]), None)
    else:
        nk = num
    n_cell = rows_by_key[nk]["by_placement"][pl] if nk in rows_by_key else None
    d_cell = rows_by_key[den]["by_placement"][pl] if den in rows_by_key else None
    out = {"numerator": nk, "ratio": None, "paired_min": None, "paired_max": None}
    if not n_cell or not n_cell["stats"] or not d_cell or not d_cell["stats"]:
        missing = []
        if not n_cell or not n_cell["stats"]:
            if num.startswith("py:"):
                why = (rows_by_key.get("python", {}).get("by_placement", {}).get(pl, {})
                       .get("not_run") or "the binding reported no such row")
                missing.append(f"Python binding {num[3:]} row: {why}")
            else:
                missing.append(f"{num}: {n_cell['not_run'] if n_cell else 'no such row'}")
        if not d_cell or not d_cell["stats"]:
            missing.append(f"{den}: {d_cell['not_run'] if d_cell else 'no such row'}")
        out["verdict"] = "not run: " + "; ".join(missing)
        return out
    out["ratio"] = n_cell["stats"]["median"] / d_cell["stats"]["median"]
    paired = [a / b for a, b in zip(n_cell["ops_per_s_per_repeat"], d_cell["ops_per_s_per_repeat"])
              if a and b]
    if paired:
        out["paired_min"], out["paired_max"] = min(paired), max(paired)
    if target is None:
        out["verdict"] = "context"
    else:
        out["verdict"] = "meets" if out["ratio"] >= target else "misses"
    return out


def build(args, scenarios, ratios, placements, results, errors, memory, facts, busy_seen, elapsed):
    pls = list(args.placements)
    # Row order: scenario order; a scenario that fans out (redis-benchmark, the Python
    # binding) is replaced by its rows, or kept as one "not run" row when it produced none.
    seen = set()
    for pl in pls:
        seen.update(results[pl])
    order = []
    for key, *_ in scenarios:
        if key == "redis_benchmark":
            fan = sorted(k for k in seen if k.startswith("redisbench_"))
        elif key == "python":
            fan = sorted(k for k in seen if _is_py_binding_row(k))
        elif key == "bindings":
            fan = sorted(k for k in seen if _is_binding_row(k))
        else:
            fan = []
        if fan:
            order.extend(fan)
        elif key in seen:
            order.append(key)
    rows = {}
    for k in order:
        parent = ("redis_benchmark" if k.startswith("redisbench_")
                  else "python" if _is_py_binding_row(k)
                  else "bindings" if _is_binding_row(k) else k)
        system, label, unit = _row_meta(k, scenarios)
        rows[k] = {"key": k, "system": system, "label": label, "op": unit,
                   "by_placement": {pl: _cell(results[pl], errors[pl], k, parent) for pl in pls}}
    ratio_rows = []
    for key, label, num, den, target in ratios:
        ratio_rows.append({"key": key, "label": label, "target": target, "denominator": den,
                           "by_placement": {pl: _ratio(rows, pl, num, den, target) for pl in pls}})
    return {
        "mode": "quick" if args.quick else "full",
        "placements": {pl: placements[pl] for pl in pls},
        "config": {"repeats": args.repeats, "secs_cap_per_run": args.secs, "rust_iters_cap": args.iters,
                   "python_iters_cap": args.py_iters, "warmup": args.warmup, "value_bytes": args.size,
                   "idle_threshold": args.idle_threshold, "elapsed_s": round(elapsed, 1),
                   "busiest_idle_check": round(max(busy_seen), 3) if busy_seen else None,
                   "built_this_run": not args.no_build},
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
    pls = list(doc["placements"])
    out = [f"# xproc benchmarks — {m['date']}", ""]
    if doc["mode"] == "quick":
        out += ["**Quick run** (harness check): few, short repeats; the numbers are rough. "
                "Run `bench/run.sh` without `--quick` on an idle machine for figures.", ""]
    busiest = c["busiest_idle_check"]
    out += [f"{c['repeats']} repeats per scenario and placement, interleaved (order rotated each "
            f"repeat), each run capped at {c['secs_cap_per_run']:g} s; {c['value_bytes']} B values; "
            f"one connection unless said. Median of the repeats; spread = min..max (±half-range "
            f"as % of the median). Busiest idle check before a run: "
            f"{busiest:.0%} of all vCPUs (threshold {c['idle_threshold']:.0%}). "
            f"Total time {c['elapsed_s']:.0f} s." if busiest is not None else "",
            "" if c.get("built_this_run", True) else
            "\n*Run with `--no-build`: the binaries were built earlier and may not match the "
            "commit listed under Machine.*", "",
            "CPU placements (every system pinned the same way):", ""]
    out += [f"- **{pl}**: {desc}" for pl, desc in doc["placements"].items()]
    head = " | ".join(f"{pl}: median ratio (paired range) | {pl}" for pl in pls)
    out += ["", "## Ratios (the targets)", "",
            f"| ratio | target | {head} |",
            "|---|---|" + "---|---|" * len(pls)]
    for r in doc["ratios"]:
        tgt = f"≥ {r['target']:g}" if r["target"] is not None else "–"
        cells = []
        for pl in pls:
            x = r["by_placement"][pl]
            if x["ratio"] is None:
                cells += ["-", x["verdict"]]
                continue
            pr = (f" ({x['paired_min']:.2f}–{x['paired_max']:.2f})"
                  if x["paired_min"] is not None else "")
            cells += [f"**{x['ratio']:.2f}×**{pr}", x["verdict"]]
        out.append(f"| {r['label']} | {tgt} | " + " | ".join(cells) + " |")
    head = " | ".join(f"{pl}: median ops/s (min..max, ±%) | {pl}: p50/op" for pl in pls)
    out += ["", "## Throughput", "",
            f"| system | scenario | one op = | {head} |",
            "|---|---|---|" + "---|---|" * len(pls)]
    for r in doc["rows"]:
        cells = []
        for pl in pls:
            x = r["by_placement"][pl]
            st = x["stats"]
            if st is None:
                cells += [f"not run: {x['not_run']}", "-"]
                continue
            fail = f", {x['failed_repeats']} failed" if x["failed_repeats"] else ""
            p50 = f"{x['p50_us_median']:.1f} µs" if x["p50_us_median"] is not None else "-"
            cells += [f"**{_k(st['median'])}** ({_k(st['min'])}..{_k(st['max'])}, "
                      f"±{st['spread_pct']:.0f}%, n={st['n']}{fail})", p50]
        out.append(f"| {r['system']} | {r['label']} | {r['op']} | " + " | ".join(cells) + " |")
    mem = doc["memory"] or {}
    out += ["", "## Broker memory", "",
            f"xprocd peak RSS (VmHWM) over the whole run: **{_mib(mem.get('xprocd_vmhwm_kib'))}** "
            f"(RSS after start-up {_mib(mem.get('xprocd_rss_start_kib'))}, at the end "
            f"{_mib(mem.get('xprocd_rss_end_kib'))}); redis-server peak for comparison "
            f"{_mib(mem.get('redis_vmhwm_kib'))}. {mem.get('note', '')}.", "",
            "## Machine", ""]
    for k, v in m.items():
        out.append(f"- {k}: {v}")
    out += ["", "Figures on this shared 2-vCPU VM vary ±10–25 % between runs (more across vCPUs); "
            "compare numbers from the same run only. How each scenario is measured: "
            "docs/BENCHMARKS.md.", ""]
    return "\n".join(out)


def plot(doc, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pls = list(doc["placements"])
    rows = [r for r in doc["rows"] if any(r["by_placement"][pl]["stats"] for pl in pls)]
    ratios = [r for r in doc["ratios"] if any(r["by_placement"][pl]["ratio"] for pl in pls)]
    height = max(6, 0.32 * len(pls) * max(len(rows), len(ratios)) + 2)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(16, height), gridspec_kw={"width_ratios": [3, 2]})
    bar = 0.8 / len(pls)
    for j, pl in enumerate(pls):
        ys, med, lo, hi = [], [], [], []
        for i, r in enumerate(rows):
            st = r["by_placement"][pl]["stats"]
            if not st:
                continue
            ys.append(len(rows) - 1 - i + (len(pls) - 1 - j) * bar - 0.4 + bar / 2)
            med.append(st["median"] / 1e3)
            lo.append((st["median"] - st["min"]) / 1e3)
            hi.append((st["max"] - st["median"]) / 1e3)
        ax1.barh(ys, med, height=bar, xerr=[lo, hi], color=COLORS.get(pl, "#999999"),
                 capsize=2, label=pl)
        for yy, v in zip(ys, med):
            ax1.text(v, yy, f" {v:.1f}k", va="center", fontsize=6)
    ax1.set_yticks(range(len(rows)))
    ax1.set_yticklabels([f"{r['system']}: {r['label']}" for r in rows][::-1], fontsize=7)
    ax1.set_xscale("log")
    ax1.set_xlabel("k ops/s (median; whiskers = min..max over repeats; log scale)")
    ax1.set_title("Throughput, one connection, 64 B values")
    ax1.legend(title="placement", fontsize=7)
    if ratios:
        for j, pl in enumerate(pls):
            for i, r in enumerate(ratios):
                x = r["by_placement"][pl]
                if x["ratio"] is None:
                    continue
                yy = len(ratios) - 1 - i + (len(pls) - 1 - j) * bar - 0.4 + bar / 2
                edge = {"meets": "#2ca02c", "misses": "#d62728"}.get(x["verdict"], "#999999")
                ax2.barh(yy, x["ratio"], height=bar, color=COLORS.get(pl, "#999999"),
                         edgecolor=edge, linewidth=1.5, label=pl if i == 0 else None)
                ax2.text(x["ratio"], yy, f" {x['ratio']:.2f}× {x['verdict']}", va="center",
                         fontsize=6)
        for i, r in enumerate(ratios):
            if r["target"] is not None:
                yy = len(ratios) - 1 - i
                ax2.plot([r["target"]] * 2, [yy - 0.45, yy + 0.45], color="black", lw=2)
        ax2.set_yticks(range(len(ratios)))
        ax2.set_yticklabels([r["label"] for r in ratios][::-1], fontsize=7)
        top = max([x["ratio"] for r in ratios for x in r["by_placement"].values() if x["ratio"]] +
                  [r["target"] for r in ratios if r["target"] is not None])
        ax2.set_xlim(0, top * 1.3)  # room for the value labels
        ax2.set_xlabel("ratio of medians (black tick = target)")
        ax2.set_title("Target ratios")
        ax2.legend(title="placement", fontsize=7)
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
