import { invalidLinkPage, refusedLinkPage, unsubscribePage, unsubscribedPage } from './unsubscribe-page';

describe('unsubscribe pages', () => {
  it('the link page: lang, title and heading naming the store (escaped), a real POST form, nothing external', () => {
    const { status, html } = unsubscribePage('Café <b>&</b> "Cia"', 'EMAIL');
    expect(status).toBe(200);
    expect(html).toContain('<html lang="pt-BR">');
    expect(html).toContain('<title>Cancelar inscrição · Café &lt;b&gt;&amp;&lt;/b&gt; &quot;Cia&quot;</title>');
    expect(html).toContain('<h1>Parar de receber e-mails de Café &lt;b&gt;&amp;&lt;/b&gt; &quot;Cia&quot;</h1>');
    expect(html).not.toContain('<b>');
    expect(html).toContain('<form method="post">');
    expect(html).toContain('<input type="hidden" name="List-Unsubscribe" value="One-Click">');
    expect(html).toContain('<button type="submit">Cancelar inscrição</button>');
    expect(html).not.toMatch(/<script|<link|<img|src=|https?:\/\//);
  });

  it('names what the person stops receiving per channel', () => {
    expect(unsubscribePage('Loja', 'WHATSAPP').html).toContain('mensagens no WhatsApp de Loja');
    expect(unsubscribePage('Loja', 'SMS').html).toContain('mensagens SMS de Loja');
    expect(unsubscribePage('Loja', 'INSTAGRAM_DM').html).toContain('mensagens diretas no Instagram de Loja');
    expect(unsubscribedPage('Loja', 'EMAIL').html).toContain('você não vai mais receber e-mails de <strong>Loja</strong>');
  });

  it('the confirmation answers 200 and the invalid link 404, without any store', () => {
    expect(unsubscribedPage('Loja', 'EMAIL').status).toBe(200);
    const invalid = invalidLinkPage();
    expect(invalid.status).toBe(404);
    expect(invalid.html).toContain('<h1>Link inválido</h1>');
  });

  it('answers the invalid link page to router refusals of unsubscribe links only (GET, HEAD, POST)', () => {
    for (const method of ['GET', 'HEAD', 'POST']) expect(refusedLinkPage(method, '/api/unsubscribe/abc%')).toEqual(invalidLinkPage());
    expect(refusedLinkPage('DELETE', '/api/unsubscribe/abc%')).toBeNull();
    expect(refusedLinkPage('GET', '/api/contacts/abc%')).toBeNull();
    expect(refusedLinkPage('GET', '/api/unsubscribe-other/abc%')).toBeNull();
    expect(refusedLinkPage('GET', '/x/api/unsubscribe/abc%')).toBeNull();
  });
});
