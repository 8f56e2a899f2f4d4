/** How a person's reply is compared with a keyword: trimmed, without case or accents ("  Quéro " is "QUERO"). */
export function normalizeKeyword(text: string): string {
  return text.normalize('NFD').replace(/\p{Diacritic}/gu, '').trim().toUpperCase();
}

/** Replies that opt a contact out of the channel they came on, and back in. */
const STOP = new Set(['STOP', 'PARAR', 'SAIR', 'CANCELAR', 'DESCADASTRAR']);
const START = new Set(['VOLTAR', 'START']);

export function consentKeyword(text: string): 'OPTED_OUT' | 'OPTED_IN' | undefined {
  const word = normalizeKeyword(text);
  if (STOP.has(word)) return 'OPTED_OUT';
  if (START.has(word)) return 'OPTED_IN';
  return undefined;
}
