import Testing

@testable import CosciModel

/// Pairs checked against `dpkg --compare-versions` semantics: (lower, higher).
let orderedPairs: [(String, String)] = [
    ("1.0", "1.1"), ("1.0", "1.0.1"), ("1.9", "1.10"), ("1.0~rc1", "1.0"), ("1.0~rc1", "1.0~rc2"),
    ("1.0~~", "1.0~"), ("1.0~", "1.0"), ("1.0", "1.0+1"), ("1.0+1", "1.0+2"), ("1.0+2", "1.0+10"),
    ("1.0-1", "1.0-2"), ("1.0-2", "1.0-10"), ("1.0", "1.0-1"), ("0.8.14-21", "0.8.14-22"),
    ("0.8.14-21", "0.8.15"), ("4.25.2-2", "4.30.1"), ("1:0.1", "1:0.2"), ("9.9", "1:0.1"),
    ("1.0a", "1.0b"), ("1.0", "1.0a"), ("1.0a", "1.0+"), ("1.0.0", "1.0.0a"), ("2.0", "10.0"),
    ("0.20210719", "0.20210720"), ("1.2.3-r1", "1.2.3-r2"), ("1.0-0", "1.0-1"), ("1.0+r3", "1.0+r4"),
    ("1.0+2.3", "1.0+2.4"), ("1.0+foo", "1.0+foo.1"), ("0.32-7", "0.32-8"), ("v1.0", "v1.1"),
    ("1.16.6", "1.17"), ("1.0~beta", "1.0~rc"), ("3.0.0~alpha1", "3.0.0"), ("1.a", "1.b"),
    ("1.Z", "1.a"), ("1_1", "1_2"), ("0:1.0", "1:1.0"), ("2:0", "10:0"), ("1.0-1~bpo1", "1.0-1"),
]

/// Pairs that compare equal although written differently.
let equalPairs: [(String, String)] = [
    ("1.0", "1.0"), ("1.0", "1.00"), ("0:1.0", "1.0"), ("1.01", "1.1"), ("v1.2", "1.2"), ("1.0-0", "1.0-00"),
    ("1_1", "1-1"),
]

@Suite struct VersionOrdering {
    @Test(arguments: orderedPairs)
    func lowerSortsFirst(_ lower: String, _ higher: String) throws {
        let a = try Version(lower), b = try Version(higher)
        #expect(a < b, "\(lower) < \(higher)")
        #expect(!(b < a), "\(higher) is not < \(lower)")
        #expect(a != b)
    }

    @Test(arguments: equalPairs)
    func equalVersions(_ x: String, _ y: String) throws {
        let a = try Version(x), b = try Version(y)
        #expect(a == b)
        #expect(a.hashValue == b.hashValue)
        #expect(!(a < b) && !(b < a))
    }

    @Test func parsesEpochUpstreamRevision() throws {
        let v = try Version("2:1.2.3+4-5")
        #expect(v.epoch == 2)
        #expect(v.upstream == "1.2.3+4")
        #expect(v.revision == "5")
        #expect(v.text == "2:1.2.3+4-5")
    }

    @Test(arguments: ["", "a:1.0", "1.0-", "1.0 beta", "1.0/2", ":1.0"])
    func rejectsInvalid(_ text: String) {
        #expect(throws: Version.ParseError.self) { try Version(text) }
    }

    @Test func sortsAList() throws {
        let texts = ["1.0+1", "1.0~rc1", "1:0.1", "1.0", "0.9", "1.0-1"]
        let sorted = try texts.map { try Version($0) }.sorted().map(\.text)
        #expect(sorted == ["0.9", "1.0~rc1", "1.0", "1.0-1", "1.0+1", "1:0.1"])
    }
}

@Suite struct Selectors {
    /// (selector, version, matches)
    static let cases: [(String, String, Bool)] = [
        (">=0", "0.0.1", true), (">=0", "1:0", true), (">=1.0", "1.0", true), (">=1.0", "0.9", false),
        (">1.0", "1.0", false), (">1.0", "1.0+1", true), ("<1.0", "1.0~rc1", true), ("<1.0", "1.0", false),
        ("<=1.0", "1.0", true), ("<=1.0", "1.0-1", false), ("=1.0", "1.00", true), ("==1.0", "1.0", true),
        ("!=1.0", "1.0", false), ("!=1.0", "1.1", true), ("1.0", "1.0", true), ("1.0", "1.0+1", false),
        (">0.20220216", "0.20220217", true), (">0.20220216", "0.20220216", false), (">= 1.0", "2.0", true),
        (">=1.0, <2.0", "1.5", true), (">=1.0, <2.0", "2.0", false), ("<2", "1.99", true), (">=1:0", "2.0", false),
        ("!1.0", "1.0", false), (">=4.25", "4.30.1", true), ("<4.30", "4.25.2-2", true),
    ]

    @Test(arguments: cases)
    func matching(_ selector: String, _ version: String, _ expected: Bool) throws {
        let s = try VersionSelector(selector)
        #expect(s.matches(try Version(version)) == expected, "\(selector) vs \(version)")
    }

    @Test func bareVersionIsNotARange() throws {
        #expect(try VersionSelector("1.0").isRange == false)
        #expect(try VersionSelector(">=1.0").isRange)
        #expect(try VersionSelector("=1.0").isRange)
    }

    @Test(arguments: [">=", ">=1.0,", "<<1", ">=a:1"])
    func rejectsInvalid(_ text: String) {
        #expect(throws: VersionSelector.ParseError.self) { try VersionSelector(text) }
    }
}

@Suite struct Identities {
    @Test func fingerprintAndTag() throws {
        let id = PackageID(category: "system", name: "cos", version: try Version("0.8.14+3"))
        #expect(id.description == "system/cos@0.8.14+3")
        #expect(id.fingerprint == "cos-system-0.8.14+3")
        #expect(id.imageTag == "cos-system-0.8.14-3")
    }

    @Test func references() throws {
        let id = PackageID(category: "toolchain", name: "yq", version: try Version("4.30.1"))
        #expect(try PackageReference(parsing: "toolchain/yq").matches(id))
        #expect(try PackageReference(parsing: "toolchain/yq@4.30.1").matches(id))
        #expect(try PackageReference(parsing: "toolchain/yq@>=4.25").matches(id))
        #expect(try !PackageReference(parsing: "toolchain/yq@<4").matches(id))
        // Bare names, as luet users type them: any category.
        #expect(try PackageReference(parsing: "yq").matches(id))
        #expect(try PackageReference(parsing: "yq@4.30.1").matches(id))
        #expect(try !PackageReference(parsing: "yq").matches(PackageID(category: "toolchain", name: "yqx", version: try Version("1"))))
        for bad in ["", "/yq", "toolchain/", "a/b/c", "yq@"] {
            #expect(throws: PackageReference.ParseError.self) { try PackageReference(parsing: bad) }
        }
    }

    @Test func platforms() throws {
        #expect(try Platform(parsing: "linux/arm64/v8").description == "linux/arm64/v8")
        #expect(throws: Platform.ParseError.self) { try Platform(parsing: "linux") }
        #expect(throws: Platform.ParseError.self) { try Platform(parsing: "linux//x") }
    }

    @Test func digests() throws {
        let d = Digest.sha256(of: Array("abc".utf8))
        #expect(d.description == "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(try Digest(parsing: d.description) == d)
        #expect(throws: Digest.ParseError.self) { try Digest(parsing: "sha256:ABC") }
    }
}

@Suite struct Framing {
    @Test func framingSeparatesFields() {
        var a = FramedHasher(), b = FramedHasher()
        a.add("ab"); a.add("c")
        b.add("a"); b.add("bc")
        #expect(a.finalize() != b.finalize())
    }

    @Test func canonicalJSONSortsKeysAndEscapes() {
        let v = Value.map(["b": .list([.int(1), .double(2.5), .bool(true), .null]), "a": .string("x\"\n\u{01}"), "é": .map([:])])
        #expect(CanonicalJSON.encode(v) == #"{"a":"x\"\n\u0001","b":[1,2.5,true,null],"é":{}}"#)
    }

    @Test func deepMergeOverlayWins() {
        let base = Value.map(["a": .int(1), "m": .map(["x": .int(1), "y": .int(2)]), "l": .list([.int(1)])])
        let top = Value.map(["m": .map(["y": .int(3)]), "l": .list([.int(2)])])
        #expect(base.merging(top) == .map(["a": .int(1), "m": .map(["x": .int(1), "y": .int(3)]), "l": .list([.int(2)])]))
    }
}
