/** A plain-text table: columns padded to their widest cell, two spaces apart, no trailing spaces. */
export function formatTable(headers: string[], rows: Array<Array<string | number | null | undefined>>): string {
  const cells = rows.map((r) => headers.map((_, i) => oneLine(r[i])));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(headers), ...cells.map(line)].join('\n') + '\n';
}

function oneLine(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return '';
  return String(value).replace(/\s*\n\s*/g, ' ');
}

/** The first line of a stack trace, shortened: enough to recognise the failure in a table. */
export function firstLine(trace: string | undefined, max = 100): string {
  if (!trace) return '';
  const first = trace.split('\n')[0].trim();
  return first.length > max ? `${first.slice(0, max - 1)}…` : first;
}
