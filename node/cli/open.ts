/** `texmesh open`: a sign-in link to the running node's web interface (single use, valid for a minute). */
import type { Command } from 'commander'
import { spawn } from 'node:child_process'
import { ApiClient } from './client.js'
import { dataDirOf, print, withDataDir, withJson, type CommonOptions } from './options.js'

/** Start the desktop's browser on a URL; false when there is none to start. */
async function openInBrowser (url: string): Promise<boolean> {
  const command = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'explorer' : 'xdg-open'
  return await new Promise(resolve => {
    try {
      const child = spawn(command, [url], { stdio: 'ignore', detached: true })
      child.once('error', () => resolve(false))
      child.once('spawn', () => { child.unref(); resolve(true) })
    } catch {
      resolve(false)
    }
  })
}

export function addOpenCommand (program: Command): void {
  withJson(withDataDir(program.command('open')))
    .description('print a link that signs a browser in to the running node\'s web interface (it works once, for a minute)')
    .option('--browser', 'also open the link in the desktop\'s browser (xdg-open)')
    .action(async (opts: CommonOptions & { browser?: boolean }) => {
      const client = await ApiClient.forDataDir(dataDirOf(opts))
      const link = await client.post<{ url: string, expiresAt: string }>('/v1/session-link', {})
      const opened = opts.browser === true ? await openInBrowser(link.url) : false
      print(opts.json, { ...link, opened }, () => [
        link.url,
        `(a sign-in link for this node's web interface: it works once, until ${link.expiresAt.slice(11, 19)} UTC${opts.browser === true ? (opened ? '; opened in the browser' : '; no browser could be started, open it yourself') : ''})`
      ].join('\n'))
    })
}
