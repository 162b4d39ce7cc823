import { describe, expect, it } from "vitest";
import { xml } from "../../test/helpers/xml.js";
import { capsHash, capsOf, capsQuery, notifyNodes, verificationString } from "./caps.js";


const VERSE = `<query xmlns='http://jabber.org/protocol/disco#info' node='http://code.matthewwild.co.uk/verse/#PDH7CGVPRERS2WUqBD18PHGEzaY='>
  <identity type='pc' name='Verse' category='client'/>
  <feature var='http://jabber.org/protocol/disco#info'/><feature var='http://jabber.org/protocol/disco#items'/>
  <feature var='http://jabber.org/protocol/caps'/></query>`;

describe("XEP-0115 verification", () => {
  it("computes the example of XEP-0115 §5.2", () => {
    const q = xml(`<query xmlns='http://jabber.org/protocol/disco#info'>
      <identity category='client' name='Exodus 0.9.1' type='pc'/>
      <feature var='http://jabber.org/protocol/caps'/><feature var='http://jabber.org/protocol/disco#info'/>
      <feature var='http://jabber.org/protocol/disco#items'/><feature var='http://jabber.org/protocol/muc'/></query>`);
    expect(verificationString(q)).toBe(
      "client/pc//Exodus 0.9.1<http://jabber.org/protocol/caps<http://jabber.org/protocol/disco#info<http://jabber.org/protocol/disco#items<http://jabber.org/protocol/muc<",
    );
    expect(capsHash(q)).toBe("QgayPKawpkPSDYmwT/WM94uAlu0=");
  });

  it("computes the complex example of XEP-0115 §5.3 (extended form, xml:lang)", () => {
    const q = xml(`<query xmlns='http://jabber.org/protocol/disco#info'>
      <identity xml:lang='en' category='client' name='Psi 0.11' type='pc'/>
      <identity xml:lang='el' category='client' name='Ψ 0.11' type='pc'/>
      <feature var='http://jabber.org/protocol/caps'/><feature var='http://jabber.org/protocol/disco#info'/>
      <feature var='http://jabber.org/protocol/disco#items'/><feature var='http://jabber.org/protocol/muc'/>
      <x xmlns='jabber:x:data' type='result'>
        <field var='FORM_TYPE' type='hidden'><value>urn:xmpp:dataforms:softwareinfo</value></field>
        <field var='ip_version'><value>ipv4</value><value>ipv6</value></field>
        <field var='os'><value>Mac</value></field>
        <field var='os_version'><value>10.5.1</value></field>
        <field var='software'><value>Psi</value></field>
        <field var='software_version'><value>0.11</value></field>
      </x></query>`);
    expect(capsHash(q)).toBe("q07IKJEyjvHSyhy//CH0CxmKi8w=");
  });

  it("verifies the hashes the PEP scripts use", () => {
    expect(capsHash(xml(VERSE))).toBe("PDH7CGVPRERS2WUqBD18PHGEzaY=");
    const bookmarks = xml(`<query xmlns='http://jabber.org/protocol/disco#info'>
      <identity category='client' name='scansion' type='bot'/>
      <feature var='http://jabber.org/protocol/disco#info'/><feature var='urn:xmpp:bookmarks:1+notify'/></query>`);
    expect(capsHash(bookmarks)).toBe("CPuQARM1gCTq2f6/ZjHUzWL2QHg=");
    expect(capsHash(bookmarks, "sha-256")).not.toBe(capsHash(bookmarks));
  });

  it("reads +notify features", () => {
    const q = xml(`<query xmlns='http://jabber.org/protocol/disco#info'><feature var='http://jabber.org/protocol/tune+notify'/>
      <feature var='http://jabber.org/protocol/tune'/><feature var='+notify'/><feature var='urn:xmpp:avatar:metadata+notify'/></query>`);
    expect([...notifyNodes(q)]).toEqual(["http://jabber.org/protocol/tune", "urn:xmpp:avatar:metadata"]);
  });
});

describe("caps claims", () => {
  it("reads the hashed and the legacy format, and refuses what cannot be used", () => {
    const claim = capsOf(xml("<presence><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='http://x/' ver='abc='/></presence>"));
    expect(claim).toEqual({ key: "sha-1:abc=", queryNode: "http://x/#abc=", algorithm: "sha-1", ver: "abc=" });
    expect(capsOf(xml("<presence><c xmlns='http://jabber.org/protocol/caps' node='http://x/' ver='1.0' ext='a b'/></presence>"))).toEqual({
      key: "legacy:http://x/#1.0#a b",
      queryNode: "http://x/#1.0",
      ver: "1.0",
    });
    expect(capsOf(xml("<presence/>"))).toBeUndefined();
    expect(capsOf(xml("<presence><c xmlns='http://jabber.org/protocol/caps' hash='md4' node='n' ver='v'/></presence>"))).toBeUndefined();
    expect(capsOf(xml("<presence><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' ver='v'/></presence>"))).toBeUndefined();
    expect(capsOf(xml("<presence><c xmlns='urn:xmpp:caps'/></presence>"))).toBeUndefined();
  });

  it("builds the query Prosody sends (fixed id 'disco')", () => {
    expect(capsQuery("a@localhost", "b@localhost/r", "n#v").toString()).toBe(
      "<iq type='get' id='disco' from='a@localhost' to='b@localhost/r'><query xmlns='http://jabber.org/protocol/disco#info' node='n#v'/></iq>",
    );
  });
});
