import { XMLParser } from 'fast-xml-parser';
import { parseXmlBody } from '/work/main/dist/worker/s3/xml.js';
const docs = [
`<?xml version="1.0" encoding="UTF-8"?>
<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Object>
    <Key> spaced </Key>
  </Object>
  <Quiet>true</Quiet>
</Delete>`,
`<CompleteMultipartUpload><Part><ETag>&#34;abc&#34;</ETag><PartNumber>1</PartNumber></Part></CompleteMultipartUpload>`,
`<Delete><Object><Key>a&#x0D;b&#10;c</Key></Object></Delete>`,
];
for (const d of docs) console.log(JSON.stringify(parseXmlBody(d)));
const p = new XMLParser({ ignoreAttributes: true, removeNSPrefix: true, parseTagValue: false, trimValues: false, processEntities: true, htmlEntities: true, ignoreDeclaration: true, ignorePiTags: true, isArray: (n) => n === 'Object' || n === 'Part' });
for (const d of docs) console.log(JSON.stringify(p.parse(d)));
