/**
 * The token of an `Authorization: Bearer <token>` header, or undefined. The
 * scheme name is case-insensitive (RFC 7235 §2.1), so `bearer` and `BEARER`
 * are the same scheme; spaces or tabs may separate it from the token.
 */
export function bearerTokenOf(header: string | undefined): string | undefined {
  const match = header?.match(/^bearer[ \t]+(.*)$/is);
  return match?.[1].trim() || undefined;
}
