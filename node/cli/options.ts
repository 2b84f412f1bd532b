/** What every command shares: the data dir and --json options, printing, and option parsers that fail in one line. */
import type { Command } from 'commander'
import { DataDir } from '../datadir/datadir.js'
import { defaultDataDir } from '../datadir/paths.js'
import { ConfigError, TexmeshError } from '../errors.js'

export interface CommonOptions { dataDir?: string, json?: boolean }

export function collect (value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value]
}

export function dataDirOf (options: CommonOptions): DataDir {
  if (options.dataDir?.trim() === '') throw new ConfigError('--data-dir is empty: give a directory (or leave the option out for $TEXMESH_HOME or ~/.texmesh)')
  return new DataDir(options.dataDir ?? defaultDataDir())
}

export function print (json: boolean | undefined, data: unknown, human: () => string): void {
  process.stdout.write((json === true ? JSON.stringify(data, null, 2) : human()) + '\n')
}

export function withDataDir (cmd: Command): Command {
  return cmd.option('--data-dir <dir>', 'node data directory (default: $TEXMESH_HOME or ~/.texmesh)')
}

export function withJson (cmd: Command): Command {
  return cmd.option('--json', 'print JSON instead of text')
}

export function parsePort (value: string): number {
  if (!/^\d+$/.test(value) || Number(value) > 65535) throw new TexmeshError(`"${value}" is not a port number (0-65535)`)
  return Number(value)
}

/** A probability option (0-1). */
export function parseProbability (what: string) {
  return (v: string): number => {
    const n = Number(v)
    if (v.trim() === '' || !(n >= 0 && n <= 1)) throw new TexmeshError(`${what} must be a number from 0 to 1, not "${v}"`)
    return n
  }
}

export function parsePositive (what: string, max: number) {
  return (value: string): number => {
    const n = Number(value)
    if (!/^\d+$/.test(value) || n < 1 || n > max) throw new TexmeshError(`${what} must be a whole number from 1 to ${max}, not "${value}"`)
    return n
  }
}

export function parseCount (what: string, max: number) {
  return (value: string): number => {
    const n = Number(value)
    if (!/^\d+$/.test(value) || n > max) throw new TexmeshError(`${what} must be a whole number from 0 to ${max}, not "${value}"`)
    return n
  }
}

/** Rows under a header, in columns as wide as their widest cell. */
export function table (header: string[], rows: string[][]): string {
  const head = header.map(h => h.toUpperCase())
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map(r => r[i]!.length)))
  return [head, ...rows].map(r => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n')
}
