/**
 * PEP 440 version syntax (the "canonical public version" regex of PEP 440 appendix B, with the
 * normalisations `packaging` accepts: a leading v, separators, implicit numbers). The Repository
 * service sorts HARBOR tags with packaging.version.parse, which raises on anything else.
 */
const PEP440 =
  /^\s*v?(?:(?:[0-9]+)!)?[0-9]+(?:\.[0-9]+)*(?:[-_.]?(?:a|b|c|rc|alpha|beta|pre|preview)[-_.]?[0-9]*)?(?:-[0-9]+|[-_.]?(?:post|rev|r)[-_.]?[0-9]*)?(?:[-_.]?dev[-_.]?[0-9]*)?(?:\+[a-z0-9]+(?:[-_.][a-z0-9]+)*)?\s*$/i;

export function isPep440(tag: string): boolean {
  return PEP440.test(tag);
}
