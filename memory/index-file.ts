/**
 * The integrity of a saved vector index (usearch's file: a matrix of int8 vectors, then a header
 * and the graph). usearch reads such a file trusting what it says, and a damaged one can read out
 * of bounds, so a file is checked before it is loaded: its CRC-32 against the one written beside
 * it when it was saved, then the matrix's shape and the header's metric against what this index
 * stores.
 */
import { closeSync, openSync, readFileSync, readSync, writeFileSync } from 'node:fs'
import { crc32 } from 'node:zlib'
import { z } from 'zod'

const Check = z.object({ crc32: z.number().int().nonnegative(), bytes: z.number().int().nonnegative() })
type Check = z.infer<typeof Check>

/** usearch's header: "usearch", three 16-bit version numbers, then the metric as one character. */
const MAGIC = 'usearch'
const METRIC_AT = 13

function checksum (file: string): Check {
  const fd = openSync(file, 'r')
  try {
    const buffer = Buffer.allocUnsafe(1 << 22)
    let crc = 0
    let bytes = 0
    for (let n; (n = readSync(fd, buffer, 0, buffer.length, null)) > 0;) {
      crc = crc32(buffer.subarray(0, n), crc)
      bytes += n
    }
    return { crc32: crc, bytes }
  } finally {
    closeSync(fd)
  }
}

function readAt (fd: number, at: number, length: number): Buffer {
  const b = Buffer.alloc(length)
  if (readSync(fd, b, 0, length, at) !== length) throw new Error('it ends early')
  return b
}

/** Write `file`'s check to `checkFile` (after the index was saved to `file`). */
export function writeCheck (file: string, checkFile: string): void {
  writeFileSync(checkFile, JSON.stringify(checksum(file)))
}

/**
 * Throw unless `file` is the one `checkFile` describes and holds int8 vectors of `dimensions`
 * compared by `metric` (usearch's letter for it: 'i' for inner product). Returns how many vectors.
 */
export function verify (file: string, checkFile: string, dimensions: number, metric: string): number {
  let expected: Check
  try {
    expected = Check.parse(JSON.parse(readFileSync(checkFile, 'utf8')))
  } catch (err) {
    throw new Error(`its check ${checkFile} is missing or malformed (${(err as Error).message.slice(0, 200)})`)
  }
  const actual = checksum(file)
  if (actual.bytes !== expected.bytes || actual.crc32 !== expected.crc32) throw new Error(`it is damaged: ${actual.bytes} bytes, CRC-32 ${actual.crc32}; saved as ${expected.bytes} bytes, ${expected.crc32}`)
  const fd = openSync(file, 'r')
  try {
    const shape = readAt(fd, 0, 8)
    const rows = shape.readUInt32LE(0)
    const cols = shape.readUInt32LE(4)
    if (cols !== dimensions) throw new Error(`its vectors take ${cols} bytes, not ${dimensions} (int8 of ${dimensions} dimensions)`)
    const head = readAt(fd, 8 + rows * cols, METRIC_AT + 1)
    if (head.toString('latin1', 0, MAGIC.length) !== MAGIC) throw new Error('it is not a usearch index')
    const stored = String.fromCharCode(head[METRIC_AT]!)
    if (stored !== metric) throw new Error(`its metric is '${stored}', not '${metric}'`)
    return rows
  } finally {
    closeSync(fd)
  }
}
