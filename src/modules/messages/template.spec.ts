import { renderTemplate } from './template';

describe('renderTemplate', () => {
  const ana = { name: 'Ana', email: 'ana@loja.dev', phone: '+5511999990000' };

  it('replaces the four placeholders, spaces allowed inside the braces', () => {
    expect(renderTemplate('{{nome}}|{{name}}|{{ email }}|{{phone}}', ana)).toBe('Ana|Ana|ana@loja.dev|+5511999990000');
  });

  it('renders missing values as empty and leaves unknown placeholders untouched', () => {
    expect(renderTemplate('{{email}}-{{phone}}-{{cpf}}', { name: 'X', email: null, phone: null })).toBe('--{{cpf}}');
  });

  it('evaluates nothing and never interprets $ patterns in values', () => {
    const evil = { name: '$& $` $1 {{email}}', email: '${process.exit(1)}', phone: null };
    expect(renderTemplate('${1+1} {{nome}} / {{email}} / {{constructor}}', evil)).toBe('${1+1} $& $` $1 {{email}} / ${process.exit(1)} / {{constructor}}');
  });
});
