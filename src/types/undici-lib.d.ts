// Types for the files of undici that src/http/undici-core.ts imports directly (the package types
// describe only its entry).
declare module 'undici/lib/dispatcher/agent.js' {
  import { Agent } from 'undici';
  export default Agent;
}

declare module 'undici/lib/api/api-request.js' {
  import type { Dispatcher } from 'undici';
  export default function request(
    this: Dispatcher,
    options: Dispatcher.RequestOptions,
  ): Promise<Dispatcher.ResponseData>;
}

declare module 'undici/lib/core/util.js' {
  const util: { parseURL(url: string | URL): URL };
  export default util;
}

declare module 'undici/lib/web/fetch/formdata.js' {
  import type { FormData } from 'undici';
  const formdata: { FormData: typeof FormData };
  export default formdata;
}
