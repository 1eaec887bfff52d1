//! A reader of SQLite's on-disk format (<https://sqlite.org/fileformat2.html>), written for the intruder: it
//! reads a copy of a database file or of its write-ahead log as bytes, with no SQLite library, and returns every
//! record it can find in every b-tree leaf, with where it sat.
//!
//! - A database file is a sequence of pages; a WAL file is a header and frames, each a page image with the page
//!   number and, on the last frame of a transaction, the database size ("commit frame"). Frames whose salts differ
//!   from the header's are left over from earlier generations of the log (stale) and are read too.
//! - In a leaf page the cell content area grows downwards, so a cell written later usually sits at a lower offset:
//!   [`Cell::rank`] is a cell's rank by offset, highest offset first, which is insertion order unless SQLite
//!   reused freed space.
//!
//! It reads torn copies (files copied while written) without failing: what does not parse is skipped.

/// One value of a record.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Float(f64),
    Blob(Vec<u8>),
    Text(String),
}

impl Value {
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Value::Text(t) => Some(t),
            _ => None,
        }
    }
}

/// A record found in a leaf cell.
#[derive(Clone, Debug)]
pub struct Cell {
    /// Its rank in the page by content offset, highest offset (usually oldest) first.
    pub rank: usize,
    /// The rowid of a table b-tree leaf cell (None in an index or WITHOUT ROWID b-tree).
    pub rowid: Option<i64>,
    /// The record's values (a value cut off by an overflow page is left out, with those after it).
    pub values: Vec<Value>,
}

/// Reads a big-endian varint; returns the value and its length.
fn varint(b: &[u8]) -> Option<(u64, usize)> {
    let mut v: u64 = 0;
    for i in 0..9 {
        let byte = *b.get(i)?;
        if i == 8 {
            return Some(((v << 8) | u64::from(byte), 9));
        }
        v = (v << 7) | u64::from(byte & 0x7f);
        if byte & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

fn be16(b: &[u8], at: usize) -> Option<usize> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?) as usize)
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Parses a record's payload (possibly only its local part).
fn record(payload: &[u8]) -> Vec<Value> {
    let mut values = Vec::new();
    let Some((header_len, n)) = varint(payload) else { return values };
    let header_len = header_len as usize;
    if header_len > payload.len() || header_len < n {
        return values;
    }
    let mut types = Vec::new();
    let mut at = n;
    while at < header_len {
        let Some((t, n)) = varint(&payload[at..header_len]) else { return values };
        types.push(t);
        at += n;
    }
    let mut body = header_len;
    for t in types {
        let len = match t {
            0 | 8 | 9 => 0,
            1..=6 => [0, 1, 2, 3, 4, 6, 8][t as usize],
            7 => 8,
            10 | 11 => return values,
            t => ((t - 12) / 2) as usize,
        };
        let Some(b) = payload.get(body..body + len) else { return values };
        values.push(match t {
            0 => Value::Null,
            1..=6 => Value::Int(b.iter().fold(if b[0] & 0x80 != 0 { -1 } else { 0 }, |v, x| (v << 8) | i64::from(*x))),
            7 => Value::Float(f64::from_be_bytes(b.try_into().unwrap_or([0; 8]))),
            8 => Value::Int(0),
            9 => Value::Int(1),
            t if t % 2 == 0 => Value::Blob(b.to_vec()),
            _ => Value::Text(String::from_utf8_lossy(b).into_owned()),
        });
        body += len;
    }
    values
}

/// Returns the records of a b-tree page that holds records (`header_at` is 100 on page 1): a table leaf, or an
/// index page, leaf or interior (an index b-tree, as a WITHOUT ROWID table is, keeps entries in interior pages
/// too); nothing for other pages.
pub fn leaf_cells(page: &[u8], header_at: usize, usable: usize) -> Vec<Cell> {
    let Some(&kind) = page.get(header_at) else { return Vec::new() };
    let (table, header_len, child) = match kind {
        0x0d => (true, 8, 0),
        0x0a => (false, 8, 0),
        0x02 => (false, 12, 4),
        _ => return Vec::new(),
    };
    let Some(count) = be16(page, header_at + 3) else { return Vec::new() };
    let mut offsets: Vec<usize> = (0..count).filter_map(|i| be16(page, header_at + header_len + 2 * i)).collect();
    offsets.retain(|o| *o + child < page.len() && *o >= header_at + header_len);
    let mut by_offset = offsets.clone();
    by_offset.sort_unstable_by(|a, b| b.cmp(a));
    let max_local = if table { usable - 35 } else { (usable - 12) * 64 / 255 - 23 };
    let min_local = (usable - 12) * 32 / 255 - 23;
    let mut cells = Vec::new();
    for off in offsets {
        let Some((payload_len, n)) = varint(&page[off + child..]) else { continue };
        let mut at = off + child + n;
        let rowid = if table {
            let Some((rowid, n)) = varint(&page[at..]) else { continue };
            at += n;
            Some(rowid as i64)
        } else {
            None
        };
        let payload_len = payload_len as usize;
        let local = if payload_len <= max_local {
            payload_len
        } else {
            let k = min_local + (payload_len - min_local) % (usable - 4);
            if k <= max_local { k } else { min_local }
        };
        let Some(payload) = page.get(at..at + local) else { continue };
        let rank = by_offset.iter().position(|o| *o == off).unwrap_or(0);
        cells.push(Cell { rank, rowid, values: record(payload) });
    }
    cells
}

/// A database file's header values the reader needs.
fn page_size_of(header: &[u8]) -> Option<(usize, usize)> {
    if header.get(..16)? != b"SQLite format 3\0" {
        return None;
    }
    let size = match be16(header, 16)? {
        1 => 65536,
        s => s,
    };
    let reserved = *header.get(20)? as usize;
    Some((size, size - reserved))
}

/// Every leaf record of a database file's pages, page by page.
pub fn database_cells(file: &[u8]) -> Vec<Cell> {
    let Some((size, usable)) = page_size_of(file) else { return Vec::new() };
    let mut cells = Vec::new();
    for (i, page) in file.chunks(size).enumerate() {
        if page.len() < size {
            break;
        }
        let header_at = if i == 0 { 100 } else { 0 };
        cells.extend(leaf_cells(page, header_at, usable));
    }
    cells
}

/// One transaction as the WAL holds it: the page images its frames carry.
#[derive(Clone, Debug)]
pub struct WalCommit {
    /// The log's generation: 0 for the current one (the header's salts), then 1, 2, … for older ones, by salt.
    pub generation: u32,
    /// The commit's position within its generation, from 0.
    pub index: usize,
    /// The records on its pages.
    pub cells: Vec<Cell>,
}

/// Reads a WAL file's frames, grouped by commit and generation (current first); frames after a generation's last
/// commit frame belong to no commit and are left out.
pub fn wal_commits(file: &[u8]) -> Vec<WalCommit> {
    let Some(magic) = be32(file, 0) else { return Vec::new() };
    if magic & !1 != 0x377f0682 {
        return Vec::new();
    }
    let Some(size) = be32(file, 8).map(|s| s as usize) else { return Vec::new() };
    if !(512..=65536).contains(&size) || !size.is_power_of_two() {
        return Vec::new();
    }
    let (Some(salt1), Some(salt2)) = (be32(file, 16), be32(file, 20)) else { return Vec::new() };
    // The page header of page 1 sits at 100; the usable size needs the database header, which the WAL does not
    // carry: SQLite's default of no reserved bytes is assumed.
    let usable = size;
    let mut frames: Vec<(u32, u32, u32, u32, &[u8])> = Vec::new();
    let mut at = 32;
    while at + 24 + size <= file.len() {
        let h = &file[at..at + 24];
        let (Some(page_no), Some(commit), Some(s1), Some(s2)) = (be32(h, 0), be32(h, 4), be32(h, 8), be32(h, 12))
        else {
            break;
        };
        frames.push((page_no, commit, s1, s2, &file[at + 24..at + 24 + size]));
        at += 24 + size;
    }
    // Generations: the current one, then older salts by how far salt-1 is behind (it grows by one per restart).
    let mut salts: Vec<(u32, u32)> = frames.iter().map(|f| (f.2, f.3)).collect();
    salts.sort_unstable();
    salts.dedup();
    salts.sort_by_key(|(s1, s2)| if (*s1, *s2) == (salt1, salt2) { 0 } else { salt1.wrapping_sub(*s1).max(1) });
    let mut commits = Vec::new();
    for (generation, (s1, s2)) in salts.iter().enumerate() {
        let mut pages: Vec<(u32, &[u8])> = Vec::new();
        let mut index = 0;
        for f in frames.iter().filter(|f| (f.2, f.3) == (*s1, *s2)) {
            pages.push((f.0, f.4));
            if f.1 != 0 {
                let cells = pages
                    .drain(..)
                    .flat_map(|(no, page)| leaf_cells(page, if no == 1 { 100 } else { 0 }, usable))
                    .collect();
                commits.push(WalCommit { generation: generation as u32, index, cells });
                index += 1;
            }
        }
    }
    commits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_sqlite_wrote() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.sqlite");
        let c = rusqlite::Connection::open(&path).unwrap();
        c.pragma_update(None, "journal_mode", "WAL").unwrap();
        c.execute_batch(
            "CREATE TABLE a (id BLOB PRIMARY KEY, who TEXT, n INTEGER) WITHOUT ROWID;
             CREATE TABLE b (x INTEGER PRIMARY KEY, t TEXT);",
        )
        .unwrap();
        for i in 0..50 {
            c.execute("INSERT INTO a VALUES (?1, ?2, ?3)", rusqlite::params![vec![i as u8; 32], format!("p{i}"), i])
                .unwrap();
        }
        c.execute("INSERT INTO b (t) VALUES ('hello')", []).unwrap();
        let wal = std::fs::read(dir.path().join("t.sqlite-wal")).unwrap();
        let commits = wal_commits(&wal);
        // Two CREATE TABLE statements, fifty inserts, one more.
        assert_eq!(commits.len(), 53);
        let last: Vec<_> = commits[51].cells.iter().filter(|c| c.values.len() == 3).collect();
        assert_eq!(last.len(), 50);
        let newest = last.iter().find(|c| c.values[1] == Value::Text("p49".into())).unwrap();
        assert_eq!(newest.rank, 49, "the newest cell sits lowest");
        assert!(commits[52].cells.iter().any(|c| c.rowid == Some(1) && c.values[1] == Value::Text("hello".into())));
        c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)").unwrap();
        let main = std::fs::read(&path).unwrap();
        assert_eq!(database_cells(&main).iter().filter(|c| c.values.len() == 3).count(), 50);
    }
}
