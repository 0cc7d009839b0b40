'use strict'
// Delivery to a real Kubernetes API server (the control plane of
// `.ci/control-plane/start DIR`: etcd, kube-apiserver, controller-manager,
// scheduler, kwok nodes, a volume pool), named by
// APPTEMPLATE_TEST_KUBECONFIG, with images relocated to a real registry on
// 127.0.0.1. Each run works in namespaces of its own (`node-…`). Without
// the variable these tests fail under CI=true and are skipped otherwise.

const test = require('node:test')
const { after, before } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const { Market, Delivery } = require('..')
const { publishPig } = require('./helpers')
const { startRegistry } = require('./registry')

const KUBECONFIG = process.env.APPTEMPLATE_TEST_KUBECONFIG
const MISSING =
  'APPTEMPLATE_TEST_KUBECONFIG is not set: start a control plane with `.ci/control-plane/start DIR`, ' +
  'then `export APPTEMPLATE_TEST_KUBECONFIG=DIR/kubeconfig` (stop it with `.ci/control-plane/stop DIR`)'
const skip = KUBECONFIG || process.env.CI === 'true' ? false : MISSING

function needCluster() {
  if (!KUBECONFIG) assert.fail(`${MISSING}; under CI=true the cluster tests must run`)
}

const run = Math.floor(Math.random() * 1e5).toString().padStart(5, '0')
const namespace = (scenario) => `node-${scenario}-${run}`

let tmp
let market
let registry
let delivery

before(async () => {
  if (!KUBECONFIG) return
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'apptemplate-node-cluster-'))
  market = Market.open(path.join(tmp, 'market'))
  await publishPig(market, '1.0.0', tmp)
  await publishPig(market, '2.0.0', tmp)
  registry = await startRegistry()
  delivery = new Delivery(market, {
    kubeconfig: KUBECONFIG,
    executor: { identity: 'node-tests', wait_timeout_seconds: 90 },
    registries: [{ registry: registry.address, insecure: true }],
  })
})

after(() => {
  if (registry) registry.stop()
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true })
})

const environment = (scenario, extra = {}) => ({
  name: scenario,
  namespace: namespace(scenario),
  registry: `${registry.address}/mirror`,
  // The volume pool's class (the template hints at `fast-ssd` for MySQL).
  storage_class: 'apptemplate-pool',
  ...extra,
})

async function rejected(promise) {
  try {
    await promise
  } catch (err) {
    return err
  }
  assert.fail('expected the promise to reject')
}

test('install, upgrade and rollback Pig with progress', { skip }, async () => {
  needCluster()
  const env = environment('story')
  assert.equal(await delivery.state(env, 'pig'), null)

  const events = []
  const installed = await delivery.install(env, 'pig', '1.0.0', null, (e) => events.push(e))
  assert.equal(installed.revision, 1)
  assert.equal(installed.plan.kind, 'install')
  assert.equal(installed.state.version, '1.0.0')
  await new Promise((resolve) => setImmediate(resolve))
  const phases = new Set(events.map((e) => e.phase))
  for (const phase of ['relocating', 'relocated', 'step_applied', 'done']) assert.ok(phases.has(phase), phase)
  const steps = events.filter((e) => e.phase === 'step_applied')
  assert.equal(steps.length, installed.plan.steps.length)
  assert.ok(steps.every((e) => e.namespace === env.namespace && e.wave >= 1))
  // The state keeps the template's reference; the workloads pull the
  // relocated copy, which the registry now serves.
  const digest = installed.state.components.gateway.spec.image.split('@')[1]
  const answer = await fetch(`http://${registry.address}/v2/mirror/pig/pig-gateway/manifests/${digest}`, {
    headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' },
  })
  assert.equal(answer.status, 200)

  const again = await rejected(delivery.install(env, 'pig', '1.0.0'))
  assert.equal(again.code, 'PRECONDITION_FAILED', again.message)

  // While the upgrade waits for its first workload it holds the
  // installation's lease: a second client's upgrade is refused.
  const other = new Delivery(market, {
    kubeconfig: KUBECONFIG,
    executor: { identity: 'node-tests-other' },
    registries: [{ registry: registry.address, insecure: true }],
  })
  let second
  const upgraded = await delivery.upgrade(env, 'pig', '2.0.0', { prune: false }, (event) => {
    // Handled at once, so its rejection is never unhandled meanwhile.
    if (!second && event.phase === 'waiting') second = rejected(other.upgrade(env, 'pig', '2.0.0'))
  })
  assert.ok(second, 'the upgrade waited for a workload')
  const locked = await second
  assert.equal(locked.code, 'LOCKED', locked.message)
  assert.equal(locked.details.holder, 'node-tests')
  assert.equal(locked.details.namespace, env.namespace)
  assert.equal(upgraded.revision, 2)
  assert.equal(upgraded.plan.from_version, '1.0.0')
  assert.equal((await delivery.state(env, 'pig')).version, '2.0.0')

  const rolledBack = await delivery.rollback(env, 'pig', 2)
  assert.equal(rolledBack.plan.kind, 'rollback')
  assert.equal((await delivery.state(env, 'pig')).version, '1.0.0')
  const history = await delivery.history(env, 'pig')
  assert.deepEqual(
    history.map((r) => [r.revision, r.kind, r.to_version, r.outcome]),
    [
      [1, 'install', '1.0.0', 'succeeded'],
      [2, 'upgrade', '2.0.0', 'succeeded'],
      [3, 'rollback', history[2].to_version, 'succeeded'],
    ],
  )
})

test('production refuses unreleased versions: RELEASE_GATE', { skip }, async () => {
  needCluster()
  const prod = environment('prod', { released_only: true })
  const err = await rejected(delivery.install(prod, 'pig', '2.0.0'))
  assert.equal(err.code, 'RELEASE_GATE')
  assert.equal(err.details.environment, 'prod')
  assert.equal(err.details.state, 'draft')
  const test = environment('gate-test')
  const both = await rejected(delivery.deliver([test, prod], 'pig', '2.0.0'))
  assert.equal(both.code, 'RELEASE_GATE')
  assert.equal(await delivery.state(test, 'pig'), null, 'nothing was touched')
})

test('deliver one released version to several environments', { skip }, async () => {
  needCluster()
  market.setReleaseState('pig', '2.0.0', 'testing')
  market.setReleaseState('pig', '2.0.0', 'released')
  // The first test left `story` at 1.0.0; `deliver` is a new production
  // environment. (Every installation binds volumes of the cluster's pool,
  // which are never reused: the suite installs into two namespaces only.)
  const a = environment('story')
  const b = environment('deliver', { released_only: true })
  const events = []
  const outcomes = await delivery.deliver([a, b], 'pig', '2.0.0', (e) => events.push(e.phase))
  assert.deepEqual(
    outcomes.map((o) => [o.environment, o.action, o.from_version ?? null, o.error ?? null]),
    [
      ['story', 'upgrade', '1.0.0', null],
      ['deliver', 'install', null, null],
    ],
  )
  assert.equal(outcomes[0].report.state.version, '2.0.0')
  await new Promise((resolve) => setImmediate(resolve))
  assert.equal(events.filter((phase) => phase === 'done').length, 2, events.join())
  const again = await delivery.deliver([a, b], 'pig', '2.0.0')
  assert.deepEqual(again.map((o) => o.action), ['unchanged', 'unchanged'])
})

test('profiles and options are checked by name', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'apptemplate-node-empty-'))
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  const offline = new Delivery(Market.open(dir))
  let err = await rejected(offline.install({ name: 'x', namespce: 'typo' }, 'pig', '1.0.0'))
  assert.equal(err.code, 'DOCUMENT_INVALID')
  assert.match(err.details.message, /namespce/)
  err = await rejected(offline.upgrade({ name: 'x', namespace: 'y' }, 'pig', '2.0.0', { prnue: true }))
  assert.equal(err.code, 'INVALID_ARGUMENT')
  assert.equal(err.details.option, 'options.prnue')
  err = await rejected(offline.install({ name: 'x', namespace: 'y' }, 'pig', '1.0.0', { overrides: { replica: {} } }))
  assert.equal(err.code, 'INVALID_ARGUMENT')
  assert.equal(err.details.option, 'options.overrides.replica')
  err = await rejected(offline.install({ name: 'x', namespace: 'y' }, 'pig', '1.0.0'))
  assert.equal(err.code, 'NOT_FOUND')
})

test('reconfigure in place is recorded and rolled back', { skip }, async () => {
  needCluster()
  const env = environment('reconfigure')
  await delivery.install(env, 'pig', '1.0.0')
  const options = {
    modules: { ops: false },
    prune: true,
    overrides: { env: { upms: { JAVA_OPTS: '-Xms1g -Xmx2g' } } },
  }
  const changed = await delivery.reconfigure(env, 'pig', options)
  assert.equal(changed.unchanged, false)
  assert.equal(changed.revision, 2)
  assert.equal(changed.state.version, '1.0.0')
  assert.equal(changed.state.components.monitor, undefined)
  assert.equal(changed.state.components.upms.customizations.env.JAVA_OPTS, '-Xms1g -Xmx2g')
  // The same again: nothing to do is an outcome, nothing is recorded.
  const again = await delivery.upgrade(env, 'pig', '1.0.0', options)
  assert.equal(again.unchanged, true)
  assert.equal(again.revision, 2)
  assert.equal((await delivery.history(env, 'pig')).length, 2)
  const refused = await rejected(delivery.reconfigure(env, 'pig', { overrides: { replicas: { upms: 99 } } }))
  assert.equal(refused.code, 'INVALID_ARGUMENT', refused.message)
  await delivery.rollback(env, 'pig', 2)
  const state = await delivery.state(env, 'pig')
  assert.ok(state.components.monitor)
  assert.ok(state.modules.includes('ops'))
})

test('stop() ends an install between waves; running it again finishes it', { skip }, async () => {
  needCluster()
  const env = environment('stop')
  const err = await rejected(delivery.install(env, 'pig', '1.0.0', null, (e) => {
    if (e.phase === 'step_done') delivery.stop()
  }))
  assert.equal(err.code, 'CANCELLED', err.message)
  assert.match(err.message, /stopped as asked before wave/)
  const [record] = await delivery.history(env, 'pig')
  assert.match(record.outcome, /^partly applied/)
  const finished = await delivery.install(env, 'pig', '1.0.0')
  assert.equal(finished.state.version, '1.0.0')
  assert.equal((await delivery.history(env, 'pig')).length, 2)
})

test('an AbortSignal ends its own install between waves, not another one', { skip }, async () => {
  needCluster()
  const [stopped, other] = [environment('abort'), environment('abort-other')]
  const controller = new AbortController()
  const [err, report] = await Promise.all([
    rejected(delivery.install(stopped, 'pig', '1.0.0', null, (e) => {
      if (e.phase === 'step_done') controller.abort()
    }, controller.signal)),
    delivery.install(other, 'pig', '1.0.0', null, null, new AbortController().signal),
  ])
  assert.equal(err.code, 'CANCELLED', err.message)
  assert.match(err.message, /stopped as asked before wave/)
  assert.equal(report.state.version, '1.0.0', 'the other install ran to its end')
  const [record] = await delivery.history(stopped, 'pig')
  assert.match(record.outcome, /^partly applied/)

  // An aborted signal stops a read before it asks anything, and an
  // operation before it starts.
  const read = await rejected(delivery.state(stopped, 'pig', controller.signal))
  assert.equal(read.code, 'CANCELLED', read.message)
  const again = await rejected(delivery.install(stopped, 'pig', '1.0.0', null, null, controller.signal))
  assert.equal(again.code, 'CANCELLED', again.message)
  assert.equal((await delivery.history(stopped, 'pig')).length, 1, 'nothing was recorded for it')

  const finished = await delivery.install(stopped, 'pig', '1.0.0')
  assert.equal(finished.state.version, '1.0.0')
})
