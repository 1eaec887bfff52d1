//! Within-subject designs: each participant votes in several layouts, in an order that a balanced Latin square
//! (Williams, 1949) counterbalances, so that each layout comes first, and follows each other layout, equally often.

/// The rows of a balanced Latin square for `k` conditions: `k` rows when `k` is even, `2k` when it is odd (the
/// square and its mirror). Each row is one order of the conditions `0..k`.
pub fn williams(k: usize) -> Vec<Vec<usize>> {
    if k == 0 {
        return Vec::new();
    }
    // The first row: 0, 1, k-1, 2, k-2, ...; each next row adds one to every entry (mod k).
    let mut first = vec![0];
    let (mut low, mut high) = (1usize, k - 1);
    for i in 1..k {
        if !i.is_multiple_of(2) {
            first.push(low);
            low += 1;
        } else {
            first.push(high);
            high -= 1;
        }
    }
    let mut rows: Vec<Vec<usize>> = (0..k).map(|r| first.iter().map(|c| (c + r) % k).collect()).collect();
    if !k.is_multiple_of(2) {
        let mirrored: Vec<Vec<usize>> = rows.iter().map(|row| row.iter().rev().copied().collect()).collect();
        rows.extend(mirrored);
    }
    rows
}

/// The order of the `k` conditions for the participant numbered `participant` (0, 1, ...): the square's rows in
/// turn, so that a study with a multiple of the square's rows is fully counterbalanced.
pub fn order(participant: usize, k: usize) -> Vec<usize> {
    let rows = williams(k);
    if rows.is_empty() {
        return Vec::new();
    }
    rows[participant % rows.len()].clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each condition once per row and once per position; each ordered pair of neighbours equally often.
    fn assert_balanced(k: usize) {
        let rows = williams(k);
        assert_eq!(rows.len(), if k.is_multiple_of(2) { k } else { 2 * k });
        for row in &rows {
            let mut sorted = row.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, (0..k).collect::<Vec<_>>(), "k = {k}: every condition once in {row:?}");
        }
        for position in 0..k {
            let mut counts = vec![0; k];
            for row in &rows {
                counts[row[position]] += 1;
            }
            assert!(counts.iter().all(|&c| c == rows.len() / k), "k = {k}: position {position} {counts:?}");
        }
        let mut follows = vec![vec![0; k]; k];
        for row in &rows {
            for pair in row.windows(2) {
                follows[pair[0]][pair[1]] += 1;
            }
        }
        let want = rows.len() * (k - 1) / (k * (k - 1));
        for (a, line) in follows.iter().enumerate() {
            for (b, &n) in line.iter().enumerate() {
                if a != b {
                    assert_eq!(n, want, "k = {k}: {b} follows {a} {n} times");
                }
            }
        }
    }

    #[test]
    fn the_squares_are_balanced_for_two_to_twelve_conditions() {
        for k in 2..=12 {
            assert_balanced(k);
        }
        assert_eq!(williams(4), vec![vec![0, 1, 3, 2], vec![1, 2, 0, 3], vec![2, 3, 1, 0], vec![3, 0, 2, 1]]);
        assert_eq!(order(5, 4), vec![1, 2, 0, 3], "participants take the rows in turn");
    }
}
