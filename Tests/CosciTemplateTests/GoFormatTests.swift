import CosciModel
import Testing

@testable import CosciTemplate

@Suite("Go formatting")
struct GoFormatTests {
    @Test(
        "float64 prints as Go's %v",
        arguments: [
            (1e6, "1e+06"), (123456.0, "123456"), (1234567.0, "1.234567e+06"), (0.0001, "0.0001"), (0.00001, "1e-05"),
            (1.5, "1.5"), (-2.25, "-2.25"), (1e21, "1e+21"), (1e19, "1e+19"), (100.0, "100"), (0.0, "0"), (0.1, "0.1"),
            (1.0 / 3.0, "0.3333333333333333"), (.nan, "NaN"), (.infinity, "+Inf"), (-.infinity, "-Inf"),
            (Double.leastNonzeroMagnitude, "5e-324"), (1.7976931348623157e308, "1.7976931348623157e+308"), (123.456, "123.456"),
        ] as [(Double, String)])
    func floats(value: Double, expected: String) {
        #expect(GoFormat.float(value) == expected)
    }

    @Test(
        "strconv.Quote",
        arguments: [
            ("plain", "\"plain\""), ("a\"b\\c", "\"a\\\"b\\\\c\""), ("\n\t\r", "\"\\n\\t\\r\""), ("\u{01}", "\"\\x01\""),
            ("é", "\"é\""), ("\u{00A0}", "\"\\u00a0\""), ("\u{7F}", "\"\\x7f\""),
        ] as [(String, String)])
    func quote(text: String, expected: String) {
        #expect(GoFormat.quote(text) == expected)
    }

    @Test("Sprint puts spaces only between non-string operands")
    func sprint() {
        #expect(GoFormat.sprint([.int(1), .int(2), .string("a"), .int(3), .string("b"), .string("c")]) == "1 2a3bc")
        #expect(GoFormat.sprint([.list([.int(1), .null]), .map(["k": .list([])])]) == "[1 <nil>] map[k:[]]")
    }
}
