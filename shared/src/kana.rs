//! Kana folding for the candidate screen (R-SYS-4): the free-word search key and the 五十音 row of a reading.
//!
//! A voter may type a name in kanji, hiragana, katakana, half-width or full-width forms; all of them must find
//! the same candidate, while voiced marks stay significant (がっこう is not かっこう).

use unicode_normalization::UnicodeNormalization;

/// The ten rows of the 五十音 index, in order, as shown on the initial-letter buttons.
pub const ROWS: [char; 10] = ['あ', 'か', 'さ', 'た', 'な', 'は', 'ま', 'や', 'ら', 'わ'];

/// Returns the key a free-word search compares: NFKC, katakana folded to hiragana, ASCII lower-cased, all white
/// space removed, the long vowel marks ー ｰ 〜 ～ unified to ー, and variation selectors removed. A name matches a
/// query when the query's key is a substring of the name's or the reading's key.
pub fn search_key(text: &str) -> String {
    text.chars()
        .filter(|c| !is_variation_selector(*c))
        .nfkc()
        .filter(|c| !c.is_whitespace())
        .map(|c| match c {
            // ｰ is already ー after NFKC; ～ became ~.
            'ー' | '〜' | '~' | '～' | 'ｰ' => 'ー',
            c => katakana_to_hiragana(c).to_ascii_lowercase(),
        })
        .collect()
}

/// Returns whether a search query matches a text (either may be in any script or width).
pub fn matches(query: &str, text: &str) -> bool {
    let q = search_key(query);
    !q.is_empty() && search_key(text).contains(&q)
}

/// Returns the 五十音 row (one of [`ROWS`]) of the first kana of a reading: voiced and half-voiced marks are
/// dropped (が→か, ぱ→は, ゔ→あ), small kana count as large (ぁ→あ, っ→た), katakana and half-width forms are
/// accepted, and ん, ゐ, ゑ, を belong to the わ row. `None` when the reading does not start with a kana.
pub fn initial_row(reading: &str) -> Option<char> {
    let first = search_key(reading).chars().next()?;
    // NFD splits a voiced kana into its base and the combining mark, which is dropped.
    let base = std::iter::once(first).nfd().next()?;
    row_of(katakana_to_hiragana(base))
}

fn row_of(c: char) -> Option<char> {
    const TABLE: [(char, &str); 10] = [
        ('あ', "ぁあぃいぅうぇえぉおゔ"),
        ('か', "かきくけこゕゖ"),
        ('さ', "さしすせそ"),
        ('た', "たちっつてと"),
        ('な', "なにぬねの"),
        ('は', "はひふへほ"),
        ('ま', "まみむめも"),
        ('や', "ゃやゅゆょよ"),
        ('ら', "らりるれろ"),
        ('わ', "ゎわゐゑをん"),
    ];
    TABLE.iter().find(|(_, members)| members.contains(c)).map(|(row, _)| *row)
}

/// Maps katakana (ァ..ヶ, including ヴ ヵ ヶ) to hiragana; other characters are returned unchanged.
fn katakana_to_hiragana(c: char) -> char {
    match c {
        'ァ'..='ヶ' => char::from_u32(c as u32 - 0x60).unwrap_or(c),
        'ヽ' | 'ヾ' => char::from_u32(c as u32 - 0x60).unwrap_or(c),
        _ => c,
    }
}

fn is_variation_selector(c: char) -> bool {
    matches!(c, '\u{FE00}'..='\u{FE0F}' | '\u{E0100}'..='\u{E01EF}' | '\u{180B}'..='\u{180D}')
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn scripts_and_widths_fold_together() {
        let k = search_key("やまだ たろう");
        assert_eq!(k, "やまだたろう");
        assert_eq!(search_key("ヤマダ　タロウ"), k);
        assert_eq!(search_key("ﾔﾏﾀﾞ ﾀﾛｳ"), k);
        assert_eq!(search_key("ＹＡＭＡＤＡ Taro"), "yamadataro");
        assert_eq!(search_key("山田\u{3000}太郎"), "山田太郎");
    }

    #[test]
    fn voiced_marks_are_kept() {
        assert_ne!(search_key("がっこう"), search_key("かっこう"));
        assert_eq!(search_key("ガッコウ"), search_key("がっこう"));
        assert_eq!(search_key("ｶﾞｯｺｳ"), "がっこう");
        assert_eq!(search_key("ヴィ"), "ゔぃ");
    }

    #[test]
    fn long_vowel_marks_unify() {
        let k = search_key("ローマ");
        assert_eq!(k, "ろーま");
        for v in ["ロｰマ", "ロ〜マ", "ロ～マ", "ろーま", "ﾛｰﾏ"] {
            assert_eq!(search_key(v), k, "{v}");
        }
    }

    #[test]
    fn variation_selectors_are_removed() {
        // 葛 with an ideographic variation selector (IVS) and 邉 with a standardized one.
        assert_eq!(search_key("葛\u{E0100}城"), "葛城");
        assert_eq!(search_key("渡邉\u{FE00}"), "渡邉");
    }

    #[test]
    fn substring_matching() {
        assert!(matches("たろう", "ヤマダ タロウ"));
        assert!(matches("ﾀﾛｳ", "やまだたろう"));
        assert!(!matches("", "やまだ"));
        assert!(!matches("  ", "やまだ"));
        assert!(!matches("かっこう", "がっこう"));
    }

    #[test]
    fn initial_rows() {
        let cases = [
            ("あおき", 'あ'),
            ("がもう", 'か'),
            ("ガモウ", 'か'),
            ("ｶﾞﾓｳ", 'か'),
            ("ぱく", 'は'),
            ("ばば", 'は'),
            ("ゔぃえら", 'あ'),
            ("ヴィエラ", 'あ'),
            ("ぁ", 'あ'),
            ("っ", 'た'),
            ("ぢ", 'た'),
            ("ゃ", 'や'),
            ("わたなべ", 'わ'),
            ("をの", 'わ'),
            ("ヷ", 'わ'),
            ("  なかむら", 'な'),
            ("ﾗｲ", 'ら'),
            ("ゆき", 'や'),
            ("もり", 'ま'),
            ("せと", 'さ'),
            ("ずし", 'さ'),
        ];
        for (reading, row) in cases {
            assert_eq!(initial_row(reading), Some(row), "{reading}");
        }
        assert_eq!(initial_row("山田"), None);
        assert_eq!(initial_row("Smith"), None);
        assert_eq!(initial_row(""), None);
    }

    #[test]
    fn every_row_letter_is_its_own_row() {
        for row in ROWS {
            assert_eq!(initial_row(&row.to_string()), Some(row));
        }
    }
}
