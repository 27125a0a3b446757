import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import * as Detector from "../../src/privacy/Detector.js"

/** The values a detector finds in a text. */
const found = (detector: Detector.Detector, text: string): Array<string> =>
  Detector.scan(text, [detector]).map((f) => text.slice(f.start, f.end))

const detects = (detector: Detector.Detector, valid: ReadonlyArray<string>, invalid: ReadonlyArray<string>) => {
  for (const v of valid) assert.deepStrictEqual(found(detector, `before ${v} after`), [v], `should find ${v}`)
  for (const v of invalid) assert.deepStrictEqual(found(detector, `before ${v} after`), [], `should not find ${v}`)
}

/** A digit string completed with its Luhn check digit. */
const withLuhn = (body: string): string => {
  for (let d = 0; d <= 9; d++) if (Detector.luhn(`${body}${d}`)) return `${body}${d}`
  throw new Error("unreachable")
}

describe("Detector", () => {
  it("e-mail: addresses with a real domain, not bare @ handles or dotless hosts", () =>
    detects(
      Detector.email,
      ["ada@example.com", "ada.lovelace+news@mail.example.co.uk", "x_y-z%1@sub-domain.example.org"],
      ["@example.com", "ada@localhost", "ada@example.c0m", "user@.com", "a@b", "ada@example..com"]
    ))

  it("phone: valid international and US numbers (libphonenumber), not impossible ones", () =>
    detects(
      Detector.phone("US"),
      ["+44 20 7946 0958", "(415) 555-2671", "+1 415-555-2671", "+33 1 42 68 53 00"],
      ["+1 099 555 0123", "12345", "+44 20 7946", "555-01"]
    ))

  it("payment cards: Luhn-valid numbers of a card network, not checksum-invalid ones", () =>
    detects(
      Detector.card,
      ["4111 1111 1111 1111", "5500-0000-0000-0004", "378282246310005", "6011111111111117"],
      ["4111 1111 1111 1112", "5500-0000-0000-0005", "378282246310006", "1234567812345670", "4111 1111-1111 1111"]
    ))

  it("payment cards: every Luhn-completed Visa number of 16 digits is found, a wrong check digit never", () =>
    fc.assert(
      fc.property(fc.stringMatching(/^[0-9]{14}$/), fc.integer({ min: 1, max: 9 }), (digits, shift) => {
        const valid = withLuhn(`4${digits}`)
        const wrong = `${valid.slice(0, -1)}${(Number(valid.at(-1)) + shift) % 10}`
        assert.deepStrictEqual(found(Detector.card, `card ${valid}.`), [valid])
        assert.deepStrictEqual(found(Detector.card, `card ${wrong}.`), [])
      })
    ))

  it("IBAN: mod-97-valid numbers of the country's length, compact or grouped, not checksum-invalid ones", () =>
    detects(
      Detector.iban,
      ["GB82 WEST 1234 5698 7654 32", "DE89370400440532013000", "FR1420041010050500013M02606", "NL91ABNA0417164300"],
      ["GB82 WEST 1234 5698 7654 33", "DE89370400440532013001", "NL91ABNA041716430", "ZZ12345678901234"]
    ))

  it("US SSN: AAA-GG-SSSS by the SSA's rules; nine bare digits only after 'SSN'", () => {
    detects(
      Detector.ssn,
      ["123-45-6788", "001-01-0001", "899 99 9999"],
      ["000-12-3456", "666-12-3456", "900-12-3456", "123-00-4567", "123-45-0000", "078-05-1120", "123-45 6788"]
    )
    assert.deepStrictEqual(found(Detector.ssn, "SSN: 123456788"), ["123456788"])
    assert.deepStrictEqual(found(Detector.ssn, "order 123456788"), [])
  })

  it("IP: IPv4 in range and IPv6 that parses; not versions with a fifth part, out-of-range octets or C++ scopes", () =>
    detects(
      Detector.ip,
      ["192.168.1.20", "8.8.8.8", "2001:db8::8a2e:370:7334", "fe80::1", "::ffff:192.0.2.1"],
      ["256.1.1.1", "1.2.3.4.5", "01.2.3.4", "std::map", "12:30:45", "2001:db8:::1"]
    ))

  it("dates of birth: valid dates after a birth word, not other dates or impossible ones", () => {
    const dob = Detector.dateOfBirth
    assert.deepStrictEqual(found(dob, "Born on 1985-03-12, she"), ["1985-03-12"])
    assert.deepStrictEqual(found(dob, "DOB: 03/12/1985"), ["03/12/1985"])
    assert.deepStrictEqual(found(dob, "date of birth 12.03.1985"), ["12.03.1985"])
    assert.deepStrictEqual(found(dob, "She was born 12 March 1985 in Paris"), ["12 March 1985"])
    assert.deepStrictEqual(found(dob, "birthday: March 12, 1985"), ["March 12, 1985"])
    assert.deepStrictEqual(found(dob, "The meeting is on 2024-01-02."), [])
    assert.deepStrictEqual(found(dob, "born on 1985-02-30"), [], "February has no 30th")
    assert.deepStrictEqual(found(dob, "born on 1985-13-01"), [])
    assert.deepStrictEqual(found(dob, "I was born. Then on 2024-01-02 we met"), [], "another sentence")
  })

  it("API keys: known prefixes and high-entropy strings, not words, short prefixes or hashes", () =>
    detects(
      Detector.apiKey,
      [
        "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz012345",
        "sk-proj-abcdefghijklmnopqrstuvwxyz012345",
        "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
        "AKIAIOSFODNN7EXAMPLE",
        "xoxb-1234567890-abcdefghij",
        "AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvW",
        "Zx8Qp2Lm9Rt4Vw7Ky3Nb6Hc1Jd5Fg0"
      ],
      [
        "sk-short",
        "internationalization",
        "ThisIsAVeryLongCamelCaseIdentifierName",
        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "task-management-system-overview"
      ]
    ))

  it("custom detectors (regex and function), allow-lists and overlap resolution", () => {
    const employee = Detector.regex("employee_id", /EMP-[0-9]{6}/)
    const ticket = Detector.make("ticket", function* (text) {
      let i = text.indexOf("#T")
      while (i >= 0) {
        yield [i, i + 6] as const
        i = text.indexOf("#T", i + 1)
      }
    })
    const text = "EMP-123456 filed #T1234 from ada@example.com and ops@acme.io"
    const findings = Detector.scan(text, [...Detector.builtins(), employee, ticket], ["@acme.io"])
    assert.deepStrictEqual(
      findings.map((f) => [f.kind, text.slice(f.start, f.end)]),
      [
        ["employee_id", "EMP-123456"],
        ["ticket", "#T1234"],
        ["email", "ada@example.com"]
      ]
    )
    assert.deepStrictEqual(Detector.scan("ada@example.com", [Detector.email], ["ADA@example.com"]), [])
    assert.throws(() => Detector.regex("Bad Kind", /x/), /lower-case/)
  })

  it("the built-in kinds can be limited", () => {
    const text = "ada@example.com 4111 1111 1111 1111"
    assert.deepStrictEqual(
      Detector.scan(text, Detector.builtins({ kinds: ["card"] })).map((f) => f.kind),
      ["card"]
    )
  })

  describe("linear time: 1 MB adversarial inputs complete", () => {
    const mb = 1 << 20
    const fill = (unit: string) => unit.repeat(Math.ceil(mb / unit.length)).slice(0, mb)
    const adversarial = [
      fill("@"),
      fill("a@"),
      fill("a"),
      fill("a."),
      fill("1"),
      fill("1-"),
      fill("1 "),
      fill("1."),
      fill("1:"),
      fill("::"),
      fill("a:"),
      fill("(1) "),
      fill("+1 (415) 555 "),
      fill("GB82"),
      fill("GB82 "),
      fill("sk-"),
      fill("born 1985-03-12 "),
      fill("March 12, 1985 "),
      fill("12 March "),
      fill("Ab1")
    ]
    for (const detector of Detector.builtins()) {
      it(`${detector.kind}`, () => {
        for (const text of adversarial) {
          let n = 0
          detector.scan(text, () => n++)
          assert.isAtMost(n, text.length)
        }
      })
    }
  })
})
