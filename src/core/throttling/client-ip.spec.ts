import { rateLimitSubject } from './client-ip';

describe('rateLimitSubject', () => {
  it('keeps IPv4 addresses, mapped ones included', () => {
    expect(rateLimitSubject('203.0.113.7')).toBe('203.0.113.7');
    expect(rateLimitSubject('::ffff:203.0.113.7')).toBe('203.0.113.7');
  });

  it('counts IPv6 clients by their /64, however the address is written', () => {
    const subject = '2001:db8:85a3:8d3::/64';
    expect(rateLimitSubject('2001:db8:85a3:8d3:1319:8a2e:370:7348')).toBe(subject);
    expect(rateLimitSubject('2001:0DB8:85A3:08D3:0000:0000:0000:0001')).toBe(subject);
    expect(rateLimitSubject('2001:db8:85a3:8d3::1')).toBe(subject);
    expect(rateLimitSubject('2001:db8:85a3:8d4::1')).not.toBe(subject);
    expect(rateLimitSubject('2001:db8::')).toBe('2001:db8:0:0::/64');
    expect(rateLimitSubject('::1')).toBe('0:0:0:0::/64');
    expect(rateLimitSubject('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
  });
});
