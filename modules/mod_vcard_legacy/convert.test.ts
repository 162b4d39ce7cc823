import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { xml } from "../../test/helpers/xml.js";
import { pepToVcardTemp, vcardTempToPep } from "./convert.js";


const FULL = `<vCard xmlns='vcard-temp'>
  <FN>Juliet Capulet</FN>
  <N><FAMILY>Capulet</FAMILY><GIVEN>Juliet</GIVEN><MIDDLE/><PREFIX>Lady</PREFIX><SUFFIX/></N>
  <NICKNAME>Jules</NICKNAME>
  <URL>https://verona.example/juliet</URL>
  <BDAY>1583-07-31</BDAY>
  <ORG><ORGNAME>House Capulet</ORGNAME></ORG>
  <TITLE>Heiress</TITLE>
  <EMAIL><HOME/><INTERNET/><USERID>juliet@verona.example</USERID></EMAIL>
  <TEL><WORK/><VOICE/><NUMBER>+39 045 000</NUMBER></TEL>
  <ADR><HOME/><STREET>Via Cappello 23</STREET><LOCALITY>Verona</LOCALITY><CTRY>Italy</CTRY></ADR>
  <DESC>Wherefore art thou</DESC>
</vCard>`;

describe("vcard-temp -> vCard4 (Prosody's mapping)", () => {
  it("maps the fields, FN and N always", () => {
    const { vcard4, avatars } = vcardTempToPep(xml(FULL));
    expect(avatars).toEqual([]);
    expect(vcard4.toString()).toBe(
      "<vcard xmlns='urn:ietf:params:xml:ns:vcard-4.0'>" +
        "<fn><text>Juliet Capulet</text></fn>" +
        "<n><surname>Capulet</surname><given>Juliet</given><additional/><prefix>Lady</prefix><suffix/></n>" +
        "<nickname><text>Jules</text></nickname>" +
        "<url><uri>https://verona.example/juliet</uri></url>" +
        "<bday><date>1583-07-31</date></bday>" +
        "<org><text>House Capulet</text></org>" +
        "<title><text>Heiress</text></title>" +
        "<email><text>juliet@verona.example</text><parameters><type><text>home</text></type></parameters></email>" +
        "<tel><uri>tel:+39 045 000</uri><parameters><type><text>work</text></type></parameters></tel>" +
        "<adr><pobox/><ext/><street>Via Cappello 23</street><locality>Verona</locality><region/><code/><country>Italy</country>" +
        "<parameters><type><text>home</text></type></parameters></adr>" +
        "<note><text>Wherefore art thou</text></note>" +
        "</vcard>",
    );
  });

  it("turns a PHOTO into an avatar named by the SHA-1 of the image", () => {
    const image = Buffer.from("\x89PNG\r\n\x1a\nnot really a picture", "binary");
    const b64 = image.toString("base64");
    const wrapped = `${b64.slice(0, 10)}\n  ${b64.slice(10)}`;
    const { avatars } = vcardTempToPep(xml(`<vCard xmlns='vcard-temp'><PHOTO><TYPE>image/png</TYPE><BINVAL>${wrapped}</BINVAL></PHOTO><PHOTO><EXTVAL>http://x/y</EXTVAL></PHOTO></vCard>`));
    const hash = createHash("sha1").update(image).digest("hex");
    expect(avatars).toHaveLength(1);
    expect(avatars[0].hash).toBe(hash);
    expect(avatars[0].data.toString()).toBe(`<data xmlns='urn:xmpp:avatar:data'>${b64}</data>`);
    expect(avatars[0].metadata.toString()).toBe(
      `<metadata xmlns='urn:xmpp:avatar:metadata'><info bytes='${image.length}' id='${hash}' type='image/png'/></metadata>`,
    );
  });
});

describe("vCard4 -> vcard-temp", () => {
  it("reads back what was written", () => {
    const { vcard4 } = vcardTempToPep(xml(FULL));
    expect(pepToVcardTemp(vcard4).toString()).toBe(
      "<vCard xmlns='vcard-temp'>" +
        "<FN>Juliet Capulet</FN>" +
        "<N><FAMILY>Capulet</FAMILY><GIVEN>Juliet</GIVEN><MIDDLE/><PREFIX>Lady</PREFIX><SUFFIX/></N>" +
        "<NICKNAME>Jules</NICKNAME><URL>https://verona.example/juliet</URL><BDAY>1583-07-31</BDAY>" +
        "<ORG><ORGNAME>House Capulet</ORGNAME></ORG><TITLE>Heiress</TITLE>" +
        "<EMAIL><USERID>juliet@verona.example</USERID><INTERNET/><HOME/></EMAIL>" +
        "<TEL><NUMBER>+39 045 000</NUMBER><WORK/></TEL>" +
        "<ADR><POBOX/><EXTADD/><STREET>Via Cappello 23</STREET><LOCALITY>Verona</LOCALITY><REGION/><PCODE/><CTRY>Italy</CTRY><HOME/></ADR>" +
        "<NOTE>Wherefore art thou</NOTE>" +
        "</vCard>",
    );
  });

  it("is an empty vCard without profile, and carries the avatars", () => {
    expect(pepToVcardTemp(undefined).toString()).toBe("<vCard xmlns='vcard-temp'/>");
    const data = xml("<data xmlns='urn:xmpp:avatar:data'>AAEC</data>");
    const metadata = xml("<metadata xmlns='urn:xmpp:avatar:metadata'><info bytes='3' id='x' type='image/gif'/></metadata>");
    expect(pepToVcardTemp(undefined, [{ data, metadata }]).toString()).toBe(
      "<vCard xmlns='vcard-temp'><PHOTO><TYPE>image/gif</TYPE><BINVAL>AAEC</BINVAL></PHOTO></vCard>",
    );
    const url = xml("<metadata xmlns='urn:xmpp:avatar:metadata'><info bytes='3' id='x' type='image/gif' url='https://x/a.gif'/></metadata>");
    expect(pepToVcardTemp(undefined, [{ metadata: url }]).toString()).toBe(
      "<vCard xmlns='vcard-temp'><PHOTO><TYPE>image/gif</TYPE><EXTVAL>https://x/a.gif</EXTVAL></PHOTO></vCard>",
    );
  });
});
