// The package exports exactly the operations of the shared surface table
// (tests/data/bindings-surface.json), which Python's exports are checked
// against too.
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const at = require('..')

const table = JSON.parse(fs.readFileSync(path.join(__dirname, '../../../tests/data/bindings-surface.json'), 'utf8'))
const names = (section) => new Set(table[section].map((row) => row.node).filter((n) => n !== null))

test('exports match the shared surface table', () => {
  const exported = Object.keys(at)
  const classes = new Set(exported.filter((n) => /^[A-Z]/.test(n)))
  const functions = new Set(exported.filter((n) => /^[a-z]/.test(n)))
  assert.deepEqual([...classes].sort(), [...names('classes')].sort())
  assert.deepEqual([...functions].sort(), [...names('functions')].sort())
})
