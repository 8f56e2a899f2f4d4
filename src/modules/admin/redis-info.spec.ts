import { parseRedisInfo, sumRedisInfo } from './redis-info';

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

describe('sumRedisInfo', () => {
  it('sums numbers over the nodes, keeps the highest ratio, and text all nodes agree on', () => {
    const nodes = [
      { used_memory: 100, mem_fragmentation_ratio: 1.5, maxmemory_policy: 'noeviction', role: 'master', kbps: 0.25 },
      { used_memory: 250, mem_fragmentation_ratio: 6.83, maxmemory_policy: 'noeviction', role: 'master', kbps: 0.5 },
      { used_memory: 50, mem_fragmentation_ratio: 1.1, maxmemory_policy: 'allkeys-lru', role: 'master', kbps: 1 },
    ];
    expect(sumRedisInfo(nodes)).toEqual({
      used_memory: 400,
      mem_fragmentation_ratio: 6.83,
      maxmemory_policy: 'noeviction, allkeys-lru',
      role: 'master',
      kbps: 1.75,
    });
  });

  it('answers one node as it is', () => {
    expect(sumRedisInfo([{ used_memory: 1, used_memory_human: '1B' }])).toEqual({ used_memory: 1, used_memory_human: '1B' });
  });
});
