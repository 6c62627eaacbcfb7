import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

/** The proto/ directory of the package, found from wherever this module was bundled to. */
function protoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (fs.existsSync(path.join(dir, 'proto', 'spaceone'))) return path.join(dir, 'proto');
    dir = path.dirname(dir);
  }
  throw new Error('proto/spaceone not found beside the airlock package');
}

export interface RepositoryProtos {
  Plugin: grpc.ServiceClientConstructor;
  Repository: grpc.ServiceClientConstructor;
}

let loaded: RepositoryProtos | undefined;

/**
 * The Repository service's 2.x API from proto/, which follows cloudforet-io/api's own files field
 * for field (the commits are at the top of each file); field names kept snake_case.
 */
export function repositoryProtos(): RepositoryProtos {
  if (loaded) return loaded;
  const root = protoRoot();
  const def = protoLoader.loadSync(
    ['spaceone/api/repository/v1/plugin.proto', 'spaceone/api/repository/v1/repository.proto'],
    {
      includeDirs: [root],
      keepCase: true,
      enums: String,
      defaults: false,
      oneofs: true,
    },
  );
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    spaceone: { api: { repository: { v1: RepositoryProtos } } };
  };
  loaded = pkg.spaceone.api.repository.v1;
  return loaded;
}
