import { describe, expect, it } from 'vitest';
import { applyChanges, splitWords } from '../../../daemon/images/changes.js';

describe('import --change', () => {
  it('applies every instruction docker import takes', () => {
    const c = applyChanges({ Env: ['A=1'] }, [
      'CMD ["httpd", "-f"]',
      'ENTRYPOINT /bin/sh -c "echo hi"',
      'ENV A=2 B="two words"',
      'ENV C legacy value',
      'EXPOSE 80 53/udp 8000-8001',
      'WORKDIR /www',
      'WORKDIR sub',
      'USER nobody',
      'LABEL a=b "c d"=e',
      'VOLUME ["/data"]',
      'STOPSIGNAL SIGINT',
      'onbuild RUN x',
    ]);
    expect(c).toEqual({
      Env: ['A=2', 'B=two words', 'C=legacy value'],
      Cmd: ['httpd', '-f'],
      Entrypoint: ['/bin/sh', '-c', '/bin/sh -c "echo hi"'],
      ExposedPorts: { '80/tcp': {}, '53/udp': {}, '8000/tcp': {}, '8001/tcp': {} },
      WorkingDir: '/www/sub',
      User: 'nobody',
      Labels: { a: 'b', 'c d': 'e' },
      Volumes: { '/data': {} },
      StopSignal: 'SIGINT',
    });
  });

  it.each([
    ['RUN echo', 'RUN is not a valid change command'],
    ['FROM x', 'FROM is not a valid change command'],
    ['EXPOSE http', 'invalid containerPort: http'],
    ['ENV', 'ENV requires at least one argument'],
    ['ENV =x', 'names can not be blank'],
    ['LABEL "a=b', 'unterminated quote'],
  ])('refuses %j', (change, msg) => {
    expect(() => applyChanges({}, [change])).toThrow(msg);
  });

  it('splits words with quotes and escapes', () => {
    expect(splitWords(`a="b c" d='e f' g\\ h ""`)).toEqual(['a=b c', "d=e f", 'g h', '']);
  });
});
