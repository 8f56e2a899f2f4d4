import { CONSENT_FILTER, consentMapOf, consentWhere, parseConsentFilter } from './consent-state';

describe('consent state', () => {
  it('maps projection rows to every channel, UNKNOWN where nothing is recorded', () => {
    expect(consentMapOf([])).toEqual({ WHATSAPP: 'UNKNOWN', EMAIL: 'UNKNOWN', SMS: 'UNKNOWN', INSTAGRAM_DM: 'UNKNOWN' });
    expect(consentMapOf([{ channel: 'SMS', status: 'OPTED_OUT' }])).toMatchObject({ SMS: 'OPTED_OUT', EMAIL: 'UNKNOWN' });
  });

  it('reads CHANNEL:STATUS filters and turns them into contact filters', () => {
    expect(['EMAIL:OPTED_OUT', 'WHATSAPP:UNKNOWN', 'INSTAGRAM_DM:OPTED_IN'].every((f) => CONSENT_FILTER.test(f))).toBe(true);
    expect(['EMAIL', 'EMAIL:', 'FAX:OPTED_IN', 'EMAIL:opted_out', ' EMAIL:OPTED_OUT'].some((f) => CONSENT_FILTER.test(f))).toBe(false);
    expect(parseConsentFilter('EMAIL:OPTED_OUT')).toEqual({ channel: 'EMAIL', state: 'OPTED_OUT' });
    expect(consentWhere('EMAIL', 'OPTED_OUT')).toEqual({ consents: { some: { channel: 'EMAIL', status: 'OPTED_OUT' } } });
    expect(consentWhere('SMS', 'UNKNOWN')).toEqual({ consents: { none: { channel: 'SMS' } } });
  });
});
