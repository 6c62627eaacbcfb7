import pLimit from 'p-limit';
import type { PluginsConfig } from '../config/schema.js';
import type { RegistryAccess } from '../oci/registry/types.js';
import { AirlockError, toAirlockError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { parseRegistryRef } from '../oci/reference.js';
import type { PluginManifest } from '../plugins/plugin-manifest.js';
import { isPep440 } from '../spaceone/pep440.js';
import { syncRegistration, type RegistrationResult } from '../spaceone/registrar.js';
import type { RepositoryClient } from '../spaceone/repository-client.js';
import { needsTagList, selectTags } from '../sources/tag-selection.js';
import { mirrorImage, type ImageJobEngine } from './mirror-image.js';
import type { MirrorImagePayload } from '../model/image-payload.js';

export interface PluginOutcome {
  plugin_id: string;
  image: string;
  /** Tags now at the target registry. */
  mirrored: string[];
  registration?: RegistrationResult;
  error?: AirlockError;
  warnings: string[];
}

/** A plugin's images are listed at the source and copied like any image. */
export type PluginJobEngine = RegistryAccess & ImageJobEngine;

/** The image copies a plugin needs: its selected tags into the registry the Repository service knows. */
export interface PluginImagePlan {
  copies: MirrorImagePayload[];
  tags: string[];
  warnings: string[];
}

export async function planPluginImages(
  manifest: PluginManifest,
  config: PluginsConfig,
  engine: RegistryAccess,
): Promise<PluginImagePlan> {
  const { request } = manifest;
  const warnings: string[] = [];
  const sourceRepo = parseRegistryRef(`${config.source.replace(/\/+$/, '')}/${manifest.sourceImage.split('/').pop()}`, {
    defaultTag: false,
  });
  const selection = { tags: config.tags, semver: config.semver, newest: config.newest };
  let tags: string[];
  if (config.tags?.length && !needsTagList(selection)) tags = config.tags;
  else {
    const available = await engine.client.listTags({
      registry: sourceRepo.registry,
      repository: sourceRepo.repository,
    });
    tags = selectTags(available, needsTagList(selection) ? selection : { ...selection, newest: 1 });
  }
  if (request.registry_type === 'HARBOR' && !config.allowMutableTags) {
    const unsortable = tags.filter((t) => !isPep440(t));
    if (unsortable.length > 0) {
      warnings.push(
        `not mirrored: ${unsortable.join(', ')} — the Repository service sorts HARBOR tags as PEP 440 versions and fails on these (set allowMutableTags to push them anyway)`,
      );
      tags = tags.filter(isPep440);
    }
  }
  if (tags.length === 0)
    throw new AirlockError(
      'E_NOT_FOUND',
      `no tag of ${sourceRepo.registry}/${sourceRepo.repository} to mirror: the service refuses a plugin whose image has no tag`,
      { artifact: request.plugin_id },
    );
  const target = `docker://${config.target.registry}/${request.image}`;
  return {
    copies: tags.map((tag) => ({ source: `docker://${sourceRepo.registry}/${sourceRepo.repository}:${tag}`, target })),
    tags,
    warnings,
  };
}

/** A failure about a plugin, with the plugin as the artifact and what failed in the message. */
export function pluginError(e: unknown, pluginId: string): AirlockError {
  const err = toAirlockError(e, pluginId);
  return err.artifact === pluginId
    ? err
    : new AirlockError(err.code, `${err.artifact}: ${err.message}`, { artifact: pluginId, cause: err });
}

/**
 * One plugin: mirror its image tags into the registry the Repository service knows, then register
 * or update it. Nothing is registered unless its image is there with a tag the service can sort.
 */
export async function mirrorAndRegisterPlugin(
  manifest: PluginManifest,
  config: PluginsConfig,
  ctx: { engine: PluginJobEngine; logger: Logger; client: RepositoryClient },
): Promise<PluginOutcome> {
  const { request } = manifest;
  const warnings = [...manifest.warnings];
  const outcome: PluginOutcome = { plugin_id: request.plugin_id, image: request.image, mirrored: [], warnings };
  try {
    const plan = await planPluginImages(manifest, config, ctx.engine);
    warnings.push(...plan.warnings);
    let copied = 0;
    for (const [i, copy] of plan.copies.entries()) {
      const r = await mirrorImage(copy, { engine: ctx.engine, logger: ctx.logger });
      if (r.status === 'copied') copied += 1;
      outcome.mirrored.push(plan.tags[i]!);
    }
    outcome.registration = await syncRegistration(ctx.client, request, {
      allowRecreate: config.allowRecreate,
      expectedTags: outcome.mirrored,
      nothingNew: copied === 0,
    });
  } catch (e) {
    // Reported per plugin: the plugin is the artifact, the image or call that failed is in the message.
    outcome.error = pluginError(e, request.plugin_id);
  }
  return outcome;
}

/**
 * Every plugin of a run through one Repository client, `concurrency` at a time (the images
 * limit: each plugin is mostly its image copies). One plugin failing never stops the others.
 */
export async function mirrorAndRegisterPlugins(
  manifests: PluginManifest[],
  config: PluginsConfig,
  ctx: { engine: PluginJobEngine; logger: Logger; client: RepositoryClient; concurrency: number },
): Promise<PluginOutcome[]> {
  const limit = pLimit(ctx.concurrency);
  return Promise.all(manifests.map((m) => limit(() => mirrorAndRegisterPlugin(m, config, ctx))));
}
