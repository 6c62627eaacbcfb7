import type { Segment } from './cue-eval.js';

/** How a scalar is written, so a rewrite keeps the file's own style. */
export type ValueStyle = 'cue' | 'yaml-plain' | 'yaml-double' | 'yaml-single';

/** The whole written value of a field (an expression or a scalar), to be replaced as one. */
export interface ValueSpan {
  file: string;
  start: number;
  end: number;
  style: ValueStyle;
}

export interface ImageFinding {
  /** The reference as the addon deploys it with its defaults (not normalised). */
  ref: string;
  /** The literal pieces it is made of, for an in-place rewrite. */
  segments: Segment[];
  file: string;
  /**
   * For a reference split over Helm values (`image: {registry, repository, tag}`): the pieces of
   * each value, so a rewrite can give each value its own part of the mirrored name.
   */
  parts?: { registry?: Segment[]; repository: Segment[] };
}

export interface ChartFinding {
  repoType: string;
  url: string;
  chart: string;
  version?: string;
  file: string;
  urlSpan?: ValueSpan;
  /** The pieces the url is made of: a single literal (maybe a parameter default) is rewritten where it is written. */
  urlSegments?: Segment[];
  repoTypeSpan?: ValueSpan;
  /** Where a `repoType` field can be inserted when the chart has none: before the url field. */
  insertBefore?: { file: string; offset: number; indent: string; style: ValueStyle };
}

export interface UrlFinding {
  url: string;
  segments: Segment[];
  file: string;
}

export interface FileFindings {
  images: ImageFinding[];
  charts: ChartFinding[];
  urls: UrlFinding[];
  /** Image repositories whose tag comes from the chart (`image: repository: x`). */
  untagged: string[];
}

export function emptyFindings(): FileFindings {
  return { images: [], charts: [], urls: [], untagged: [] };
}

const IMAGE_LABEL = /^(image|dockerImage|[A-Za-z]*ImagePullSpec)$/;

export function isImageLabel(label: string): boolean {
  return IMAGE_LABEL.test(label);
}

/** An evaluated value that can be an image reference (Grafana JSON has `"image": 11`, CRDs have capitalised words). */
export function looksLikeImage(text: string): boolean {
  return (
    /^([a-z0-9.-]+(:[0-9]+)?\/)?[a-z0-9]([a-z0-9._\-/]*[a-z0-9])?(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?$/.test(
      text,
    ) && /[a-z]/.test(text)
  );
}
