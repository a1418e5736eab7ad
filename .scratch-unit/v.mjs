import { renderXml, parseXmlBody } from '/work/main/dist/worker/s3/xml.js';
const x = renderXml('R', { Key: 'a\rb\r\nc\nd\te\u0001f' }, null);
console.log(JSON.stringify(x));
try { console.log(JSON.stringify(parseXmlBody(x))); } catch (e) { console.log('parse error', e.message); }
