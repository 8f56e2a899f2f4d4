import type { EmailTemplate } from '../../../core/queues/queue.catalogue';
import { escapeHtml } from '../../../core/http/html';

export interface RenderedEmail {
  subject: string;
  text: string;
  html: string;
}

const COPY: Record<EmailTemplate, { subject: string; intro: string; action: string; outro: string }> = {
  'verify-email': {
    subject: 'Confirme seu e-mail no Zyva',
    intro: 'Bem-vindo ao Zyva! Confirme seu e-mail para ativar sua conta.',
    action: 'Confirmar e-mail',
    outro: 'O link vale por 1 hora. Se você não criou uma conta, ignore esta mensagem.',
  },
  'password-reset': {
    subject: 'Redefina sua senha do Zyva',
    intro: 'Recebemos um pedido para redefinir a sua senha.',
    action: 'Redefinir senha',
    outro: 'O link vale por 1 hora e funciona uma vez. Se não foi você, ignore esta mensagem: sua senha continua a mesma.',
  },
};

/** The account emails of the `emails` queue (verification, password reset), text and HTML. */
export function renderAccountEmail(template: EmailTemplate, name: string, url: string): RenderedEmail {
  const copy = COPY[template];
  const text = `Olá ${name},\n\n${copy.intro}\n\n${copy.action}: ${url}\n\n${copy.outro}\n`;
  const html =
    `<p>Olá ${escapeHtml(name)},</p><p>${escapeHtml(copy.intro)}</p>` +
    `<p><a href="${escapeHtml(url)}">${escapeHtml(copy.action)}</a></p><p>${escapeHtml(copy.outro)}</p>`;
  return { subject: copy.subject, text, html };
}
