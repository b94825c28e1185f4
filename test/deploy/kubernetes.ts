import { execFileSync } from 'node:child_process';
import { parseAllDocuments } from 'yaml';

/**
 * Renders a kustomize directory with `kubectl kustomize` (offline) and validates every object
 * against the Kubernetes API schemas shipped by the `kubernetes-models` npm package (the OpenAPI
 * schemas compiled to validators) and KEDA's ScaledObject CRD schema (`@kubernetes-models/keda`).
 * Those schemas allow unknown fields, so containers, the fields most often mistyped, are also checked
 * against the fields a Container has.
 */
export type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; [k: string]: unknown };
  [k: string]: unknown;
};

export function render(dir: string): K8sObject[] {
  const out = execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8' });
  return parseAllDocuments(out).map((d) => d.toJS() as K8sObject);
}

type Model = new (data: unknown) => { validate(): void };

async function modelOf(obj: K8sObject): Promise<Model | undefined> {
  const [group, version] = obj.apiVersion.includes('/')
    ? obj.apiVersion.split('/')
    : [undefined, obj.apiVersion];
  const module =
    group === 'keda.sh'
      ? await import(`@kubernetes-models/keda/keda.sh/${version}`)
      : await import(`kubernetes-models/${group ? `${group}/` : ''}${version}`);
  return (module as Record<string, Model | undefined>)[obj.kind];
}

/** core/v1 Container's fields (Kubernetes 1.30+). */
const CONTAINER_FIELDS = new Set([
  'args',
  'command',
  'env',
  'envFrom',
  'image',
  'imagePullPolicy',
  'lifecycle',
  'livenessProbe',
  'name',
  'ports',
  'readinessProbe',
  'resizePolicy',
  'resources',
  'restartPolicy',
  'securityContext',
  'startupProbe',
  'stdin',
  'stdinOnce',
  'terminationMessagePath',
  'terminationMessagePolicy',
  'tty',
  'volumeDevices',
  'volumeMounts',
  'workingDir',
]);

export type PodTemplateOwner = K8sObject & {
  spec: {
    template: { spec: { containers: Record<string, unknown>[]; terminationGracePeriodSeconds?: number } };
  };
};

export function podOwners(objects: K8sObject[]): PodTemplateOwner[] {
  return objects.filter((o) => o.kind === 'Deployment' || o.kind === 'Job') as PodTemplateOwner[];
}

/** Every problem found, as `Kind/name: message`; empty when all is valid. */
export async function validateObjects(objects: K8sObject[]): Promise<string[]> {
  const problems: string[] = [];
  for (const obj of objects) {
    const where = `${obj.kind}/${obj.metadata?.name}`;
    const Model = await modelOf(obj).catch(() => undefined);
    if (!Model) {
      problems.push(`${where}: no schema for ${obj.apiVersion} ${obj.kind}`);
      continue;
    }
    try {
      new Model(obj).validate();
    } catch (err) {
      problems.push(`${where}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  for (const owner of podOwners(objects)) {
    for (const container of owner.spec?.template?.spec?.containers ?? []) {
      for (const key of Object.keys(container)) {
        if (!CONTAINER_FIELDS.has(key)) {
          problems.push(`${owner.kind}/${owner.metadata.name}: container field "${key}" does not exist`);
        }
      }
    }
  }
  return problems;
}
