import { XMLParser } from 'fast-xml-parser';
const docs = [
`<?xml version="1.0" encoding="UTF-8"?>
<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Object>
    <Key> spaced </Key>
  </Object>
  <Object><Key>   </Key></Object>
  <Object><Key></Key></Object>
  <Quiet> true </Quiet>
</Delete>`,
`<CompleteMultipartUpload>
<Part>
<ETag> "abc" </ETag><PartNumber>
1</PartNumber></Part></CompleteMultipartUpload>`,
];
const p = new XMLParser({ ignoreAttributes: true, removeNSPrefix: true, parseTagValue: false, trimValues: false, processEntities: true, htmlEntities: true, ignoreDeclaration: true, ignorePiTags: true, isArray: (n) => n === 'Object' || n === 'Part',
  tagValueProcessor: (name, value) => { return name === 'Key' ? value : value.trim(); } });
for (const d of docs) console.log(JSON.stringify(p.parse(d)));
