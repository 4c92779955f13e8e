/// "Did you mean" for names the user typed: the candidates closest by edit distance.
public enum Suggestions {
    /// Candidates within an edit distance of a third of the word (at least 1, at most 3), closest first, at most
    /// `limit`, ties in byte order.
    public static func closest(to word: String, among candidates: some Sequence<String>, limit: Int = 3) -> [String] {
        let bound = min(3, max(1, word.count / 3))
        var scored: [(Int, String)] = []
        for c in candidates where c != word {
            let d = distance(word, c, bound: bound)
            if d <= bound { scored.append((d, c)) }
        }
        return scored.sorted { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1.utf8.lexicographicallyPrecedes($1.1.utf8) }.prefix(limit).map(\.1)
    }

    /// Edit distance counting insertions, deletions, substitutions and swaps of neighbours (`biuld` → `build` is
    /// one), giving up (returning `bound + 1`) as soon as it must exceed `bound`.
    public static func distance(_ a: String, _ b: String, bound: Int) -> Int {
        let x = Array(a), y = Array(b)
        if abs(x.count - y.count) > bound { return bound + 1 }
        if x.isEmpty || y.isEmpty { return max(x.count, y.count) }
        var table = [[Int]](repeating: [Int](repeating: 0, count: y.count + 1), count: x.count + 1)
        for i in 0...x.count { table[i][0] = i }
        for j in 0...y.count { table[0][j] = j }
        for i in 1...x.count {
            var rowMinimum = Int.max
            for j in 1...y.count {
                var d = min(table[i - 1][j] + 1, table[i][j - 1] + 1, table[i - 1][j - 1] + (x[i - 1] == y[j - 1] ? 0 : 1))
                if i > 1, j > 1, x[i - 1] == y[j - 2], x[i - 2] == y[j - 1] { d = min(d, table[i - 2][j - 2] + 1) }
                table[i][j] = d
                rowMinimum = min(rowMinimum, d)
            }
            if rowMinimum > bound { return bound + 1 }
        }
        return table[x.count][y.count]
    }
}
