// docs/benchmarks.svg: the seed filters' module size and guest cost per request as horizontal bars,
// proxy-wasm-as beside the peer SDK and the WAT floor. Plain SVG, no browser or library needed.
import { PEER_SDK } from "./filters.js";
import type { BenchResult, ModuleResult } from "./suite.js";
import { int, ns } from "./stats.js";

const COLORS = { ours: "#1f77b4", peer: "#e8842c", floor: "#8c8c8c" } as const;
const NAMES = { ours: "proxy-wasm-as", peer: PEER_SDK, floor: "WAT floor" } as const;

export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;" })[c]!);
}

interface Panel {
  title: string;
  groups: Array<{ name: string; bars: Array<{ role: keyof typeof COLORS; value: number; label: string }> }>;
}

function panels(r: BenchResult): Panel[] {
  const seeds = r.examples.filter((e) => e.seed && e.ours);
  const bars = (e: (typeof seeds)[number], value: (m: ModuleResult) => number, label: (v: number) => string) =>
    (["ours", "peer", "floor"] as const)
      .map((role) => ({ role, m: e[role] }))
      .filter((b): b is { role: "ours" | "peer" | "floor"; m: ModuleResult } => b.m !== null)
      .map(({ role, m }) => ({ role, value: Math.max(0, value(m)), label: label(value(m)) }));
  return [
    {
      title: "Module size, raw bytes (smaller is better)",
      groups: seeds.map((e) => ({
        name: e.name,
        bars: bars(
          e,
          (m) => m.size.raw,
          (v) => `${int(v)} B`,
        ),
      })),
    },
    {
      title: "Guest cost per request, ns (smaller is better)",
      groups: seeds.map((e) => ({
        name: e.name,
        bars: bars(
          e,
          (m) => m.guestNs,
          (v) => `${ns(v)} ns`,
        ),
      })),
    },
  ];
}

/** The chart as an SVG document (empty string when there is no seed filter to show). */
export function chartSvg(r: BenchResult): string {
  const ps = panels(r).filter((p) => p.groups.length > 0);
  if (ps.length === 0) return "";
  const width = 860;
  const labelX = 24;
  const barX = 250;
  const barMax = 470;
  const rowH = 22;
  const out: string[] = [];
  let y = 34;
  out.push(`<text x="${labelX}" y="${y}" font-size="18" font-weight="bold">The seed filters, built three ways</text>`);
  y += 20;
  out.push(
    `<text x="${labelX}" y="${y}" font-size="12" fill="#444">${escapeXml("Guest cost: CPU time per request in the Node host above a module with no callbacks (median of interleaved rounds).")}</text>`,
  );
  // Legend
  let lx = labelX;
  y += 20;
  for (const role of ["ours", "peer", "floor"] as const) {
    out.push(`<rect x="${lx}" y="${y - 11}" width="14" height="14" fill="${COLORS[role]}"/>`);
    out.push(`<text x="${lx + 20}" y="${y}" font-size="13">${escapeXml(NAMES[role])}</text>`);
    lx += 40 + NAMES[role].length * 7.5;
  }
  y += 16;
  for (const p of ps) {
    y += 26;
    out.push(`<text x="${labelX}" y="${y}" font-size="15" font-weight="bold">${escapeXml(p.title)}</text>`);
    const max = Math.max(1, ...p.groups.flatMap((g) => g.bars.map((b) => b.value)));
    y += 10;
    for (const g of p.groups) {
      y += 22;
      out.push(`<text x="${labelX}" y="${y}" font-size="13" font-weight="bold">${escapeXml(g.name)}</text>`);
      y += 4;
      for (const [i, b] of g.bars.entries()) {
        const top = y + i * rowH;
        const w = Math.max(1, (b.value / max) * barMax);
        out.push(`<text x="${barX - 8}" y="${top + 15}" font-size="12" text-anchor="end" fill="#444">${escapeXml(NAMES[b.role])}</text>`);
        out.push(`<rect x="${barX}" y="${top + 3}" width="${w.toFixed(1)}" height="${rowH - 6}" fill="${COLORS[b.role]}"/>`);
        out.push(`<text x="${(barX + w + 6).toFixed(1)}" y="${top + 15}" font-size="12">${escapeXml(b.label)}</text>`);
      }
      y += g.bars.length * rowH + 6;
    }
  }
  y += 16;
  const m = r.machine;
  out.push(
    `<text x="${labelX}" y="${y}" font-size="11" fill="#666">${escapeXml(`${r.command}, ${r.date.slice(0, 10)}; ${m.cores} cores, ${m.cpuModel}, Node ${m.node}`)}</text>`,
  );
  y += 14;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y}" viewBox="0 0 ${width} ${y}" font-family="DejaVu Sans, Arial, Helvetica, sans-serif">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    ...out,
    "</svg>",
    "",
  ].join("\n");
}
