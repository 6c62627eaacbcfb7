import semver from 'semver';
import { printable } from '../core/names.js';

export interface TagSelection {
  tags?: string[];
  semver?: string;
  regex?: string;
  newest?: number;
}

/** A tag as a version: `v1.2.3`, `1.2`, `1.2.3-rc.1` are versions; `latest` and `main` are not. */
export function tagVersion(tag: string): semver.SemVer | null {
  return semver.parse(tag, { loose: true }) ?? (/^v?\d+(\.\d+){0,2}$/.test(tag) ? semver.coerce(tag) : null);
}

/**
 * Why `range` is not a range `selectTags` can match (with the same options), or undefined. An
 * invalid range matches nothing, so a run would report the entry as "no tag matches" instead of
 * naming the range: the config check refuses it first.
 */
export function semverRangeProblem(range: string): string | undefined {
  return semver.validRange(range, { loose: true }) === null ? `"${printable(range)}" is not a semver range` : undefined;
}

export function needsTagList(sel: TagSelection): boolean {
  return sel.semver !== undefined || sel.regex !== undefined || sel.newest !== undefined;
}

/**
 * Picks tags: the exact list, plus those matching the semver range and/or the regex; `newest`
 * keeps the N highest versions of what matched (all version-like tags when nothing else filters).
 */
export function selectTags(available: string[], sel: TagSelection): string[] {
  const chosen = new Set<string>(sel.tags ?? []);
  if (needsTagList(sel)) {
    const re = sel.regex ? new RegExp(sel.regex) : undefined;
    let matched = available.filter((t) => {
      if (re && !re.test(t)) return false;
      if (sel.semver) {
        const v = tagVersion(t);
        return !!v && semver.satisfies(v, sel.semver, { includePrerelease: false, loose: true });
      }
      return true;
    });
    if (sel.newest !== undefined) {
      matched = matched
        .map((t) => ({ t, v: tagVersion(t) }))
        .filter((x): x is { t: string; v: semver.SemVer } => x.v !== null)
        .sort((a, b) => semver.rcompare(a.v, b.v) || b.t.localeCompare(a.t))
        .slice(0, sel.newest)
        .map((x) => x.t);
    }
    for (const t of matched) chosen.add(t);
  }
  return [...chosen];
}
