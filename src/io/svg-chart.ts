// Small SVG charts for results pages and demos: line charts (curves, accuracy against ratio) and
// grouped bars (per-tier figures). Plain SVG text, no dependency, readable in any browser.
export interface Series {
  name: string;
  points: [number, number][];
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f'];

function escape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function ticks(min: number, max: number, count = 5): number[] {
  if (max === min) return [min];
  const step = (max - min) / count;
  return Array.from({ length: count + 1 }, (_, i) => min + i * step);
}

function label(v: number): string {
  return Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2).replace(/\.?0+$/, '') : v.toFixed(3).replace(/\.?0+$/, '');
}

export function lineChartSvg(o: { title: string; xLabel: string; yLabel: string; series: Series[]; yMin?: number; yMax?: number; width?: number; height?: number }): string {
  const W = o.width ?? 640,
    H = o.height ?? 400,
    L = 60,
    R = 150,
    T = 36,
    B = 48;
  const all = o.series.flatMap((s) => s.points);
  const xs = all.map((p) => p[0]),
    ys = all.map((p) => p[1]);
  const xMin = Math.min(...xs),
    xMax = Math.max(...xs);
  const yMin = o.yMin ?? Math.min(...ys),
    yMax = o.yMax ?? Math.max(...ys);
  const px = (x: number) => L + ((x - xMin) / (xMax - xMin || 1)) * (W - L - R);
  const py = (y: number) => H - B - ((y - yMin) / (yMax - yMin || 1)) * (H - T - B);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2 - R / 2}" y="20" text-anchor="middle" font-size="14">${escape(o.title)}</text>`,
    `<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="black"/><line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="black"/>`,
  ];
  for (const t of ticks(xMin, xMax)) parts.push(`<text x="${px(t)}" y="${H - B + 16}" text-anchor="middle">${label(t)}</text>`);
  for (const t of ticks(yMin, yMax)) parts.push(`<text x="${L - 6}" y="${py(t) + 4}" text-anchor="end">${label(t)}</text><line x1="${L}" y1="${py(t)}" x2="${W - R}" y2="${py(t)}" stroke="#ddd"/>`);
  parts.push(`<text x="${(L + W - R) / 2}" y="${H - 10}" text-anchor="middle">${escape(o.xLabel)}</text>`);
  parts.push(`<text x="14" y="${(T + H - B) / 2}" text-anchor="middle" transform="rotate(-90 14 ${(T + H - B) / 2})">${escape(o.yLabel)}</text>`);
  o.series.forEach((s, i) => {
    const c = COLORS[i % COLORS.length];
    parts.push(`<polyline fill="none" stroke="${c}" stroke-width="2" points="${s.points.map(([x, y]) => `${px(x)},${py(y)}`).join(' ')}"/>`);
    for (const [x, y] of s.points) parts.push(`<circle cx="${px(x)}" cy="${py(y)}" r="3" fill="${c}"/>`);
    parts.push(`<rect x="${W - R + 12}" y="${T + i * 18}" width="12" height="3" fill="${c}"/><text x="${W - R + 30}" y="${T + i * 18 + 5}">${escape(s.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}

export function barChartSvg(o: {
  title: string;
  yLabel: string;
  categories: string[];
  series: { name: string; values: number[] }[];
  yMin?: number;
  yMax?: number;
  width?: number;
  height?: number;
}): string {
  const W = o.width ?? 640,
    H = o.height ?? 400,
    L = 60,
    R = 150,
    T = 36,
    B = 48;
  const values = o.series.flatMap((s) => s.values);
  const yMin = o.yMin ?? Math.min(0, ...values),
    yMax = o.yMax ?? Math.max(...values);
  const py = (y: number) => H - B - ((y - yMin) / (yMax - yMin || 1)) * (H - T - B);
  const groupW = (W - L - R) / o.categories.length;
  const barW = (groupW * 0.8) / o.series.length;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2 - R / 2}" y="20" text-anchor="middle" font-size="14">${escape(o.title)}</text>`,
    `<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="black"/><line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="black"/>`,
  ];
  for (const t of ticks(yMin, yMax)) parts.push(`<text x="${L - 6}" y="${py(t) + 4}" text-anchor="end">${label(t)}</text><line x1="${L}" y1="${py(t)}" x2="${W - R}" y2="${py(t)}" stroke="#ddd"/>`);
  parts.push(`<text x="14" y="${(T + H - B) / 2}" text-anchor="middle" transform="rotate(-90 14 ${(T + H - B) / 2})">${escape(o.yLabel)}</text>`);
  o.categories.forEach((c, i) => parts.push(`<text x="${L + groupW * (i + 0.5)}" y="${H - B + 16}" text-anchor="middle">${escape(c)}</text>`));
  o.series.forEach((s, j) => {
    const c = COLORS[j % COLORS.length];
    s.values.forEach((v, i) => {
      const x = L + groupW * i + groupW * 0.1 + j * barW;
      parts.push(`<rect x="${x}" y="${Math.min(py(v), py(yMin))}" width="${barW - 2}" height="${Math.abs(py(yMin) - py(v))}" fill="${c}"><title>${escape(s.name)}: ${label(v)}</title></rect>`);
      parts.push(`<text x="${x + barW / 2}" y="${py(v) - 4}" text-anchor="middle" font-size="10">${label(v)}</text>`);
    });
    parts.push(`<rect x="${W - R + 12}" y="${T + j * 18}" width="12" height="10" fill="${c}"/><text x="${W - R + 30}" y="${T + j * 18 + 9}">${escape(s.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}
