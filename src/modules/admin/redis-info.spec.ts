import { parseRedisInfo } from './redis-info';

describe('parseRedisInfo', () => {
  it('turns INFO lines into an object, numbers as numbers and text as text', () => {
    const info = [
      '# Memory',
      'used_memory:1104576',
      'used_memory_human:1.05M',
      'mem_fragmentation_ratio:6.83',
      'maxmemory_policy:noeviction',
      'instantaneous_input_kbps:0.00',
      'negative_value:-3',
      'executable:/usr/bin/redis-server:with-colon',
      'huge_counter:123456789012345678901',
      '',
    ].join('\r\n');
    expect(parseRedisInfo(info)).toEqual({
      used_memory: 1104576,
      used_memory_human: '1.05M',
      mem_fragmentation_ratio: 6.83,
      maxmemory_policy: 'noeviction',
      instantaneous_input_kbps: 0,
      negative_value: -3,
      executable: '/usr/bin/redis-server:with-colon',
      huge_counter: '123456789012345678901',
    });
  });

  it('ignores headers, blank and malformed lines, with \\n or \\r\\n line ends', () => {
    expect(parseRedisInfo('# Clients\nconnected_clients:7\n\nnot a field\n:novalue\n')).toEqual({ connected_clients: 7 });
  });
});
