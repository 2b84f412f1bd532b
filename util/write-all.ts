import { writeSync } from 'node:fs'

/**
 * Write all of `bytes` to `fd` (writeSync may write part of it): at `position`, or where the
 * file's offset is when none is given. Throws when a write writes nothing (a full disk).
 */
export function writeAllSync (fd: number, bytes: Uint8Array, position?: number): void {
  for (let at = 0; at < bytes.length;) {
    const n = writeSync(fd, bytes, at, bytes.length - at, position == null ? null : position + at)
    if (n === 0) throw new Error('a write wrote nothing (is the disk full?)')
    at += n
  }
}
