// The binary answer of query_series (``Accept: application/x-kiseki-series``), as the server's
// ``_series_binary`` writes it (src/kiseki/server/routes/metrics.py):
//
//   "KSS1" | uint32 LE header length | UTF-8 JSON header, space-padded to a multiple of 8 bytes |
//   per series (header order), per column (header "columns" order): n float64 LE values
//
// header: {"columns": ["x", "min", ...], "series": [{"run", "key", "x_axis", "n"}], "missing": [...]}
//
// The columns are Float64Array views into the response buffer: nothing is parsed or copied per
// number (a 100-run panel's JSON answer, 3 MB of text, took the browser tens of ms to parse and
// convert). NaN and ±Infinity arrive as themselves.

export const SERIES_MEDIA = "application/x-kiseki-series";
const MAGIC = "KSS1";

export type SeriesColumn = "x" | "min" | "max" | "mean" | "last" | "count";
export const SERIES_COLUMNS: readonly SeriesColumn[] = ["x", "min", "max", "mean", "last", "count"];

export interface DecodedSeries {
  run: string;
  key: string;
  x_axis: string;
  /** the columns sent, each ``n`` values */
  columns: Partial<Record<SeriesColumn, Float64Array>>;
}

export interface DecodedSeriesMany {
  series: DecodedSeries[];
  /** run x key pairs asked for that do not exist: {run, key} */
  missing: Record<string, string>[];
}

interface Header {
  columns: SeriesColumn[];
  series: { run: string; key: string; x_axis: string; n: number }[];
  missing: Record<string, string>[];
}

/** The Accept header asking for ``columns`` (all of them when omitted). */
export function seriesAccept(columns?: readonly SeriesColumn[]): string {
  return columns ? `${SERIES_MEDIA}; columns="${columns.join(" ")}"` : SERIES_MEDIA;
}

const LITTLE_ENDIAN = new Uint8Array(new Float64Array([1]).buffer)[7] === 0x3f;

export function decodeSeries(buffer: ArrayBuffer): DecodedSeriesMany {
  if (buffer.byteLength < 8) throw new Error("series answer: too short");
  const bytes = new Uint8Array(buffer);
  const magic = String.fromCharCode(bytes[0] as number, bytes[1] as number, bytes[2] as number, bytes[3] as number);
  if (magic !== MAGIC) throw new Error("series answer: not a kiseki series buffer");
  const view = new DataView(buffer);
  const headerLength = view.getUint32(4, true);
  const start = 8 + headerLength;
  if (start > buffer.byteLength || start % 8 !== 0) throw new Error("series answer: bad header length");
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, start))) as Header;
  const cols = header.columns;
  let offset = start;
  const series: DecodedSeries[] = header.series.map((h) => {
    const columns: Partial<Record<SeriesColumn, Float64Array>> = {};
    for (const c of cols) {
      const end = offset + h.n * 8;
      if (end > buffer.byteLength) throw new Error("series answer: truncated");
      columns[c] = LITTLE_ENDIAN ? new Float64Array(buffer, offset, h.n) : readSwapped(view, offset, h.n);
      offset = end;
    }
    return { run: h.run, key: h.key, x_axis: h.x_axis, columns };
  });
  if (offset !== buffer.byteLength) throw new Error("series answer: trailing bytes");
  return { series, missing: header.missing };
}

function readSwapped(view: DataView, offset: number, n: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = view.getFloat64(offset + i * 8, true);
  return out;
}

/** A JSON ``SeriesMany`` answer (a server without the binary answer) in the decoded shape:
 * numbers as Float64Array, JSON null (and anything not a number) as NaN. */
export function fromJsonSeries(
  answer: {
    series: ({ run: string; key: string; x_axis: string } & Partial<Record<SeriesColumn, unknown[]>>)[];
    missing: Record<string, string>[];
  },
  columns: readonly SeriesColumn[] = SERIES_COLUMNS,
): DecodedSeriesMany {
  return {
    series: answer.series.map((s) => {
      const out: Partial<Record<SeriesColumn, Float64Array>> = {};
      for (const c of columns) {
        const values = s[c] ?? [];
        const arr = new Float64Array(values.length);
        for (let i = 0; i < values.length; i++) {
          const v = values[i];
          arr[i] = typeof v === "number" ? v : NaN;
        }
        out[c] = arr;
      }
      return { run: s.run, key: s.key, x_axis: s.x_axis, columns: out };
    }),
    missing: answer.missing,
  };
}
