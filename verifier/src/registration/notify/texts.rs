//! The notices' words: plain UTF-8 text, Japanese first and then English, with no link.

use super::Notice;

const SUBJECT_PREFIX_JA: &str = "【在外選挙インターネット投票】";
const SUBJECT_PREFIX_EN: &str = "Overseas internet voting: ";

const FOOTER_JA: &str = "このメールは送信専用のアドレスから自動で送信しています。返信はできません。\n\
選挙管理委員会がメールで暗証番号やパスワードを尋ねたり、リンクを開くよう求めたりすることはありません。";

const FOOTER_EN: &str = "This message was sent automatically from an address that cannot receive replies.\n\
The election administration commission never asks for your PIN or a password by e-mail, \
and never asks you to open a link.";

fn compose(to: &str, subject_ja: &str, subject_en: &str, body_ja: &str, body_en: &str) -> Notice {
    Notice {
        to: to.to_owned(),
        subject: format!("{SUBJECT_PREFIX_JA}{subject_ja} / {SUBJECT_PREFIX_EN}{subject_en}"),
        body: format!(
            "（English follows the Japanese text.）\n\n{body_ja}\n\n{FOOTER_JA}\n\n\
             ----------------------------------------\n\n{body_en}\n\n{FOOTER_EN}\n"
        ),
    }
}

/// The notice that the committee accepted an application for internet voting (R-REG-7).
pub fn acceptance_notice(to: &str, name: &str, receipt_no: &str, municipality: &str) -> Notice {
    compose(
        to,
        "登録申請受理のお知らせ",
        "your application was accepted",
        &format!(
            "{name} 様\n\n\
             在外選挙インターネット投票の登録申請（受付番号 {receipt_no}）は、\
             {municipality}選挙管理委員会により受理されました。\n\
             これからの選挙では、マイナンバーカードを使ってインターネットで投票できます。\
             切替申出（郵便等による投票などへ戻す申出）をしない限り、以後の選挙でも同じです。\n\
             お問い合わせは、{municipality}選挙管理委員会へお願いします。"
        ),
        &format!(
            "Dear {name},\n\n\
             Your application for overseas internet voting (receipt number {receipt_no}) has been accepted by the \
             election administration commission of {municipality}.\n\
             From now on you can vote online with your My Number Card, in every election until you ask to switch \
             back to paper voting.\n\
             For questions, please contact the election administration commission of {municipality}."
        ),
    )
}

/// The notice that the committee rejected an application, with its reason verbatim (R-REG-7).
pub fn rejection_notice(to: &str, name: &str, receipt_no: &str, municipality: &str, reason: &str) -> Notice {
    compose(
        to,
        "登録申請を受理できませんでした",
        "your application was not accepted",
        &format!(
            "{name} 様\n\n\
             在外選挙インターネット投票の登録申請（受付番号 {receipt_no}）は、\
             {municipality}選挙管理委員会において受理できませんでした。\n\n\
             理由:\n{reason}\n\n\
             理由となった事情が解消されたときは、改めて申請することができます。\n\
             お問い合わせは、{municipality}選挙管理委員会へお願いします。"
        ),
        &format!(
            "Dear {name},\n\n\
             Your application for overseas internet voting (receipt number {receipt_no}) could not be accepted by \
             the election administration commission of {municipality}.\n\n\
             Reason (as written by the commission):\n{reason}\n\n\
             You may apply again once the reason no longer applies.\n\
             For questions, please contact the election administration commission of {municipality}."
        ),
    )
}

/// The notice that an online switch request was accepted: the voter is a paper voter again (R-REG-9).
pub fn switch_accepted_notice(to: &str, name: &str, municipality: &str) -> Notice {
    compose(
        to,
        "切替申出受理のお知らせ",
        "you are a paper voter again",
        &format!(
            "{name} 様\n\n\
             インターネット投票から郵便等による投票などへの切替申出は、\
             {municipality}選挙管理委員会により受理されました。\n\
             今後の選挙では、インターネットでは投票できません。在外公館投票、郵便等投票又は日本国内における投票で\
             投票してください。\n\
             在外選挙人証をまだ郵送していない場合は、インターネット投票の記載を削除するため、\
             {municipality}選挙管理委員会へ郵送してください。\n\
             再びインターネットで投票するには、新たに登録申請をし、受理される必要があります。"
        ),
        &format!(
            "Dear {name},\n\n\
             Your request to switch from internet voting back to paper voting has been accepted by the election \
             administration commission of {municipality}.\n\
             You can no longer vote online: please vote at an embassy or consulate, by post, or in Japan.\n\
             If you have not yet mailed your overseas voter card, please mail it to the election administration \
             commission of {municipality} so that the internet voting endorsement can be removed.\n\
             To vote online again, you need to submit a new application and have it accepted."
        ),
    )
}

/// The notice that an application received after the cut-off is kept for the next election (R-REG-11).
pub fn kept_for_next_election_notice(to: &str, name: &str, receipt_no: &str) -> Notice {
    compose(
        to,
        "申請は次回の選挙に向けて保管されます",
        "your application is kept for the next election",
        &format!(
            "{name} 様\n\n\
             在外選挙インターネット投票の登録申請（受付番号 {receipt_no}）は、今回の選挙の申請締切の後に\
             受け付けたため、今回の選挙には間に合いません。\n\
             申請は保管され、次の選挙に向けて審査されます。改めて申請する必要はありません。\n\
             今回の選挙は、在外公館投票、郵便等投票又は日本国内における投票で投票してください。"
        ),
        &format!(
            "Dear {name},\n\n\
             Your application for overseas internet voting (receipt number {receipt_no}) arrived after the \
             application cut-off for the current election, so it cannot apply to it.\n\
             The application is kept and will be examined for the next election; you do not need to apply again.\n\
             In the current election, please vote at an embassy or consulate, by post, or in Japan."
        ),
    )
}
