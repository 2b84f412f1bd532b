import { pino, type Logger } from 'pino'
import { createRequire } from 'node:module'
import type PinoPretty from 'pino-pretty'
import { resolve } from 'node:path'
import type { NodeConfig } from './datadir/config.js'

/**
 * Logs on stderr, one logger per component (`log.child({ component: 'node:peers' })`, always
 * from the root logger: pino writes every ancestor's bindings, so a component's child of another
 * component's logger would print "component" twice), so stdout stays for data. On a terminal
 * they are for a person (pino-pretty: time, level, component, message, fields); otherwise, or
 * with TEXMESH_LOG_FORMAT=json, one JSON object a line. libp2p's own debug logs stay behind
 * DEBUG=libp2p:*.
 */
export type Log = Logger

export type LogFormat = 'json' | 'pretty'

/** The format for a destination: TEXMESH_LOG_FORMAT when set (json or pretty), else pretty on a terminal. */
export function logFormat (destination: number, env: NodeJS.ProcessEnv = process.env): LogFormat {
  const asked = env.TEXMESH_LOG_FORMAT
  if (asked === 'json' || asked === 'pretty') return asked
  return destination === 2 && process.stderr.isTTY === true ? 'pretty' : 'json'
}

export function createLog (level: NodeConfig['logLevel'], destination: number = 2, format: LogFormat = logFormat(destination)): Log {
  const options = { level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime }
  if (format === 'pretty') {
    // pino-pretty loads only for a person's terminal (15-20 ms that a node in the background skips).
    const pretty = createRequire(import.meta.url)('pino-pretty') as typeof PinoPretty
    return pino(options, pretty({ destination, sync: true, colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname', messageFormat: '{if component}[{component}] {end}{msg}' }))
  }
  return pino(options, pino.destination({ fd: destination, sync: true }))
}

/** A log file is rolled at this size, and this many earlier files are kept beside it. */
export const LOG_FILE_BYTES = '10m'
export const LOG_FILES_KEPT = 5

/**
 * A log written to `file` as JSON lines, for a node run in the background: rolled by size into
 * FILE.1.log, FILE.2.log, ... (pino-roll), the newest also reachable as current.log beside them;
 * older files, earlier runs' included, are removed; readable by the node's user only.
 */
export async function createFileLog (level: NodeConfig['logLevel'], file: string, roll_: { size?: string, keep?: number } = {}): Promise<Log> {
  // pino-roll (and date-fns under it) loads only for a log file: 60 ms that other commands skip.
  const { default: roll } = await import('pino-roll')
  const stream = await roll({ file: resolve(file), size: roll_.size ?? LOG_FILE_BYTES, limit: { count: roll_.keep ?? LOG_FILES_KEPT, removeOtherLogFiles: true }, mkdir: true, symlink: true, sync: true, mode: 0o600 })
  return pino({ level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime }, stream)
}
