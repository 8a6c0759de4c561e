/**
 * Charts as plain SVG drawn here (no chart library, nothing from a CDN). Each
 * chart measures its container and draws at that width, so labels keep their
 * size on a phone instead of shrinking with a scaled viewBox.
 */
import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';

function useWidth(fallback = 560) {
  const ref = useRef<HTMLDivElement>(null);
  const [width, setWidth] = useState(fallback);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    const measure = () => setWidth(Math.max(240, Math.floor(el.clientWidth)));
    measure();
    if (typeof ResizeObserver === 'undefined') return;
    const ro = new ResizeObserver(measure);
    ro.observe(el);
    return () => ro.disconnect();
  }, []);
  return { ref, width };
}

const ellipsize = (s: string, max: number) => (s.length > max ? `${s.slice(0, max - 1)}…` : s);

export interface BarRow {
  label: string;
  value: number;
  /** Text at the end of the bar (default: the value). */
  text?: string;
  /** Under the label, smaller. */
  sub?: string;
}

/** Horizontal bars, one per row. */
export function BarChart({
  rows,
  max,
  color = '#6366f1',
  empty = 'No data yet',
}: {
  rows: BarRow[];
  max?: number;
  color?: string;
  empty?: string;
}) {
  const { ref, width } = useWidth();
  if (!rows.length) return <p class="muted">{empty}</p>;
  const labelW = Math.min(180, Math.round(width * 0.34));
  const valueW = 64;
  const barW = Math.max(40, width - labelW - valueW - 8);
  const rowH = 30;
  const top = Math.max(max ?? 0, ...rows.map((r) => r.value), 1e-9);
  const h = rows.length * rowH + 4;
  return (
    <div ref={ref}>
      <svg class="chart" width={width} height={h} viewBox={`0 0 ${width} ${h}`} role="img">
        {rows.map((r, i) => {
          const y = i * rowH + 4;
          const w = Math.max(r.value > 0 ? 2 : 0, (r.value / top) * barW);
          return (
            <g key={i}>
              <text x={labelW - 10} y={y + (r.sub ? 10 : 15)} text-anchor="end" class="lbl">
                {ellipsize(r.label, Math.floor(labelW / 7))}
              </text>
              {r.sub ? (
                <text x={labelW - 10} y={y + 23} text-anchor="end">
                  {r.sub}
                </text>
              ) : null}
              <rect x={labelW} y={y + 3} width={barW} height={rowH - 12} rx={5} fill="#f1f5f9" />
              <rect x={labelW} y={y + 3} width={w} height={rowH - 12} rx={5} fill={color} />
              <text x={labelW + barW + 8} y={y + 15} class="val">
                {r.text ?? String(r.value)}
              </text>
            </g>
          );
        })}
      </svg>
    </div>
  );
}

export interface Series {
  name: string;
  color: string;
}

/** Horizontal grouped bars: for each row, one thin bar per series. */
export function GroupedBars({ rows, series }: { rows: { label: string; values: number[] }[]; series: Series[] }) {
  const { ref, width } = useWidth();
  if (!rows.length) return <p class="muted">No data yet</p>;
  const labelW = Math.min(180, Math.round(width * 0.34));
  const valueW = 40;
  const barW = Math.max(40, width - labelW - valueW - 8);
  const barH = 9;
  const gap = 3;
  const groupH = series.length * (barH + gap) + 14;
  const top = Math.max(1, ...rows.flatMap((r) => r.values));
  const h = rows.length * groupH + 4;
  return (
    <div ref={ref}>
      <Legend series={series} />
      <svg class="chart" width={width} height={h} viewBox={`0 0 ${width} ${h}`} role="img">
        {rows.map((r, i) => {
          const y0 = i * groupH + 6;
          return (
            <g key={i}>
              <text x={labelW - 10} y={y0 + (series.length * (barH + gap)) / 2 + 3} text-anchor="end" class="lbl">
                {ellipsize(r.label, Math.floor(labelW / 7))}
              </text>
              {series.map((s, j) => {
                const y = y0 + j * (barH + gap);
                const v = r.values[j] ?? 0;
                return (
                  <g key={j}>
                    <rect
                      x={labelW}
                      y={y}
                      width={Math.max(v > 0 ? 2 : 0, (v / top) * barW)}
                      height={barH}
                      rx={3}
                      fill={s.color}
                    />
                    <text x={labelW + (v / top) * barW + 6} y={y + barH - 1} style={{ fontSize: '10px' }}>
                      {v}
                    </text>
                  </g>
                );
              })}
            </g>
          );
        })}
      </svg>
    </div>
  );
}

function Legend({ series }: { series: Series[] }) {
  return (
    <div class="legend" style={{ marginBottom: '8px' }}>
      {series.map((s) => (
        <span key={s.name}>
          <i style={{ background: s.color }} />
          {s.name}
        </span>
      ))}
    </div>
  );
}

export function ChartCard({ title, sub, children }: { title: string; sub?: string; children: ComponentChildren }) {
  return (
    <section class="panel">
      <header class="panel-head">
        <h2>{title}</h2>
        {sub ? <span class="muted">{sub}</span> : null}
      </header>
      {children}
    </section>
  );
}
