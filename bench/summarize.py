#!/usr/bin/env python3
"""summarize.py - median tables from run.sh (rx) / tx.sh (tx) TSV files, and
the report of a whole `bench.sh` run.

usage: summarize.py rx RX.TSV [--ref min_v3]
       summarize.py tx TX.TSV [--ref min_tx]
       summarize.py report RUN_DIR OUT_DIR   (summary.md + plot.svg + data)
       summarize.py check RUN_DIR            (smoke: every benchmark gave numbers)

Ratios are computed per repetition against the reference measured in the same
repetition (same frame size), then the median of those ratios is shown.
"""
import argparse
import csv
import math
import os
import re
import shutil
import statistics
from collections import defaultdict


def fnum(x):
    try:
        v = float(x)
    except (TypeError, ValueError):
        return math.nan
    return v


def med(xs):
    xs = [x for x in xs if not math.isnan(x)]
    return statistics.median(xs) if xs else math.nan


def rng(xs):
    xs = [x for x in xs if not math.isnan(x)]
    return (min(xs), max(xs)) if xs else (math.nan, math.nan)


def k(x):
    return "-" if math.isnan(x) else f"{x / 1000:.0f}"


def f2(x, nd=2):
    return "-" if math.isnan(x) else f"{x:.{nd}f}"


def load(path):
    with open(path) as f:
        return list(csv.DictReader(f, delimiter="\t"))


def order_of(rows, key):
    seen = []
    for r in rows:
        if r[key] not in seen:
            seen.append(r[key])
    return seen


def size_groups(rows, per, key):
    """(size, names, repetitions) for each frame size of rows: the names
    (column key) measured at that size, in the order of rows."""
    for size in order_of(rows, "size"):
        names = [c for c in order_of(rows, key) if (size, c) in per]
        yield size, names, max(len(per[(size, c)]) for c in names)


def load_lines(rows, size, lead=""):
    """The line on the load averages at the starts of size's runs (none
    without load1 numbers)."""
    llo, lhi = rng([fnum(r.get("load1")) for r in rows if r["size"] == size])
    return [] if math.isnan(llo) else [f"{lead}1-min load average at run starts: {llo:.2f}-{lhi:.2f} (2 CPUs)"]


def table_head(header):
    """A markdown table's header ("| a | b |") and its separator line."""
    return [header, "|" + "---|" * (header.count("|") - 1)]


def table(header, rows):
    """A markdown table: table_head(header), rows, then an empty line."""
    return table_head(header) + rows + [""]


def micro_table(data, cols, per_block=True):
    """table() of micro results (frame size -> metrics): a "frame" column,
    then "packets/block" (per_block), then a column per (header, key) with
    the metric at 2 decimals; a key ending in "?" may be missing (nan)."""
    def cell(m, key):
        return m.get(key[:-1], math.nan) if key.endswith("?") else m[key]
    heads = ["frame"] + ["packets/block"] * per_block + [h for h, _ in cols]
    return table("| " + " | ".join(heads) + " |",
                 [f"| {size} B | " + (f"{m['pkts_per_block']:.0f} | " if per_block else "")
                  + " | ".join(f"{cell(m, key):.2f}" for _, key in cols) + " |" for size, m in data.items()])


def columns(reps):
    """col(key): the metric key of every repetition in reps."""
    return lambda key: [m[key] for m in reps.values()]


def rx_per(rows):
    per = defaultdict(dict)  # (size, consumer) -> rep -> metrics
    for r in rows:
        wall = fnum(r["wall_s"])
        offered = fnum(r["offered"])
        cap = fnum(r["captured"])
        cpu = fnum(r["cons_cpu_ns"]) / 1e9
        ut, st = fnum(r["cons_utime_ticks"]), fnum(r["cons_stime_ticks"])
        m = {
            "off_pps": offered / wall,
            "cap_pps": cap / wall,
            "loss": 100.0 * (offered - cap) / offered if offered else math.nan,
            "kdrop": 100.0 * fnum(r["kdrops"]) / offered if offered else math.nan,
            "cpu_m": cpu / (cap / 1e6) if cap and not math.isnan(cap) and cap > 0 else math.nan,
            "sys": 100.0 * st / (ut + st) if (ut + st) > 0 else math.nan,
            "gen_m": fnum(r["gen_cpu_s"]) / (offered / 1e6) if offered else math.nan,
            "gen_u": 100.0 * fnum(r["gen_cpu_s"]) / wall,
            "vdrop": fnum(r["veth_txdrop"]) + fnum(r["softnet_drop"]),
            # KiB -> MiB; RSS beyond the ring (socket) mappings
            "extra": (fnum(r.get("rss_kib")) - fnum(r.get("ring_kib"))) / 1024.0,
            "anon": fnum(r.get("anon_kib")) / 1024.0,
        }
        per[(r["size"], r["consumer"])][r["rep"]] = m
    return per


def rx(rows, ref):
    per = rx_per(rows)
    out = []
    for size, names, nreps in size_groups(rows, per, "consumer"):
        out.append(f"\n## RX, {size}-byte frames (medians of {nreps} runs; [min-max])\n")
        out += table_head("| consumer | offered kpps | captured kpps [min-max] | loss % | kernel drop % "
                          "| CPU s/Mpkt [min-max] | sys % | CPU ratio vs " + ref + " | captured ratio vs " + ref
                          + " | offered ratio vs " + ref + " | gen CPU s/Mpkt | gen CPU % | veth/backlog drops "
                          "| RSS beyond ring MiB | of it anon MiB |")
        refd = per.get((size, ref), {})
        for c in names:
            reps = per[(size, c)]
            col = columns(reps)
            cr, cpr, opr = [], [], []
            for rep, m in reps.items():
                if rep in refd:
                    rm = refd[rep]
                    if rm["off_pps"]:
                        opr.append(m["off_pps"] / rm["off_pps"])
                    if rm["cpu_m"] and not math.isnan(rm["cpu_m"]):
                        cr.append(m["cpu_m"] / rm["cpu_m"])
                    if rm["cap_pps"] and not math.isnan(rm["cap_pps"]):
                        cpr.append(m["cap_pps"] / rm["cap_pps"])
            lo, hi = rng(col("cap_pps"))
            clo, chi = rng(col("cpu_m"))
            cap_s = "-" if math.isnan(lo) else f"{k(med(col('cap_pps')))} [{k(lo)}-{k(hi)}]"
            cpu_s = "-" if math.isnan(clo) else f"{f2(med(col('cpu_m')), 3)} [{f2(clo, 3)}-{f2(chi, 3)}]"
            out.append(
                f"| {c} | {k(med(col('off_pps')))} | {cap_s} | {f2(med(col('loss')))} "
                f"| {f2(med(col('kdrop')))} | {cpu_s} | {f2(med(col('sys')), 0)} | {f2(med(cr))} "
                f"| {f2(med(cpr))} | {f2(med(opr))} | {f2(med(col('gen_m')), 3)} | {f2(med(col('gen_u')), 0)} "
                f"| {f2(med(col('vdrop')), 0)} | {f2(med(col('extra')), 2)} | {f2(med(col('anon')), 2)} |"
            )
        olo, ohi = rng([m["off_pps"] for (s, c), reps in per.items() if s == size for m in reps.values()])
        out.append(f"\noffered kpps over all runs of this size: {k(olo)}-{k(ohi)}")
        out += load_lines(rows, size)
    return "\n".join(out)


def tx_per(rows):
    per = defaultdict(dict)
    for r in rows:
        wall = fnum(r["wall_s"])
        rx_ = fnum(r["rx_packets"])
        cpu = fnum(r["cpu_s"])
        m = {
            "pps": rx_ / wall,
            "claimed": fnum(r["sent"]) / wall,
            "cpu_m": cpu / (rx_ / 1e6) if rx_ else math.nan,
            "cpu_u": 100.0 * cpu / wall,
            "vdrop": fnum(r["veth_txdrop"]) + fnum(r["softnet_drop"]),
        }
        per[(r["size"], r["sender"])][r["rep"]] = m
    return per


def is_netring(name):
    return name.startswith("nr") or name.endswith("_shim")


def best_peer(per, size, rep):
    """Highest kpps among the senders that are not netring's, in one repetition."""
    xs = [reps[rep]["pps"] for (s, c), reps in per.items()
          if s == size and not is_netring(c) and rep in reps and not math.isnan(reps[rep]["pps"])]
    return max(xs) if xs else math.nan


def tx(rows, ref):
    per = tx_per(rows)
    out = []
    for size, names, nreps in size_groups(rows, per, "sender"):
        out.append(f"\n## TX, {size}-byte frames (medians of {nreps} runs; [min-max])\n")
        out += table_head("| sender | kpps counted on the receiving veth [min-max] | ratio vs " + ref
                          + " | ratio vs best peer | sender-reported kpps | sender CPU s/Mpkt | sender CPU % "
                          "| veth/backlog drops |")
        refd = per.get((size, ref), {})
        for c in names:
            reps = per[(size, c)]
            col = columns(reps)
            rr = [m["pps"] / refd[rep]["pps"] for rep, m in reps.items() if rep in refd and refd[rep]["pps"]]
            br = [m["pps"] / best_peer(per, size, rep) for rep, m in reps.items()]
            lo, hi = rng(col("pps"))
            out.append(
                f"| {c} | {k(med(col('pps')))} [{k(lo)}-{k(hi)}] | {f2(med(rr))} | {f2(med(br))} "
                f"| {k(med(col('claimed')))} "
                f"| {f2(med(col('cpu_m')), 3)} | {f2(med(col('cpu_u')), 0)} | {f2(med(col('vdrop')), 0)} |"
            )
        out += load_lines(rows, size, "\n")
    return "\n".join(out)



# ---------------------------------------------------------------- report ---

def load_if(path):
    return load(path) if os.path.exists(path) else []


def read_micro(path, kind="micro"):
    """RESULT lines of examples/micro.rs: kind "micro" (cache-resident
    blocks), "micro-xcore" (a ring written by another CPU) or "micro-xdp"
    (the AF_XDP RX walk next to the TPACKET_V3 walk)."""
    out = {}
    if not os.path.exists(path):
        return out
    for line in open(path):
        if line.startswith(f"RESULT {kind} "):
            kv = dict(re.findall(r"(\w+)=([0-9.]+)", line))
            out[kv["size"]] = {k_: float(v) for k_, v in kv.items()}
    return out


def read_parse(path):
    """examples/parse.rs: RESULT parse kind=.. ours_ns=.. capi_ns=.. etherparse_ns=.."""
    out = {}
    if not os.path.exists(path):
        return out
    for line in open(path):
        if line.startswith("RESULT parse"):
            kind = re.search(r"kind=(\w+)", line).group(1)
            out[kind] = {k_: float(v) for k_, v in re.findall(r"(\w+)=([0-9.]+)", line)}
    return out


def parse_section(run):
    """The header-parsing table and its goal rows (markdown lines)."""
    pr = read_parse(os.path.join(run, "parse.txt"))
    if not pr:
        return []
    md = ["# Header parsing (ns/packet, 4096 frames of one kind, min of trials; examples/parse.rs)", "",
          "| frames | bytes | netring Rust Layers::parse | C nr_packet_parse | etherparse SlicedPacket "
          "| etherparse LaxSlicedPacket |", "|---|---|---|---|---|---|"]
    for kind, m in pr.items():
        md.append(f"| {kind} | {m['len']:.0f} | {m['ours_ns']:.2f} | {m['capi_ns']:.2f} | {m['etherparse_ns']:.2f} "
                  f"| {m['etherparse_lax_ns']:.2f} |")
    if "udp4" in pr:
        v = pr["udp4"]["ours_ns"]
        md += ["", f"Goal: Ethernet/IPv4/UDP parse <= 10 ns/packet (Rust): {v:.2f} ns, "
               f"{'met' if v <= 10.0 else '**not met**'}; from C: {pr['udp4']['capi_ns']:.2f} ns."]
    return md + [""]


SWEEP_LIMIT = 1.05


def read_dd(path):
    """dd's summary line ("... copied, 0.5 s, 1.1 GB/s") -> bytes/s."""
    if not os.path.exists(path):
        return math.nan
    m = re.search(r"([0-9.]+) ([kMGT]?)B/s", open(path).read())
    if not m:
        return math.nan
    return float(m.group(1)) * {"": 1, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}[m.group(2)]


def read_floor(run):
    """tmpfs-floor.tsv (bench.sh tmpfs_floor) -> mode -> [CPU us per 1530 bytes (one 1514-byte record)]."""
    per = defaultdict(list)
    for r in load_if(os.path.join(run, "tmpfs-floor.tsv")):
        b = fnum(r["bytes"])
        if b > 0:
            per[r["mode"]].append((fnum(r["user_s"]) + fnum(r["sys_s"])) / b * 1530 * 1e6)
    return per


def floor_per_record(fl, size):
    """The tmpfs floor (median, fresh pages) for one pcap record of `size` frame bytes, in us."""
    return med(fl.get("fresh", [])) * (int(size) + 16) / 1530


def floor_lines(fl, wp, sizes):
    """The tmpfs floor against the live writers' CPU per packet."""
    if not fl.get("fresh"):
        return []
    fresh, rew = med(fl["fresh"]), med(fl.get("rewrite", []))
    out = [f"The kernel's floor into tmpfs, same run (`dd bs=1M`, CPU per 1530 bytes = one 1514-byte record): "
           f"**{f2(fresh, 2)} us into fresh pages** [{f2(min(fl['fresh']), 2)}-{f2(max(fl['fresh']), 2)}] "
           f"(what a writer with `-C 1000 -W 1` pays: every new file starts empty), {f2(rew, 2)} us rewriting pages "
           "already touched. No writer's CPU per packet can go below the first."]
    for size in sizes:
        t = metric(wp, size, "tcpdump_tmpfs", "cpu_m")
        n = metric(wp, size, "nrcap_tmpfs", "cpu_m")
        f = floor_per_record(fl, size)
        if t > 0:
            out.append(f"At {size} B: the floor is {f2(f / t)}x tcpdump -w's CPU per packet on tmpfs; "
                       f"nrcap -w is {f2(n / t)}x, of which {f2((n - f) / t)}x above the floor.")
    return out + [""]


def write_rows(wp, sizes, dd_bps):
    """The write table: captured, loss, CPU per packet, bytes/s written."""
    out = ["| consumer | frame B | captured kpps | loss % | CPU us/pkt | vs tcpdump (same target) | written MB/s "
           "| vs dd oflag=direct |", "|---|---|---|---|---|---|---|---|"]
    for size in sizes:
        for c in order_of([{"c": c} for (s_, c) in wp if s_ == size], "c"):
            peer = "tcpdump_disk" if "_disk" in c else "tcpdump_tmpfs"
            cap = metric(wp, size, c, "cap_pps")
            bps = cap * (int(size) + 16)
            vs_dd = bps / dd_bps if "_disk" in c and dd_bps > 0 else math.nan
            out.append(f"| {c} | {size} | {k(cap)} | {f2(metric(wp, size, c, 'loss'), 1)} "
                       f"| {f2(metric(wp, size, c, 'cpu_m'), 2)} | {f2(rep_ratio(wp, size, c, peer, 'cpu_m'))} "
                       f"| {f2(bps / 1e6, 0)} | {f2(vs_dd)} |")
    return out


OFFLINE_WRITERS = (
    ("dd", "dd oflag=direct bs=1M (the disk's limit)"),
    ("nrcap_direct", "nrcap -r -w --direct"),
    ("nrcap", "nrcap -r -w, + sync FILE"),
    ("tcpdump", "tcpdump -r -w, + sync FILE"),
)


def read_offline(run):
    """write-offline/offline.tsv (bench.sh write_offline) -> writer -> rep -> metrics;
    bytes/s = output bytes / (write + sync) seconds (sync is 0 for dd and --direct)."""
    per = defaultdict(dict)
    for r in load_if(os.path.join(run, "write-offline", "offline.tsv")):
        b, ws, ss = fnum(r["bytes"]), fnum(r["write_s"]), fnum(r["sync_s"])
        per[r["writer"]][r["rep"]] = {"bytes": b, "write_s": ws, "sync_s": ss, "load1": fnum(r["load1"]),
                                      "bps": b / (ws + ss) if ws + ss > 0 else math.nan}
    return per


def offline_ratio(op, name):
    """A writer's median bytes/s over dd's median bytes/s, same run."""
    d = med([m["bps"] for m in op.get("dd", {}).values()])
    return med([m["bps"] for m in op.get(name, {}).values()]) / d if d > 0 else math.nan


def load_and_commands(per, note, meta, prefix):
    """Below an offline table: the load averages at its runs' starts (per:
    name -> rep -> metrics with load1), then its commands, the meta lines
    "PREFIX NAME: COMMAND" as "- NAME: `COMMAND`"."""
    out = []
    llo, lhi = rng([m["load1"] for reps in per.values() for m in reps.values()])
    if not math.isnan(llo):
        out.append(f"\n1-min load average at run starts: {llo:.2f}-{lhi:.2f} (2 CPUs)")
    out += ["", f"Commands ({note}):", ""]
    return out + [f"- {l[len(prefix):]}".replace(": ", ": `", 1) + "`" for l in meta if l.startswith(prefix)]


def offline_section(run, op):
    meta = meta_lines(os.path.join(run, "write-offline", "meta.txt"))
    kv = dict(l.split(": ", 1) for l in meta if ": " in l)
    nreps = max((len(v) for v in op.values()), default=0)
    out = ["# Write, offline: writer throughput into the ext4 file (no live traffic)", "",
           f"The same pcap ({kv.get('input', '?')}) written into the ext4 file system by each writer "
           f"against `dd oflag=direct` of the same size; {nreps} interleaved repetitions in a rotating order, "
           "one writer at a time pinned to the consumer CPU, the output deleted (and the file system synced) "
           "between runs. bytes/s = output file size / wall time. The buffered writers' time includes a "
           "`sync FILE` (fsync of their output) after they exit, since dd's and `--direct`'s data is on the "
           "device when they return; the write-only and sync seconds are shown apart.", "",
           f"Loop device: {kv.get('loop', '?')}.", "",
           "| writer | MB/s median [min-max] | vs dd (medians) | vs dd, same repetition [min-max] "
           "| write s median | + sync s median |",
           "|---|---|---|---|---|---|"]
    for name, label in OFFLINE_WRITERS:
        reps = op.get(name, {})
        xs = [m["bps"] / 1e6 for m in reps.values()]
        lo, hi = rng(xs)
        dd = op.get("dd", {})
        rlo, rhi = rng([m["bps"] / dd[r]["bps"] for r, m in reps.items() if r in dd and dd[r]["bps"] > 0])
        out.append(f"| {label} | {f2(med(xs), 0)} [{f2(lo, 0)}-{f2(hi, 0)}] | {f2(offline_ratio(op, name))} "
                   f"| {f2(rlo)}-{f2(rhi)} "
                   f"| {f2(med([m['write_s'] for m in reps.values()]), 3)} "
                   f"| {f2(med([m['sync_s'] for m in reps.values()]), 3)} |")
    out += load_and_commands(op, "`$PCAP` the input pcap in /dev/shm, `$MNT` the ext4 file system's mount point",
                             meta, "writer ")
    out += [f"- {l}" for l in meta if l.startswith("sync: ")]
    return out + [""]


def sweep_worst(swp, sizes):
    """(worst median nrcap/min_v3 CPU-per-packet ratio, its size) over the sweep."""
    worst = (math.nan, "-")
    for size in sizes:
        r = rep_ratio(swp, size, "nrcap", "min_v3", "cpu_m")
        if not math.isnan(r) and (math.isnan(worst[0]) or r > worst[0]):
            worst = (r, size)
    return worst


def sweep_table(swp, sizes):
    out = ["| frame B | offered kpps (min_v3 run) | min_v3 CPU ns/pkt | nrcap CPU ns/pkt | nrcap/min_v3 median [min-max] "
           f"| <= {SWEEP_LIMIT}x |", "|---|---|---|---|---|---|"]
    for size in sizes:
        ra, rb = swp.get((size, "nrcap"), {}), swp.get((size, "min_v3"), {})
        xs = [ra[r]["cpu_m"] / rb[r]["cpu_m"] for r in ra if r in rb and rb[r]["cpu_m"] > 0]
        lo, hi = rng(xs)
        m = med(xs)
        out.append(f"| {size} | {k(metric(swp, size, 'min_v3', 'off_pps'))} "
                   f"| {f2(metric(swp, size, 'min_v3', 'cpu_m') * 1000, 1)} "
                   f"| {f2(metric(swp, size, 'nrcap', 'cpu_m') * 1000, 1)} "
                   f"| {f2(m)} [{f2(lo)}-{f2(hi)}] | {'-' if math.isnan(m) else ('yes' if m <= SWEEP_LIMIT else '**no**')} |")
    return out


def rep_ratio(per, size, a, b, key):
    """Median over repetitions of per[a][key] / per[b][key] (same repetition)."""
    ra, rb = per.get((size, a), {}), per.get((size, b), {})
    xs = [ra[r][key] / rb[r][key] for r in ra if r in rb and rb[r][key] and not math.isnan(rb[r][key])]
    return med(xs)


def metric(per, size, name, key):
    return med([m[key] for m in per.get((size, name), {}).values()])


def sizes_of(rows):
    return order_of(rows, "size") if rows else []


def goals(rxp, rx_sizes, xdpp, xdp_sizes, txp, tx_sizes, micro, swp=None, sweep_sizes=(), mxdp=None, mx=None,
          wp=None, write_sizes=(), dd_bps=math.nan, op=None, fl=None):
    """(goal, measured, ok) rows; ok is None when not measured."""
    g = []

    def add(text, val, ok):
        g.append((text, val, None if ok is None or (isinstance(val, float) and math.isnan(val)) else ok))

    for size in write_sizes:
        loss = metric(wp, size, "nrcap_tmpfs", "loss")
        add(f"write {size} B to tmpfs (-C 1000 -W 1): nrcap -w loses nothing", loss, loss <= 0.0)
        r = rep_ratio(wp, size, "nrcap_tmpfs", "tcpdump_tmpfs", "cpu_m")
        add(f"write {size} B to tmpfs: nrcap -w CPU/pkt <= 0.25x tcpdump -w", r, r <= 0.25)
        f = floor_per_record(fl or {}, size)
        t = metric(wp, size, "tcpdump_tmpfs", "cpu_m")
        if f > 0 and t > 0:
            add(f"(not a goal: the floor under it, dd bs=1M into fresh tmpfs pages per {int(size) + 16} B, "
                "x tcpdump -w's CPU/pkt)", f / t, None)
        r = rep_ratio(wp, size, "nrcap_disk", "tcpdump_disk", "cpu_m")
        add(f"write {size} B to an ext4 file: nrcap -w CPU/pkt <= 0.15x tcpdump -w", r, r <= 0.15)
        loss = metric(wp, size, "nrcap_disk_direct", "loss")
        add(f"write {size} B to an ext4 file: nrcap -w --direct loses nothing", loss, loss <= 0.0)
        r = rep_ratio(wp, size, "nrcap_disk_direct", "tcpdump_disk", "cpu_m")
        add(f"write {size} B to an ext4 file: nrcap -w --direct CPU/pkt <= 0.15x tcpdump -w", r, r <= 0.15)
    if op:
        r = offline_ratio(op, "nrcap_direct")
        add("write 1514 B records to an ext4 file, offline (-r pcap in /dev/shm): nrcap -w --direct bytes/s "
            ">= 0.9x dd oflag=direct bs=1M", r, r >= 0.9)
    if sweep_sizes:
        w, ws = sweep_worst(swp, sweep_sizes)
        add(f"RX sweep {sweep_sizes[0]}-{sweep_sizes[-1]} B: nrcap CPU/Mpkt <= {SWEEP_LIMIT}x min_v3 at every size "
            f"(worst: {ws} B)", w, w <= SWEEP_LIMIT)
    for size, m in (mx or {}).items():
        r = m.get("capi_vs_minv3", math.nan)
        add(f"micro-xcore {size} B: nr_batch_for_each <= {SWEEP_LIMIT}x min_v3's loop on a ring another CPU wrote",
            r, r <= SWEEP_LIMIT)
    for size, m in (mxdp or {}).items():
        r = m.get("xdp_vs_v3", math.nan)
        add(f"micro {size} B: AF_XDP RX walk <= TPACKET_V3 walk (ns/packet ratio)", r, r <= 1.0)

    for size in rx_sizes:
        r = rep_ratio(rxp, size, "nrcap", "min_v3", "cpu_m")
        add(f"RX {size} B: nrcap CPU/Mpkt <= 1.05x min_v3", r, r <= 1.05)
        r = rep_ratio(rxp, size, "nrcap", "min_v3", "off_pps")
        add(f"RX {size} B: offered load with nrcap >= 0.98x with min_v3", r, r >= 0.98)
        lim = 2.5 if size == "60" else 6.0
        r = rep_ratio(rxp, size, "libpcap", "nrcap", "cpu_m")
        add(f"RX {size} B: libpcap CPU/Mpkt >= {lim}x nrcap", r, r >= lim)
    for size in tx_sizes:
        rs_ = {r for (s_, c), reps in txp.items() if s_ == size for r in reps}
        xs_ = []
        for r in rs_:
            nr = [reps[r]["pps"] for (s_, c), reps in txp.items() if s_ == size and is_netring(c) and r in reps]
            bp = best_peer(txp, size, r)
            if nr and bp:
                xs_.append(max(nr) / bp)
        best_nr = med(xs_)
        add(f"TX {size} B: best nrsend variant >= 1.0x best peer (kpps on the receiver)", best_nr, best_nr >= 1.0)
    for size in xdp_sizes:
        nx = max(metric(xdpp, size, n, "cap_pps") for n in ("nrxdp", "nrxdp_generic"))
        mx = max(metric(xdpp, size, n, "cap_pps") for n in ("min_xsk", "min_xsk_generic"))
        r = nx / mx if mx else math.nan
        add(f"AF_XDP {size} B: best nrxdp variant >= best min_xsk variant (captured kpps)", r, r >= 1.0)
        r = max(rep_ratio(xdpp, size, n, "nrcap", "cap_pps") for n in ("nrxdp", "nrxdp_generic"))
        add(f"AF_XDP {size} B: best nrxdp variant >= 1.0x nrcap (captured kpps)", r, r >= 1.0)
    for size, m in micro.items():
        d = m.get("fill_minus_raw_ns", math.nan)
        add(f"micro {size} B: nr_batch_fill array walk <= raw walk + 3 ns/packet", d, d <= 3.0)
    for size in rx_sizes:
        e = metric(rxp, size, "nrcap", "extra")
        add(f"RX {size} B: nrcap RSS beyond the ring <= 2 MiB", e, e <= 2.0)
    return g


def svg_bars(title, groups, unit, x0, y0, w, log=False):
    """A horizontal bar chart: groups = [(group label, [(bar label, value, netring?)])]."""
    vals = [v for _, bars in groups for _, v, _ in bars if not math.isnan(v) and v > 0]
    if not vals:
        return "", 0
    vmax = max(vals)
    vmin = min(vals)
    lab_w, bar_h, gap = 150, 16, 4
    plot_w = w - lab_w - 70

    def scale(v):
        if math.isnan(v) or v <= 0:
            return 0
        if log:
            lo = math.log10(vmin) - 0.3
            return plot_w * (math.log10(v) - lo) / (math.log10(vmax) - lo)
        return plot_w * v / vmax

    out = [f'<text x="{x0}" y="{y0 + 14}" font-size="14" font-weight="bold">{title}</text>']
    y = y0 + 26
    for glabel, bars in groups:
        out.append(f'<text x="{x0}" y="{y + 12}" font-size="12" font-style="italic">{glabel}</text>')
        y += 18
        for label, v, nr in bars:
            bw = scale(v)
            color = "#d9480f" if nr else "#5c7cfa"
            out.append(f'<text x="{x0 + lab_w - 6}" y="{y + 12}" font-size="11" text-anchor="end">{label}</text>')
            out.append(f'<rect x="{x0 + lab_w}" y="{y}" width="{bw:.1f}" height="{bar_h}" fill="{color}"/>')
            txt = "-" if math.isnan(v) else (f"{v:.3g}" if v < 100 else f"{v:.0f}")
            out.append(f'<text x="{x0 + lab_w + bw + 4:.1f}" y="{y + 12}" font-size="11">{txt} {unit}</text>')
            y += bar_h + gap
        y += 6
    return "\n".join(out), y - y0


def plot(rxp, rx_sizes, xdpp, xdp_sizes, txp, tx_sizes, micro):
    W = 560
    panels = []
    groups = [(f"{s}-byte frames", [(c, metric(rxp, s, c, "cpu_m") * 1000, is_netring(c))
                                    for c in ("min_v3", "nrcap", "libpcap", "tcpdump", "tcpdump_shim")
                                    if (s, c) in rxp]) for s in rx_sizes]
    panels.append(("RX: consumer CPU per packet (log scale)", groups, "ns", True))
    groups = [(f"{s}-byte frames", [(c, metric(rxp, s, c, "off_pps") / 1000, is_netring(c))
                                    for c in ("none", "min_v3", "nrcap", "libpcap", "tcpdump", "tcpdump_shim")
                                    if (s, c) in rxp]) for s in rx_sizes]
    panels.append(("RX: offered load the generator reached with each tap", groups, "kpps", False))
    groups = [(f"{s}-byte frames", [(c, metric(xdpp, s, c, "cap_pps") / 1000, is_netring(c))
                                    for c in ("nrcap", "nrxdp", "nrxdp_generic", "min_xsk", "min_xsk_generic")
                                    if (s, c) in xdpp]) for s in xdp_sizes]
    panels.append(("AF_XDP vs TPACKET_V3 on veth: captured", groups, "kpps", False))
    names = order_of([{"n": c} for (s, c) in txp], "n")
    groups = [(f"{s}-byte frames", [(c, metric(txp, s, c, "pps") / 1000, is_netring(c))
                                    for c in names if (s, c) in txp]) for s in tx_sizes]
    panels.append(("TX: frames counted on the receiving veth", groups, "kpps", False))
    groups = [(f"{s}-byte frames", [("raw walk (min_v3 loop)", m["raw_ns"], False),
                                    ("Rust PacketIter", m["rust_ns"], True),
                                    ("C nr_batch_for_each", m["capi_ns"], True)])
              for s, m in micro.items()]
    panels.append(("Micro: iteration cost over synthetic blocks", groups, "ns/pkt", False))
    body, y = [], 10
    for title, groups, unit, log in panels:
        svg, h = svg_bars(title, [g for g in groups if g[1]], unit, 10, y, W, log)
        if svg:
            body.append(svg)
            y += h + 16
    legend = (f'<rect x="10" y="{y}" width="12" height="12" fill="#d9480f"/>'
              f'<text x="26" y="{y + 11}" font-size="11">netring</text>'
              f'<rect x="90" y="{y}" width="12" height="12" fill="#5c7cfa"/>'
              f'<text x="106" y="{y + 11}" font-size="11">alternatives</text>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{y + 24}" '
            f'font-family="sans-serif">\n<rect width="100%" height="100%" fill="white"/>\n'
            + "\n".join(body) + "\n" + legend + "\n</svg>\n")


def meta_lines(path):
    return [l.rstrip("\n") for l in open(path)] if os.path.exists(path) else []


def headline(rxp, rs, xdpp, xs, txp, ts, micro):
    """Compact tables for the project README."""
    out = []
    if rs:
        out += ["| RX consumer | " + " | ".join(f"{s} B: captured kpps, loss %, CPU ns/pkt (vs min_v3)" for s in rs)
                + " | RSS beyond ring |", "|---|" + "---|" * len(rs) + "---|"]
        for c in order_of([{"c": c} for (s, c) in rxp], "c"):
            if c == "none":
                continue
            cells = []
            for s in rs:
                cpu = metric(rxp, s, c, "cpu_m") * 1000
                cells.append(f"{k(metric(rxp, s, c, 'cap_pps'))}, {f2(metric(rxp, s, c, 'loss'), 1)}, "
                             f"{f2(cpu, 1)} ({f2(rep_ratio(rxp, s, c, 'min_v3', 'cpu_m'))}x)")
            extra = med([metric(rxp, s, c, "extra") for s in rs])
            out.append(f"| {c} | " + " | ".join(cells) + f" | {f2(extra, 1)} MiB |")
        out.append("")
    if xs:
        out += ["| AF_XDP on veth | " + " | ".join(f"{s} B: captured kpps (vs nrcap), CPU ns/pkt" for s in xs) + " |",
                "|---|" + "---|" * len(xs)]
        for c in order_of([{"c": c} for (s, c) in xdpp], "c"):
            cells = [f"{k(metric(xdpp, s, c, 'cap_pps'))} ({f2(rep_ratio(xdpp, s, c, 'nrcap', 'cap_pps'))}x), "
                     f"{f2(metric(xdpp, s, c, 'cpu_m') * 1000, 0)}" for s in xs]
            out.append(f"| {c} | " + " | ".join(cells) + " |")
        out.append("")
    if ts:
        out += ["| TX sender | " + " | ".join(f"{s} B: kpps received (vs best peer)" for s in ts) + " |",
                "|---|" + "---|" * len(ts)]
        for c in order_of([{"c": c} for (s, c) in txp], "c"):
            cells = []
            for s in ts:
                reps = txp.get((s, c), {})
                br = med([m["pps"] / best_peer(txp, s, r) for r, m in reps.items()])
                cells.append(f"{k(metric(txp, s, c, 'pps'))} ({f2(br)}x)")
            out.append(f"| {c} | " + " | ".join(cells) + " |")
        out.append("")
    if micro:
        out += ["| micro (ns/packet) | raw walk | Rust PacketIter | C nr_batch_for_each (minus raw) "
                "| C nr_batch_fill array (minus raw) |",
                "|---|---|---|---|---|"]
        for s, m in micro.items():
            out.append(f"| {s} B frames | {m['raw_ns']:.2f} | {m['rust_ns']:.2f} | {m['capi_ns']:.2f} "
                       f"({m['capi_minus_raw_ns']:+.2f}) | {m.get('fill_ns', math.nan):.2f} "
                       f"({m.get('fill_minus_raw_ns', math.nan):+.2f}) |")
        out.append("")
    return out


def lat_per(rows):
    """Latency rows -> {(rate, consumer): {"p50": [...], "p99": [...], "max": [...], ...}}."""
    per = {}
    for r in rows:
        m = per.setdefault((r["rate"], r["consumer"]), {"p50": [], "p99": [], "max": [], "pps": [],
                                                         "lost": [], "drops": [], "reps": []})
        m["p50"].append(fnum(r["p50_us"]))
        m["p99"].append(fnum(r["p99_us"]))
        m["max"].append(fnum(r["max_us"]))
        m["pps"].append(fnum(r["frames"]) / fnum(r["send_s"]) if fnum(r["send_s"]) > 0 else math.nan)
        m["lost"].append(fnum(r["frames"]) - fnum(r["captured"]))
        m["drops"].append(fnum(r["drops"]))
        m["reps"].append(r.get("rep", "1"))
    return per


def latency(rows):
    """Tables of the immediate-mode latency runs, one per rate."""
    per = lat_per(rows)
    out = []
    for rate in dict.fromkeys(r["rate"] for r in rows):
        out += [f"Immediate mode, 60-byte frames at {rate} pps asked (trafgen --gap); latency = the callback's "
                f"CLOCK_REALTIME minus the packet's time stamp; medians of {len(per[(rate, rows[0]['consumer'])]['p50'])} "
                "runs [min-max]:", "",
                "| consumer | achieved pps | lost | kernel drops | p50 µs | p99 µs | max µs |", "|---|---|---|---|---|---|---|"]
        for (rt, c), m in per.items():
            if rt != rate:
                continue
            cell = lambda xs: f"{f2(med(xs), 1)} [{f2(min(xs), 1)}-{f2(max(xs), 1)}]"
            out.append(f"| {c} | {f2(med(m['pps']), 0)} | {f2(sum(m['lost']), 0)} | {f2(sum(m['drops']), 0)} "
                       f"| {cell(m['p50'])} | {cell(m['p99'])} | {cell(m['max'])} |")
        out.append("")
    return "\n".join(out)


def latency_goals(lat_rows, imm_rows):
    """Issue 22's immediate-mode goals: latency in the same run, CPU at full rate."""
    g = []
    per = lat_per(lat_rows)
    for rate in dict.fromkeys(r["rate"] for r in lat_rows):
        lp = per.get((rate, "libpcap"))
        for c in ("dropin", "nrcap"):
            m = per.get((rate, c))
            if not m or not lp:
                continue
            p50, lp50 = med(m["p50"]), med(lp["p50"])
            g.append((f"latency {rate} pps: {c} p50 <= 20 µs", p50, p50 <= 20))
            g.append((f"latency {rate} pps: {c} p50 <= libpcap's ({f2(lp50, 1)} µs)", p50 / lp50, p50 <= lp50))
            g.append((f"latency {rate} pps: {c} p99 <= libpcap's ({f2(med(lp['p99']), 1)} µs)",
                      med(m["p99"]) / med(lp["p99"]), med(m["p99"]) <= med(lp["p99"])))
    ip = rx_per(imm_rows)
    for size in sizes_of(imm_rows):
        for c in ("shim_imm", "nrcap_imm"):
            r = rep_ratio(ip, size, c, "libpcap_imm", "cpu_m")
            g.append((f"immediate {size} B full rate: {c} CPU/Mpkt <= 0.6x libpcap_imm", r,
                      None if math.isnan(r) else r <= 0.6))
            d, ld = metric(ip, size, c, "kdrop"), metric(ip, size, "libpcap_imm", "kdrop")
            g.append((f"immediate {size} B full rate: {c} kernel drop % <= libpcap_imm's ({f2(ld)} %)", d,
                      None if math.isnan(d) else d <= ld))
    return g


def bind_goals(bp, sizes):
    """The bindings' goals (issue 13), consumer CPU per packet in the same run."""
    g = []
    for size in sizes:
        for a, b, lim in (("nrgocap", "gopacket_afpacket", 1.0), ("nrgocap", "nrcap", 1.3),
                          ("cppcap", "nrcap", 1.1), ("zigcap", "nrcap", 1.1)):
            r = rep_ratio(bp, size, a, b, "cpu_m")
            g.append((f"RX {size} B: {a} CPU/Mpkt <= {lim}x {b}", r, None if math.isnan(r) else r <= lim))
    return g

EXPORTS = (("arrow_packets", "pcap -> Arrow stream, packet rows"), ("arrow_flows", "pcap -> Arrow stream, flow rows"),
           ("parquet_packets", "pcap -> Parquet, packet rows"), ("parquet_flows", "pcap -> Parquet, flow rows"))


def read_export(run):
    """export/export.tsv (bench.sh export_offline) -> what -> rep -> metrics."""
    per = defaultdict(dict)
    for r in load_if(os.path.join(run, "export", "export.tsv")):
        n, wall = fnum(r["packets"]), fnum(r["wall_s"])
        cpu = fnum(r["user_s"]) + fnum(r["sys_s"])
        per[r["what"]][r["rep"]] = {
            "packets": n, "rows": fnum(r["rows"]), "bytes": fnum(r["bytes"]), "wall_s": wall,
            "mpps": n / wall / 1e6 if wall > 0 else math.nan,
            "ns": wall * 1e9 / n if n > 0 else math.nan,
            "cpu_ns": cpu * 1e9 / n if n > 0 else math.nan,
            "row_b": fnum(r["bytes"]) / fnum(r["rows"]) if fnum(r["rows"]) > 0 else math.nan,
            "load1": fnum(r["load1"])}
    return per


def read_flowbench(run):
    """export/flowbench.txt: engine/examples/flowbench.rs's line -> metrics."""
    path = os.path.join(run, "export", "flowbench.txt")
    if not os.path.exists(path):
        return {}
    for line in open(path):
        m = re.search(r"flowbench: (\d+) concurrent flows, (\d+) packets in ([0-9.]+) s: ([0-9.]+) M packets/s, "
                      r"([0-9.]+) ns/packet; table (\d+) MiB \((\d+) bytes per flow\)", line)
        if m:
            return {"flows": int(m.group(1)), "mpps": float(m.group(4)), "ns": float(m.group(5)),
                    "table_mib": int(m.group(6)), "per_flow": int(m.group(7))}
    return {}


def export_goals(run):
    """(goal, measured, ok) rows of issue 24's speed goals."""
    ex, fb = read_export(run), read_flowbench(run)
    live = rx_per(load_if(os.path.join(run, "export-live", "rx.tsv")))
    g = []
    ap = ex.get("arrow_packets", {})
    if ap:
        v = med([m["mpps"] for m in ap.values()])
        g.append(("pcap -> Arrow packet rows >= 5 M packets/s, one core (wall)", v, v >= 5.0))
        v = med([m["row_b"] for m in ap.values()])
        g.append(("Arrow stream <= 48 bytes per packet row (uncompressed)", v, v <= 48.0))
    if fb:
        g.append((f"flow meter >= 10 M packets/s over {fb['flows']} concurrent flows, one core", fb["mpps"],
                  fb["mpps"] >= 10.0))
    for size in sorted({s for s, _ in live}):
        for c in ("nrexport_arrow", "nrexport_flows"):
            if (size, c) not in live:
                continue
            v = metric(live, size, c, "loss")
            g.append((f"live {size} B full rate: {c} loss <= 0.1 %", v, None if math.isnan(v) else v <= 0.1))
            v = rep_ratio(live, size, c, "nrcap", "cpu_m")
            g.append((f"live {size} B full rate: {c} CPU/packet <= 2x nrcap -q", v, None if math.isnan(v) else v <= 2.0))
    return g


def export_section(run):
    """The export tables (markdown lines): flowbench, the offline conversions, live."""
    ex, fb = read_export(run), read_flowbench(run)
    live_rows = load_if(os.path.join(run, "export-live", "rx.tsv"))
    if not ex and not fb and not live_rows:
        return []
    meta = meta_lines(os.path.join(run, "export", "meta.txt"))
    kv = dict(l.split(": ", 1) for l in meta if ": " in l)
    md = ["# Export: the flow meter, pcap -> Arrow / Parquet, live export", ""]
    if fb:
        md += [f"Flow meter (`{kv.get('flowbench', 'flowbench')}`): {fb['flows']} concurrent flows, "
               f"{fb['mpps']:.2f} M packets/s ({fb['ns']:.1f} ns/packet) on one core; table {fb['table_mib']} MiB, "
               f"{fb['per_flow']} bytes per flow.", ""]
    if ex:
        nreps = max(len(v) for v in ex.values())
        md += [f"nrexport -r, input {kv.get('input', '?')}; {nreps} interleaved repetitions, each alone on the "
               "consumer CPU, output to /dev/null; wall time from the shell (includes process start), CPU "
               "(user + sys) from /usr/bin/time, rows and bytes from nrexport's summary line.", ""]
        md += table_head("| conversion | M packets/s (wall) median [min-max] | ns/packet wall | CPU ns/packet "
                         "| rows | bytes/row |")
        for name, label in EXPORTS:
            reps = ex.get(name, {})
            if not reps:
                continue
            col = columns(reps)
            lo, hi = rng(col("mpps"))
            md.append(f"| {label} | {f2(med(col('mpps')))} [{f2(lo)}-{f2(hi)}] | {f2(med(col('ns')), 0)} "
                      f"| {f2(med(col('cpu_ns')), 0)} | {f2(med(col('rows')), 0)} | {f2(med(col('row_b')), 1)} |")
        md += load_and_commands(ex, "`$PCAP` the generated pcap in /dev/shm", meta, "export ")
        md.append("")
    if live_rows:
        md += ["## Live export at full rate (ratios vs nrcap -q)", "", rx(live_rows, "nrcap"), ""]
    return md


def check_export(run):
    """Smoke check of the export part (a list of what is missing)."""
    bad = []
    ex = read_export(run)
    for name, _ in EXPORTS:
        if not ex.get(name):
            bad.append(f"export {name}: no results")
        for rep, m in ex.get(name, {}).items():
            if not (m["packets"] > 0 and m["rows"] > 0 and m["bytes"] > 0 and m["wall_s"] > 0):
                bad.append(f"export {name} rep {rep}: {m}")
    fb = read_flowbench(run)
    if not fb.get("mpps", 0) > 0:
        bad.append("export: no flowbench line")
    return bad



def report(run, out_dir):
    rx_rows = load_if(os.path.join(run, "rx", "rx.tsv"))
    xdp_rows = load_if(os.path.join(run, "xdp", "rx.tsv"))
    bind_rows = load_if(os.path.join(run, "bind", "rx.tsv"))
    tx_rows = load_if(os.path.join(run, "tx", "tx.tsv"))
    sweep_rows = load_if(os.path.join(run, "sweep", "rx.tsv"))
    write_rows_ = load_if(os.path.join(run, "write", "rx.tsv"))
    lat_rows = load_if(os.path.join(run, "latency", "latency.tsv"))
    imm_rows = load_if(os.path.join(run, "imm", "rx.tsv"))
    wp, wss = rx_per(write_rows_), sizes_of(write_rows_)
    dd_bps = read_dd(os.path.join(run, "disk.txt"))
    op = read_offline(run)
    micro = read_micro(os.path.join(run, "micro.txt"))
    mx = read_micro(os.path.join(run, "micro.txt"), "micro-xcore")
    mxdp = read_micro(os.path.join(run, "micro.txt"), "micro-xdp")
    rxp, xdpp, txp = rx_per(rx_rows), rx_per(xdp_rows), tx_per(tx_rows)
    swp, sws = rx_per(sweep_rows), sizes_of(sweep_rows)
    rs, xs, ts = sizes_of(rx_rows), sizes_of(xdp_rows), sizes_of(tx_rows)
    os.makedirs(out_dir, exist_ok=True)
    md = ["# netring benchmarks", ""]
    md += [l for l in meta_lines(os.path.join(run, "meta.txt"))]
    md += ["", "Plot: [plot.svg](plot.svg).  Raw data: `rx.tsv`, `xdp.tsv`, `tx.tsv`, `micro.txt` "
           "(re-render a table: `python3 bench/summarize.py rx|tx FILE`).", ""]
    md += ["## Headline (medians)", ""] + headline(rxp, rs, xdpp, xs, txp, ts, micro)
    md += ["## Goals", "", "| goal | measured | met |", "|---|---|---|"]
    for text, val, ok in (goals(rxp, rs, xdpp, xs, txp, ts, micro, swp, sws, mxdp, mx, wp, wss, dd_bps, op,
                                read_floor(run))
                          + bind_goals(rx_per(bind_rows), sizes_of(bind_rows))
                          + latency_goals(lat_rows, imm_rows) + export_goals(run)):
        v = "-" if isinstance(val, float) and math.isnan(val) else f"{val:.2f}"
        md.append(f"| {text} | {v} | {'-' if ok is None else ('yes' if ok else '**no**')} |")
    md.append("")
    if rx_rows:
        md += ["# RX: TPACKET_V3 consumers (trafgen -> veth -> consumer)", rx(rx_rows, "min_v3"), ""]
    if bind_rows:
        md += ["# RX: the bindings (Go, C++, Zig) and gopacket's afpacket (ratios vs nrcap)",
               rx(bind_rows, "nrcap"), ""]
    if sweep_rows:
        md += ["# RX frame-size sweep: nrcap vs min_v3 (CPU per packet, same repetition)", ""]
        md += sweep_table(swp, sws) + ["", rx(sweep_rows, "min_v3"), ""]
    if write_rows_:
        md += ["# Write: nrcap -w vs tcpdump -w, same rotation (-C 1000 -W 1), tmpfs and an ext4 file", "",
               f"The disk's own limit, same file system: {f2(dd_bps / 1e6, 0)} MB/s (`dd oflag=direct bs=1M`). "
               "Written bytes are pcap records (16 + frame bytes each); the live rate is bounded by the "
               "offered load (the offline table below shows the writers' own rate).", ""]
        md += write_rows(wp, wss, dd_bps) + [""] + floor_lines(read_floor(run), wp, wss)
        md += [rx(write_rows_, "tcpdump_tmpfs"), ""]
    if op:
        md += offline_section(run, op)
    if lat_rows:
        md += ["# Immediate mode: delivery latency (libpcap, the drop-in, nrcap --immediate)", "",
               "`pcap_latency` (bench/pcap_latency.c: snaplen 256, pcap_set_immediate_mode(p, 1), pcap_loop) "
               "on the system libpcap (`libpcap`) and on netring's drop-in (`dropin`), and "
               "`nrcap -q -s 256 --immediate --latency`.", "", latency(lat_rows)]
    if imm_rows:
        md += ["# Immediate mode at full rate: consumer CPU per packet (ratios vs libpcap_imm)", "",
               "`min_pcap` with pcap_set_immediate_mode(p, 1) on the system libpcap (`libpcap_imm`) and on the "
               "drop-in (`shim_imm`), and `nrcap -q --immediate`.", "", rx(imm_rows, "libpcap_imm"), ""]
    if xdp_rows:
        md += ["# AF_XDP vs TPACKET_V3 on the same veth (ratios vs nrcap)", rx(xdp_rows, "nrcap"), ""]
    if tx_rows:
        md += ["# TX: senders (kpps counted on the receiving veth)", tx(tx_rows, "min_tx"), ""]
    if micro:
        md += ["# Micro: C callback iteration vs raw walk (ns/packet, synthetic 4 MiB blocks, min of trials)", ""]
        md += micro_table(micro, [("raw walk (min_v3 loop)", "raw_ns"), ("Rust PacketIter", "rust_ns"),
                                  ("C nr_batch_for_each", "capi_ns"), ("for_each minus raw", "capi_minus_raw_ns"),
                                  ("C nr_batch_fill array", "fill_ns?"), ("fill minus raw", "fill_minus_raw_ns?")])
    if mx:
        md += ["# Micro, cross-CPU: blocks written by another CPU just before the walk (ns/packet, medians)", "",
               "`raw` is min_v3's loop as LLVM unrolls it (4 packets per iteration); `min_v3 loop` is the "
               "same loop kept rolled, as gcc -O2 compiles bench/min_v3.c.", ""]
        md += micro_table(mx, [("raw walk (unrolled)", "raw_ns"), ("min_v3 loop", "minv3_ns?"),
                               ("Rust PacketIter", "rust_ns"), ("C nr_batch_for_each", "capi_ns"),
                               ("C nr_batch_fill array", "fill_ns"), ("for_each / min_v3 loop", "capi_vs_minv3?")])
    if mxdp:
        md += ["# Micro: AF_XDP RX walk vs TPACKET_V3 walk (ns/packet, synthetic, min of trials)", ""]
        md += micro_table(mxdp, [("TPACKET_V3 walk (walk_held)", "v3_ns"),
                                 ("AF_XDP walk (same code as an Xdp batch)", "xdp_ns"), ("AF_XDP / V3", "xdp_vs_v3")],
                          per_block=False)
    md += parse_section(run)
    md += export_section(run)
    suri = os.path.join(run, "suricata", "suricata.md")
    if os.path.exists(suri):
        md += ["# Suricata with several workers: --pcap threads: 2 through the drop-in, --pcap on the system "
               "libpcap, --af-packet (bench/suricata.sh)", ""]
        md += [l.rstrip("\n") for l in open(suri)] + [""]
    with open(os.path.join(out_dir, "summary.md"), "w") as f:
        f.write("\n".join(md) + "\n")
    with open(os.path.join(out_dir, "plot.svg"), "w") as f:
        f.write(plot(rxp, rs, xdpp, xs, txp, ts, micro))
    for src, dst in (("rx/rx.tsv", "rx.tsv"), ("bind/rx.tsv", "bind.tsv"), ("xdp/rx.tsv", "xdp.tsv"),
                     ("tx/tx.tsv", "tx.tsv"), ("sweep/rx.tsv", "sweep.tsv"), ("write/rx.tsv", "write.tsv"),
                     ("latency/latency.tsv", "latency.tsv"), ("imm/rx.tsv", "immediate.tsv"),
                     ("disk.txt", "disk.txt"), ("tmpfs-floor.tsv", "tmpfs-floor.tsv"),
                     ("write-offline/offline.tsv", "write-offline.tsv"),
                     ("write-offline/meta.txt", "write-offline-meta.txt"),
                     ("micro.txt", "micro.txt"), ("parse.txt", "parse.txt"),
                     ("export/export.tsv", "export.tsv"), ("export/flowbench.txt", "flowbench.txt"),
                     ("export/meta.txt", "export-meta.txt"), ("export-live/rx.tsv", "export-live.tsv"),
                     ("suricata/suricata.tsv", "suricata.tsv")):
        if os.path.exists(os.path.join(run, src)):
            shutil.copy(os.path.join(run, src), os.path.join(out_dir, dst))
    print("\n".join(md))


def check(run):
    """Smoke check: every benchmark that ran produced numbers."""
    bad = []
    for sub in ("rx", "xdp", "sweep", "write", "imm", "export-live"):
        rows = load_if(os.path.join(run, sub, "rx.tsv"))
        if not rows:
            bad.append(f"{sub}: no results")
        for r in rows:
            if fnum(r["offered"]) <= 0:
                bad.append(f"{sub} {r['consumer']} {r['size']}: no offered load")
            if r["consumer"] != "none":
                if not fnum(r["captured"]) > 0:
                    bad.append(f"{sub} {r['consumer']} {r['size']}: captured {r['captured']}")
                if not fnum(r["cons_cpu_ns"]) > 0:
                    bad.append(f"{sub} {r['consumer']} {r['size']}: no consumer CPU time")
                if not fnum(r["rss_kib"]) > 0:
                    bad.append(f"{sub} {r['consumer']} {r['size']}: no RSS")
                if r["consumer"] in ("min_v3", "nrcap", "libpcap") and not fnum(r["ring_kib"]) > 0:
                    bad.append(f"{sub} {r['consumer']} {r['size']}: no ring mapping found")
    for r in load_if(os.path.join(run, "suricata", "suricata.tsv")):
        if not fnum(r["decoded"]) > 0 or not fnum(r["suricata_cpu_ns_per_frame"]) > 0:
            bad.append(f"suricata {r['mode']} rep {r['rep']}: decoded {r['decoded']}")
    op = read_offline(run)
    for name, _ in OFFLINE_WRITERS:
        if not op.get(name):
            bad.append(f"write-offline {name}: no results")
        for rep, m in op.get(name, {}).items():
            if not (m["bytes"] > 0 and m["write_s"] > 0 and m["sync_s"] >= 0 and m["bps"] > 0):
                bad.append(f"write-offline {name} rep {rep}: {m}")
    if op and math.isnan(offline_ratio(op, "nrcap_direct")):
        bad.append("write-offline: no nrcap --direct / dd ratio")
    if load_if(os.path.join(run, "write", "rx.tsv")) and not read_floor(run).get("fresh"):
        bad.append("write: no tmpfs floor (tmpfs-floor.tsv)")
    if not any(l.startswith("loop: ") for l in meta_lines(os.path.join(run, "write-offline", "meta.txt"))):
        bad.append("write-offline: no meta.txt with the loop device's mode")
    rows = load_if(os.path.join(run, "latency", "latency.tsv"))
    if not rows:
        bad.append("latency: no results")
    for r in rows:
        if not (fnum(r["n"]) > 0 and all(fnum(r[k_]) > 0 for k_ in ("p50_us", "p99_us", "max_us"))):
            bad.append(f"latency {r['consumer']} {r['rate']} pps: no latency numbers ({r})")
    rows = load_if(os.path.join(run, "tx", "tx.tsv"))
    if not rows:
        bad.append("tx: no results")
    for r in rows:
        if not fnum(r["rx_packets"]) > 0:
            bad.append(f"tx {r['sender']} {r['size']}: nothing arrived")
        if not fnum(r["sent"]) > 0:
            bad.append(f"tx {r['sender']} {r['size']}: sender reported {r['sent']}")
    micro = read_micro(os.path.join(run, "micro.txt"))
    if not micro:
        bad.append("micro: no RESULT line")
    for size, m in micro.items():
        if not all(m.get(k_, 0) > 0 for k_ in ("raw_ns", "rust_ns", "capi_ns", "fill_ns")):
            bad.append(f"micro {size}: {m}")
    pr = read_parse(os.path.join(run, "parse.txt"))
    if not pr:
        bad.append("parse: no RESULT line")
    for kind, m in pr.items():
        if not all(m[k_] > 0 for k_ in ("ours_ns", "capi_ns", "etherparse_ns")):
            bad.append(f"parse {kind}: {m}")
    for kind, keys in (("micro-xcore", ("raw_ns", "minv3_ns", "capi_ns", "fill_ns")), ("micro-xdp", ("v3_ns", "xdp_ns"))):
        got = read_micro(os.path.join(run, "micro.txt"), kind)
        if not got:
            bad.append(f"{kind}: no RESULT line")
        for size, m in got.items():
            if not all(m.get(k_, 0) > 0 for k_ in keys):
                bad.append(f"{kind} {size}: {m}")
    bad += check_export(run)
    for b in bad:
        print("bench-smoke: " + b)
    return not bad


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["rx", "tx", "latency", "report", "check"])
    ap.add_argument("tsv", help="TSV file (rx, tx) or run directory (report, check)")
    ap.add_argument("out", nargs="?", help="report: output directory")
    ap.add_argument("--ref")
    a = ap.parse_args()
    if a.mode == "report":
        report(a.tsv, a.out)
        return
    if a.mode == "check":
        raise SystemExit(0 if check(a.tsv) else 1)
    rows = load(a.tsv)
    if a.mode == "rx":
        print(rx(rows, a.ref or "min_v3"))
    elif a.mode == "latency":
        print(latency(rows))
    else:
        print(tx(rows, a.ref or "min_tx"))


if __name__ == "__main__":
    main()
