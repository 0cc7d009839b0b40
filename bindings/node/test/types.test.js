'use strict'
// The declarations of index.d.ts (its data types are types.d.ts, generated
// from the Rust types) type-check, and they accept the Rust JSON of the
// shared vectors: each vector value becomes `const v: Type = <JSON>` in a
// TypeScript file that tsc checks strictly, excess properties included.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync } = require('node:child_process')

const vectors = path.join(__dirname, '..', '..', '..', 'tests', 'data', 'vectors')
const read = (name) => JSON.parse(fs.readFileSync(path.join(vectors, name), 'utf8'))

/** [type, value] pairs: every Rust JSON value of the vectors with its type. */
function typedVectors() {
  const plans = read('plans.json')
  const capture = read('capture.json')
  const foundation = read('foundation.json')
  const checks = [
    ['VersionDiff', plans.diff.json],
    ['InstallOptions', plans.install.options],
    ['Plan', plans.install.plan],
    ['InstalledState', plans.install.state],
    ['StateCustomizations', plans.customizations],
    ['InstalledState', plans.installed],
    ['UpgradeOptions', plans.upgrade.options],
    ['Plan', plans.upgrade.plan],
    ['InstalledState', plans.upgrade.state],
    ['Outcome', plans.rollback.outcome],
    ['UpgradeRecord', { before: plans.installed, plan: plans.upgrade.plan, outcome: plans.rollback.outcome }],
    ['InstalledState', plans.rollback.current],
    ['RollbackOptions', plans.rollback.options],
    ['Plan', plans.rollback.plan],
    ['InstalledState', plans.rollback.state],
  ]
  for (const c of capture.cases) {
    checks.push(['CaptureOptions', c.options], ['CaptureReport', c.report])
  }
  for (const f of foundation.fixtures) checks.push(['Array<Problem>', f.problems])
  for (const c of foundation.check_publish) if (c.outcome && c.outcome.outcome) checks.push(['PublishOutcome', c.outcome])
  // Cases with an error hold refused input on purpose.
  for (const c of foundation.build_incremental.filter((c) => c.summary)) {
    checks.push(['IncrementalChange', c.change], ['IncrementalSummary', c.summary])
  }
  return checks
}

test('index.d.ts type-checks and types the Rust JSON of the shared vectors', () => {
  const checks = typedVectors()
  assert.ok(checks.length > 20, `only ${checks.length} vector values`)
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'apptemplate-types-'))
  try {
    // index.d.ts names Buffer; the package has no @types/node.
    fs.writeFileSync(path.join(dir, 'shims.d.ts'), 'interface Buffer extends Uint8Array {}\n')
    const index = JSON.stringify(path.join(__dirname, '..', 'index'))
    const lines = [`import type * as at from ${index}`]
    checks.forEach(([type, value], i) => {
      const typeName = type.replace(/\b([A-Z]\w*)/g, 'at.$1').replace('at.Array', 'Array')
      lines.push(`export const v${i}: ${typeName} = ${JSON.stringify(value, null, 2)}`)
    })
    fs.writeFileSync(path.join(dir, 'vectors.ts'), lines.join('\n\n') + '\n')
    const tsc = require.resolve('typescript/bin/tsc')
    const args = [tsc, '--noEmit', '--strict', '--target', 'es2022', '--module', 'commonjs',
      '--exactOptionalPropertyTypes', path.join(dir, 'shims.d.ts'), path.join(dir, 'vectors.ts')]
    try {
      execFileSync(process.execPath, args, { encoding: 'utf8', stdio: 'pipe' })
    } catch (err) {
      assert.fail(`tsc refused the declarations or a vector value:\n${err.stdout}${err.stderr}`)
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})
