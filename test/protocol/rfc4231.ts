// HMAC-SHA256 test vectors from RFC 4231, section 4 (test cases 1-7): key
// and data in hex, the expected MAC in hex (test case 5 is truncated to 128
// bits, as the RFC gives it).

export interface HmacVector {
  name: string;
  key: string;
  data: string;
  mac: string;
}

function hexOf(s: string): string {
  return Buffer.from(s, "latin1").toString("hex");
}

export const RFC4231: HmacVector[] = [
  {
    name: "test case 1: 20-byte key, 'Hi There'",
    key: "0b".repeat(20),
    data: hexOf("Hi There"),
    mac: "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
  },
  {
    name: "test case 2: a key shorter than the MAC ('Jefe')",
    key: hexOf("Jefe"),
    data: hexOf("what do ya want for nothing?"),
    mac: "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
  },
  {
    name: "test case 3: 50 bytes of 0xdd",
    key: "aa".repeat(20),
    data: "dd".repeat(50),
    mac: "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
  },
  {
    name: "test case 4: 25-byte key 0x01..0x19, 50 bytes of 0xcd",
    key: "0102030405060708090a0b0c0d0e0f10111213141516171819",
    data: "cd".repeat(50),
    mac: "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
  },
  {
    name: "test case 5: truncation to 128 bits",
    key: "0c".repeat(20),
    data: hexOf("Test With Truncation"),
    mac: "a3b6167473100ee06e0c796c2955552b",
  },
  {
    name: "test case 6: a 131-byte key, longer than a block (hashed first)",
    key: "aa".repeat(131),
    data: hexOf("Test Using Larger Than Block-Size Key - Hash Key First"),
    mac: "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
  },
  {
    name: "test case 7: a 131-byte key and data longer than a block",
    key: "aa".repeat(131),
    data: hexOf("This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm."),
    mac: "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
  },
];
