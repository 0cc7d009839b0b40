'use strict'
// The Node example of README.md runs as written: it is extracted from the
// "## Node" section and run against a market holding Pig 1.0.0 and 2.0.0,
// with `require('apptemplate')` resolving to this package.

const test = require('node:test')
const assert = require('node:assert/strict')
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const { Market } = require('..')
const { publishPig } = require('./helpers')

const README = path.resolve(__dirname, '..', '..', '..', 'README.md')

/** The first ```js block of the README's "## Node" section. */
function nodeExample() {
  const text = fs.readFileSync(README, 'utf8')
  const section = text.split(/^## /m).find((s) => s.startsWith('Node\n'))
  assert.ok(section, 'README.md has a "## Node" section')
  const block = /```js\n([\s\S]*?)```/.exec(section)
  assert.ok(block, 'the Node section has a js code block')
  return block[1]
}

test('the README example runs', async (t) => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'apptemplate-node-readme-'))
  t.after(() => fs.rmSync(tmp, { recursive: true, force: true }))
  const market = Market.open(path.join(tmp, 'market'))
  await publishPig(market, '1.0.0', tmp)
  await publishPig(market, '2.0.0', tmp)
  // Drafts are not for delivery: the version the README exports is in testing.
  market.setReleaseState('pig', '2.0.0', 'testing')
  // `require('apptemplate')` finds this package through NODE_PATH.
  fs.mkdirSync(path.join(tmp, 'modules'))
  fs.symlinkSync(path.resolve(__dirname, '..'), path.join(tmp, 'modules', 'apptemplate'), 'dir')
  fs.writeFileSync(path.join(tmp, 'example.js'), nodeExample())
  const run = spawnSync(process.execPath, ['example.js'], {
    cwd: tmp,
    encoding: 'utf8',
    env: { ...process.env, NODE_PATH: path.join(tmp, 'modules'), APPTEMPLATE_MARKET: path.join(tmp, 'market') },
  })
  assert.equal(run.status, 0, run.stderr)
  const out = run.stdout
  assert.match(out, /^pig 1\.0\.0 {3}draft {6}sha256:/m)
  assert.match(out, /^pig 2\.0\.0 {3}testing /m)
  assert.match(out, /^template pig: 1\.0\.0 → 2\.0\.0$/m)
  assert.match(out, /^~ component gateway$/m)
  assert.match(out, /\[#+\] done/)
  const wrote = /wrote (.+): (\d+) blobs, (\d+) the site has/.exec(out)
  assert.ok(wrote, out.slice(-300))
  assert.ok(fs.statSync(path.resolve(tmp, wrote[1])).size > 0)
  assert.ok(Number(wrote[3]) > 0, 'the differential package leaves blobs out')
})
