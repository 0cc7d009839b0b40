'use strict'
// Synthetic OCI images for the Pig fixtures, written by the tests as an OCI
// image layout (node:crypto for digests, a minimal ustar writer for
// layers). As in the Rust test kit: every Java service shares one "jdk"
// base layer, the UI an "nginx" one, the rest an "os" one, and each
// `name:tag` adds an application layer of its own, so a new tag changes
// exactly one layer and differential packages have something to leave out.

const crypto = require('node:crypto')
const fs = require('node:fs')
const path = require('node:path')

const LAYER = 'application/vnd.oci.image.layer.v1.tar'
const CONFIG = 'application/vnd.oci.image.config.v1+json'
const MANIFEST = 'application/vnd.oci.image.manifest.v1+json'
const INDEX = 'application/vnd.oci.image.index.v1+json'
const REF_NAME = 'org.opencontainers.image.ref.name'

const sha256 = (bytes) => 'sha256:' + crypto.createHash('sha256').update(bytes).digest('hex')

/** Deterministic bytes: half pseudo-random (incompressible), half log lines. */
function syntheticBytes(seed, size) {
  const out = Buffer.alloc(size)
  const half = Math.floor(size / 2)
  let block = crypto.createHash('sha256').update(seed).digest()
  for (let i = 0; i < half; i += block.length) {
    block.copy(out, i, 0, Math.min(block.length, half - i))
    block = crypto.createHash('sha256').update(block).digest()
  }
  let line = 0
  let at = half
  while (at < size) {
    at += out.write(`${seed} line ${line++}: INFO service started\n`, at)
  }
  return out
}

/** A ustar archive of regular files (`[{ name, content }]`), fixed metadata. */
function tar(entries) {
  const octal = (n, length) => n.toString(8).padStart(length - 1, '0') + '\0'
  const parts = []
  for (const { name, content } of entries) {
    const header = Buffer.alloc(512)
    const field = (value, offset, length) => header.write(value, offset, length, 'ascii')
    field(name, 0, 100)
    field(octal(0o644, 8), 100, 8)
    field(octal(0, 8), 108, 8)
    field(octal(0, 8), 116, 8)
    field(octal(content.length, 12), 124, 12)
    field(octal(0, 12), 136, 12)
    field('        ', 148, 8)
    field('0', 156, 1)
    field('ustar\u000000', 257, 8)
    let sum = 0
    for (const b of header) sum += b
    field(octal(sum, 7) + ' ', 148, 8)
    parts.push(header, content, Buffer.alloc((512 - (content.length % 512)) % 512))
  }
  parts.push(Buffer.alloc(1024))
  return Buffer.concat(parts)
}

/** A ustar archive holding one file. */
const layerTar = (fileName, content) => tar([{ name: fileName, content }])

/**
 * Writes a `docker save` tarball of one synthetic image named `name`
 * (a `repository:tag`); returns the layer digests.
 */
function writeDockerArchive(file, name) {
  const layers = [layerTar('opt/os/base.bin', syntheticBytes('os', 8192)), layerTar('app/app.bin', syntheticBytes(name, 4096))]
  const hex = (bytes) => sha256(bytes).slice('sha256:'.length)
  const config = Buffer.from(
    JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: layers.map(sha256) } }),
  )
  const manifest = [{ Config: `${hex(config)}.json`, RepoTags: [name], Layers: layers.map((l) => `${hex(l)}/layer.tar`) }]
  fs.writeFileSync(
    file,
    tar([
      { name: `${hex(config)}.json`, content: config },
      ...layers.map((l) => ({ name: `${hex(l)}/layer.tar`, content: l })),
      { name: 'manifest.json', content: Buffer.from(JSON.stringify(manifest)) },
    ]),
  )
  return layers.map(sha256)
}

function baseFamily(name) {
  const repo = name.split('/').pop()
  if (repo.startsWith('pig-ui')) return 'nginx'
  if (repo.startsWith('pig-') || repo.startsWith('nacos')) return 'jdk'
  return 'os'
}

/** `name:tag` of a reference `name:tag@sha256:…`. */
const imageName = (reference) => reference.split('@')[0]

/** Every image name a template document (plain object) uses. */
function imageNames(doc) {
  const refs = [...doc.components.map((c) => c.image), ...(doc.plugins || []).map((p) => p.image)]
  return [...new Set(refs.map(imageName))].sort()
}

/**
 * Writes an OCI image layout in `dir` with one synthetic image per name
 * (`appSize` bytes of application layer each; `extra` adds layers of the
 * given sizes to the image of that name). Returns name → manifest digest.
 */
function writeOciLayout(dir, names, { baseSize = 48 << 10, appSize = 16 << 10, extra = {} } = {}) {
  const blobs = path.join(dir, 'blobs', 'sha256')
  fs.mkdirSync(blobs, { recursive: true })
  const put = (bytes) => {
    const digest = sha256(bytes)
    fs.writeFileSync(path.join(blobs, digest.slice('sha256:'.length)), bytes)
    return { digest, size: bytes.length }
  }
  const digests = {}
  const manifests = []
  for (const name of names) {
    const family = baseFamily(name)
    const layers = [
      layerTar(`opt/${family}/base.bin`, syntheticBytes(family, baseSize)),
      layerTar('app/app.bin', syntheticBytes(name, appSize)),
      ...(extra[name] || []).map((size, i) => layerTar(`data/extra-${i}.bin`, syntheticBytes(`${name}#${i}`, size))),
    ].map((bytes) => ({ mediaType: LAYER, ...put(bytes) }))
    const config = Buffer.from(
      JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        config: { Labels: { 'org.opencontainers.image.title': name } },
        rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) },
      }),
    )
    const manifest = Buffer.from(
      JSON.stringify({ schemaVersion: 2, mediaType: MANIFEST, config: { mediaType: CONFIG, ...put(config) }, layers }),
    )
    const stored = put(manifest)
    digests[name] = stored.digest
    manifests.push({ mediaType: MANIFEST, ...stored, annotations: { [REF_NAME]: name } })
  }
  fs.writeFileSync(path.join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: INDEX, manifests }))
  fs.writeFileSync(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }))
  return digests
}

/** The document with every image pinned to `digests` and the logo set. */
function repin(doc, digests, logo) {
  const pin = (ref) => {
    const name = imageName(ref)
    return name in digests ? `${name}@${digests[name]}` : ref
  }
  const out = structuredClone(doc)
  for (const c of out.components) c.image = pin(c.image)
  for (const p of out.plugins || []) p.image = pin(p.image)
  if (logo) out.template.logo = logo
  return out
}

/** The logo blob used for Pig. */
function pigLogo() {
  return Buffer.concat([Buffer.from('\x89PNG\r\n\x1a\n', 'latin1'), syntheticBytes('pig-logo', 2048)])
}

module.exports = { syntheticBytes, tar, layerTar, writeDockerArchive, imageNames, writeOciLayout, repin, pigLogo, sha256 }
