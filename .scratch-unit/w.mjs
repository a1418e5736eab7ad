import { parseXmlBody } from '/work/main/dist/worker/s3/xml.js';
console.log(JSON.stringify(parseXmlBody('<?xml version="1.0" standalone="yes"?>\n<Delete>\n  <Object>\n    <Key>  two spaces</Key>\n  </Object>\n  <Quiet>false</Quiet>\n</Delete>\n')));
console.log(JSON.stringify(parseXmlBody('<CompleteMultipartUpload>\n <Part>\n  <PartNumber> 1 </PartNumber>\n  <ETag>\n"x"\n</ETag>\n </Part>\n</CompleteMultipartUpload>')));
