//! Kana folding for the candidate screen (R-SYS-4): the free-word search key and the 五十音 row of a reading.
//!
//! A voter may type a name in kanji, hiragana, katakana, half-width or full-width forms; all of them must find
//! the same candidate, while voiced marks stay significant (がっこう is not かっこう). A voter on a PC without a
//! Japanese input method may type the reading in romaji instead, Hepburn or Kunrei, with or without long vowels
//! (sato, satou, satoh and satō all find さとう).

use unicode_normalization::UnicodeNormalization;
use wana_kana::ConvertJapanese;

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

/// Returns whether a search query matches a reading: as [`matches`], or, when the query is romaji (see
/// [`is_romaji_query`]), when every word of the query is a substring of the reading's romaji key. A query with any
/// non-Latin character takes the [`matches`] path only.
pub fn matches_reading(query: &str, reading: &str) -> bool {
    matches(query, reading) || romaji_matches(query, reading)
}

/// Returns whether a query is romaji: after NFKC and with accents removed (Tōkyō, Tôkyô), only ASCII letters,
/// white space, apostrophes and hyphens, and at least one letter.
pub fn is_romaji_query(query: &str) -> bool {
    let plain = plain_latin(query);
    plain.chars().any(|c| c.is_ascii_alphabetic())
        && plain.chars().all(|c| c.is_ascii_alphabetic() || c.is_whitespace() || matches!(c, '\'' | '-'))
}

fn romaji_matches(query: &str, reading: &str) -> bool {
    if !is_romaji_query(query) {
        return false;
    }
    let keys: Vec<String> =
        plain_latin(query).split_whitespace().map(query_romaji_key).filter(|k| !k.is_empty()).collect();
    if keys.is_empty() {
        return false;
    }
    let target = reading_romaji_key(reading);
    keys.iter().all(|k| target.contains(k.as_str()))
}

/// Lower-cases a query and removes accents (NFKD without the combining marks U+0300..U+036F), so that full-width
/// letters and macrons fold to plain ASCII; a typographic apostrophe becomes `'`.
fn plain_latin(text: &str) -> String {
    text.nfkd()
        .filter(|c| !matches!(c, '\u{0300}'..='\u{036F}'))
        .map(|c| match c {
            '\u{2018}' | '\u{2019}' => '\'',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

/// Returns the romaji key of one word of a query. The word goes through hiragana and back, so Kunrei and
/// Hepburn spellings meet (si, sya, ti, tu, hu, zi → shi, sha, chi, tsu, fu, ji); letters that are no kana yet
/// (a word being typed, or "satoh") pass through unchanged.
fn query_romaji_key(word: &str) -> String {
    fold_romaji(&word.to_hiragana().as_str().to_romaji())
}

/// Returns the romaji key of a reading (Hepburn, as written by `wana_kana`), each word folded on its own so that
/// a long vowel is never folded across the space between family and given name.
fn reading_romaji_key(reading: &str) -> String {
    reading.split_whitespace().map(|w| fold_romaji(&search_key(w).as_str().to_romaji())).collect()
}

/// Folds romaji to the key both sides compare: only the letters a–z (apostrophes, hyphens and the long vowel
/// mark go), long vowels as one vowel (ou, oo → o; uu → u; passport "oh" before a consonant or at the end → o),
/// and passport Hepburn's m before b, m, p as n (Namba, Homma → nanba, honma).
fn fold_romaji(romaji: &str) -> String {
    let letters: Vec<char> = romaji.chars().map(|c| c.to_ascii_lowercase()).filter(char::is_ascii_lowercase).collect();
    let mut out = String::with_capacity(letters.len());
    for (i, &c) in letters.iter().enumerate() {
        let next = letters.get(i + 1).copied();
        match (out.chars().next_back(), c) {
            (Some('o'), 'o' | 'u') | (Some('u'), 'u') => {}
            // In romaji from kana, h after o always starts a syllable (ha, hyo); otherwise it marks a long o.
            (Some('o'), 'h') if next.is_none_or(|n| !matches!(n, 'a' | 'i' | 'u' | 'e' | 'o' | 'y')) => {}
            (_, 'm') if matches!(next, Some('b' | 'm' | 'p')) => out.push('n'),
            _ => out.push(c),
        }
    }
    out
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
    fn romaji_queries_are_recognised() {
        for q in [
            "sato",
            "Satoh",
            "SATO",
            "ｓａｔｏ",
            "Tōkyō",
            "Tôkyô",
            "shin'ichi",
            "shin’ichi",
            "shin-ichi",
            "yamada taro",
        ] {
            assert!(is_romaji_query(q), "{q}");
        }
        for q in ["さとう", "サトウ", "佐藤", "sato1", "satoう", "", "  ", "-", "'"] {
            assert!(!is_romaji_query(q), "{q}");
        }
    }

    #[test]
    fn hepburn_and_kunrei_both_find_a_reading() {
        let cases = [
            ("しばた", ["shibata", "sibata"]),
            ("ちば", ["chiba", "tiba"]),
            ("つちや", ["tsuchiya", "tutiya"]),
            ("ふじた", ["fujita", "huzita"]),
            ("じゅんこ", ["junko", "zyunko"]),
            ("しょうた", ["shota", "syouta"]),
            ("ちょう", ["cho", "tyou"]),
            ("まっちゃ", ["matcha", "mattya"]),
            ("ふっとぼうる", ["futtoboru", "huttobouru"]),
        ];
        for (reading, queries) in cases {
            for q in queries {
                assert!(matches_reading(q, reading), "{q} should find {reading}");
            }
        }
    }

    #[test]
    fn long_vowels_fold_in_romaji() {
        for q in ["sato", "satou", "satoh", "satoo", "satō", "SATO", "Satou", "ｓａｔｏｕ"] {
            assert!(matches_reading(q, "さとう"), "{q}");
            assert!(matches_reading(q, "サトウ"), "{q} (katakana reading)");
        }
        for q in ["tokyo", "toukyou", "tōkyō", "tôkyô", "tohkyoh", "tookyoo"] {
            assert!(matches_reading(q, "とうきょう"), "{q}");
        }
        for (q, reading) in [
            ("ono", "おおの"),
            ("ohno", "おおの"),
            ("ota", "おおた"),
            ("ohta", "おおた"),
            ("yuki", "ゆうき"),
            ("ryu", "りゅう"),
        ] {
            assert!(matches_reading(q, reading), "{q} should find {reading}");
        }
        assert!(matches_reading("ohara", "おはら"), "h starting a syllable stays");
        assert!(!matches_reading("oara", "おはら"));
        assert!(matches_reading("roma", "ローマ"), "the long vowel mark folds too");
    }

    #[test]
    fn romaji_details() {
        // Passport Hepburn writes ん as m before b, m and p.
        assert!(matches_reading("namba", "なんば"));
        assert!(matches_reading("nanba", "なんば"));
        assert!(matches_reading("homma", "ほんま"));
        assert!(matches_reading("sampei", "さんぺい"));
        // ん before a vowel: with or without the apostrophe or hyphen.
        for q in ["shinichi", "shin'ichi", "shin’ichi", "shin-ichi", "sin'iti"] {
            assert!(matches_reading(q, "しんいち"), "{q}");
        }
        // Each word is found on its own, in any order, and a word may span family and given name.
        for q in ["yamada taro", "Taro Yamada", "yamada  tarou", "yamadataro", "mada ta"] {
            assert!(matches_reading(q, "やまだ たろう"), "{q}");
        }
        assert!(!matches_reading("yamada jiro", "やまだ たろう"));
        // Voiced marks stay significant, as in kana.
        assert!(matches_reading("gato", "がとう"));
        assert!(!matches_reading("kato", "がとう"));
        assert!(!matches_reading("sato", "さど"));
        // A word still being typed is compared as it is.
        assert!(matches_reading("sh", "しばた"));
        assert!(matches_reading("shib", "しばた"));
    }

    #[test]
    fn non_romaji_and_odd_queries_do_not_break() {
        for q in ["abc", "xyz", "q", "l", "x", "Smith", "hepburn", "zzzz", "'", "-", "''--", "n'", "nn", "ー", "ｰ"] {
            assert!(!matches_reading(q, "さとう"), "{q}");
            assert!(!matches_reading(q, ""), "{q}");
        }
        // Kana queries behave exactly as `matches`.
        assert!(matches_reading("サトウ", "さとう"));
        assert!(matches_reading("ｻﾄｳ", "さとう"));
        assert!(!matches_reading("かっこう", "がっこう"));
        assert!(!matches_reading("", "さとう"));
        // A romaji query against a reading that is not kana.
        assert!(!matches_reading("sato", "佐藤"));
        assert!(matches_reading("smith", "Smith"), "a Latin reading is still found by `matches`");
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

#[cfg(all(test, not(target_arch = "wasm32")))]
mod proptests {
    use proptest::prelude::*;
    use wana_kana::ConvertJapanese;

    use super::*;

    proptest! {
        #[test]
        fn any_text_never_panics(query in ".{0,12}", reading in ".{0,12}") {
            let _ = matches_reading(&query, &reading);
        }

        #[test]
        fn any_latin_query_never_panics(query in "[A-Za-z' -]{0,16}", reading in "[ぁ-ゖァ-ヺー ]{0,12}") {
            let _ = matches_reading(&query, &reading);
        }

        /// A reading is found by its own Hepburn romaji (the way a passport spells it), whole or in part.
        #[test]
        fn a_reading_is_found_by_its_romaji(reading in "[あいうえおかきくけこさしすせそたちつてとなにぬねのはひふへほまみむめもやゆよらりるれろわがぎぐげござじずぜぞだでどばびぶべぼぱぴぷぺぽん]{1,8}") {
            let romaji = reading.as_str().to_romaji();
            prop_assert!(matches_reading(&romaji, &reading), "{} {}", romaji, reading);
            prop_assert!(matches_reading(&romaji.to_uppercase(), &reading), "{} {}", romaji, reading);
        }
    }
}
