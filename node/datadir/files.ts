import { randomBytes } from 'node:crypto'
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { FileError } from '../errors.js'

/**
 * Write a file atomically (temp file + rename) so a crash never leaves half a key
 * or half a config behind. Secrets get mode 0600.
 */
export async function writeFileAtomic (path: string, data: string | Uint8Array, options: { secret?: boolean } = {}): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 })
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`
  const mode = options.secret === true ? 0o600 : 0o644
  await writeFile(tmp, data, { mode, flag: 'wx' })
  await chmod(tmp, mode)
  await rename(tmp, path)
}

/** Read a file, or undefined when it does not exist. */
export async function readFileIfExists (path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path)
  } catch (err: any) {
    if (err?.code === 'ENOENT') return undefined
    throw describeFileError(err, path)
  }
}

/** File-system failures a person can act on, as one line that names the path. */
export function describeFileError (err: any, path: string): Error {
  const why: Record<string, string> = {
    ENOTDIR: 'a part of the path is a file, not a directory',
    EISDIR: 'it is a directory, not a file',
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    ENOSPC: 'the disk is full',
    EROFS: 'the file system is read-only'
  }
  const reason = why[err?.code as string]
  return reason != null ? new FileError(`cannot read ${path}: ${reason}`, { cause: err }) : err
}
