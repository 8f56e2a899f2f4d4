import { consentKeyword, normalizeKeyword } from './keywords';

describe('keywords', () => {
  it('compares trimmed, without case or accents', () => {
    expect(normalizeKeyword('  quéro ')).toBe('QUERO');
    expect(normalizeKeyword('Ação')).toBe('ACAO');
    expect(normalizeKeyword('quero mais')).toBe('QUERO MAIS');
  });

  it('knows the opt-out and opt-in words, and nothing else', () => {
    for (const word of ['STOP', 'parar', ' Sair ', 'cancelar', 'Descadastrar']) expect(consentKeyword(word)).toBe('OPTED_OUT');
    for (const word of ['voltar', 'START']) expect(consentKeyword(word)).toBe('OPTED_IN');
    for (const word of ['stop please', 'parar!', 'oi', '']) expect(consentKeyword(word)).toBeUndefined();
  });
});
