import fs from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { AirlockError } from '../core/errors.js';
import { checkName, printable } from '../core/names.js';
import { CONFIG_FILE_LIMIT, readTextBounded } from '../core/bounded-read.js';
import type { RegisterPluginRequest } from '../spaceone/registrar.js';

export interface PluginManifest {
  file: string;
  request: RegisterPluginRequest;
  /** The image name as the manifest gives it (managed format: bare name; spacectl: a path). */
  sourceImage: string;
  warnings: string[];
}

export interface ManifestProblem {
  file: string;
  plugin?: string;
  error: AirlockError;
}

export interface ManifestOptions {
  /** Path prefix below the target registry, e.g. `cloudforet` (the image becomes `cloudforet/<image>`). */
  imagePrefix?: string;
  registryType?: RegisterPluginRequest['registry_type'];
}

const REQUEST_KEYS = new Set([
  'name',
  'resource_type',
  'image',
  'provider',
  'registry_type',
  'registry_config',
  'capability',
  'labels',
  'tags',
  'plugin_id',
  'docs',
]);
const REGISTRY_TYPES = new Set(['DOCKER_HUB', 'AWS_PRIVATE_ECR', 'HARBOR', 'GITHUB', 'GCP_PRIVATE_GCR']);
const MAX_IMAGE_NAME_LENGTH = 48;

/**
 * The service's own image rule (1.4), applied before any call: the last path segment only
 * `[a-zA-Z0-9-]`, at most 48 characters, so no tag or digest. The whole image must also be an OCI
 * repository name (checked by toRegisterRequest once the prefix is on).
 */
export function checkImageName(image: string, artifact: string): void {
  const last = image.split('/').pop() ?? '';
  if (!last) throw new AirlockError('E_USAGE', `image "${printable(image)}" is empty or ends in /`, { artifact });
  if (/[:@]/.test(image))
    throw new AirlockError(
      'E_USAGE',
      `image "${printable(image)}" must not carry a tag or digest (the service lists versions itself)`,
      { artifact },
    );
  if (!/^[a-zA-Z0-9-]+$/.test(last))
    throw new AirlockError(
      'E_USAGE',
      `image name "${printable(last)}" must match [a-zA-Z0-9-]+ (ERROR_INVALID_IMAGE_NAME_FORMAT)`,
      { artifact },
    );
  if (last.length > MAX_IMAGE_NAME_LENGTH)
    throw new AirlockError(
      'E_USAGE',
      `image name "${last}" is ${last.length} characters, the service allows ${MAX_IMAGE_NAME_LENGTH} (ERROR_INVALID_IMAGE_LENGTH)`,
      { artifact },
    );
}

function isObject(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === 'object' && !Array.isArray(v);
}

/**
 * One manifest document (the managed-plugin YAML, spacectl's register YAML, or a 1.x file with
 * `service_type`) as a 2.x register request: `service_type` becomes `resource_type`, keys the 2.x
 * API rejects (`template`, `domain_id`, `project_id`, …) are dropped with a warning, the image gets
 * the target path prefix, `plugin_id` defaults to the image's last segment as the service does.
 */
export function toRegisterRequest(
  doc: Record<string, unknown>,
  file: string,
  options: ManifestOptions = {},
): PluginManifest {
  const warnings: string[] = [];
  // The plugin as the operator knows it: its plugin_id, else its display name (the id would come from the image).
  const label =
    typeof doc.plugin_id === 'string' && doc.plugin_id
      ? doc.plugin_id
      : typeof doc.name === 'string' && doc.name
        ? doc.name
        : undefined;
  const artifact = `${file}${label ? ` (${printable(label, 80)})` : ''}`;
  const body: Record<string, unknown> = { ...doc };
  if (body.resource_type === undefined && typeof body.service_type === 'string') {
    body.resource_type = body.service_type;
    warnings.push('1.x service_type mapped to resource_type');
  }
  delete body.service_type;
  for (const key of Object.keys(body)) {
    if (!REQUEST_KEYS.has(key)) {
      warnings.push(`${key} dropped: not a field of the 2.x register request`);
      delete body[key];
    }
  }
  for (const key of ['name', 'resource_type', 'image'] as const) {
    if (typeof body[key] !== 'string' || body[key] === '')
      throw new AirlockError('E_USAGE', `${key} is required (ERROR_REQUIRED_PARAMETER)`, { artifact });
  }
  const sourceImage = String(body.image);
  checkImageName(sourceImage, artifact);
  const prefix = (options.imagePrefix ?? '').replace(/^\/+|\/+$/g, '');
  if (prefix)
    checkName('repository', prefix, {
      field: 'image prefix (plugins.target.path or --image-prefix)',
      artifact,
      code: 'E_USAGE',
    });
  // Managed manifests name the bare image; spacectl ones may already carry a namespace.
  const image = prefix && !sourceImage.includes('/') ? `${prefix}/${sourceImage}` : sourceImage;
  // The image names a repository in the target registry (and a path below /v2/ there): the OCI
  // grammar keeps `../`, empty segments and upper case out; the service's rule above only sees the last segment.
  checkName('repository', image, { field: 'image', artifact, code: 'E_USAGE' });
  const registryType = String(body.registry_type ?? options.registryType ?? 'HARBOR');
  if (!REGISTRY_TYPES.has(registryType))
    throw new AirlockError(
      'E_USAGE',
      `registry_type "${registryType}" is not one of ${[...REGISTRY_TYPES].join(', ')}`,
      { artifact },
    );
  if (body.registry_config !== undefined) {
    warnings.push('registry_config dropped: the service stores it but never uses or returns it');
    delete body.registry_config;
  }
  if (body.labels !== undefined && (!Array.isArray(body.labels) || body.labels.some((l) => typeof l !== 'string'))) {
    throw new AirlockError('E_USAGE', 'labels must be a list of strings', { artifact });
  }
  for (const key of ['capability', 'tags', 'docs'] as const) {
    if (body[key] !== undefined && !isObject(body[key]))
      throw new AirlockError('E_USAGE', `${key} must be a mapping`, { artifact });
  }
  const pluginId =
    typeof body.plugin_id === 'string' && body.plugin_id ? body.plugin_id : (image.split('/').pop() ?? image);
  const request: RegisterPluginRequest = {
    plugin_id: pluginId,
    name: String(body.name),
    resource_type: String(body.resource_type),
    image,
    registry_type: registryType as RegisterPluginRequest['registry_type'],
    ...(typeof body.provider === 'string' && body.provider ? { provider: body.provider } : {}),
    ...(isObject(body.capability) ? { capability: body.capability } : {}),
    ...(Array.isArray(body.labels) ? { labels: body.labels as string[] } : {}),
    ...(isObject(body.tags) ? { tags: body.tags } : {}),
    ...(isObject(body.docs) ? { docs: body.docs } : {}),
  };
  return { file, request, sourceImage, warnings };
}

/** Every manifest in a file or a directory (`*.yaml`, `*.yml`, several documents per file allowed); bad ones are reported, not fatal. */
export function readPluginManifests(
  target: string,
  options: ManifestOptions = {},
): { manifests: PluginManifest[]; problems: ManifestProblem[] } {
  let files: string[];
  try {
    files = fs.statSync(target).isDirectory()
      ? fs
          .readdirSync(target)
          .filter((f) => /\.ya?ml$/.test(f))
          .sort()
          .map((f) => path.join(target, f))
      : [target];
  } catch (e) {
    throw new AirlockError(
      'E_USAGE',
      `cannot read plugin manifests at ${target}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
  const manifests: PluginManifest[] = [];
  const problems: ManifestProblem[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = readTextBounded(file, CONFIG_FILE_LIMIT);
    } catch (e) {
      problems.push({
        file,
        error: new AirlockError(
          'E_USAGE',
          `cannot read plugin manifest: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
          { artifact: file },
        ),
      });
      continue;
    }
    const docs = parseAllDocuments(text);
    const list = Array.isArray(docs) ? docs : [docs];
    for (const d of list) {
      if (d.errors.length > 0) {
        problems.push({
          file,
          error: new AirlockError('E_USAGE', `not valid YAML: ${d.errors[0]?.message.split('\n')[0]}`, {
            artifact: file,
          }),
        });
        continue;
      }
      const value = d.toJS() as unknown;
      if (value === null || value === undefined) continue;
      if (!isObject(value)) {
        problems.push({
          file,
          error: new AirlockError('E_USAGE', 'a plugin manifest must be a mapping', { artifact: file }),
        });
        continue;
      }
      try {
        manifests.push(toRegisterRequest(value, file, options));
      } catch (e) {
        problems.push({
          file,
          ...(typeof value.plugin_id === 'string' ? { plugin: value.plugin_id } : {}),
          error: e as AirlockError,
        });
      }
    }
  }
  return { manifests, problems };
}
