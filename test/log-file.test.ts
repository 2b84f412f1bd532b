import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { readdir, readFile, lstat } from 'node:fs/promises'
import { join } from 'node:path'
import { createFileLog } from '../node/log.js'
import { DataDir } from '../node/datadir/datadir.js'
import { collect, removeDir, runCli, spawnCli, tempDir, waitFor } from './helpers.js'

describe('--log-file: the log of a node run in the background', { timeout: 60_000 }, () => {
  const dirs: string[] = []
  after(async () => { await Promise.all(dirs.map(removeDir)) })

  it('rolls the file by size and keeps only the newest few', async () => {
    const dir = await tempDir()
    dirs.push(dir)
    const log = await createFileLog('info', join(dir, 'logs', 'node.log'), { size: '1k', keep: 2 })
    // As a node logs: a few lines at a time (the size is checked between writes).
    for (let i = 0; i < 200; i++) {
      log.info({ i }, 'a line of about a hundred bytes, to fill the file')
      if (i % 10 === 9) await new Promise(resolve => setTimeout(resolve, 20))
    }
    await new Promise(resolve => setTimeout(resolve, 100))
    const files = (await readdir(join(dir, 'logs'))).sort()
    const rolled = files.filter(f => /^node\.\d+\.log$/.test(f))
    // 200 lines of ~130 bytes fill many files of 1 KB: only the newest (2 kept and the current one) stay.
    assert.ok(rolled.length >= 2 && rolled.length <= 3, files.join(', '))
    assert.ok(Number(/\d+/.exec(rolled.at(-1)!)![0]) > 5, `rolled many times: ${files.join(', ')}`)
    assert.ok((await lstat(join(dir, 'logs', 'current.log'))).isSymbolicLink())
    const kept = (await Promise.all(rolled.map(async f => await readFile(join(dir, 'logs', f), 'utf8'))))
      .join('').trim().split('\n').map(l => JSON.parse(l) as { i: number, msg: string })
    assert.equal(kept.at(-1)?.i, 199, 'the newest line is kept')
    assert.ok(!kept.some(l => l.i === 0), 'the oldest lines are gone')
  })

  it('texmesh node --log-file writes JSON lines there, from start to a clean stop', async () => {
    const dir = await tempDir()
    dirs.push(dir)
    const file = join(dir, 'logs', 'texmesh.log')
    const daemon = spawnCli(['node', '--listen', '/ip4/127.0.0.1/tcp/0', '--api-port', '0', '--no-mdns', '--data-dir', dir, '--log-file', file])
    const done = collect(daemon)
    try {
      await waitFor('the node to start', async () => await new DataDir(dir).runtime(), 20_000)
      const stop = await runCli(['stop', '--data-dir', dir])
      assert.equal(stop.code, 0, stop.stderr)
    } finally {
      daemon.kill('SIGKILL')
    }
    const r = await done
    assert.equal(r.code, 0)
    assert.doesNotMatch(r.stderr, /"msg"/, 'no log lines on stderr')
    const lines = (await readFile(join(dir, 'logs', 'current.log'), 'utf8')).trim().split('\n').map(l => JSON.parse(l))
    assert.ok(lines.some(l => l.msg === 'libp2p listening'))
    assert.equal(lines.at(-1).msg, 'node stopped')
  })
})
