import { Area, AreaChart, CartesianGrid, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { formatMoney } from "../lib/money";

export interface ChartPoint {
  date: string;
  value: string;
}

/**
 * Net worth over time. The chart library needs numbers to place points; the labels and the
 * tooltip show the exact decimal string from the server.
 */
export default function NetWorthChart({ points, currency }: { points: ChartPoint[]; currency: string }) {
  const data = points.map((p) => ({ date: p.date, value: p.value, y: Number(p.value) }));
  const compact = new Intl.NumberFormat(undefined, {
    style: "currency",
    currency,
    notation: "compact",
    maximumFractionDigits: 1,
  });
  return (
    <div className="chart" role="img" aria-label={`Net worth over ${points.length} days`}>
      <ResponsiveContainer width="100%" height={220}>
        <AreaChart data={data} margin={{ top: 8, right: 8, bottom: 0, left: 0 }}>
          <defs>
            <linearGradient id="nw" x1="0" y1="0" x2="0" y2="1">
              <stop offset="0%" stopColor="#12806a" stopOpacity={0.35} />
              <stop offset="100%" stopColor="#12806a" stopOpacity={0} />
            </linearGradient>
          </defs>
          <CartesianGrid stroke="#e6ebe9" vertical={false} />
          <XAxis dataKey="date" tickLine={false} axisLine={false} minTickGap={32} fontSize={12} />
          <YAxis
            tickFormatter={(v: number) => compact.format(v)}
            tickLine={false}
            axisLine={false}
            width={64}
            fontSize={12}
          />
          <Tooltip
            formatter={(_v, _n, item) => [formatMoney(String(item.payload.value), currency), "Net worth"]}
          />
          <Area type="monotone" dataKey="y" stroke="#12806a" strokeWidth={2} fill="url(#nw)" />
        </AreaChart>
      </ResponsiveContainer>
    </div>
  );
}
