/**
 * A minimal tar(.gz) extractor for the dataset archives (ustar / GNU tar; regular files and folders only).
 * Entry names are checked: an absolute path or a `..` component is refused, so an archive cannot write outside
 * the destination. Links and devices are skipped.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { fileError } from './errors';

const BLOCK = 512;

function cstring(b: Uint8Array, off: number, len: number): string {
  let end = off;
  while (end < off + len && b[end] !== 0) end++;
  return Buffer.from(b.subarray(off, end)).toString('utf8');
}

function octal(b: Uint8Array, off: number, len: number): number {
  if (b[off] & 0x80) {
    // GNU base-256 size (files over 8 GiB): big-endian in the remaining bytes.
    let v = 0;
    for (let k = off + 1; k < off + len; k++) v = v * 256 + b[k];
    return v;
  }
  const s = cstring(b, off, len).trim();
  return s ? parseInt(s, 8) : 0;
}

function checksumOk(h: Uint8Array): boolean {
  let sum = 0;
  for (let k = 0; k < BLOCK; k++) sum += k >= 148 && k < 156 ? 32 : h[k];
  return sum === octal(h, 148, 8);
}

/**
 * Extracts the tar.gz (or plain tar) `archive` under `destDir`. Returns the extracted files' relative paths.
 * Throws a one-line `DataError` naming the archive if it is corrupt or truncated.
 */
export function extractTar(archive: string, destDir: string): string[] {
  let buf: Uint8Array = fs.readFileSync(archive);
  if (buf[0] === 0x1f && buf[1] === 0x8b) {
    try {
      buf = zlib.gunzipSync(buf);
    } catch (e) {
      throw fileError(archive, `corrupt gzip data (${(e as Error).message})`);
    }
  }
  const out: string[] = [];
  let off = 0;
  let longName: string | null = null;
  let paxPath: string | null = null;
  while (off + BLOCK <= buf.length) {
    const h = buf.subarray(off, off + BLOCK);
    if (h.every((v) => v === 0)) break; // end-of-archive marker
    if (!checksumOk(h)) throw fileError(archive, `corrupt tar header at byte ${off}`);
    const size = octal(h, 124, 12);
    const type = String.fromCharCode(h[156] || 0x30);
    const dataStart = off + BLOCK;
    const dataEnd = dataStart + size;
    if (dataEnd > buf.length) {
      throw fileError(archive, `truncated tar archive (entry at byte ${off} needs ${size} bytes)`);
    }
    const data = buf.subarray(dataStart, dataEnd);
    off = dataStart + Math.ceil(size / BLOCK) * BLOCK;
    if (type === 'L') {
      longName = cstring(data, 0, data.length);
      continue;
    }
    if (type === 'x') {
      const m = /(?:^|\n)\d+ path=([^\n]*)\n/.exec(Buffer.from(data).toString('utf8'));
      paxPath = m ? m[1] : null;
      continue;
    }
    if (type === 'g') continue;
    const prefix = h[257] === 0x75 /* 'u' of ustar */ ? cstring(h, 345, 155) : '';
    let name = longName ?? paxPath ?? (prefix ? `${prefix}/${cstring(h, 0, 100)}` : cstring(h, 0, 100));
    longName = paxPath = null;
    name = name.replace(/^\.\//, '');
    if (!name) continue;
    if (path.isAbsolute(name) || name.split(/[\\/]/).includes('..')) {
      throw fileError(archive, `refusing tar entry '${name}' (outside the destination)`);
    }
    const target = path.join(destDir, name);
    if (type === '5') {
      fs.mkdirSync(target, { recursive: true });
    } else if (type === '0' || type === '7') {
      fs.mkdirSync(path.dirname(target), { recursive: true });
      fs.writeFileSync(target, data);
      out.push(name);
    }
  }
  return out;
}
