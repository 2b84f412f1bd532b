import { pino, type Logger } from 'pino'
import type { NodeConfig } from './config.js'

/**
 * Structured JSON logs on stderr, one logger per component
 * (`log.child({ component: 'node:peers' })`), so stdout stays for data.
 * libp2p's own debug logs stay behind DEBUG=libp2p:*.
 */
export type Log = Logger

export function createLog (level: NodeConfig['logLevel'], destination: number = 2): Log {
  return pino({ level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination({ fd: destination, sync: true }))
}
