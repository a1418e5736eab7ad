import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { S3Error } from '../../worker/s3/errors.js';
import { isoDate, parseXmlBody, renderXml, S3_XMLNS, urlEncodeKey } from '../../worker/s3/xml.js';

const DECL = '<?xml version="1.0" encoding="UTF-8"?>\n';
const NS = `xmlns="${S3_XMLNS}"`;

describe('renderXml', () => {
  it('renders ListAllMyBucketsResult exactly', () => {
    const xml = renderXml('ListAllMyBucketsResult', {
      Owner: { ID: 'alluxio', DisplayName: 'alluxio' },
      Buckets: {
        Bucket: [
          { Name: 'alpha', CreationDate: '2026-11-21T04:15:57.000Z' },
          { Name: 'beta', CreationDate: '2026-11-21T04:15:58.123Z' },
        ],
      },
    });
    assert.equal(xml, `${DECL}<ListAllMyBucketsResult ${NS}>`
      + '<Owner><ID>alluxio</ID><DisplayName>alluxio</DisplayName></Owner>'
      + '<Buckets>'
      + '<Bucket><Name>alpha</Name><CreationDate>2026-11-21T04:15:57.000Z</CreationDate></Bucket>'
      + '<Bucket><Name>beta</Name><CreationDate>2026-11-21T04:15:58.123Z</CreationDate></Bucket>'
      + '</Buckets>'
      + '</ListAllMyBucketsResult>');
  });

  it('renders an empty bucket list as an empty Buckets element', () => {
    const xml = renderXml('ListAllMyBucketsResult', { Owner: { ID: 'o', DisplayName: 'o' }, Buckets: { Bucket: [] } });
    assert.equal(xml, `${DECL}<ListAllMyBucketsResult ${NS}><Owner><ID>o</ID><DisplayName>o</DisplayName></Owner><Buckets></Buckets></ListAllMyBucketsResult>`);
  });

  it('renders an error body with no xmlns (S3-CLIENTS R6), ending in </Error> with nothing after it (R5)', () => {
    const xml = renderXml('Error', { Code: 'NoSuchKey', Message: 'The specified key does not exist.', Resource: '/bkt/a b', RequestId: '17A2B3C4D5E6F708' }, null);
    assert.equal(xml, `${DECL}<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message>`
      + '<Resource>/bkt/a b</Resource><RequestId>17A2B3C4D5E6F708</RequestId></Error>');
    assert.ok(xml.endsWith('</Error>'));
  });

  it('keeps the element order it is given', () => {
    const xml = renderXml('Error', { Code: 'NoSuchBucket', Message: 'm', BucketName: 'b', Resource: '/b', RequestId: 'r' }, null);
    assert.equal(xml, `${DECL}<Error><Code>NoSuchBucket</Code><Message>m</Message><BucketName>b</BucketName><Resource>/b</Resource><RequestId>r</RequestId></Error>`);
  });

  it('escapes & < > " \' in keys and values', () => {
    const xml = renderXml('ListBucketResult', { Contents: [{ Key: `a&b<c>d"e'f`, ETag: '"0123abcd"' }] });
    assert.equal(xml, `${DECL}<ListBucketResult ${NS}><Contents><Key>a&amp;b&lt;c&gt;d&quot;e&apos;f</Key><ETag>&quot;0123abcd&quot;</ETag></Contents></ListBucketResult>`);
    // What the client reads back is the original key.
    const back = parseXmlBody(xml) as { ListBucketResult: { Contents: { Key: string } } };
    assert.equal(back.ListBucketResult.Contents.Key, `a&b<c>d"e'f`);
  });

  it('sends a carriage return in a key as &#13; so the client reads back the same key', () => {
    // A literal CR is turned into LF by every conforming XML parser (end-of-line normalisation).
    const xml = renderXml('ListBucketResult', { Contents: [{ Key: 'a\rb\r\nc\nd\te' }] });
    assert.equal(xml, `${DECL}<ListBucketResult ${NS}><Contents><Key>a&#13;b&#13;\nc\nd\te</Key></Contents></ListBucketResult>`);
    const back = parseXmlBody(xml) as { ListBucketResult: { Contents: { Key: string } } };
    assert.equal(back.ListBucketResult.Contents.Key, 'a\rb\r\nc\nd\te');
  });

  it('leaves unicode as is', () => {
    assert.equal(renderXml('R', { Key: 'dir/ü日本😀.txt' }, null), `${DECL}<R><Key>dir/ü日本😀.txt</Key></R>`);
  });

  it('repeats the element for each array item, and an empty array renders nothing', () => {
    const xml = renderXml('ListBucketResult', {
      Name: 'b',
      Contents: [{ Key: 'a' }, { Key: 'b' }],
      CommonPrefixes: [],
      KeyCount: 2,
    });
    assert.equal(xml, `${DECL}<ListBucketResult ${NS}><Name>b</Name><Contents><Key>a</Key></Contents><Contents><Key>b</Key></Contents><KeyCount>2</KeyCount></ListBucketResult>`);
    const deleted = renderXml('DeleteResult', { Deleted: [], Error: [] });
    assert.equal(deleted, `${DECL}<DeleteResult ${NS}></DeleteResult>`);
  });

  it('renders numbers, booleans and empty strings, and leaves out undefined', () => {
    const xml = renderXml('ListBucketResult', { MaxKeys: 1000, IsTruncated: false, Prefix: '', Marker: undefined, KeyCount: 0 });
    assert.equal(xml, `${DECL}<ListBucketResult ${NS}><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated><Prefix></Prefix><KeyCount>0</KeyCount></ListBucketResult>`);
  });

  it("renders { '#text': '' } as an empty element (GetBucketLocation for us-east-1, S3-CLIENTS A7)", () => {
    assert.equal(renderXml('LocationConstraint', { '#text': '' }), `${DECL}<LocationConstraint ${NS}></LocationConstraint>`);
    assert.equal(renderXml('LocationConstraint', { '#text': 'eu-west-1' }), `${DECL}<LocationConstraint ${NS}>eu-west-1</LocationConstraint>`);
  });
});

describe('isoDate', () => {
  it('is ISO-8601 with milliseconds (S3-CLIENTS R10)', () => {
    assert.equal(isoDate(Date.UTC(2026, 10, 21, 4, 15, 57)), '2026-11-21T04:15:57.000Z');
  });
});

describe('parseXmlBody: DeleteObjects', () => {
  const expected = { keys: ['0001', 'dir/a b.txt', 'a&b', 'ü日本'], quiet: 'true' };
  const forms: [string, string][] = [
    ['JS v3: declaration and xmlns', '<?xml version="1.0" encoding="UTF-8"?><Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Object><Key>0001</Key></Object><Object><Key>dir/a b.txt</Key></Object><Object><Key>a&amp;b</Key></Object><Object><Key>ü日本</Key></Object><Quiet>true</Quiet></Delete>'],
    ['boto3: no declaration', '<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Object><Key>0001</Key></Object><Object><Key>dir/a b.txt</Key></Object><Object><Key>a&amp;b</Key></Object><Object><Key>ü日本</Key></Object><Quiet>true</Quiet></Delete>'],
    ['no xmlns, Quiet first, numeric entities', '<Delete><Quiet>true</Quiet><Object><Key>0001</Key></Object><Object><Key>dir/a&#32;b.txt</Key></Object><Object><Key>a&#38;b</Key></Object><Object><Key>&#xFC;日本</Key></Object></Delete>'],
    ['pretty-printed with standalone="yes"', [
      '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>',
      '<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/">',
      '  <Object>',
      '    <Key>0001</Key>',
      '  </Object>',
      '  <Object>',
      '    <Key>dir/a b.txt</Key>',
      '  </Object>',
      '  <Object>',
      '    <Key>a&amp;b</Key>',
      '  </Object>',
      '  <Object>',
      '    <Key>ü日本</Key>',
      '  </Object>',
      '  <Quiet>true</Quiet>',
      '</Delete>',
      '',
    ].join('\n')],
  ];
  for (const [name, body] of forms) {
    it(name, () => {
      const doc = parseXmlBody(body).Delete as { Object: { Key: unknown }[]; Quiet: unknown };
      assert.deepEqual(doc.Object.map((o) => o.Key), expected.keys);
      assert.equal(doc.Quiet, expected.quiet);
    });
  }

  it('a single Object is still a list', () => {
    const doc = parseXmlBody('<Delete><Object><Key>only</Key></Object></Delete>').Delete as { Object: { Key: string }[] };
    assert.deepEqual(doc.Object, [{ Key: 'only' }]);
  });

  it('numeric-looking keys and values stay strings', () => {
    const doc = parseXmlBody('<Delete><Object><Key>0001</Key></Object><Object><Key>1e3</Key></Object><Object><Key>true</Key></Object><Object><Key>0x10</Key></Object></Delete>').Delete as { Object: { Key: unknown }[] };
    assert.deepEqual(doc.Object.map((o) => o.Key), ['0001', '1e3', 'true', '0x10']);
  });

  it('keeps leading and trailing spaces of a key (they are part of the key)', () => {
    const doc = parseXmlBody('<Delete><Object><Key> padded </Key></Object><Object><Key>trailing </Key></Object></Delete>').Delete as { Object: { Key: unknown }[] };
    assert.deepEqual(doc.Object.map((o) => o.Key), [' padded ', 'trailing ']);
  });

  it('keeps spaces of a key in a pretty-printed body too', () => {
    const body = '<Delete>\n  <Object>\n    <Key>  two spaces</Key>\n  </Object>\n  <Quiet>false</Quiet>\n</Delete>\n';
    // Layout whitespace leaves no trace (no stray '#text' members), the key's own spaces stay.
    assert.deepEqual(parseXmlBody(body), { Delete: { Object: [{ Key: '  two spaces' }], Quiet: 'false' } });
  });
});

describe('parseXmlBody: CompleteMultipartUpload (S3-CLIENTS M3)', () => {
  const etag1 = '0cc175b9c0f1b6a831c399e269772661';
  const etag2 = '92eb5ffee6ae2fec3ad71c777531578f';
  const forms: [string, string][] = [
    ['JS v3: declaration, xmlns, &quot;', `<?xml version="1.0" encoding="UTF-8"?><CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Part><ChecksumCRC32>6Cnp4w==</ChecksumCRC32><ETag>&quot;${etag1}&quot;</ETag><PartNumber>1</PartNumber></Part><Part><ChecksumCRC32>d3Ux1g==</ChecksumCRC32><ETag>&quot;${etag2}&quot;</ETag><PartNumber>2</PartNumber></Part></CompleteMultipartUpload>`],
    ['boto3: no declaration, literal quotes', `<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Part><ETag>"${etag1}"</ETag><PartNumber>1</PartNumber></Part><Part><ETag>"${etag2}"</ETag><PartNumber>2</PartNumber></Part></CompleteMultipartUpload>`],
    ['rclone: &#34; and PartNumber first', `<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Part><PartNumber>1</PartNumber><ETag>&#34;${etag1}&#34;</ETag></Part><Part><ETag>&#34;${etag2}&#34;</ETag><PartNumber>2</PartNumber></Part></CompleteMultipartUpload>`],
    ['s3cmd: no xmlns, unquoted', `<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>${etag1}</ETag></Part><Part><PartNumber>2</PartNumber><ETag>${etag2}</ETag></Part></CompleteMultipartUpload>`],
    ['minio-js: standalone="yes", pretty-printed, unquoted', [
      '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>',
      '<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">',
      '  <Part>',
      '    <PartNumber>1</PartNumber>',
      `    <ETag>${etag1}</ETag>`,
      '  </Part>',
      '  <Part>',
      '    <PartNumber>2</PartNumber>',
      `    <ETag>${etag2}</ETag>`,
      '  </Part>',
      '</CompleteMultipartUpload>',
    ].join('\n')],
    ['s3fs: no xmlns, newlines, quoted', `<CompleteMultipartUpload>\n<Part>\n<PartNumber>1</PartNumber>\n<ETag>"${etag1}"</ETag>\n</Part>\n<Part>\n<PartNumber>2</PartNumber>\n<ETag>"${etag2}"</ETag>\n</Part>\n</CompleteMultipartUpload>\n`],
  ];
  const unquote = (v: unknown): string => String(v).replace(/^"|"$/g, '');
  for (const [name, body] of forms) {
    it(name, () => {
      const doc = parseXmlBody(body).CompleteMultipartUpload as { Part: { PartNumber: unknown; ETag: unknown }[] };
      assert.deepEqual(doc.Part.map((p) => p.PartNumber), ['1', '2']);
      assert.deepEqual(doc.Part.map((p) => unquote(p.ETag)), [etag1, etag2]);
      // Every quoted form decodes to the same literal quotes.
      if (body.includes('"' + etag1) || body.includes('&quot;') || body.includes('&#34;')) {
        assert.deepEqual(doc.Part.map((p) => p.ETag), [`"${etag1}"`, `"${etag2}"`]);
      }
    });
  }

  it('a single Part is still a list and PartNumber stays a string', () => {
    const doc = parseXmlBody(`<CompleteMultipartUpload><Part><PartNumber>01</PartNumber><ETag>"${etag1}"</ETag></Part></CompleteMultipartUpload>`).CompleteMultipartUpload as { Part: unknown[] };
    assert.deepEqual(doc.Part, [{ PartNumber: '01', ETag: `"${etag1}"` }]);
  });

  it('a CreateBucketConfiguration body parses (JS v3 outside us-east-1, S3-CLIENTS A8)', () => {
    const doc = parseXmlBody('<?xml version="1.0" encoding="UTF-8"?><CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><LocationConstraint>eu-west-1</LocationConstraint></CreateBucketConfiguration>');
    assert.deepEqual(doc, { CreateBucketConfiguration: { LocationConstraint: 'eu-west-1' } });
  });
});

describe('parseXmlBody: malformed bodies answer MalformedXML', () => {
  const bad: [string, string][] = [
    ['empty', ''],
    ['whitespace only', '  \n\t'],
    ['not XML', 'hello'],
    ['JSON', '{"Delete":{}}'],
    ['unclosed element', '<Delete><Object><Key>a</Key></Object>'],
    ['mismatched tags', '<Delete><Object><Key>a</Object></Key></Delete>'],
    ['truncated', '<CompleteMultipartUpload><Part><PartNumber>1</Part'],
    ['two roots', '<Delete></Delete><Delete></Delete>'],
    ['bare ampersand', '<Delete><Object><Key>a&b</Key></Object></Delete>'],
  ];
  for (const [name, body] of bad) {
    it(name, () => {
      assert.throws(() => parseXmlBody(body), (err: unknown) => {
        assert.ok(err instanceof S3Error, `expected an S3Error, got ${String(err)}`);
        assert.equal(err.code, 'MalformedXML');
        assert.equal(err.status, 400);
        return true;
      });
    });
  }
});

describe('urlEncodeKey (encoding-type=url, S3-CLIENTS R13)', () => {
  const cases: [string, string][] = [
    ['a b', 'a%20b'],
    ['a+b', 'a%2Bb'],
    ['dir/sub/file.txt', 'dir/sub/file.txt'],
    ['a%b', 'a%25b'],
    ['ü', '%C3%BC'],
    ['日本', '%E6%97%A5%E6%9C%AC'],
    ['😀', '%F0%9F%98%80'],
    ['a-b_c.d~e', 'a-b_c.d~e'],
    ["!'()*", '%21%27%28%29%2A'],
    ['a&b=c?d#e', 'a%26b%3Dc%3Fd%23e'],
    ['', ''],
  ];
  for (const [key, encoded] of cases) {
    it(`${JSON.stringify(key)} → ${encoded}`, () => {
      assert.equal(urlEncodeKey(key), encoded);
      assert.equal(decodeURIComponent(encoded), key);
    });
  }
});
