import { validateRow } from './contact-fields';

describe('validateRow (a CSV row)', () => {
  it('reads the optIn cell: channels separated by ";", any case, repeats and blanks dropped', () => {
    expect(validateRow({ name: 'Ana', optIn: ' email ; WHATSAPP;;EMAIL ' })).toEqual({ fields: expect.objectContaining({ optIn: ['EMAIL', 'WHATSAPP'] }) });
    expect(validateRow({ name: 'Ana' })).toEqual({ fields: expect.objectContaining({ optIn: [] }) });
  });

  it('rejects a row naming a channel that does not exist, like any other bad cell', () => {
    expect(validateRow({ name: 'Ana', optIn: 'EMAIL;TELEGRAM' })).toEqual({
      problems: ['optIn "TELEGRAM" is not a channel (WHATSAPP, EMAIL, SMS, INSTAGRAM_DM)'],
    });
    expect(validateRow({ name: '', optIn: 'FAX' })).toEqual({ problems: ['name is required', 'optIn "FAX" is not a channel (WHATSAPP, EMAIL, SMS, INSTAGRAM_DM)'] });
  });
});
