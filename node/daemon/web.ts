import type { FastifyInstance } from 'fastify'
import { existsSync, readdirSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { extname, join, relative, sep } from 'node:path'
import { fileURLToPath } from 'node:url'

/**
 * The web interface's files (web/, bundled by scripts/build-web.ts into dist/web): index.html
 * at /, the rest under /assets/. Only files that were there at start-up are served, each with
 * its content type and a Content-Security-Policy that lets the page load nothing but its own
 * files (KaTeX sets its styles through the DOM, which the policy allows).
 */

export const WEB_ROOT = fileURLToPath(new URL('../../web/', import.meta.url))

export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "img-src 'self' blob:",
  "style-src 'self'",
  "font-src 'self'",
  "connect-src 'self'",
  "script-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'"
].join('; ')

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
  '.ttf': 'font/ttf',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.map': 'application/json; charset=utf-8'
}

function listFiles (root: string): Map<string, string> {
  const files = new Map<string, string>()
  if (!existsSync(root)) return files
  for (const entry of readdirSync(root, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue
    const full = join(entry.parentPath, entry.name)
    const type = TYPES[extname(entry.name)]
    if (type != null) files.set(relative(root, full).split(sep).join('/'), type)
  }
  return files
}

export function serveWeb (app: FastifyInstance, root = WEB_ROOT): void {
  const files = listFiles(root)
  const send = async (path: string, reply: any): Promise<unknown> => {
    const type = files.get(path)
    if (type == null) return await reply.code(404).send({ error: `no such file: ${path.slice(0, 200)}` })
    const body = await readFile(join(root, ...path.split('/')))
    return await reply
      .type(type)
      .header('content-security-policy', CONTENT_SECURITY_POLICY)
      .header('cross-origin-resource-policy', 'same-origin')
      .header('cross-origin-opener-policy', 'same-origin')
      .header('cache-control', path === 'index.html' ? 'no-cache' : 'public, max-age=3600')
      .send(body)
  }
  app.get('/', async (_request, reply) => {
    if (!files.has('index.html')) return await reply.code(404).send({ error: 'this build has no web interface (npm run build makes it)' })
    return await send('index.html', reply)
  })
  app.get<{ Params: { '*': string } }>('/assets/*', async (request, reply) => await send(`assets/${request.params['*']}`, reply))
}
