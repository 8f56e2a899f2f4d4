export interface TemplateContact {
  name: string;
  email: string | null;
  phone: string | null;
}

const PLACEHOLDER = /\{\{\s*(nome|name|email|phone)\s*\}\}/g;

/**
 * Replaces `{{nome}}`, `{{name}}`, `{{email}}` and `{{phone}}` with the
 * contact's values. Plain substitution through a replacer function: nothing
 * is evaluated, and `$` sequences in values are never interpreted.
 */
export function renderTemplate(content: string, contact: TemplateContact): string {
  return content.replace(PLACEHOLDER, (_match, field: string) => {
    switch (field) {
      case 'email':
        return contact.email ?? '';
      case 'phone':
        return contact.phone ?? '';
      default:
        return contact.name;
    }
  });
}
