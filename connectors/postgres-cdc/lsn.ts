/**
 * Log sequence numbers as JavaScript numbers. An LSN is 64 bits, but a number holds it exactly up
 * to 2^53 bytes of WAL (8 PiB), which no server reaches; numbers keep the hot path free of bigints.
 */

/** `16/B374D848` -> 0x16B374D848. */
export function parseLsn(text: string): number {
  const slash = text.indexOf('/');
  if (slash <= 0) throw new Error(`not an LSN: ${JSON.stringify(text)}`);
  const hi = parseInt(text.slice(0, slash), 16);
  const lo = parseInt(text.slice(slash + 1), 16);
  if (!Number.isFinite(hi) || !Number.isFinite(lo)) throw new Error(`not an LSN: ${JSON.stringify(text)}`);
  return hi * 0x1_0000_0000 + lo;
}

export function formatLsn(lsn: number): string {
  const hi = Math.floor(lsn / 0x1_0000_0000);
  const lo = lsn - hi * 0x1_0000_0000;
  return `${hi.toString(16).toUpperCase()}/${lo.toString(16).toUpperCase()}`;
}

export function readLsn(buf: Buffer, at: number): number {
  return buf.readUInt32BE(at) * 0x1_0000_0000 + buf.readUInt32BE(at + 4);
}

export function writeLsn(buf: Buffer, at: number, lsn: number): void {
  const hi = Math.floor(lsn / 0x1_0000_0000);
  buf.writeUInt32BE(hi, at);
  buf.writeUInt32BE(lsn - hi * 0x1_0000_0000, at + 4);
}
