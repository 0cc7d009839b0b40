'use strict'
// Capture from Node against the test control plane
// (APPTEMPLATE_TEST_KUBECONFIG): a hand-written application becomes a draft
// version and a report, the same data as Rust `template_k8s::capture`.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const https = require('node:https')
const os = require('node:os')
const path = require('node:path')

const { capture, publishFromCluster, Market, Template } = require('..')
const helpers = require('./helpers')
const { startRegistry } = require('./registry')

const KUBECONFIG = process.env.APPTEMPLATE_TEST_KUBECONFIG
const MISSING = 'APPTEMPLATE_TEST_KUBECONFIG is not set: start a control plane with `.ci/control-plane/start DIR`'
const skip = KUBECONFIG || process.env.CI === 'true' ? false : MISSING
const DIGEST = 'sha256:' + '8'.repeat(64)

function field(text, name) {
  const found = text.match(new RegExp(`^\\s*${name}:\\s*(\\S+)\\s*$`, 'm'))
  if (!found) throw new Error(`the kubeconfig has no ${name}`)
  return found[1]
}

function post(path, body) {
  const text = fs.readFileSync(KUBECONFIG, 'utf8')
  const server = new URL(field(text, 'server'))
  return new Promise((resolve, reject) => {
    const request = https.request({
      host: server.hostname, port: server.port, path, method: 'POST',
      ca: fs.readFileSync(field(text, 'certificate-authority')),
      headers: { authorization: `Bearer ${field(text, 'token')}`, 'content-type': 'application/json' },
    }, (answer) => {
      answer.resume()
      answer.on('end', () => (answer.statusCode < 300 || answer.statusCode === 409
        ? resolve()
        : reject(new Error(`POST ${path}: ${answer.statusCode}`))))
    })
    request.on('error', reject)
    request.end(JSON.stringify(body))
  })
}

test('capture returns a valid draft and keeps secret values out', { skip }, async () => {
  if (!KUBECONFIG) assert.fail(`${MISSING}; under CI=true the cluster tests must run`)
  const namespace = `node-capture-${Math.floor(Math.random() * 1e5)}`
  await post('/api/v1/namespaces', { metadata: { name: namespace } })
  await post(`/api/v1/namespaces/${namespace}/secrets`, { metadata: { name: 'queue' }, stringData: { token: 'node-never-copied' } })
  await post(`/api/v1/namespaces/${namespace}/services`, {
    metadata: { name: 'queue' }, spec: { selector: { app: 'queue' }, ports: [{ port: 5672 }] },
  })
  await post(`/apis/apps/v1/namespaces/${namespace}/deployments`, {
    metadata: { name: 'queue' },
    spec: {
      selector: { matchLabels: { app: 'queue' } },
      template: {
        metadata: { labels: { app: 'queue' } },
        spec: {
          containers: [{
            name: 'queue',
            image: `registry.example.com/mq/queue:1.0@${DIGEST}`,
            ports: [{ containerPort: 5672 }],
            env: [{ name: 'QUEUE_TOKEN', valueFrom: { secretKeyRef: { name: 'queue', key: 'token' } } }],
          }],
        },
      },
    },
  })
  const report = await capture({ name: 'dev', namespace }, { template_id: 'mq', version: '1.0.0' }, null, KUBECONFIG)
  const draft = Template.fromJson(JSON.stringify(report.version))
  assert.deepEqual(draft.validate(), [])
  const component = report.version.components[0]
  assert.equal(component.key, 'queue')
  assert.ok(component.image.endsWith(DIGEST))
  assert.deepEqual(report.secrets, [{ component: 'queue', variable: 'QUEUE_TOKEN', source: 'queue/token', handling: 'required' }])
  assert.ok(!JSON.stringify(report).includes('node-never-copied'))
})

test('publishFromCluster pulls the images and publishes once, then nothing when unchanged', { skip }, async (t) => {
  if (!KUBECONFIG) assert.fail(`${MISSING}; under CI=true the cluster tests must run`)
  const registry = await startRegistry()
  t.after(() => registry.stop())
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'node-publish-'))
  t.after(() => fs.rmSync(tmp, { recursive: true, force: true }))
  const source = Market.open(path.join(tmp, 'source'))
  await helpers.publishPig(source, '1.0.0', tmp)
  const access = { registry: registry.address, insecure: true }
  const pushed = await source.relocateVersion('pig', '1.0.0', { registry: `${registry.address}/dev`, insecure: true })
  const image = pushed.images[0].relocated
  const namespace = `node-publish-${Math.floor(Math.random() * 1e5)}`
  await post('/api/v1/namespaces', { metadata: { name: namespace } })
  await post(`/apis/apps/v1/namespaces/${namespace}/deployments`, {
    metadata: { name: 'queue' },
    spec: {
      selector: { matchLabels: { app: 'queue' } },
      template: { metadata: { labels: { app: 'queue' } }, spec: { containers: [{ name: 'queue', image }] } },
    },
  })
  const vendor = Market.open(path.join(tmp, 'vendor'))
  const stages = []
  const options = { capture: { template_id: 'queue-node' }, registries: [access] }
  const report = await publishFromCluster(vendor, { name: 'dev', namespace }, options, null, KUBECONFIG, (p) => stages.push(p.stage))
  assert.equal(report.template, 'queue-node')
  assert.equal(report.version, '0.1.0')
  assert.equal(report.outcome.outcome, 'created')
  assert.equal(report.capture.version.components[0].image, image)
  assert.ok(report.pull.blobs_fetched > 0, JSON.stringify(report.pull))
  assert.deepEqual(vendor.version('queue-node', '0.1.0').validate(), [])
  assert.deepEqual((await vendor.verify()).problems, [])
  await new Promise((resolve) => setImmediate(resolve))
  assert.deepEqual(stages.filter((s, i) => i === 0 || stages[i - 1] !== s), ['capture', 'captured', 'pull', 'publish'])
  const again = await publishFromCluster(vendor, { name: 'dev', namespace }, options, null, KUBECONFIG)
  assert.equal(again.outcome, null)
  assert.equal(again.base, '0.1.0')
  assert.equal(again.pull.blobs_fetched, 0)
  await assert.rejects(
    publishFromCluster(vendor, { name: 'dev', namespace }, { registry: [] }, null, KUBECONFIG),
    (e) => e.code === 'INVALID_ARGUMENT',
  )
})
