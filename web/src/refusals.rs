//! What the voter is told for every refusal code of the verifier and the card helper, in Japanese and English,
//! each saying what to do next (R-SEC-3: a locked PIN, an expired or revoked certificate, a face-authentication
//! card without PINs). A test checks that every code in the verifier's OpenAPI description and every code the
//! helper sends has its own message.

/// Returns the voter-facing message of a refusal code (Japanese, English), saying what to do.
pub fn failure_text(code: &str) -> (&'static str, &'static str) {
    specific(code).unwrap_or(("処理できませんでした。もう一度お試しください。", "That did not work. Please try again."))
}

/// A refusal's message (Japanese, English).
type Message = (&'static str, &'static str);

/// Returns the message of a code that has its own, by the part of the system that refuses (no code is in two).
fn specific(code: &str) -> Option<Message> {
    card_helper(code)
        .or_else(|| card_and_login(code))
        .or_else(|| voting(code))
        .or_else(|| system(code))
        .or_else(|| research(code))
        .or_else(|| tampering(code))
}

/// The card helper's refusals (its PINs, the card, its confirmation page, and its checks of a ballot).
fn card_helper(code: &str) -> Option<Message> {
    Some(match code {
        "HELPER_UNREACHABLE" => (
            "カード用ソフトウェア（カードヘルパー）に接続できません。起動しているか確認してください。",
            "Cannot reach the card helper on your computer. Check that it is running.",
        ),
        "CANCELLED" => ("操作を取り消しました。", "You cancelled."),
        "PIN_LOCKED" => (
            "暗証番号がロックされています。在外公館または市区町村の窓口で再設定を受けてください。その間は郵便等投票または在外公館投票ができます。",
            "Your PIN is locked. Have it reset at an embassy or your municipal office; meanwhile vote by post or at an embassy.",
        ),
        "NO_PIN_ON_CARD" => (
            "顔認証マイナンバーカードには暗証番号がないため、インターネット投票には使えません。郵便等投票または在外公館投票をご利用ください。",
            "A face-authentication My Number card has no PINs, so it cannot be used online. Vote by post or at an embassy.",
        ),
        "CARD_NOT_PRESENT" => (
            "カードが読み取れません。カードリーダーにマイナンバーカードを置いてください。",
            "The card cannot be read. Place your My Number card on the reader.",
        ),
        "WRONG_PIN" => (
            "暗証番号が違います。残り回数に注意して、もう一度入力してください。",
            "Wrong PIN. Mind the tries left, and enter it again.",
        ),
        "BUSY" => (
            "カードヘルパーが処理中です。開いているカードヘルパーの画面を閉じてから、もう一度お試しください。",
            "The card helper is busy. Close its open window, then try again.",
        ),
        "OPERATION_EXPIRED" | "OPERATION_FINISHED" => (
            "カードヘルパーでの確認の有効時間が過ぎました。もう一度お試しください。",
            "The confirmation on the card helper timed out. Try again.",
        ),
        "ORIGIN_NOT_ALLOWED" | "BAD_HOST" => (
            "カードヘルパーがこのページからの利用を許可していません。正しい投票サイトのアドレスか確認してください。",
            "The card helper does not accept requests from this page. Check that you are on the official voting site.",
        ),
        "CARD_ERROR" => (
            "カードとの通信に失敗しました。カードリーダーとカードを確認して、もう一度お試しください。",
            "Communication with the card failed. Check the reader and the card, then try again.",
        ),
        "CHALLENGED_BALLOT" => (
            "この暗号文は「暗号化を確認する」で中身を公開したため、投票には使えません。投票は記録されていません。もう一度選んで投票してください（選択は新しく暗号化されます）。",
            "This encrypted ballot was opened by a check of its encryption, so it can never be cast. Nothing was \
             recorded. Choose again and cast: your choice is then encrypted afresh.",
        ),
        "ELECTION_UNAVAILABLE" => (
            "カードヘルパーが投票サイトから選挙の情報を読み取れませんでした。投票は記録されていません。インターネット接続を確認して、しばらくしてからもう一度お試しください。",
            "The card helper could not read the election from the voting site. Nothing was recorded. Check your \
             connection and try again in a few minutes.",
        ),
        "RAW_DIGEST_REFUSED" => (
            "カードヘルパーが、このページからの古い形式の署名の依頼を断りました。投票は記録されていません。このページを開き直して（再読み込みして）、もう一度お試しください。",
            "The card helper refused this page's signing request, which is in an old form. Nothing was recorded. \
             Reload this page and try again.",
        ),
        _ => return None,
    })
}

/// Refusals of a login or of its extension: the card's registration and certificate, the signature, the session.
fn card_and_login(code: &str) -> Option<Message> {
    Some(match code {
        "NOT_REGISTERED" => (
            "このカードはインターネット投票の登録がありません。市区町村選挙管理委員会に申出をしてください。",
            "This card is not registered for internet voting. Apply to your municipal election committee.",
        ),
        "SESSION_EXPIRED" | "NO_SESSION" => (
            "ログインの有効時間が過ぎたため、ログアウトしました。もう一度ログインしてください。すでに受け付けた投票は有効です。まだ投票していない選挙は、ログインし直して投票できます。",
            "Your session has ended, so you were logged out. Log in again: ballots already accepted are kept, and you can still vote in the others.",
        ),
        "OTHER_CARD" => (
            "ログインしたときと別のカードです。同じマイナンバーカードで延長してください。",
            "This is not the card you logged in with. Use the same My Number card to extend.",
        ),
        "EXTENSION_LIMIT" => (
            "これ以上延長できません。時間内に投票を済ませるか、時間切れの後にもう一度ログインしてください。",
            "The time cannot be extended again. Finish voting, or log in again after the session ends.",
        ),
        "CERT_EXPIRED" => (
            "カードの電子証明書の有効期限が切れています。市区町村で更新してください。",
            "Your card's certificate has expired. Renew it at your municipal office.",
        ),
        "UNKNOWN_CA" => (
            "マイナンバーカードの電子証明書ではありません。ご自身のマイナンバーカードを使ってください。",
            "This is not a My Number card certificate. Use your own My Number card.",
        ),
        "CERT_REVOKED" => (
            "カードの電子証明書が失効しています。現在のカードを使ってください。",
            "Your card's certificate has been revoked. Use your current card.",
        ),
        "CHALLENGE_UNKNOWN" => (
            "ログインの手続きの有効時間（5分）が過ぎたか、すでに使われました。もう一度ログインしてください。",
            "The login request expired (5 minutes) or was already used. Log in again.",
        ),
        "LOGIN_BUSY" => (
            "ただいまログインが混み合っています。1分ほど待ってから、もう一度ログインしてください。",
            "Logins are busy right now. Wait about a minute and log in again.",
        ),
        "BAD_SIGNATURE" => (
            "カードの署名を確認できませんでした。このページを開き直して、もう一度お試しください。",
            "The card's signature could not be verified. Reload this page and try again.",
        ),
        "CERT_MISMATCH" | "APPLICANT_MISMATCH" => (
            "ログインしたカードと署名したカードが違います。同じご本人のマイナンバーカードを使ってください。",
            "The card that signed is not the card you logged in with. Use the same person's My Number card.",
        ),
        "CERT_NOT_YET_VALID" => (
            "カードの電子証明書がまだ有効になっていません。更新したばかりの場合は、しばらくしてからもう一度お試しください。",
            "Your card's certificate is not valid yet. If you have just renewed it, try again later.",
        ),
        "CERT_WRONG_USAGE" | "CERT_MALFORMED" | "CERT_INVALID" | "CERTIFICATE_PROBLEM" => (
            "カードの電子証明書を読み取れませんでした。カードを置き直してからもう一度お試しください。続く場合は市区町村の窓口にご相談ください。",
            "The card's certificate could not be read. Place the card again and retry; if it persists, ask your municipal office.",
        ),
        _ => return None,
    })
}

/// Refusals of a ballot or of an application (申出, 切替申出) by the voting window and the voter's state.
fn voting(code: &str) -> Option<Message> {
    Some(match code {
        "ALREADY_VOTED" => (
            "この選挙ではすでに投票を受け付けています。変更はできません。",
            "Your ballot in this contest was already accepted; it cannot be changed.",
        ),
        "DUPLICATE_BALLOT" => (
            "同じ暗号文の投票がすでに届いているため、この投票は受け付けられませんでした。もう一度投票してください（選択は新たに暗号化されます）。",
            "This exact encrypted ballot was already received, so it was not accepted. Vote again: your choice is then \
             encrypted afresh.",
        ),
        "VOTING_CLOSED" => ("インターネット投票は終了しました。", "Online voting has closed."),
        "BALLOT_BOX_NOT_SEALED" => (
            "投票終了後の投票箱の封印処理中です。1分ほどしてからもう一度ご確認ください。",
            "The ballot box is being sealed after the close. Check again in a minute.",
        ),
        "VOTING_PAUSED" => {
            ("投票は一時停止中です。しばらくしてからもう一度お試しください。", "Voting is paused. Try again later.")
        }
        "EMERGENCY_PAPER_VOTE" => (
            "在外公館で紙の投票をすると申し出たため、この選挙ではインターネット投票はできません。",
            "You declared a paper vote at an embassy for this election, so you cannot vote online in it.",
        ),
        "VOTING_NOT_OPEN" => ("インターネット投票はまだ始まっていません。", "Online voting has not opened yet."),
        "WRONG_STATE" | "NOT_ESTABLISHED" => (
            "この申出は今の状態では受け付けられません。申出の状況を確認し、ご不明な点は市区町村選挙管理委員会にお問い合わせください。",
            "This request cannot be accepted in its current state. Check the status of your applications, and ask your municipal election committee if unsure.",
        ),
        "POSTAL_PAPERS_OUTSTANDING" => (
            "郵便等投票の投票用紙が交付されたまま返還されていないため、インターネット投票に切り替えられません。市区町村選挙管理委員会にお問い合わせください。",
            "Postal voting papers were issued to you and not returned, so you cannot switch to internet voting. Contact your municipal election committee.",
        ),
        "ALREADY_VOTED_ONLINE" => (
            "この選挙ではすでにインターネットで投票済みのため、紙の投票への切替はできません。",
            "You have already voted online in this election, so you cannot switch to paper voting for it.",
        ),
        "VOTING_NOT_CLOSED" => {
            ("投票箱の一覧は投票の終了後に公開されます。", "The ballot-box list is published after voting closes.")
        }
        _ => return None,
    })
}

/// Refusals by the system itself or the network, and errors of this page: nothing was recorded.
fn system(code: &str) -> Option<Message> {
    Some(match code {
        "RATE_LIMITED" => (
            "短い時間に多くの操作がありました。1分ほど待ってから、もう一度お試しください。投票は記録されていません。",
            "Too many requests came from your network in a short time. Wait about a minute and try again. Nothing was \
             recorded.",
        ),
        "STORAGE_FULL" => (
            "システムの記録領域がいっぱいのため、受け付けられませんでした。何も記録されておらず、まだ投票していません。運用者に通知されています。しばらくしてからもう一度お試しください。",
            "The system's storage is full, so this was not accepted. Nothing was recorded and you have not voted yet. The operators are alerted; try again later.",
        ),
        "CRL_UNAVAILABLE" | "LOGIN_UNAVAILABLE" | "STORAGE_UNAVAILABLE" | "INTERNAL" => (
            "システムが一時的に利用できません。投票は記録されていません。しばらくしてからもう一度お試しください。",
            "The system is temporarily unavailable. Nothing was recorded. Try again in a few minutes.",
        ),
        "NETWORK" | "HTTP_502" | "HTTP_503" | "HTTP_504" => (
            "サーバーに接続できませんでした。インターネット接続を確認して、もう一度お試しください。投票が受け付けられたかどうかは、ログインし直すと「投票済み」で確認できます。",
            "Could not reach the server. Check your connection and try again. Log in again to see whether a ballot shows as Voted.",
        ),
        "WRONG_CONTEST" | "MALFORMED" | "TOO_LARGE" | "ENCRYPTION" | "NOT_FOUND" | "METHOD_NOT_ALLOWED"
        | "LENGTH_REQUIRED" | "UNKNOWN_OPERATION" => (
            "このページの処理に問題がありました。ページを開き直して、もう一度お試しください。投票は記録されていません。",
            "Something went wrong in this page. Reload it and try again. Nothing was recorded.",
        ),
        _ => return None,
    })
}

/// Refusals of the practice elections' research pages: the gallery, the study and the usage metrics.
fn research(code: &str) -> Option<Message> {
    Some(match code {
        "GALLERY_NOT_PRACTICE" => (
            "レビュー用ギャラリーは練習用の模擬選挙でのみ使えます。実際の選挙では、画面見本は練習用の選挙で確認してください。",
            "The reviewer's gallery is shown only for a practice election. Review the layouts on a practice election's server.",
        ),
        "STUDY_NOT_PRACTICE" => (
            "使いやすさの調査は練習用の模擬選挙でのみ行えます。これは本番の選挙なので、調査はできません。",
            "Usability studies run in practice elections only. This is a real election, so there is no study here.",
        ),
        "NO_STUDY" => (
            "このサーバーでは使いやすさの調査が設定されていません。調査の担当者に知らせてください。",
            "No usability study is set up on this server. Tell the researcher running the study.",
        ),
        "STUDY_NOT_IN_PLAN" => (
            "この参加者番号または表示は、この調査で割り当てられていません。調査の最初のページからやり直してください。",
            "This participant number or layout was not assigned in this study. Start again from the study's first page.",
        ),
        "STUDY_DUPLICATE" => (
            "この表示の回答はすでに記録されています（最初の回答を残しました）。次へ進んでください。",
            "Your answers for this layout were already recorded (the first ones are kept). Go on to the next one.",
        ),
        "GALLERY_UNKNOWN" => (
            "このギャラリーのページはありません。ギャラリーの一覧から選んでください。",
            "There is no such gallery page. Choose one from the gallery index.",
        ),
        "NOT_PRACTICE" => (
            "操作の記録（UX調査）は模擬選挙でだけ集めます。これは本番の選挙なので、何も記録されていません。投票には影響しません。",
            "Usage metrics (UX research) are collected in practice elections only. This is a real election, so nothing was recorded; your vote is not affected.",
        ),
        _ => return None,
    })
}

/// The warnings of [`TAMPERING`]: the voter must not continue, and is told whom to report it to.
fn tampering(code: &str) -> Option<Message> {
    Some(match code {
        "BALLOT_MISMATCH" => (
            "警告：この投票ページが作った暗号文は、あなたが選んだ内容を含んでいません（カードヘルパーが確かめました）。このページが改ざんされているおそれがあります。投票を続けないでください。このページを閉じて、市区町村選挙管理委員会に連絡してください。郵便等投票または在外公館投票もできます。",
            "Warning: the encrypted ballot this page made does not hold the choice you made (the card helper checked it). \
             This voting page may have been tampered with. Do not continue voting: close this page and report it to \
             your municipal election committee. You can also vote by post or at an embassy.",
        ),
        "TRACKER_MISMATCH" => (
            "警告：サーバーの受付の控えのトラッカーが、このページで暗号化してあなたが署名した投票のトラッカーと一致しません。下の2つのトラッカーを控えて（保存または印刷して）、市区町村選挙管理委員会に連絡してください。",
            "Warning: the tracker on the server's receipt is not the tracker of the ballot this page encrypted and you \
             signed. Keep both trackers below (save or print them) and report this to your municipal election \
             committee.",
        ),
        "KEY_MISMATCH" => (
            "警告：サーバーが示した選挙の公開鍵の指紋が、鍵そのものと一致しません。暗号化の前に投票を止めました。投票は記録されていません。投票を続けないで、市区町村選挙管理委員会に連絡してください。",
            "Warning: the election key's fingerprint stated by the server is not the key's own, so voting was stopped \
             before anything was encrypted. Nothing was recorded. Do not continue voting; report this to your \
             municipal election committee.",
        ),
        "ELECTION_KEY_NOT_PINNED" => (
            "警告：投票サイトの選挙の公開鍵が、カードヘルパーに設定された公表済みの鍵と違います。投票は署名も記録もされていません。投票を続けないで、市区町村選挙管理委員会に連絡してください。",
            "Warning: the voting site's election key is not the published key the card helper was given. Nothing was \
             signed or recorded. Do not continue voting; report this to your municipal election committee.",
        ),
        "KEY_CHANGED" => (
            "警告：ログインした後で選挙の公開鍵が変わりました。選挙の途中で鍵が変わることはないため、投票を止めました。すでに受け付けた投票はそのままです。投票を続けないで、市区町村選挙管理委員会に連絡してください。",
            "Warning: the election key changed after you logged in. It never changes during an election, so voting was \
             stopped. Ballots already accepted stand. Do not continue voting; report this to your municipal election \
             committee.",
        ),
        _ => return None,
    })
}

/// The codes that mean the voting page, the verifier or the election key cannot be trusted: the voter is told not
/// to continue and to report it, and is not offered to start again.
pub const TAMPERING: [&str; 5] =
    ["BALLOT_MISMATCH", "TRACKER_MISMATCH", "KEY_MISMATCH", "KEY_CHANGED", "ELECTION_KEY_NOT_PINNED"];

/// Returns whether a code means that something cannot be trusted ([`TAMPERING`]).
pub fn is_tampering(code: &str) -> bool {
    TAMPERING.contains(&code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    /// The refusal codes of an OpenAPI document written from a contract (`shared::contract`): each refusal's
    /// `code` is an enum of upper-case codes, one per line of the pretty JSON.
    fn openapi_codes(json: &str) -> Vec<String> {
        let mut codes: Vec<String> = json
            .lines()
            .map(|l| l.trim().trim_end_matches(',').trim_matches('"'))
            .filter(|c| c.len() > 2 && c.chars().all(|ch| ch.is_ascii_uppercase() || ch == '_'))
            .map(String::from)
            .collect();
        codes.sort();
        codes.dedup();
        codes
    }

    #[wasm_bindgen_test]
    fn every_verifier_and_helper_code_has_its_own_message() {
        let verifier = openapi_codes(include_str!("../../verifier/openapi.json"));
        let helper = openapi_codes(include_str!("../../helper/openapi.json"));
        assert!(verifier.len() > 20 && helper.len() > 10, "the OpenAPI documents were read: {verifier:?} {helper:?}");
        let missing: Vec<&String> = verifier.iter().chain(&helper).filter(|c| specific(c).is_none()).collect();
        assert!(missing.is_empty(), "these codes have no message of their own: {missing:?}");
        // Each code is in one part's table only: a second message, in a part asked later, would never be shown.
        let parts: [fn(&str) -> Option<Message>; 6] =
            [card_helper, card_and_login, voting, system, research, tampering];
        for code in verifier.iter().chain(&helper) {
            assert_eq!(parts.iter().filter(|part| part(code).is_some()).count(), 1, "{code} is in one table");
        }
        for code in [
            "NETWORK",
            "HELPER_UNREACHABLE",
            "CANCELLED",
            "SESSION_EXPIRED",
            "EXTENSION_LIMIT",
            "GALLERY_NOT_PRACTICE",
            "GALLERY_UNKNOWN",
            "STUDY_NOT_PRACTICE",
        ] {
            let (ja, en) = failure_text(code);
            assert!(!ja.is_empty() && !en.is_empty() && ja != en, "{code}");
        }
        assert_eq!(failure_text("SOMETHING_NEW").1, "That did not work. Please try again.");
    }

    #[wasm_bindgen_test]
    fn the_codes_of_ballot_checks_and_of_the_apps_own_checks_have_their_own_message() {
        // The helper's refusals of a ballot (issue 18) and the codes this app raises itself (services/cast.rs).
        for code in [
            "BALLOT_MISMATCH",
            "CHALLENGED_BALLOT",
            "ELECTION_UNAVAILABLE",
            "RAW_DIGEST_REFUSED",
            "TRACKER_MISMATCH",
            "KEY_MISMATCH",
            "KEY_CHANGED",
            "ELECTION_KEY_NOT_PINNED",
        ] {
            let (ja, en) = specific(code).unwrap_or_else(|| panic!("{code} has no message of its own"));
            assert!(!ja.is_empty() && !en.is_empty() && ja != en, "{code}");
        }
        for code in TAMPERING {
            let (ja, en) = failure_text(code);
            assert!(ja.starts_with("警告") && en.starts_with("Warning"), "{code} warns: {ja} / {en}");
            assert!(en.contains("report"), "{code} says to report it: {en}");
        }
        assert!(!is_tampering("CHALLENGED_BALLOT") && !is_tampering("NETWORK"));
    }
}
