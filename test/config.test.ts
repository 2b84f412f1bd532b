import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { DEFAULT_CONFIG, configFromEnv, loadConfig, resolveConfig } from '../node/datadir/config.js'
import { defaultDataDir } from '../node/datadir/paths.js'
import { removeDir, tempDir } from './helpers.js'

describe('configuration layers', () => {
  it('flags win over the environment, the environment over the file, the file over defaults', async () => {
    const dir = await tempDir()
    try {
      const file = join(dir, 'config.json')
      await writeFile(file, JSON.stringify({ apiPort: 8000, mdns: false, logLevel: 'debug', listen: ['/ip4/127.0.0.1/tcp/9000'] }))
      const env = { TEXMESH_API_PORT: '8001', TEXMESH_LOG_LEVEL: 'warn', TEXMESH_BOOTSTRAP: '/ip4/127.0.0.1/tcp/1/p2p/12D3KooWGRUVh9HQxSKfJDDs1VRrsvqtqmPJQfXvf9VXbcLgUNBd' }
      const { config, sources } = await loadConfig(file, env, { apiPort: 8002 })
      assert.equal(config.apiPort, 8002)
      assert.equal(sources.apiPort, 'flag')
      assert.equal(config.logLevel, 'warn')
      assert.equal(sources.logLevel, 'env')
      assert.equal(config.mdns, false)
      assert.equal(sources.mdns, 'file')
      assert.deepEqual(config.listen, ['/ip4/127.0.0.1/tcp/9000'])
      assert.equal(config.bootstrap.length, 1)
      assert.equal(sources.bootstrap, 'env')

      const none = await loadConfig(join(dir, 'missing.json'), {}, {})
      assert.deepEqual(none.config, DEFAULT_CONFIG)
      assert.ok(Object.values(none.sources).every(s => s === 'default'))
    } finally {
      await removeDir(dir)
    }
  })

  it('rejects bad values with the place they came from', async () => {
    const dir = await tempDir()
    try {
      const file = join(dir, 'config.json')
      await writeFile(file, '{ not json')
      await assert.rejects(loadConfig(file, {}, {}), { name: 'ConfigError', message: /not valid JSON/ })
      await writeFile(file, JSON.stringify({ apiPort: 'x' }))
      await assert.rejects(loadConfig(file, {}, {}), { name: 'ConfigError', message: /apiPort/ })
      await writeFile(file, JSON.stringify({ colour: 'blue' }))
      await assert.rejects(loadConfig(file, {}, {}), { name: 'ConfigError' })
      assert.throws(() => configFromEnv({ TEXMESH_MDNS: 'maybe' }), { name: 'ConfigError', message: /TEXMESH_MDNS/ })
      assert.throws(() => configFromEnv({ TEXMESH_API_PORT: 'http' }), { name: 'ConfigError' })
      assert.throws(() => resolveConfig({ env: { listen: ['not-a-multiaddr'] } }), { name: 'ConfigError', message: /TEXMESH_LISTEN/ })
      assert.throws(() => resolveConfig({ flags: { bootstrap: ['/ip4/127.0.0.1/tcp/1'] } }), { name: 'ConfigError', message: /p2p/ })
      assert.throws(() => resolveConfig({ flags: { apiPort: 70000 } }), { name: 'ConfigError' })
      // What the node cannot listen on: UDP, TLS WebSockets (no certificate), names, relays
      for (const listen of ['/ip4/127.0.0.1/udp/7000', '/ip4/127.0.0.1/tcp/7000/wss', '/dns4/example.org/tcp/7000', '/ip4/127.0.0.1/tcp/7000/p2p-circuit', '']) {
        assert.throws(() => resolveConfig({ flags: { listen: [listen] } }), { name: 'ConfigError', message: /listen/ }, listen)
      }
      assert.equal(resolveConfig({ flags: { listen: ['/ip6/::1/tcp/7000/ws', '/ip4/0.0.0.0/tcp/7001'] } }).config.listen.length, 2)
      // --critical-below: a probability, auto (the network's threshold) or off.
      assert.equal(configFromEnv({ TEXMESH_CRITICAL_BELOW: 'auto' }).criticalBelow, 'auto')
      assert.equal(configFromEnv({ TEXMESH_CRITICAL_BELOW: 'off' }).criticalBelow, null)
      assert.equal(configFromEnv({ TEXMESH_CRITICAL_BELOW: '0.7' }).criticalBelow, 0.7)
      assert.throws(() => configFromEnv({ TEXMESH_CRITICAL_BELOW: 'often' }), { name: 'ConfigError', message: /TEXMESH_CRITICAL_BELOW/ })
      await writeFile(file, JSON.stringify({ criticalBelow: 'auto' }))
      assert.equal((await loadConfig(file, {}, {})).config.criticalBelow, 'auto')
      await writeFile(file, JSON.stringify({ criticalBelow: 'sometimes' }))
      await assert.rejects(loadConfig(file, {}, {}), { name: 'ConfigError', message: /criticalBelow/ })
    } finally {
      await removeDir(dir)
    }
  })

  it('puts the data dir in $TEXMESH_HOME, else ~/.texmesh', () => {
    assert.equal(defaultDataDir({ TEXMESH_HOME: '/srv/texmesh' }), '/srv/texmesh')
    assert.match(defaultDataDir({}), /\.texmesh$/)
  })
})
