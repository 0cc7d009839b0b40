'use strict'
// A real OCI registry for the tests: Debian's `docker-registry` on
// 127.0.0.1 with its data in a temporary directory, stopped by its PID.

const { spawn } = require('node:child_process')
const fs = require('node:fs')
const net = require('node:net')
const os = require('node:os')
const path = require('node:path')

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

/** Starts a registry; resolves to `{ address, stop() }` once it answers. */
async function startRegistry() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'apptemplate-node-registry-'))
  const port = await freePort()
  const config = path.join(dir, 'config.yml')
  fs.writeFileSync(
    config,
    `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ${dir}/data\n` +
      `  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:${port}\n`,
  )
  const log = fs.openSync(path.join(dir, 'registry.log'), 'w')
  const child = spawn('docker-registry', ['serve', config], { stdio: ['ignore', log, log] })
  let failed = null
  child.on('error', (err) => {
    failed = new Error(`docker-registry could not start (apt-get install docker-registry; see .ci/setup): ${err.message}`)
  })
  const stop = () => {
    if (child.exitCode === null) process.kill(child.pid)
    fs.closeSync(log)
    fs.rmSync(dir, { recursive: true, force: true })
  }
  const deadline = Date.now() + 30_000
  for (;;) {
    if (failed) throw failed
    try {
      const answer = await fetch(`http://127.0.0.1:${port}/v2/`)
      if (answer.status === 200) break
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      stop()
      throw new Error(`docker-registry did not answer on port ${port}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return { address: `127.0.0.1:${port}`, stop }
}

module.exports = { startRegistry }
