/** One hand-written SVG bar chart summarizing both benchmarks (no dependency). */
import type { HandlerResults } from './handler.ts';
import type { JwtResults } from './jwt.ts';

const COLORS = { ours: '#1f77b4', jose: '#ff7f0e', floor: '#2ca02c' } as const;
const HANDLER_COLORS = { full: '#1f77b4', empty: '#9467bd', jwtVerify: '#ff7f0e' } as const;

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function text(x: number, y: number, value: string, attrs = ''): string {
  return `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" ${attrs}>${escapeXml(value)}</text>`;
}

function rect(x: number, y: number, w: number, h: number, fill: string): string {
  return `<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${w.toFixed(1)}" height="${h.toFixed(1)}" fill="${fill}"/>`;
}

function compact(value: number): string {
  return value >= 10_000 ? `${(value / 1000).toFixed(1)}k` : `${Math.round(value)}`;
}

export function renderSummarySvg(jwt: JwtResults, handler: HandlerResults): string {
  const width = 900;
  const height = 420;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    '<title>TVM benchmarks: JWT verify throughput and warm vend CPU per request</title>',
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
  );

  // Left panel: JWT throughput per case.
  const left = { x: 60, y: 50, w: 480, h: 280 };
  out.push(
    text(
      left.x,
      24,
      'JWT verify throughput (ops/s, median; higher is better)',
      'font-size="13" font-weight="bold"',
    ),
  );
  const maxOps = Math.max(
    ...jwt.cases.flatMap((c) =>
      [c.variants.ours, c.variants.jose, c.variants.floor].map((v) => v.opsPerSecMedian),
    ),
  );
  out.push(
    `<line x1="${left.x}" y1="${left.y + left.h}" x2="${left.x + left.w}" y2="${left.y + left.h}" stroke="#333"/>`,
  );
  const groupW = left.w / jwt.cases.length;
  const barW = (groupW - 24) / 3;
  jwt.cases.forEach((c, g) => {
    const gx = left.x + g * groupW + 12;
    (['ours', 'jose', 'floor'] as const).forEach((name, k) => {
      const value = c.variants[name].opsPerSecMedian;
      const h = (value / maxOps) * left.h;
      const x = gx + k * barW;
      out.push(rect(x, left.y + left.h - h, barW - 2, h, COLORS[name]));
      out.push(
        text(
          x + barW / 2 - 1,
          left.y + left.h - h - 3,
          compact(value),
          'text-anchor="middle" font-size="9"',
        ),
      );
    });
    out.push(
      text(
        gx + (3 * barW) / 2,
        left.y + left.h + 16,
        `${c.alg}, ${c.keysInJwks} key${c.keysInJwks > 1 ? 's' : ''}`,
        'text-anchor="middle"',
      ),
    );
    out.push(
      text(
        gx + (3 * barW) / 2,
        left.y + left.h + 32,
        `ours/jose ${(c.ratioOursToJose * 100).toFixed(0)} %`,
        `text-anchor="middle" fill="${c.ratioOursToJose >= jwt.target.oursToJoseThroughput ? '#2a7a2a' : '#b00020'}"`,
      ),
    );
  });
  (['ours', 'jose', 'floor'] as const).forEach((name, k) => {
    const label = {
      ours: 'our authenticate',
      jose: 'raw jose jwtVerify',
      floor: 'node:crypto verify',
    }[name];
    out.push(rect(left.x + k * 160, left.y + left.h + 48, 12, 12, COLORS[name]));
    out.push(text(left.x + k * 160 + 16, left.y + left.h + 58, label));
  });

  // Right panel: handler CPU per request.
  const right = { x: 620, y: 50, w: 240, h: 280 };
  out.push(
    text(
      right.x - 40,
      24,
      'Warm vend: CPU µs/request (lower is better)',
      'font-size="12" font-weight="bold"',
    ),
  );
  const hv = handler.variants;
  const target = hv.jwtVerify.cpuUsPerOpMedian * handler.targets.fullToJwtVerifyCpu;
  const maxCpu = Math.max(
    hv.full.cpuUsPerOpMedian,
    hv.empty.cpuUsPerOpMedian,
    hv.jwtVerify.cpuUsPerOpMedian,
    target,
  );
  out.push(
    `<line x1="${right.x}" y1="${right.y + right.h}" x2="${right.x + right.w}" y2="${right.y + right.h}" stroke="#333"/>`,
  );
  const hbar = right.w / 3;
  (['full', 'empty', 'jwtVerify'] as const).forEach((name, k) => {
    const value = hv[name].cpuUsPerOpMedian;
    const h = (value / maxCpu) * right.h;
    const x = right.x + k * hbar + 8;
    out.push(rect(x, right.y + right.h - h, hbar - 16, h, HANDLER_COLORS[name]));
    out.push(
      text(
        x + (hbar - 16) / 2,
        right.y + right.h - h - 3,
        `${Math.round(value)}`,
        'text-anchor="middle"',
      ),
    );
    const label = { full: 'full stack', empty: 'empty handler', jwtVerify: 'jwtVerify' }[name];
    out.push(text(x + (hbar - 16) / 2, right.y + right.h + 16, label, 'text-anchor="middle"'));
  });
  const ty = right.y + right.h - (target / maxCpu) * right.h;
  out.push(
    `<line x1="${right.x}" y1="${ty.toFixed(1)}" x2="${right.x + right.w}" y2="${ty.toFixed(1)}" stroke="#b00020" stroke-dasharray="5,3"/>`,
  );
  out.push(
    text(
      right.x + right.w,
      ty - 4,
      `target: 1.3 × jwtVerify = ${Math.round(target)} µs`,
      'text-anchor="end" fill="#b00020" font-size="10"',
    ),
  );
  out.push(
    text(
      right.x - 20,
      right.y + right.h + 40,
      `full/jwtVerify ${handler.ratioFullToJwtVerifyCpu}× (target ≤ 1.3×)`,
    ),
    text(
      right.x - 20,
      right.y + right.h + 56,
      `full − empty ${handler.fullMinusEmptyCpuUs} µs CPU (target ≤ 15 µs)`,
    ),
  );

  out.push(
    text(
      10,
      height - 8,
      `Node ${process.version}, ${new Date().toISOString().slice(0, 10)}; see bench/results/*.json for the machine and method`,
      'fill="#666" font-size="10"',
    ),
  );
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
