import { escapeHtml } from '../../../core/http/html';
import type { Channel } from '../../../generated/prisma/enums';

/** Where unsubscribe links point: GET the page, POST the one-click opt-out. */
export const UNSUBSCRIBE_PATH = '/api/unsubscribe';

/** A page to answer: its status and its HTML. */
export interface HtmlPage {
  status: number;
  html: string;
}

/**
 * Headers of every unsubscribe page: not cached (each answer is about one
 * person), never framed (a page whose button changes something must not be
 * clickjacked), no scripts or outside resources, no referrer carrying the token.
 */
export const PAGE_HEADERS: Record<string, string> = {
  'Content-Type': 'text/html; charset=utf-8',
  'Cache-Control': 'no-store',
  'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'X-Frame-Options': 'DENY',
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Robots-Tag': 'noindex',
};

/** What the person stops receiving; a channel added later reads "mensagens" until it gets its own words. */
const WHAT: Partial<Record<Channel, string>> = {
  EMAIL: 'e-mails',
  SMS: 'mensagens SMS',
  WHATSAPP: 'mensagens no WhatsApp',
  INSTAGRAM_DM: 'mensagens diretas no Instagram',
};
const what = (channel: Channel) => WHAT[channel] ?? 'mensagens';

const STYLE = `
  body { margin: 0; font: 1.0625rem/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1a1a1a; background: #f4f4f5; }
  main { max-width: 32rem; margin: 4rem auto; padding: 2rem; background: #fff; border-radius: .75rem; }
  h1 { font-size: 1.5rem; line-height: 1.25; margin: 0 0 1rem; }
  button { font: inherit; font-weight: 600; padding: .75rem 1.5rem; border: 0; border-radius: .5rem; color: #fff; background: #b42318; cursor: pointer; }
  button:focus-visible { outline: 3px solid #1d4ed8; outline-offset: 3px; }
  .note { color: #52525b; font-size: .9375rem; }`;

function layout(title: string, body: string): string {
  return `<!doctype html>
<html lang="pt-BR">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${title}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`;
}

/**
 * The page a link opens. Showing it changes nothing (mail scanners open links);
 * the button POSTs to the same address, with the one-click body of RFC 8058,
 * and works without JavaScript.
 */
export function unsubscribePage(store: string, channel: Channel): HtmlPage {
  const name = escapeHtml(store);
  return {
    status: 200,
    html: layout(
      `Cancelar inscrição · ${name}`,
      `<h1>Parar de receber ${what(channel)} de ${name}</h1>
<p>Aperte o botão para não receber mais ${what(channel)} de <strong>${name}</strong>. Nada muda até você apertar.</p>
<form method="post">
<input type="hidden" name="List-Unsubscribe" value="One-Click">
<button type="submit">Cancelar inscrição</button>
</form>`,
    ),
  };
}

export function unsubscribedPage(store: string, channel: Channel): HtmlPage {
  const name = escapeHtml(store);
  return {
    status: 200,
    html: layout(
      `Inscrição cancelada · ${name}`,
      `<h1>Inscrição cancelada</h1>
<p>Pronto: você não vai mais receber ${what(channel)} de <strong>${name}</strong>.</p>
<p class="note">Pode fechar esta página.</p>`,
    ),
  };
}

/** Unknown, altered or forged tokens, and contacts that no longer exist. */
export function invalidLinkPage(): HtmlPage {
  return {
    status: 404,
    html: layout(
      'Link inválido',
      `<h1>Link inválido</h1>
<p>Este link de cancelamento de inscrição não é válido. Confira se ele foi copiado inteiro.</p>`,
    ),
  };
}

/**
 * The answer to an unsubscribe link the router refused before any route ran
 * (a token over 100 characters, a broken %-escape): the invalid-link page, as
 * for any forged token, since a person opened it. Null for any other request,
 * which keeps the API's JSON error.
 */
export function refusedLinkPage(method: string, url: string): HtmlPage | null {
  const isLink = (method === 'GET' || method === 'HEAD' || method === 'POST') && url.startsWith(`${UNSUBSCRIBE_PATH}/`);
  return isLink ? invalidLinkPage() : null;
}
