import { spawnSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { parseAllDocuments } from 'yaml'
import { describe, expect, it } from 'vitest'
import { Deployment, type IDeployment } from 'kubernetes-models/apps/v1/Deployment'
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget'
import { ConfigMap, type IConfigMap } from 'kubernetes-models/v1/ConfigMap'
import { Secret, type ISecret } from 'kubernetes-models/v1/Secret'
import { Service, type IService } from 'kubernetes-models/v1/Service'
import type { IContainer } from 'kubernetes-models/v1/Container'
import { ENV_VARS, resolveAgentConfig } from '@kiln/agent'
import { configEnvVars, resolveConfig } from '@kiln/server'
import { REPO, readRepoFile, repoHas } from './helpers/deploy-files.js'

/**
 * deploy/kubernetes: every manifest validated against the Kubernetes API's JSON schemas
 * (kubernetes-models, as kubeconform would without a cluster), then checked against Kiln: ports,
 * probes, and every env name a real server or agent setting.
 */
const DIR = 'deploy/kubernetes'
interface Manifest {
  apiVersion: string
  kind: string
  metadata: { name: string; labels?: Record<string, string> }
}
const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'apps/v1/Deployment': Deployment,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
}

function load(file: string): Manifest[] {
  return parseAllDocuments(readRepoFile(`${DIR}/${file}`)).map((doc) => {
    expect(doc.errors, file).toEqual([])
    return doc.toJS() as Manifest
  })
}
const files = readdirSync(`${REPO}/${DIR}`).filter(
  (f) => f.endsWith('.yaml') && f !== 'kustomization.yaml',
)
const kustomization = load('kustomization.yaml')[0] as Manifest & {
  resources: string[]
  images: { name: string; newName: string; newTag: string }[]
}
const kiln = kustomization.resources.flatMap(load)
const sample = load('sample-app.yaml')
const find = <T>(docs: Manifest[], kind: string, name: string): T => {
  const doc = docs.find((d) => d.kind === kind && d.metadata.name === name)
  if (!doc) throw new Error(`no ${kind} ${name}`)
  return doc as T
}

const deployment = find<IDeployment>(kiln, 'Deployment', 'kiln')
const pod = deployment.spec!.template.spec!
const container = pod.containers[0]!
const configMap = find<IConfigMap>(kiln, 'ConfigMap', 'kiln-config')
const secret = find<ISecret>(kiln, 'Secret', 'kiln-secrets')
const service = find<IService>(kiln, 'Service', 'kiln')
const serverEnv = { ...configMap.data, ...secret.stringData }

/** The port a probe or Service names, by name or number, in a container's ports. */
function containerPort(c: IContainer, port: string | number | undefined): number | undefined {
  return c.ports?.find((p) => p.name === port || p.containerPort === port)?.containerPort
}

describe('deploy/kubernetes', () => {
  it.each(files)('%s is valid against the Kubernetes API schemas', (file) => {
    for (const doc of load(file)) {
      expect(doc.apiVersion, file).toBeTruthy()
      expect(doc.metadata?.name, file).toBeTruthy()
      const Model = MODELS[`${doc.apiVersion}/${doc.kind}`]
      expect(Model, `${file}: a model for ${doc.apiVersion} ${doc.kind}`).toBeDefined()
      expect(() => new Model!(doc as never).validate(), `${file}: ${doc.kind}`).not.toThrow()
    }
  })

  it('lists every Kiln manifest in kustomization.yaml, and only existing files', () => {
    for (const resource of kustomization.resources) expect(repoHas(`${DIR}/${resource}`)).toBe(true)
    expect([...kustomization.resources, 'sample-app.yaml'].sort()).toEqual([...files].sort())
    // Its `images` entry is what names the registry: it must match the container's image.
    expect(kustomization.images.map((i) => i.name)).toContain(container.image!.split(':')[0])
  })

  it('configures the server with real settings, from the ConfigMap and the Secret', () => {
    const known = Object.values(configEnvVars())
    for (const name of Object.keys(serverEnv)) expect(known, name).toContain(name)
    expect(container.envFrom).toEqual([
      { configMapRef: { name: configMap.metadata!.name } },
      { secretRef: { name: secret.metadata!.name } },
    ])
    const config = resolveConfig({}, serverEnv)
    // Stateless: every replica shares one ClickHouse.
    expect(config.clickhouseUrl).toMatch(/^https?:\/\//)
    expect(config.host).toBe('0.0.0.0')
  })

  it('serves, probes and exposes the port the server listens on', () => {
    const port = resolveConfig({}, serverEnv).port
    expect(containerPort(container, 'http')).toBe(port)
    for (const probe of [container.readinessProbe, container.livenessProbe]) {
      expect(probe?.httpGet?.path).toBe('/health')
      expect(containerPort(container, probe?.httpGet?.port)).toBe(port)
    }
    const [servicePort] = service.spec!.ports!
    expect(containerPort(container, servicePort!.targetPort)).toBe(port)
    expect(service.spec!.selector).toEqual(deployment.spec!.selector.matchLabels)
    expect(deployment.spec!.template.metadata!.labels).toMatchObject(
      deployment.spec!.selector.matchLabels!,
    )
  })

  it('runs without root, within resource requests', () => {
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true })
    expect(pod.securityContext!.runAsUser).toBeGreaterThan(0)
    expect(container.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    })
    expect(container.resources?.requests).toHaveProperty('cpu')
    expect(container.resources?.requests).toHaveProperty('memory')
    expect(container.resources?.limits).toHaveProperty('memory')
  })

  it('shows an application pointing its agent at the Service with real agent settings', () => {
    const app = find<IDeployment>(sample, 'Deployment', 'checkout')
    const appPod = app.spec!.template
    const env = appPod.spec!.containers[0]!.env!
    const known: string[] = Object.values(ENV_VARS)
    const values: Record<string, string> = {}
    for (const { name, value, valueFrom } of env) {
      if (name === 'NODE_OPTIONS') {
        expect(value).toBe('--import @kiln/agent/register')
        continue
      }
      expect(known, name).toContain(name)
      const label = /^metadata\.labels\['(.+)'\]$/.exec(valueFrom?.fieldRef?.fieldPath ?? '')?.[1]
      const secretRef = valueFrom?.secretKeyRef
      if (label) values[name] = appPod.metadata!.labels![label]!
      else if (secretRef) {
        const appSecret = find<ISecret>(sample, 'Secret', secretRef.name!)
        values[name] = appSecret.stringData![secretRef.key]!
      } else values[name] = value!
    }
    const agent = resolveAgentConfig({}, values)
    expect(agent.version).toBe('1.4.2')
    // The agent's token is one the server accepts for ingest, and only for ingest.
    const entries = secret.stringData!.KILN_TOKENS!.split(',').map((e) => e.split('='))
    const scopes = entries.find(([, token]) => token === agent.token)?.[0]
    expect(scopes).toBe('ingest')
    const url = new URL(agent.serverUrl)
    expect(url.hostname.split('.')[0]).toBe(service.metadata!.name)
    expect(Number(url.port)).toBe(service.spec!.ports![0]!.port)
  })

  // kubectl renders the kustomization offline where it is installed.
  const kubectl = spawnSync('kubectl', ['version', '--client']).status === 0
  it.skipIf(!kubectl)('renders with `kubectl kustomize`', () => {
    const result = spawnSync('kubectl', ['kustomize', DIR], { cwd: REPO, encoding: 'utf8' })
    expect(result.status, result.stderr).toBe(0)
    const rendered = parseAllDocuments(result.stdout).map((d) => d.toJS() as Manifest)
    expect(rendered.map((d) => `${d.kind}/${d.metadata.name}`).sort()).toEqual(
      kiln.map((d) => `${d.kind}/${d.metadata.name}`).sort(),
    )
  })
})
