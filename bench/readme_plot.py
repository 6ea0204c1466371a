#!/usr/bin/env python3
"""The README's one plot: capture CPU per packet, from a make bench run.

    python3 bench/readme_plot.py [bench/results/2026-12-01] [docs/rx-cpu.svg]

Reads RUN/rx.tsv (written by bench/run.sh), takes each consumer's CPU per
captured packet (cons_cpu_ns / captured) per repetition, and draws the
median per frame size as horizontal bars, the range of the repetitions as
a thin line. Plain python3, no plotting library.
"""
import csv
import statistics
import sys
from collections import defaultdict
from html import escape

RUN = sys.argv[1] if len(sys.argv) > 1 else "bench/results/2026-12-01"
OUT = sys.argv[2] if len(sys.argv) > 2 else "docs/rx-cpu.svg"
CONSUMERS = [  # rx.tsv name -> label
    ("min_v3", "min_v3 (hand-written TPACKET_V3 reference)"),
    ("nrcap", "nrcap (netring C API)"),
    ("libpcap", "libpcap pcap_dispatch"),
    ("tcpdump", "tcpdump -w /dev/null"),
    ("tcpdump_shim", "the same tcpdump on netring's libpcap drop-in"),
]
COLOURS = {"60": "#4e79a7", "1514": "#f28e2b"}


def load(run):
    per = defaultdict(list)  # (size, consumer) -> [ns per packet, one per repetition]
    with open(f"{run}/rx.tsv", newline="") as f:
        for r in csv.DictReader(f, delimiter="\t"):
            try:
                cap = float(r["captured"])
                cpu = float(r["cons_cpu_ns"])
            except ValueError:
                continue
            if cap > 0:
                per[(r["size"], r["consumer"])].append(cpu / cap)
    return per


def main():
    per = load(RUN)
    sizes = sorted({s for s, _ in per}, key=int)
    rows = [(c, label) for c, label in CONSUMERS if any((s, c) in per for s in sizes)]
    top = max(max(v) for v in per.values() if v)
    left, width, bar, gap = 330, 380, 14, 12
    height = 70 + len(rows) * (len(sizes) * bar + gap) + 40
    scale = width / top
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 90}" height="{height}" '
        'font-family="sans-serif" font-size="12">',
        '<rect width="100%" height="100%" fill="white"/>',
        f'<text x="10" y="20" font-size="14" font-weight="bold">Capture: consumer CPU per packet '
        f'(ns, lower is better), {escape(RUN)}</text>',
        '<text x="10" y="38" fill="#555">veth pair, trafgen on CPU 0, consumer on CPU 1; bar = median, '
        'line = range of the repetitions</text>',
    ]
    x = 10
    for s in sizes:
        out.append(f'<rect x="{x}" y="48" width="10" height="10" fill="{COLOURS.get(s, "#888")}"/>')
        out.append(f'<text x="{x + 14}" y="57">{s}-byte frames</text>')
        x += 120
    y = 70
    for c, label in rows:
        out.append(f'<text x="{left - 8}" y="{y + len(sizes) * bar / 2 + 4}" text-anchor="end">'
                   f'{escape(label)}</text>')
        for s in sizes:
            v = per.get((s, c))
            if v:
                m = statistics.median(v)
                out.append(f'<rect x="{left}" y="{y}" width="{m * scale:.1f}" height="{bar - 2}" '
                           f'fill="{COLOURS.get(s, "#888")}"/>')
                ly = y + (bar - 2) / 2
                out.append(f'<line x1="{left + min(v) * scale:.1f}" x2="{left + max(v) * scale:.1f}" '
                           f'y1="{ly}" y2="{ly}" stroke="black"/>')
                out.append(f'<text x="{left + max(v) * scale + 4:.1f}" y="{y + bar - 3}">{m:.1f}</text>')
            y += bar
        y += gap
    out.append(f'<line x1="{left}" x2="{left}" y1="66" y2="{y}" stroke="#333"/>')
    out.append(f'<text x="10" y="{y + 20}" fill="#555">Regenerate: python3 bench/readme_plot.py '
               f'{escape(RUN)} {escape(OUT)}</text>')
    out.append("</svg>")
    with open(OUT, "w") as f:
        f.write("\n".join(out) + "\n")
    for c, _ in rows:
        print(c, " ".join(f"{s}B={statistics.median(per[(s, c)]):.1f}" for s in sizes if per.get((s, c))))


if __name__ == "__main__":
    main()
