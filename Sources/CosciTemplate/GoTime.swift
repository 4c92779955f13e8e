import Foundation

/// A Go `time.Time` as templates see it: an instant (seconds and nanoseconds since the Unix epoch) and the zone
/// it is shown in. There is no wall clock: `now` is the build's epoch (`RenderEnvironment.epoch`), in UTC.
struct GoTime: Sendable, Equatable {
    /// Seconds since 1970-01-01T00:00:00Z.
    var seconds: Int64
    /// 0 ..< 1_000_000_000.
    var nanoseconds: Int64
    var zone: GoZone

    /// Go's zero `time.Time{}`: 0001-01-01 00:00:00 UTC.
    static let zero = GoTime(seconds: -62_135_596_800, nanoseconds: 0, zone: .utc)

    init(seconds: Int64, nanoseconds: Int64 = 0, zone: GoZone = .utc) {
        self.seconds = seconds
        self.nanoseconds = nanoseconds
        self.zone = zone
    }

    /// The same instant shown in another zone.
    func shown(in location: GoLocation) -> GoTime {
        GoTime(seconds: seconds, nanoseconds: nanoseconds, zone: location.zone(at: seconds))
    }

    /// `t.Add(d)`.
    func adding(_ duration: GoDuration) -> GoTime {
        let total = nanoseconds + duration.nanoseconds % 1_000_000_000
        var s = seconds &+ duration.nanoseconds / 1_000_000_000
        var n = total
        if n >= 1_000_000_000 { s += 1; n -= 1_000_000_000 }
        if n < 0 { s -= 1; n += 1_000_000_000 }
        return GoTime(seconds: s, nanoseconds: n, zone: zone)
    }

    /// `t.Sub(u)`, saturating as Go's does.
    func since(_ other: GoTime) -> GoDuration {
        let (ds, o1) = seconds.subtractingReportingOverflow(other.seconds)
        let (scaled, o2) = ds.multipliedReportingOverflow(by: 1_000_000_000)
        let (total, o3) = scaled.addingReportingOverflow(nanoseconds - other.nanoseconds)
        if o1 || o2 || o3 { return GoDuration(nanoseconds: ds < 0 ? .min : .max) }
        return GoDuration(nanoseconds: total)
    }

    /// `t.String()`: `2006-01-02 15:04:05.999999999 -0700 MST`.
    var description: String { GoLayout.format(self, "2006-01-02 15:04:05.999999999 -0700 MST") }

    /// The civil fields of the time in its zone.
    var civil: Civil { Civil(seconds: seconds &+ Int64(zone.offset)) }

    struct Civil {
        let year: Int64, month: Int, day: Int, hour: Int, minute: Int, second: Int, weekday: Int, yearDay: Int

        init(seconds local: Int64) {
            let days = local >= 0 ? local / 86_400 : (local - 86_399) / 86_400
            let secondOfDay = Int(local - days * 86_400)
            (year, month, day) = Civil.date(fromDays: days)
            hour = secondOfDay / 3600
            minute = secondOfDay / 60 % 60
            second = secondOfDay % 60
            weekday = Int(((days % 7) + 11) % 7)  // 1970-01-01 was a Thursday (4); 0 is Sunday
            yearDay = Int(days - Civil.days(year: year, month: 1, day: 1)) + 1
        }

        /// Days since 1970-01-01 of a proleptic Gregorian date.
        static func days(year: Int64, month: Int, day: Int) -> Int64 {
            let y = month <= 2 ? year - 1 : year
            let era = (y >= 0 ? y : y - 399) / 400
            let yearOfEra = y - era * 400
            let m = Int64(month > 2 ? month - 3 : month + 9)
            let dayOfYear = (153 * m + 2) / 5 + Int64(day) - 1
            let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
            return era * 146_097 + dayOfEra - 719_468
        }

        static func date(fromDays days: Int64) -> (Int64, Int, Int) {
            let z = days + 719_468
            let era = (z >= 0 ? z : z - 146_096) / 146_097
            let dayOfEra = z - era * 146_097
            let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
            let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
            let mp = (5 * dayOfYear + 2) / 153
            let day = Int(dayOfYear - (153 * mp + 2) / 5 + 1)
            let month = Int(mp < 10 ? mp + 3 : mp - 9)
            let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
            return (year, month, day)
        }

        static func daysIn(month: Int, year: Int64) -> Int {
            switch month {
            case 2: return (year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)) ? 29 : 28
            case 4, 6, 9, 11: return 30
            default: return 31
            }
        }
    }
}

/// A zone as a time is shown in: its abbreviation and offset east of UTC in seconds.
struct GoZone: Sendable, Equatable {
    var name: String
    var offset: Int
    static let utc = GoZone(name: "UTC", offset: 0)
}

/// A `time.Location`: UTC (which is also what cosci calls `Local`: renders do not depend on the machine's
/// zone) or a zone of the system's time zone database.
enum GoLocation {
    case utc
    case named(TimeZone)

    /// `time.LoadLocation`: "", "UTC" and "Local" are UTC; an unknown name is nil.
    init?(name: String) {
        if name.isEmpty || name == "UTC" || name == "Local" {
            self = .utc
            return
        }
        guard let zone = TimeZone(identifier: name) else { return nil }
        self = .named(zone)
    }

    func zone(at seconds: Int64) -> GoZone {
        switch self {
        case .utc: return .utc
        case .named(let zone):
            let date = Date(timeIntervalSince1970: TimeInterval(seconds))
            let offset = zone.secondsFromGMT(for: date)
            return GoZone(name: zone.abbreviation(for: date) ?? "", offset: offset)
        }
    }
}

/// A Go `time.Duration`: nanoseconds.
struct GoDuration: Sendable, Equatable {
    var nanoseconds: Int64

    static let second: Int64 = 1_000_000_000

    /// `time.ParseDuration`: `[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+`, units ns, us, µs, μs, ms, s, m, h.
    init(parsing text: String) throws(FunctionFailure) {
        let original = text
        var s = Substring(text)
        var negative = false
        if let c = s.first, c == "-" || c == "+" {
            negative = c == "-"
            s = s.dropFirst()
        }
        func bad() -> FunctionFailure { FunctionFailure("time: invalid duration \(GoFormat.quote(original))") }
        if s == "0" {
            nanoseconds = 0
            return
        }
        guard !s.isEmpty else { throw bad() }
        var total: UInt64 = 0
        let units: [String: UInt64] = [
            "ns": 1, "us": 1000, "\u{B5}s": 1000, "\u{3BC}s": 1000, "ms": 1_000_000, "s": 1_000_000_000,
            "m": 60_000_000_000, "h": 3_600_000_000_000,
        ]
        while !s.isEmpty {
            guard let c = s.first, c == "." || c.isASCII && c.isNumber else { throw bad() }
            var whole: UInt64 = 0
            var sawWhole = false
            while let d = s.first, d.isASCII, d.isNumber {
                let (m, o1) = whole.multipliedReportingOverflow(by: 10)
                let (a, o2) = m.addingReportingOverflow(UInt64(d.asciiValue! - 48))
                guard !o1, !o2, a <= 1 << 63 else { throw bad() }
                whole = a
                sawWhole = true
                s = s.dropFirst()
            }
            var fraction: UInt64 = 0
            var scale: Double = 1
            var sawFraction = false
            if s.first == "." {
                s = s.dropFirst()
                while let d = s.first, d.isASCII, d.isNumber {
                    if fraction < UInt64.max / 100 {
                        fraction = fraction * 10 + UInt64(d.asciiValue! - 48)
                        scale *= 10
                    }
                    sawFraction = true
                    s = s.dropFirst()
                }
            }
            guard sawWhole || sawFraction else { throw bad() }
            var unitEnd = s.startIndex
            while unitEnd < s.endIndex, s[unitEnd] != ".", !(s[unitEnd].isASCII && s[unitEnd].isNumber) {
                unitEnd = s.index(after: unitEnd)
            }
            let unitName = String(s[..<unitEnd])
            guard !unitName.isEmpty else { throw FunctionFailure("time: missing unit in duration \(GoFormat.quote(original))") }
            guard let unit = units[unitName] else {
                throw FunctionFailure("time: unknown unit \(GoFormat.quote(unitName)) in duration \(GoFormat.quote(original))")
            }
            s = s[unitEnd...]
            let (v, o1) = whole.multipliedReportingOverflow(by: unit)
            guard !o1, v <= 1 << 63 else { throw bad() }
            var value = v
            if fraction > 0 {
                value += UInt64(Double(fraction) * (Double(unit) / scale))
                guard value <= 1 << 63 else { throw bad() }
            }
            total += value
            guard total <= 1 << 63 else { throw bad() }
        }
        if negative {
            nanoseconds = total == 1 << 63 ? .min : -Int64(total)
        } else {
            guard total < 1 << 63 else { throw bad() }
            nanoseconds = Int64(total)
        }
    }

    init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }

    /// `d.Round(time.Second)`: halfway values away from zero.
    func roundedToSeconds() -> GoDuration {
        let m = GoDuration.second
        var r = nanoseconds % m
        if nanoseconds < 0 {
            r = -r
            if r + r < m { return GoDuration(nanoseconds: nanoseconds + r) }
            let (d, o) = nanoseconds.subtractingReportingOverflow(m - r)
            return GoDuration(nanoseconds: o ? .min : d)
        }
        if r + r < m { return GoDuration(nanoseconds: nanoseconds - r) }
        let (d, o) = nanoseconds.addingReportingOverflow(m - r)
        return GoDuration(nanoseconds: o ? .max : d)
    }

    /// `d.String()`: `72h3m0.5s`, `1.5ms`, `0s`.
    var description: String {
        var u = nanoseconds.magnitude
        let sign = nanoseconds < 0 ? "-" : ""
        func fraction(_ v: UInt64, _ precision: Int) -> (String, UInt64) {
            var p: UInt64 = 1
            for _ in 0..<precision { p *= 10 }
            var digits = String(v % p)
            digits = String(repeating: "0", count: precision - digits.count) + digits
            while digits.hasSuffix("0") { digits.removeLast() }
            return (digits.isEmpty ? "" : "." + digits, v / p)
        }
        if u < UInt64(GoDuration.second) {
            if u == 0 { return "0s" }
            let (precision, unit) = u < 1000 ? (0, "ns") : u < 1_000_000 ? (3, "\u{B5}s") : (6, "ms")
            let (frac, whole) = fraction(u, precision)
            return sign + String(whole) + frac + unit
        }
        let (frac, secondsTotal) = fraction(u, 9)
        u = secondsTotal
        var text = String(u % 60) + frac + "s"
        u /= 60
        if u > 0 {
            text = String(u % 60) + "m" + text
            u /= 60
            if u > 0 { text = String(u) + "h" + text }
        }
        return sign + text
    }
}

/// Go's reference-time layouts (`Mon Jan 2 15:04:05 MST 2006`): formatting and parsing, as `time.Format` and
/// `time.Parse` read them.
enum GoLayout {
    enum Element: Equatable {
        case longMonth, month, numMonth, zeroMonth, longWeekDay, weekDay, day, underDay, zeroDay
        case underYearDay, zeroYearDay, hour, hour12, zeroHour12, minute, zeroMinute, second, zeroSecond
        case longYear, year, pm, lowerPM, tz
        case iso8601TZ, iso8601SecondsTZ, iso8601ShortTZ, iso8601ColonTZ, iso8601ColonSecondsTZ
        case numTZ, numSecondsTZ, numShortTZ, numColonTZ, numColonSecondsTZ
        /// `.000` (`zeros`: true) or `.999`, with that many digits and the separator (`.` or `,`).
        case fraction(digits: Int, zeros: Bool, separator: UInt8)
    }

    static let longMonths = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"]
    static let longDays = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]

    /// `nextStdChunk`: the literal text before the next element, the element, and the rest.
    static func next(_ layout: ArraySlice<UInt8>) -> (prefix: ArraySlice<UInt8>, element: Element?, rest: ArraySlice<UInt8>) {
        let s = layout
        let base = s.startIndex
        func has(_ i: Int, _ text: String) -> Bool {
            let t = Array(text.utf8)
            return i + t.count <= s.endIndex && s[i..<(i + t.count)].elementsEqual(t)
        }
        func lowerAt(_ i: Int) -> Bool { i < s.endIndex && s[i] >= 0x61 && s[i] <= 0x7A }
        func digitAt(_ i: Int) -> Bool { i < s.endIndex && s[i] >= 0x30 && s[i] <= 0x39 }
        func cut(_ i: Int, _ length: Int, _ e: Element) -> (ArraySlice<UInt8>, Element?, ArraySlice<UInt8>) {
            (s[base..<i], e, s[(i + length)...])
        }
        var i = base
        while i < s.endIndex {
            switch s[i] {
            case UInt8(ascii: "J"):
                if has(i, "Jan") {
                    if has(i, "January") { return cut(i, 7, .longMonth) }
                    if !lowerAt(i + 3) { return cut(i, 3, .month) }
                }
            case UInt8(ascii: "M"):
                if has(i, "Mon") {
                    if has(i, "Monday") { return cut(i, 6, .longWeekDay) }
                    if !lowerAt(i + 3) { return cut(i, 3, .weekDay) }
                }
                if has(i, "MST") { return cut(i, 3, .tz) }
            case UInt8(ascii: "0"):
                if i + 1 < s.endIndex, s[i + 1] >= 0x31, s[i + 1] <= 0x36 {
                    let elements: [Element] = [.zeroMonth, .zeroDay, .zeroHour12, .zeroMinute, .zeroSecond, .year]
                    return cut(i, 2, elements[Int(s[i + 1] - 0x31)])
                }
                if has(i, "002") { return cut(i, 3, .zeroYearDay) }
            case UInt8(ascii: "1"):
                if has(i, "15") { return cut(i, 2, .hour) }
                return cut(i, 1, .numMonth)
            case UInt8(ascii: "2"):
                if has(i, "2006") { return cut(i, 4, .longYear) }
                return cut(i, 1, .day)
            case UInt8(ascii: "_"):
                if has(i, "_2") {
                    if has(i + 1, "2006") { return (s[base..<(i + 1)], .longYear, s[(i + 5)...]) }
                    return cut(i, 2, .underDay)
                }
                if has(i, "__2") { return cut(i, 3, .underYearDay) }
            case UInt8(ascii: "3"): return cut(i, 1, .hour12)
            case UInt8(ascii: "4"): return cut(i, 1, .minute)
            case UInt8(ascii: "5"): return cut(i, 1, .second)
            case UInt8(ascii: "P"):
                if has(i, "PM") { return cut(i, 2, .pm) }
            case UInt8(ascii: "p"):
                if has(i, "pm") { return cut(i, 2, .lowerPM) }
            case UInt8(ascii: "-"):
                if has(i, "-070000") { return cut(i, 7, .numSecondsTZ) }
                if has(i, "-07:00:00") { return cut(i, 9, .numColonSecondsTZ) }
                if has(i, "-0700") { return cut(i, 5, .numTZ) }
                if has(i, "-07:00") { return cut(i, 6, .numColonTZ) }
                if has(i, "-07") { return cut(i, 3, .numShortTZ) }
            case UInt8(ascii: "Z"):
                if has(i, "Z070000") { return cut(i, 7, .iso8601SecondsTZ) }
                if has(i, "Z07:00:00") { return cut(i, 9, .iso8601ColonSecondsTZ) }
                if has(i, "Z0700") { return cut(i, 5, .iso8601TZ) }
                if has(i, "Z07:00") { return cut(i, 6, .iso8601ColonTZ) }
                if has(i, "Z07") { return cut(i, 3, .iso8601ShortTZ) }
            case UInt8(ascii: "."), UInt8(ascii: ","):
                if i + 1 < s.endIndex, s[i + 1] == 0x30 || s[i + 1] == 0x39 {
                    let ch = s[i + 1]
                    var j = i + 1
                    while j < s.endIndex, s[j] == ch { j += 1 }
                    if !digitAt(j) {
                        return (s[base..<i], .fraction(digits: j - i - 1, zeros: ch == 0x30, separator: s[i]), s[j...])
                    }
                }
            default: break
            }
            i += 1
        }
        return (s, nil, s[s.endIndex...])
    }

    /// `t.Format(layout)`.
    static func format(_ t: GoTime, _ layout: String) -> String {
        let c = t.civil
        var out: [UInt8] = []
        func append(_ text: String) { out += Array(text.utf8) }
        func number(_ v: Int64, width: Int) {
            var digits = String(v.magnitude)
            if digits.count < width { digits = String(repeating: "0", count: width - digits.count) + digits }
            append((v < 0 ? "-" : "") + digits)
        }
        var rest = ArraySlice(Array(layout.utf8))
        while true {
            let (prefix, element, tail) = next(rest)
            out += prefix
            guard let element else { break }
            rest = tail
            switch element {
            case .year: number((c.year % 100 + 100) % 100, width: 2)
            case .longYear: number(c.year, width: 4)
            case .month: append(String(longMonths[c.month - 1].prefix(3)))
            case .longMonth: append(longMonths[c.month - 1])
            case .numMonth: number(Int64(c.month), width: 0)
            case .zeroMonth: number(Int64(c.month), width: 2)
            case .weekDay: append(String(longDays[c.weekday].prefix(3)))
            case .longWeekDay: append(longDays[c.weekday])
            case .day: number(Int64(c.day), width: 0)
            case .underDay:
                if c.day < 10 { append(" ") }
                number(Int64(c.day), width: 0)
            case .zeroDay: number(Int64(c.day), width: 2)
            case .underYearDay:
                if c.yearDay < 100 { append(c.yearDay < 10 ? "  " : " ") }
                number(Int64(c.yearDay), width: 0)
            case .zeroYearDay: number(Int64(c.yearDay), width: 3)
            case .hour: number(Int64(c.hour), width: 2)
            case .hour12, .zeroHour12:
                let h = c.hour % 12 == 0 ? 12 : c.hour % 12
                number(Int64(h), width: element == .hour12 ? 0 : 2)
            case .minute: number(Int64(c.minute), width: 0)
            case .zeroMinute: number(Int64(c.minute), width: 2)
            case .second: number(Int64(c.second), width: 0)
            case .zeroSecond: number(Int64(c.second), width: 2)
            case .pm: append(c.hour >= 12 ? "PM" : "AM")
            case .lowerPM: append(c.hour >= 12 ? "pm" : "am")
            case .iso8601TZ, .iso8601SecondsTZ, .iso8601ShortTZ, .iso8601ColonTZ, .iso8601ColonSecondsTZ, .numTZ,
                .numSecondsTZ, .numShortTZ, .numColonTZ, .numColonSecondsTZ:
                let iso = [.iso8601TZ, .iso8601SecondsTZ, .iso8601ShortTZ, .iso8601ColonTZ, .iso8601ColonSecondsTZ].contains(element)
                if iso && t.zone.offset == 0 {
                    append("Z")
                    break
                }
                var zone = t.zone.offset / 60
                var absolute = t.zone.offset
                if zone < 0 {
                    append("-")
                    zone = -zone
                    absolute = -absolute
                } else {
                    append("+")
                }
                number(Int64(zone / 60), width: 2)
                let colon = [.iso8601ColonTZ, .numColonTZ, .iso8601ColonSecondsTZ, .numColonSecondsTZ].contains(element)
                if colon { append(":") }
                if element != .numShortTZ && element != .iso8601ShortTZ { number(Int64(zone % 60), width: 2) }
                if [.iso8601SecondsTZ, .numSecondsTZ, .numColonSecondsTZ, .iso8601ColonSecondsTZ].contains(element) {
                    if element == .numColonSecondsTZ || element == .iso8601ColonSecondsTZ { append(":") }
                    number(Int64(absolute % 60), width: 2)
                }
            case .tz:
                if !t.zone.name.isEmpty {
                    append(t.zone.name)
                    break
                }
                var zone = t.zone.offset / 60
                if zone < 0 {
                    append("-")
                    zone = -zone
                } else {
                    append("+")
                }
                number(Int64(zone / 60), width: 2)
                number(Int64(zone % 60), width: 2)
            case .fraction(let digits, let zeros, let separator):
                var text = String(t.nanoseconds)
                text = String(repeating: "0", count: 9 - text.count) + text
                var shown = String(text.prefix(min(digits, 9)))
                if !zeros {
                    while shown.hasSuffix("0") { shown.removeLast() }
                    if shown.isEmpty { break }
                }
                out.append(separator)
                append(shown)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// `time.ParseInLocation(layout, value, UTC)`.
    static func parse(_ layoutText: String, _ valueText: String) throws(FunctionFailure) -> GoTime {
        var layout = ArraySlice(Array(layoutText.utf8))
        var value = ArraySlice(Array(valueText.utf8))
        var year: Int64 = 0, month = -1, day = -1, yearDay = -1, hour = 0, minute = 0, second = 0
        var nanos: Int64 = 0
        var pmSet = false, amSet = false
        var zoneOffset: Int? = nil
        var zoneName = ""
        var utc = false
        func text(_ s: ArraySlice<UInt8>) -> String { String(decoding: s, as: UTF8.self) }
        func failure(_ element: String, _ rest: ArraySlice<UInt8>, _ message: String? = nil) -> FunctionFailure {
            if let message {
                return FunctionFailure("parsing time \(GoFormat.quote(valueText)): \(message)")
            }
            return FunctionFailure(
                "parsing time \(GoFormat.quote(valueText)) as \(GoFormat.quote(layoutText)): cannot parse \(GoFormat.quote(text(rest))) as \(GoFormat.quote(element))")
        }
        func isDigit(_ s: ArraySlice<UInt8>, _ i: Int) -> Bool {
            let k = s.startIndex + i
            return k < s.endIndex && s[k] >= 0x30 && s[k] <= 0x39
        }
        func number(_ s: inout ArraySlice<UInt8>, fixed: Bool) -> Int? {
            guard isDigit(s, 0) else { return nil }
            let first = Int(s[s.startIndex] - 0x30)
            guard isDigit(s, 1) else {
                if fixed { return nil }
                s = s.dropFirst()
                return first
            }
            let v = first * 10 + Int(s[s.startIndex + 1] - 0x30)
            s = s.dropFirst(2)
            return v
        }
        func lookup(_ table: [String], _ s: inout ArraySlice<UInt8>) -> Int? {
            for (i, name) in table.enumerated() {
                let n = Array(name.utf8)
                guard s.count >= n.count else { continue }
                if zip(s.prefix(n.count), n).allSatisfy({ ($0 | 0x20) == ($1 | 0x20) }) {
                    s = s.dropFirst(n.count)
                    return i
                }
            }
            return nil
        }
        func skip(_ prefix: ArraySlice<UInt8>, _ s: inout ArraySlice<UInt8>) -> Bool {
            var p = prefix
            while let c = p.first {
                if c == 0x20 {
                    if let v = s.first, v != 0x20 { return false }
                    while p.first == 0x20 { p = p.dropFirst() }
                    while s.first == 0x20 { s = s.dropFirst() }
                    continue
                }
                guard s.first == c else { return false }
                p = p.dropFirst()
                s = s.dropFirst()
            }
            return true
        }
        func fraction(_ s: ArraySlice<UInt8>, _ count: Int) -> Int64? {
            guard s.first == 0x2E || s.first == 0x2C else { return nil }
            let digits = s.dropFirst().prefix(min(count, 10) - 1)
            guard digits.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
            var n: Int64 = 0
            for d in digits { n = n * 10 + Int64(d - 0x30) }
            for _ in digits.count..<9 { n *= 10 }
            return n
        }
        while true {
            let (prefix, element, rest) = next(layout)
            let elementText = text(layout[prefix.endIndex..<rest.startIndex])
            guard skip(prefix, &value) else { throw failure(text(prefix), value) }
            guard let element else {
                guard value.isEmpty else { throw failure("", value, "extra text: \(GoFormat.quote(text(value)))") }
                break
            }
            layout = rest
            let hold = value
            var ok = true
            var range: String? = nil
            switch element {
            case .year:
                guard value.count >= 2, let v = Int(text(value.prefix(2))) else { ok = false; break }
                value = value.dropFirst(2)
                year = Int64(v >= 69 ? v + 1900 : v + 2000)
            case .longYear:
                guard value.count >= 4, isDigit(value, 0), let v = Int64(text(value.prefix(4))) else { ok = false; break }
                value = value.dropFirst(4)
                year = v
            case .month, .longMonth:
                let table = element == .month ? longMonths.map { String($0.prefix(3)) } : longMonths
                guard let m = lookup(table, &value) else { ok = false; break }
                month = m + 1
            case .numMonth, .zeroMonth:
                guard let m = number(&value, fixed: element == .zeroMonth) else { ok = false; break }
                month = m
                if m <= 0 || m > 12 { range = "month" }
            case .weekDay, .longWeekDay:
                let table = element == .weekDay ? longDays.map { String($0.prefix(3)) } : longDays
                if lookup(table, &value) == nil { ok = false }
            case .day, .underDay, .zeroDay:
                if element == .underDay, value.first == 0x20 { value = value.dropFirst() }
                guard let d = number(&value, fixed: element == .zeroDay) else { ok = false; break }
                day = d
            case .underYearDay, .zeroYearDay:
                for _ in 0..<2 where element == .underYearDay && value.first == 0x20 { value = value.dropFirst() }
                var digits = 0
                while digits < 3, isDigit(value, digits) { digits += 1 }
                guard digits > 0, element == .underYearDay || digits == 3, let d = Int(text(value.prefix(digits))) else { ok = false; break }
                value = value.dropFirst(digits)
                yearDay = d
                if d < 1 || d > 366 { range = "day-of-year" }
            case .hour:
                guard let h = number(&value, fixed: false) else { ok = false; break }
                hour = h
                if h >= 24 { range = "hour" }
            case .hour12, .zeroHour12:
                guard let h = number(&value, fixed: element == .zeroHour12) else { ok = false; break }
                hour = h
                if h > 12 { range = "hour" }
            case .minute, .zeroMinute:
                guard let m = number(&value, fixed: element == .zeroMinute) else { ok = false; break }
                minute = m
                if m >= 60 { range = "minute" }
            case .second, .zeroSecond:
                guard let s = number(&value, fixed: element == .zeroSecond) else { ok = false; break }
                second = s
                if s >= 60 {
                    range = "second"
                    break
                }
                // A fraction in the value that the layout does not spell out is read here.
                if value.count >= 2, value.first == 0x2E || value.first == 0x2C, isDigit(value, 1) {
                    if case .fraction? = next(layout).element { break }
                    var n = 2
                    while isDigit(value, n) { n += 1 }
                    guard let f = fraction(value, n) else { ok = false; break }
                    nanos = f
                    value = value.dropFirst(n)
                }
            case .pm, .lowerPM:
                guard value.count >= 2 else { ok = false; break }
                let p = text(value.prefix(2))
                value = value.dropFirst(2)
                if p == (element == .pm ? "PM" : "pm") { pmSet = true }
                else if p == (element == .pm ? "AM" : "am") { amSet = true }
                else { ok = false }
            case .iso8601TZ, .iso8601ShortTZ, .iso8601ColonTZ, .iso8601SecondsTZ, .iso8601ColonSecondsTZ, .numTZ, .numShortTZ,
                .numColonTZ, .numSecondsTZ, .numColonSecondsTZ:
                if [.iso8601TZ, .iso8601ShortTZ, .iso8601ColonTZ].contains(element), value.first == UInt8(ascii: "Z") {
                    value = value.dropFirst()
                    utc = true
                    break
                }
                let v = Array(value)
                var parts: (sign: UInt8, h: [UInt8], m: [UInt8], s: [UInt8], used: Int) = (0, [], [], [], 0)
                switch element {
                case .iso8601ColonTZ, .numColonTZ:
                    guard v.count >= 6, v[3] == 0x3A else { ok = false; break }
                    parts = (v[0], Array(v[1..<3]), Array(v[4..<6]), Array("00".utf8), 6)
                case .numShortTZ, .iso8601ShortTZ:
                    guard v.count >= 3 else { ok = false; break }
                    parts = (v[0], Array(v[1..<3]), Array("00".utf8), Array("00".utf8), 3)
                case .iso8601ColonSecondsTZ, .numColonSecondsTZ:
                    guard v.count >= 9, v[3] == 0x3A, v[6] == 0x3A else { ok = false; break }
                    parts = (v[0], Array(v[1..<3]), Array(v[4..<6]), Array(v[7..<9]), 9)
                case .iso8601SecondsTZ, .numSecondsTZ:
                    guard v.count >= 7 else { ok = false; break }
                    parts = (v[0], Array(v[1..<3]), Array(v[3..<5]), Array(v[5..<7]), 7)
                default:
                    guard v.count >= 5 else { ok = false; break }
                    parts = (v[0], Array(v[1..<3]), Array(v[3..<5]), Array("00".utf8), 5)
                }
                guard ok else { break }
                var hs = ArraySlice(parts.h), ms = ArraySlice(parts.m), ss = ArraySlice(parts.s)
                guard let hh = number(&hs, fixed: true), let mm = number(&ms, fixed: true), let sc = number(&ss, fixed: true),
                    parts.sign == 0x2B || parts.sign == 0x2D
                else { ok = false; break }
                let offset = (hh * 60 + mm) * 60 + sc
                zoneOffset = parts.sign == 0x2D ? -offset : offset
                value = value.dropFirst(parts.used)
            case .tz:
                if value.starts(with: Array("UTC".utf8)) {
                    value = value.dropFirst(3)
                    utc = true
                    break
                }
                let letters = value.prefix { ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) }
                let name = text(letters)
                if name.hasPrefix("GMT") {
                    var n = 3
                    if isDigit(value, 4), value.count > 3, value[value.startIndex + 3] == 0x2B || value[value.startIndex + 3] == 0x2D {
                        n = 4
                        while isDigit(value, n) { n += 1 }
                    }
                    zoneName = text(value.prefix(n))
                    value = value.dropFirst(n)
                } else if (3...5).contains(name.count), name == "ChST" || name == "MeST" || name.allSatisfy(\.isUppercase) {
                    zoneName = name
                    value = value.dropFirst(name.count)
                } else {
                    ok = false
                }
            case .fraction(let digits, let zeros, _):
                if zeros {
                    guard value.count >= digits + 1, let f = fraction(value, digits + 1) else { ok = false; break }
                    nanos = f
                    value = value.dropFirst(digits + 1)
                } else {
                    guard value.count >= 2, value.first == 0x2E || value.first == 0x2C, isDigit(value, 1) else { break }
                    var n = 1
                    while isDigit(value, n) { n += 1 }
                    guard let f = fraction(value, n) else { ok = false; break }
                    nanos = f
                    value = value.dropFirst(n)
                }
            }
            if let range { throw failure(elementText, hold, "\(range) out of range") }
            guard ok else { throw failure(elementText, hold) }
        }
        if pmSet && hour < 12 { hour += 12 } else if amSet && hour == 12 { hour = 0 }
        if yearDay >= 0 {
            let leap = GoTime.Civil.daysIn(month: 2, year: year) == 29
            guard yearDay <= (leap ? 366 : 365) else { throw failure("", value, "day-of-year out of range") }
            var d = yearDay
            var m = 1
            while d > GoTime.Civil.daysIn(month: m, year: year) {
                d -= GoTime.Civil.daysIn(month: m, year: year)
                m += 1
            }
            if month >= 0 && month != m || day >= 0 && day != d { throw failure("", value, "day-of-year does not match month") }
            month = m
            day = d
        } else {
            if month < 0 { month = 1 }
            if day < 0 { day = 1 }
        }
        guard day >= 1, day <= GoTime.Civil.daysIn(month: month, year: year) else {
            throw failure("", value, "day out of range")
        }
        let local = GoTime.Civil.days(year: year, month: month, day: day) * 86_400 + Int64(hour * 3600 + minute * 60 + second)
        if utc { return GoTime(seconds: local, nanoseconds: nanos, zone: .utc) }
        if let zoneOffset {
            return GoTime(seconds: local - Int64(zoneOffset), nanoseconds: nanos, zone: GoZone(name: "", offset: zoneOffset))
        }
        if !zoneName.isEmpty {
            var offset = 0
            if zoneName.count > 3, zoneName.hasPrefix("GMT") { offset = (Int(zoneName.dropFirst(3)) ?? 0) * 3600 }
            return GoTime(seconds: local - Int64(offset), nanoseconds: nanos, zone: GoZone(name: zoneName, offset: offset))
        }
        return GoTime(seconds: local, nanoseconds: nanos, zone: .utc)
    }
}

extension GoTime {
    /// The niladic methods of `time.Time` a template can call as fields (`(now).Year`).
    func field(_ name: String) -> Datum? {
        let c = civil
        switch name {
        case "Year": return .value(.int(Int(c.year)))
        case "Month": return .value(.string(GoLayout.longMonths[c.month - 1]))
        case "Day": return .value(.int(c.day))
        case "Hour": return .value(.int(c.hour))
        case "Minute": return .value(.int(c.minute))
        case "Second": return .value(.int(c.second))
        case "Nanosecond": return .value(.int(Int(nanoseconds)))
        case "YearDay": return .value(.int(c.yearDay))
        case "Weekday": return .value(.string(GoLayout.longDays[c.weekday]))
        case "Unix": return .value(.int(Int(seconds)))
        case "UnixNano": return .value(.int(Int(seconds.multipliedReportingOverflow(by: 1_000_000_000).partialValue &+ nanoseconds)))
        case "UTC": return .time(GoTime(seconds: seconds, nanoseconds: nanoseconds, zone: .utc))
        default: return nil
        }
    }
}
