/**
 * Hostile inputs made from good ones: JSON values a schema must refuse or survive (every field replaced
 * in turn, prototype keys, deep nesting, strings at and past a cap) and images that are not what they
 * seem (another hash for the same picture, a decompression bomb's header).
 */
import { crc32 } from 'node:zlib'
import { concat, utf8 } from './encoding.js'
import type { Rng } from './rng.js'

/** JSON texts a schema must refuse or survive: wrong types, non-finite and huge numbers, prototype keys. */
export const HOSTILE_SCALARS = ['null', 'true', '0', '-1', '1.5', '-0', '1e308', '1e999', '-1e999', '9007199254740993', '""', '"\\u0000"',
  '"\\ud800"', '[]', '{}', '[null]', '"__proto__"', '{"__proto__":{"polluted":1}}', '{"constructor":{"prototype":{"polluted":1}}}']

export function deepJson (depth: number): string { return '['.repeat(depth) + ']'.repeat(depth) }
function deepObject (depth: number): string { return '{"a":'.repeat(depth) + '1' + '}'.repeat(depth) }

/** A JSON object text with `field` set to the raw JSON text `value`. */
export function withField (base: Record<string, unknown>, field: string, value: string): string {
  const rest = Object.entries(base).filter(([k]) => k !== field).map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`)
  return `{${[...rest, `${JSON.stringify(field)}:${value}`].join(',')}}`
}

/** Every field of `base` replaced in turn by each hostile scalar, plus prototype keys, extra keys, deep values. */
export function hostileObjects (base: Record<string, unknown>, extra: string[] = []): string[] {
  const out: string[] = []
  for (const field of Object.keys(base)) for (const v of HOSTILE_SCALARS) out.push(withField(base, field, v))
  out.push(withField(base, '__proto__', '{"polluted":1,"admin":true}'))
  out.push(withField(base, 'constructor', '{"prototype":{"polluted":1}}'))
  out.push(withField(base, 'prototype', '{"polluted":1}'))
  out.push(withField(base, 'extra', '1'))
  out.push(withField(base, Object.keys(base)[0] ?? 'x', deepJson(5000)))
  out.push(withField(base, Object.keys(base)[0] ?? 'x', deepObject(2000)))
  out.push(JSON.stringify([base]), JSON.stringify(JSON.stringify(base)), '{' + JSON.stringify(base).slice(1, -1) + ',' + JSON.stringify(base).slice(1, -1) + '}')
  out.push(...extra)
  return out
}

/** A string of `n` characters, some of them multi-byte, to test caps counted in characters vs bytes. */
export function longString (rng: Rng, n: number): string {
  let s = ''
  while (s.length < n) s += rng.pick(['x', 'é', '\\', '∑', '"', '😀'.slice(0, 1) === '\ud83d' ? 'y' : 'z', '{', '\u0000'])
  return s.slice(0, n)
}

/** A PNG with an ancillary text chunk before IEND: another image for the same picture, so another hash. */
export function pngVariant (png: Uint8Array, text: string): Uint8Array {
  const iend = png.length - 12
  const type = utf8('tEXt')
  const data = utf8(`Comment\0${text}`)
  const len = new Uint8Array(4)
  new DataView(len.buffer).setUint32(0, data.length)
  const crc = new Uint8Array(4)
  new DataView(crc.buffer).setUint32(0, crc32(concat([type, data])))
  return concat([png.subarray(0, iend), len, type, data, crc, png.subarray(iend)])
}

/** A PNG header that announces a huge image (a decompression bomb's first bytes) and little else. */
export function pngBomb (rng: Rng): Uint8Array {
  const ihdr = new Uint8Array(13)
  const v = new DataView(ihdr.buffer)
  v.setUint32(0, 60_000 + rng.below(1000))
  v.setUint32(4, 60_000)
  ihdr.set([8, 0, 0, 0, 0], 8)
  const type = utf8('IHDR')
  const len = Uint8Array.of(0, 0, 0, 13)
  const crc = new Uint8Array(4)
  new DataView(crc.buffer).setUint32(0, crc32(concat([type, ihdr])))
  const iend = Uint8Array.of(0, 0, 0, 0, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82)
  return concat([Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a), len, type, ihdr, crc, iend])
}
