// pino-roll ships no types; this is the part of its README's API that texmesh uses.
declare module 'pino-roll' {
  import type { DestinationStream } from 'pino'
  export interface RollOptions {
    file: string | (() => string)
    /** roll at this size: a number of MB, or with k, m or g */
    size?: number | string
    frequency?: 'daily' | 'hourly' | number
    extension?: string
    /** keep current.log pointing at the file in use */
    symlink?: boolean
    /** how many earlier files to keep */
    limit?: { count?: number, removeOtherLogFiles?: boolean }
    mkdir?: boolean
    /** write synchronously (sonic-boom), so nothing is lost when the process exits */
    sync?: boolean
    /** the files' mode */
    mode?: number
  }
  export default function build (options: RollOptions): Promise<DestinationStream & { end(): void, flushSync(): void }>
}
